// nightjarctl account: see account.h.
#include "inner/ctl/account.h"

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>

#include "common/base/clock.h"
#include "common/crypto/crypto.h"
#include "common/crypto/keyfile.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "inner/accounts/accounts.h"
#include "inner/accounts/scrub.h"
#include "inner/config/config.h"
#include "inner/mailbox/mailbox.h"
#include "inner/policy/quota_store.h"

namespace nj::ctl {
namespace {

constexpr CommandText kText{
    "account",
    "usage: nightjarctl account --config FILE ACTION [ARGS] [--yes]\n"
    "       nightjarctl account --data-dir DIR --domain DOMAIN ACTION [ARGS] [--yes]\n",
    "Manages the inner's accounts; ADDRESS is in the internal domain.\n"
    "actions:\n"
    "  add ADDRESS            a new account; asks for its password\n"
    "  passwd ADDRESS         a new password (asks the old one); mail stays readable\n"
    "  reset ADDRESS          a new password and a NEW key pair, for a forgotten\n"
    "                         password: mail already stored becomes unreadable; asks\n"
    "                         for 'yes' unless --yes is given\n"
    "  del ADDRESS            removes the account, its keys and its mail\n"
    "  list                   every account, with its number of messages and bytes\n"
    "  show ADDRESS           one account: its key, dates, mailbox use and settings\n"
    "  set ADDRESS KEY=VALUE  an account setting: delay=none|defer|batch\n"
    "  unset ADDRESS KEY      removes a setting (the configuration's default applies)\n"
    "Passwords are read from the terminal with echo off, or one line each from\n"
    "standard input (passwd: old, then new); never from the command line.\n"};

constexpr Option kOptions[] = {
    {"--config"}, {"--data-dir"}, {"--domain"}, {"--yes", Option::flag, "-y"}};

// One line from fd 0, read a byte at a time so a second line (passwd's new password) stays in
// the pipe for the next read. Held in locked memory.
std::optional<crypto::SecureBytes> read_line_secure() {
  constexpr size_t kMax = inner::Accounts::kMaxPasswordBytes + 2;
  crypto::SecureBytes buf(kMax);
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = ::read(0, &c, 1);
    if (r < 0) return std::nullopt;
    if (r == 0) {
      if (n == 0) return std::nullopt;
      break;
    }
    if (c == '\n') break;
    if (n == kMax) return std::nullopt;  // too long: refuse rather than truncate
    buf.data()[n++] = static_cast<unsigned char>(c);
  }
  if (n > 0 && buf.data()[n - 1] == '\r') --n;
  auto out = crypto::SecureBytes::copy_of(buf.view().substr(0, n));
  return out;
}

// The terminal with echo off, or a line of stdin when it is not a terminal.
std::optional<crypto::SecureBytes> read_password(const char* prompt) {
  if (!::isatty(0)) return read_line_secure();
  std::fprintf(stderr, "%s", prompt);
  std::fflush(stderr);
  termios old{};
  bool restore = ::tcgetattr(0, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(0, TCSAFLUSH, &quiet);
  }
  auto pw = read_line_secure();
  if (restore) ::tcsetattr(0, TCSAFLUSH, &old);
  return pw;
}

// A new password: on a terminal, asked twice.
std::optional<crypto::SecureBytes> read_new_password(const char* prompt) {
  auto pw = read_password(prompt);
  if (!pw || !::isatty(0)) return pw;
  auto again = read_password("Repeat it: ");
  if (!again || !crypto::equal_ct(pw->view(), again->view())) {
    std::fprintf(stderr, "nightjarctl account: the passwords differ\n");
    return std::nullopt;
  }
  return pw;
}

bool confirmed(bool yes, const std::string& question) {
  if (yes) return true;
  std::fprintf(stderr, "%s Type 'yes' to go on: ", question.c_str());
  std::fflush(stderr);
  auto line = read_line_secure();
  return line && line->view() == "yes";
}

struct Store {
  std::unique_ptr<store::Env> env;
  std::unique_ptr<inner::Accounts> accounts;
  std::unique_ptr<inner::Mailbox> mailbox;
  std::unique_ptr<policy::QuotaStore> quota;
  std::unique_ptr<inner::FreePageScrubber> scrubber;
  std::unique_ptr<store::GroupCommitter> gc;
  SystemClock clock;

