#include "common/pop3/server.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/base/ascii.h"
#include "common/crypto/crypto.h"
#include "common/pop3/multiline.h"

namespace nj::pop3 {

namespace {

using ascii::iequals;

// Command lines may hold a password (PASS, AUTH PLAIN, a SASL response); consumed input is
// zeroed so it does not linger in the buffer or in freed heap. volatile keeps the stores.
void wipe(char* p, size_t n) {
  volatile char* v = p;
  for (size_t i = 0; i < n; ++i) v[i] = 0;
}

// RFC 1939 3: numbers are unsigned decimal. No sign, no blanks, no overflow.
std::optional<uint64_t> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// One argument: present, without blanks inside.
bool single_arg(std::string_view arg, bool has_arg) {
  return has_arg && !arg.empty() && arg.find(' ') == std::string_view::npos;
}

bool valid_uidl(std::string_view u) {
  if (u.empty() || u.size() > 70) return false;
  for (char ch : u) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

constexpr std::string_view kCapabilities =
    "+OK Capability list follows\r\n"
    "TOP\r\n"
    "UIDL\r\n"
    "USER\r\n"
    "RESP-CODES\r\n"
    "AUTH-RESP-CODE\r\n"
    "PIPELINING\r\n"
    "SASL PLAIN\r\n"
    ".\r\n";

}  // namespace

const char* end_name(End e) {
  switch (e) {
    case End::quit:
      return "quit";
    case End::commit_failed:
      return "commit-failed";
    case End::timeout:
      return "timeout";
    case End::too_many_errors:
      return "too-many-errors";
    case End::input_overflow:
      return "input-overflow";
    case End::bad_maildrop:
      return "bad-maildrop";
    case End::dropped:
      return "dropped";
  }
  return "unknown";
}

Session::Session(Config config, Hooks& hooks) : config_(std::move(config)), hooks_(hooks) {}

Session::~Session() {
  end(End::dropped);
}

void Session::greet() {
  if (greeted_ || state_ == State::ended) return;
  greeted_ = true;
  ok(config_.greeting);
  process();
}

bool Session::can_run() const {
  return greeted_ && pending_ == Pending::none &&
         (state_ == State::authorization || state_ == State::transaction);
}

void Session::feed(std::string_view bytes) {
  // After QUIT nothing more is read (RFC 1939 6: the session is over once UPDATE starts).
  if (state_ == State::ended || state_ == State::update) return;
  if (!can_run() && in_.size() - pos_ + bytes.size() > config_.max_pipelined_bytes) {
    // Waiting (a hook, the greeting): refuse before copying, not after. No response: the
    // client would read it as the answer to the command still pending.
    end(End::input_overflow);
    return;
  }
  if (in_.size() + bytes.size() > in_.capacity()) {
    // Grow by hand so the old buffer, which may hold part of a password, is wiped before
    // it is freed.
    std::string grown;
    grown.reserve(std::max(in_.capacity() * 2, in_.size() + bytes.size()));
    grown.append(in_);
    wipe(in_.data(), in_.size());
    in_.swap(grown);
  }
  in_.append(bytes);
  process();
  if (state_ != State::ended && in_.size() - pos_ > config_.max_pipelined_bytes)
    end(End::input_overflow);
}

bool Session::needs_resume() const {
  return stalled_;
}

void Session::resume() {
  stalled_ = false;
  process();
}

void Session::process() {
  if (in_process_) return;
  in_process_ = true;
  stalled_ = false;
  while (can_run() && buffered()) {
    if (out_.size() >= config_.output_high_water) {
      stalled_ = true;
      break;
    }
    const std::string_view rest = std::string_view(in_).substr(pos_);
    char* const start = in_.data() + pos_;
    const void* lfp = std::memchr(rest.data(), '\n', rest.size());
    if (mode_ == Mode::discard_command || mode_ == Mode::discard_sasl) {
      const size_t n =
          lfp ? static_cast<size_t>(static_cast<const char*>(lfp) - rest.data()) + 1 : rest.size();
      wipe(start, n);
      pos_ += n;
      if (!lfp) break;
      const bool sasl = mode_ == Mode::discard_sasl;
      mode_ = Mode::command;
      err(sasl ? "SASL response too long" : "line too long");
      continue;
    }
    const size_t limit =
        mode_ == Mode::sasl_plain ? config_.max_sasl_line : config_.max_command_line;
    if (!lfp) {
      if (rest.size() >= limit) {
        // Never buffer a line without end: drop it now, answer when it finally ends.
        mode_ = mode_ == Mode::sasl_plain ? Mode::discard_sasl : Mode::discard_command;
        wipe(start, rest.size());
        pos_ = in_.size();
      }
      break;
    }
    const size_t lf = static_cast<size_t>(static_cast<const char*>(lfp) - rest.data());
    pos_ += lf + 1;
    if (lf + 1 > limit) {
      wipe(start, lf + 1);
      if (mode_ == Mode::sasl_plain) {
        mode_ = Mode::command;
        err("SASL response too long");
      } else {
        err("line too long");
      }
      continue;
    }
    std::string_view line = rest.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (mode_ == Mode::sasl_plain)
      sasl_response(line);
    else
      handle_command(line);
    // end() may have wiped the buffer already; it never reallocates it, so `start` is valid.
    wipe(start, lf + 1);
  }
  if (pos_ >= in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ > in_.size() / 2) {
    // Not erase(): the moved-down bytes would leave a copy behind the new end.
    const size_t left = in_.size() - pos_;
    std::memmove(in_.data(), in_.data() + pos_, left);
    wipe(in_.data() + left, in_.size() - left);
    in_.resize(left);
    pos_ = 0;
  }
  in_process_ = false;
}

void Session::handle_command(std::string_view line) {
  // RFC 1939 7: PASS may only come right after USER; anything else in between voids the USER.
  const bool after_user = have_user_;
  have_user_ = false;
  if (std::memchr(line.data(), '\0', line.size()) != nullptr) return err("NUL in command");
  const size_t sp = line.find(' ');
  const std::string_view kw = line.substr(0, sp);
  // A password may end in blanks; elsewhere trailing blanks are forgiven.
  if (!iequals(kw, "PASS"))
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
  const bool has_arg = sp != std::string_view::npos && sp < line.size();
  const std::string_view arg = has_arg ? line.substr(sp + 1) : std::string_view();
  if (kw.empty()) return err("empty command");

  // Never echo the line back: it may hold a password.
  if (iequals(kw, "QUIT")) {
    if (has_arg) return err("QUIT takes no argument");
    return cmd_quit();
  }
  if (iequals(kw, "CAPA")) {
    if (has_arg) return err("CAPA takes no argument");
    return cmd_capa();
  }
  if (state_ == State::authorization) {
    if (iequals(kw, "USER")) return cmd_user(arg, has_arg);
    if (iequals(kw, "PASS")) {
      if (!after_user) return err("send USER first");
      return cmd_pass(arg);
    }
    if (iequals(kw, "AUTH")) return cmd_auth(arg);
    for (std::string_view c : {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"})
      if (iequals(kw, c)) return err("command not valid before authentication");
    return err("unknown command");
  }
  // TRANSACTION
  if (iequals(kw, "STAT")) {
    if (has_arg) return err("STAT takes no argument");
    return cmd_stat();
  }
  if (iequals(kw, "LIST")) return cmd_list(arg, has_arg, false);
  if (iequals(kw, "UIDL")) return cmd_list(arg, has_arg, true);
  if (iequals(kw, "RETR")) return cmd_fetch(arg, has_arg, false);
  if (iequals(kw, "TOP")) return cmd_fetch(arg, has_arg, true);
  if (iequals(kw, "DELE")) return cmd_dele(arg, has_arg);
  if (iequals(kw, "NOOP")) {
    if (has_arg) return err("NOOP takes no argument");
    return ok("");
  }
  if (iequals(kw, "RSET")) {
    if (has_arg) return err("RSET takes no argument");
    return cmd_rset();
  }
  if (iequals(kw, "USER") || iequals(kw, "PASS") || iequals(kw, "AUTH"))
    return err("already authenticated");
  return err("unknown command");
}

// ---- AUTHORIZATION ----

bool Session::valid_user(std::string_view u) const {
  if (u.empty() || u.size() > config_.max_user) return false;
  for (char ch : u) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

void Session::cmd_user(std::string_view arg, bool has_arg) {
  if (!has_arg || !valid_user(arg)) return err("invalid user name");
  // Always +OK: whether the mailbox exists is learnt only together with the password.
  user_.assign(arg);
  have_user_ = true;
  ok("send PASS");
}

void Session::cmd_pass(std::string_view arg) {
  if (arg.empty()) return err("missing password");
  start_auth(user_, arg);
}

void Session::cmd_auth(std::string_view arg) {
  const size_t sp = arg.find(' ');
  const std::string_view mech = arg.substr(0, sp);
  if (mech.empty()) return err("missing SASL mechanism");
  if (!iequals(mech, "PLAIN")) return err("unsupported SASL mechanism");
  if (sp == std::string_view::npos) {
    mode_ = Mode::sasl_plain;
    out_ += "+ \r\n";  // PLAIN has no challenge (RFC 4616)
    return;
  }
  const std::string_view initial = arg.substr(sp + 1);
  // RFC 5034 4: "=" is an empty initial response.
  if (initial == "=") return auth_plain({});
  auto decoded = crypto::from_base64_secure(initial);
  if (!decoded) return err("invalid base64 in SASL response");
  auth_plain(decoded->view());
}

void Session::sasl_response(std::string_view line) {
  mode_ = Mode::command;
  if (line == "*") return err("authentication cancelled");
  auto decoded = crypto::from_base64_secure(line);
  if (!decoded) return err("invalid base64 in SASL response");
  auth_plain(decoded->view());
}

void Session::auth_plain(std::string_view d) {
  // RFC 4616: [authzid] NUL authcid NUL passwd
  const size_t a = d.find('\0');
  const size_t b = a == std::string_view::npos ? a : d.find('\0', a + 1);
  if (b == std::string_view::npos || d.find('\0', b + 1) != std::string_view::npos ||
      b + 1 == d.size())
    return err("malformed PLAIN response");
  const std::string_view authzid = d.substr(0, a);
  const std::string_view authcid = d.substr(a + 1, b - a - 1);
  // Acting as another user is not offered: an authzid must name the authenticating user.
  if (!valid_user(authcid) || (!authzid.empty() && authzid != authcid))
    return err("[AUTH] authentication failed");
  start_auth(authcid, d.substr(b + 1));
}

void Session::start_auth(std::string_view user, std::string_view password) {
  pending_ = Pending::auth;
  auto r = hooks_.on_auth(user, password);
  // The hook may already have called resolve_auth(); then its return value is ignored.
  if (r && pending_ == Pending::auth) complete_auth(std::move(*r));
}

void Session::resolve_auth(AuthAnswer a) {
  if (pending_ != Pending::auth || state_ == State::ended) return;
  complete_auth(std::move(a));
  process();
}

void Session::complete_auth(AuthAnswer a) {
  pending_ = Pending::none;
  user_.clear();
  switch (a.outcome) {
    case AuthOutcome::bad_credentials:
      return err("[AUTH] invalid user name or password");
    case AuthOutcome::in_use:
      return err("[IN-USE] maildrop is in use by another session", false);
    case AuthOutcome::temporary_failure:
      return err("[SYS/TEMP] authentication is unavailable, try again later", false);
    case AuthOutcome::ok:
      break;
  }
  uint64_t octets = 0;
  bool good = a.maildrop.size() <= std::numeric_limits<uint32_t>::max();
  for (const MaildropEntry& m : a.maildrop) {
    if (!good) break;
    good = valid_uidl(m.uidl) && m.size <= std::numeric_limits<uint64_t>::max() - octets;
    octets += m.size;
  }
  if (!good) {
    // The host broke the contract; serving numbers or UIDLs that clients would store is
    // worse than refusing. The lock was granted, so on_end is how it gets released.
    out_ += "-ERR [SYS/PERM] maildrop unavailable\r\n";
    return end(End::bad_maildrop);
  }
  drop_ = std::move(a.maildrop);
  deleted_.assign(drop_.size(), false);
  live_count_ = static_cast<uint32_t>(drop_.size());
  live_octets_ = octets;
  state_ = State::transaction;
  ok("maildrop has " + std::to_string(live_count_) + " messages (" + std::to_string(live_octets_) +
     " octets)");
}

void Session::cmd_capa() {
  out_ += kCapabilities;
}

void Session::cmd_quit() {
  if (state_ == State::authorization) {
    ok("bye");
    return end(End::quit);
  }
  state_ = State::update;
  // Anything pipelined after QUIT is never read.
  wipe(in_.data() + pos_, in_.size() - pos_);
  pos_ = in_.size();
  std::vector<uint32_t> deleted;
  deleted.reserve(drop_.size() - live_count_);
  for (size_t i = 0; i < drop_.size(); ++i)
    if (deleted_[i]) deleted.push_back(static_cast<uint32_t>(i + 1));
  commit_count_ = static_cast<uint32_t>(deleted.size());
  pending_ = Pending::commit;
  auto r = hooks_.on_commit(deleted);
  if (r && pending_ == Pending::commit) complete_commit(*r);
}

void Session::resolve_commit(const Status& s) {
  if (pending_ != Pending::commit || state_ == State::ended) return;
  complete_commit(s);
}

void Session::complete_commit(const Status& s) {
  pending_ = Pending::none;
  if (!s.ok()) {
    // RFC 1939 6: the server must not remove some of the messages and keep others.
    err("[SYS/TEMP] deleted messages could not be removed; none were", false);
    return end(End::commit_failed);
  }
  stats_.deleted = commit_count_;
  ok("bye, " + std::to_string(commit_count_) + " messages deleted");
  end(End::quit);
}

// ---- TRANSACTION ----

std::optional<uint32_t> Session::message_arg(std::string_view arg) {
  const auto n = parse_number(arg);
  if (!n) {
    err("invalid message number");
    return std::nullopt;
  }
  if (*n == 0 || *n > drop_.size()) {
    err("no such message, only " + std::to_string(drop_.size()) + " messages in maildrop");
    return std::nullopt;
  }
  if (deleted_[*n - 1]) {
    err("message " + std::to_string(*n) + " already deleted");
    return std::nullopt;
  }
  return static_cast<uint32_t>(*n);
}

void Session::cmd_stat() {
  ok(std::to_string(live_count_) + " " + std::to_string(live_octets_));
}

void Session::cmd_list(std::string_view arg, bool has_arg, bool uidl) {
  if (has_arg) {
    if (!single_arg(arg, has_arg)) return err(uidl ? "syntax: UIDL [msg]" : "syntax: LIST [msg]");
    const auto n = message_arg(arg);
    if (!n) return;
    const MaildropEntry& m = drop_[*n - 1];
    return ok(std::to_string(*n) + " " + (uidl ? m.uidl : std::to_string(m.size)));
  }
  if (uidl)
    out_ += "+OK unique-id listing follows\r\n";
  else
    out_ += "+OK " + std::to_string(live_count_) + " messages (" + std::to_string(live_octets_) +
            " octets)\r\n";
  for (size_t i = 0; i < drop_.size(); ++i) {
    if (deleted_[i]) continue;
    out_ += std::to_string(i + 1);
    out_ += ' ';
    out_ += uidl ? drop_[i].uidl : std::to_string(drop_[i].size);
    out_ += "\r\n";
  }
  out_ += ".\r\n";
}

void Session::cmd_fetch(std::string_view arg, bool has_arg, bool top) {
  std::optional<uint64_t> lines;
  std::string_view msg = arg;
  if (top) {
    const size_t sp = arg.find(' ');
    if (!has_arg || sp == std::string_view::npos) return err("syntax: TOP msg n");
    msg = arg.substr(0, sp);
    const std::string_view count = arg.substr(sp + 1);
    if (msg.empty() || count.find(' ') != std::string_view::npos) return err("syntax: TOP msg n");
    lines = parse_number(count);
    if (!lines) return err("invalid line count");
  } else if (!single_arg(arg, has_arg)) {
    return err("syntax: RETR msg");
  }
  const auto n = message_arg(msg);
  if (!n) return;
  fetch_number_ = *n;
  fetch_top_lines_ = lines;
  pending_ = Pending::fetch;
  auto r = hooks_.on_fetch(*n, drop_[*n - 1].uidl);
  if (r && pending_ == Pending::fetch) complete_fetch(*r);
}

void Session::resolve_fetch(const FetchAnswer& a) {
  if (pending_ != Pending::fetch || state_ == State::ended) return;
  complete_fetch(a);
  process();
}

void Session::complete_fetch(const FetchAnswer& a) {
  pending_ = Pending::none;
  if (!a.ok) return err("[SYS/TEMP] message unavailable, try again later", false);
  if (fetch_top_lines_) {
    ok("top of message follows");
  } else {
    ok(std::to_string(drop_[fetch_number_ - 1].size) + " octets");
    ++stats_.retrieved;
  }
  append_multiline(out_, a.message, fetch_top_lines_);
}

void Session::cmd_dele(std::string_view arg, bool has_arg) {
  if (!single_arg(arg, has_arg)) return err("syntax: DELE msg");
  const auto n = message_arg(arg);
  if (!n) return;
  // Only marked: nothing is removed before QUIT's commit, so this promises nothing durable.
  deleted_[*n - 1] = true;
  --live_count_;
  live_octets_ -= drop_[*n - 1].size;
  ok("message " + std::to_string(*n) + " marked deleted");
}

void Session::cmd_rset() {
  deleted_.assign(drop_.size(), false);
  live_count_ = static_cast<uint32_t>(drop_.size());
  live_octets_ = 0;
  for (const MaildropEntry& m : drop_) live_octets_ += m.size;
  ok("maildrop has " + std::to_string(live_count_) + " messages (" + std::to_string(live_octets_) +
     " octets)");
}

// ---- replies and the end ----

void Session::ok(std::string_view text) {
  if (state_ == State::ended) return;
  out_ += "+OK";
  if (!text.empty()) {
    out_ += ' ';
    out_ += text;
  }
  out_ += "\r\n";
}

void Session::err(std::string_view text, bool counts) {
  if (state_ == State::ended) return;
  if (counts && ++stats_.errors > config_.max_errors) {
    out_ += "-ERR too many errors, closing\r\n";
    return end(End::too_many_errors);
  }
  out_ += "-ERR ";
  out_ += text;
  out_ += "\r\n";
}

void Session::on_timeout() {
  end(End::timeout);
}

void Session::abandon() {
  end(End::dropped);
}

void Session::end(End reason) {
  if (state_ == State::ended) return;
  state_ = State::ended;
  pending_ = Pending::none;
  mode_ = Mode::command;
  stalled_ = false;
  // In place: process() may still hold a pointer into the buffer.
  wipe(in_.data(), in_.size());
  pos_ = in_.size();
  hooks_.on_end(reason);
}

}  // namespace nj::pop3