  ~Store() {
    if (gc) gc->shutdown();
  }
};

Result<std::unique_ptr<Store>> open_store(const AccountTarget& t, bool create) {
  const std::string dir = t.data_dir + "/store";
  if (!create && ::access((dir + "/data.mdb").c_str(), F_OK) != 0) {
    return make_error(dir + ": no store here (add an account first, or start the daemon)");
  }
  // `add` may come before the daemon ever ran: make the data directory, private, as it would.
  if (create && ::mkdir(t.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error(t.data_dir + ": " + std::strerror(errno));
  }
  auto s = std::make_unique<Store>();
  auto env = store::Env::open(dir);
  if (!env) return make_error(dir + ": " + env.error());
  s->env = std::make_unique<store::Env>(std::move(*env));
  inner::Accounts::Options ao;
  ao.internal_domain = t.internal_domain;
  auto a = inner::Accounts::open(*s->env, ao, s->clock);
  if (!a) return make_error(a.error());
  s->accounts = std::move(*a);
  inner::Mailbox::Options mo;
  mo.max_size = t.max_size;
  auto m = inner::Mailbox::open(*s->env, *s->accounts, mo, s->clock);
  if (!m) return make_error(m.error());
  s->mailbox = std::move(*m);
  // The quota records of a deleted account go in the same commit as the account (the rules
  // do not matter for forgetting).
  auto q = policy::QuotaStore::open(*s->env, policy::QuotaRules{});
  if (!q) return make_error(q.error());
  s->quota = std::move(*q);
  s->accounts->add_eraser([qs = s->quota.get()](store::Txn& txn, std::string_view id) {
    return qs->forget_in(txn, std::string(id));
  });
  auto sc = inner::FreePageScrubber::open(*s->env);
  if (!sc) return make_error(sc.error());
  s->scrubber = std::move(*sc);
  s->gc = std::make_unique<store::GroupCommitter>(*s->env, nullptr);
  return s;
}

const char* verify_problem(inner::VerifyStatus s) {
  switch (s) {
    case inner::VerifyStatus::ok:
      return "ok";
    case inner::VerifyStatus::no_such_account:
      return "no such account";
    case inner::VerifyStatus::bad_password:
      return "wrong password";
    case inner::VerifyStatus::store_error:
      return "store error";
  }
  return "?";
}

}  // namespace

int run_account(const AccountTarget& target, const std::vector<std::string>& pos, bool yes) {
  if (pos.empty()) return usage_error(kText, "missing action");
  const std::string action = pos[0];
  size_t want = action == "list" ? 1 : (action == "set" || action == "unset") ? 3 : 2;
  if (action != "list" && action != "add" && action != "passwd" && action != "reset" &&
      action != "del" && action != "show" && action != "set" && action != "unset") {
    return usage_error(kText, "unknown action '" + action + "'");
  }
  if (pos.size() != want) return usage_error(kText, "wrong number of arguments for " + action);
  const std::string address = want > 1 ? pos[1] : "";

  crypto::init();
  auto st = open_store(target, action == "add");
  if (!st) return fail(kText, st.error());
  auto& s = **st;

  if (action == "list") {
    auto list = s.accounts->list();
    if (!list) return fail(kText, list.error());
    for (const auto& a : *list) {
      auto use = s.mailbox->usage(a.id);
      std::printf("%s created=%s messages=%llu bytes=%llu\n", a.address.c_str(),
                  utc_text(a.created).c_str(),
                  use ? static_cast<unsigned long long>(use->messages) : 0ull,
                  use ? static_cast<unsigned long long>(use->stored_bytes) : 0ull);
    }
    return 0;
  }

  auto canonical = s.accounts->canonical_address(address);
  if (!canonical) return fail(kText, canonical.error());

  if (action == "add") {
    auto pw = read_new_password("New password: ");
    if (!pw) return fail(kText, "no password read");
    if (auto r = s.accounts->create(*s.gc, *canonical, pw->view()); !r) {
      return fail(kText, *canonical + ": " + r.error());
    }
    std::printf("%s: account created\n", canonical->c_str());
    return 0;
  }

  if (action == "show") {
    auto info = s.accounts->show(*canonical);
    if (!info) return fail(kText, info.error());
    if (!*info) return fail(kText, *canonical + ": no such account");
    const auto& a = **info;
    auto use = s.mailbox->usage(a.id);
    std::printf("address: %s\nid: %s\ncreated: %s\nkey: %s\nkey created: %s\nkey generation: %u\n",
                a.address.c_str(), a.id.c_str(), utc_text(a.created).c_str(),
                crypto::public_key_line(a.pub).c_str(), utc_text(a.key_created).c_str(),
                a.key_generation);
    if (use) {
      std::printf("messages: %llu\nstored bytes: %llu of %llu\n",
                  static_cast<unsigned long long>(use->messages),
                  static_cast<unsigned long long>(use->stored_bytes),
                  static_cast<unsigned long long>(target.max_size));
    }
    for (const auto& [k, v] : a.settings) std::printf("setting: %s=%s\n", k.c_str(), v.c_str());
    return 0;
  }

  if (action == "passwd") {
    auto old_pw = read_password("Old password: ");
    if (!old_pw) return fail(kText, "no password read");
    auto new_pw = read_new_password("New password: ");
    if (!new_pw) return fail(kText, "no new password read");
    auto r = s.accounts->change_password(*s.gc, *canonical, old_pw->view(), new_pw->view());
    if (r.status == inner::VerifyStatus::store_error)
      return fail(kText, *canonical + ": " + r.error);
    if (r.status != inner::VerifyStatus::ok) {
      return fail(kText, *canonical + ": " + verify_problem(r.status));
    }
    std::printf("%s: password changed; stored mail stays readable\n", canonical->c_str());
    return 0;
  }

  if (action == "reset") {
    auto who = s.accounts->recipient(*canonical);
    if (!who) return fail(kText, who.error());
    if (!*who) return fail(kText, *canonical + ": no such account");
    auto use = s.mailbox->usage((*who)->id);
    const unsigned long long n = use ? static_cast<unsigned long long>(use->messages) : 0;
    std::fprintf(stderr,
                 "WARNING: a reset makes a NEW key pair for %s. The %llu message(s) now in the "
                 "mailbox are sealed to the old key, which only the old password unlocks: they "
                 "become unreadable for good.\n",
                 canonical->c_str(), n);
    if (!confirmed(yes, "Reset the password anyway?"))
      return fail(kText, "not confirmed; nothing done");
    auto pw = read_new_password("New password: ");
    if (!pw) return fail(kText, "no password read");
    auto r = s.accounts->reset_password(*s.gc, *canonical, pw->view());
    if (!r) return fail(kText, *canonical + ": " + r.error());
    std::printf("%s: password reset with a new key pair; %llu old message(s) are now unreadable\n",
                canonical->c_str(), r->old_mail_unreadable ? n : 0ull);
    return 0;
  }

  if (action == "del") {
    auto who = s.accounts->recipient(*canonical);
    if (!who) return fail(kText, who.error());
    if (!*who) return fail(kText, *canonical + ": no such account");
    auto use = s.mailbox->usage((*who)->id);
    if (auto r = s.accounts->remove(*s.gc, *canonical); !r)
      return fail(kText, *canonical + ": " + r.error());
    // The account is gone; now overwrite the pages that held it.
    auto scrub = s.scrubber->scrub(*s.gc);
    std::printf("%s: account removed with its keys and %llu message(s)\n", canonical->c_str(),
                use ? static_cast<unsigned long long>(use->messages) : 0ull);
    if (!scrub)
      return fail(kText, "removed, but overwriting the freed pages failed: " + scrub.error());
    return 0;
  }

  if (action == "set" || action == "unset") {
    Status r;
    if (action == "set") {
      auto kv = inner::parse_setting(pos[2]);
      if (!kv) return fail(kText, kv.error());
      // The delay class (inner/policy/delay.h) is read by the submission session; a typo would
      // silently mean the default. Checked by name here so this file needs no policy library.
      if (kv->first == "delay" && kv->second != "none" && kv->second != "defer" &&
          kv->second != "batch")
        return fail(kText, "delay: \"" + kv->second + "\" is not one of none, defer, batch");
      r = s.accounts->set_setting(*s.gc, *canonical, kv->first, kv->second);
    } else {
      r = s.accounts->clear_setting(*s.gc, *canonical, pos[2]);
    }
    if (!r) return fail(kText, *canonical + ": " + r.error());
    std::printf("%s: settings updated\n", canonical->c_str());
    return 0;
  }
  return usage_error(kText, "unknown action");
}

int cmd_account(const Args& args) {
  auto p = parse(kText, args, kOptions);
  if (p.exit) return *p.exit;
  AccountTarget t;
  const std::string config = p.args.value("--config");
  t.data_dir = p.args.value("--data-dir");
  t.internal_domain = p.args.value("--domain");
  if (!config.empty()) {
    if (!t.data_dir.empty() || !t.internal_domain.empty()) {
      return usage_error(kText, "--config and --data-dir/--domain exclude each other");
    }
    auto c = inner::load(config);
    if (!c) return fail(kText, c.error());
    t.data_dir = c->data_dir;
    t.internal_domain = c->domain.internal_domain;
    t.max_size = c->mailbox.max_size;
  }
  if (t.data_dir.empty() || t.internal_domain.empty()) {
    return usage_error(kText, "give --config FILE, or --data-dir DIR and --domain DOMAIN");
  }
  return run_account(t, p.args.positionals(), p.args.has("--yes"));
}

}  // namespace nj::ctl
