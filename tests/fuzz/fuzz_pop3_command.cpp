// Fuzz the POP3 server engine: arbitrary client bytes, in arbitrary chunks, with hooks that
// let anyone in and answer everything, either at once or later (pending, then resolved after
// the chunk). The engine must never crash, must write only whole CRLF lines, must write
// nothing after it asked to close, must never echo a password, and must end exactly once.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/pop3/multiline.h"
#include "common/pop3/server.h"

namespace {

constexpr std::string_view kSecret = "Hunter2-pw";

const std::vector<std::string> kMessages = {
    "From: a\r\nSubject: s\r\n\r\nbody\r\n.\r\n..x\r\n",
    "From: b\n\nbare\nlf\n",
    "",
    "no header end",
};

struct Permissive : nj::pop3::Hooks {
  bool async = false;
  bool fail_commit = false;
  bool fail_fetch = false;
  int ends = 0;
  std::optional<nj::pop3::AuthAnswer> on_auth(std::string_view, std::string_view pw) override {
    if (async) return std::nullopt;
    return answer_auth(pw);
  }
  static nj::pop3::AuthAnswer answer_auth(std::string_view pw) {
    if (pw == "locked") return nj::pop3::AuthAnswer::locked();
    if (pw == "temp") return nj::pop3::AuthAnswer::unavailable();
    if (pw == "no") return nj::pop3::AuthAnswer::denied();
    std::vector<nj::pop3::MaildropEntry> d;
    for (size_t i = 0; i < kMessages.size(); ++i)
      d.push_back({nj::pop3::wire_size(kMessages[i]), "u" + std::to_string(i)});
    return nj::pop3::AuthAnswer::granted(std::move(d));
  }
  nj::pop3::FetchAnswer answer_fetch(uint32_t n) const {
    if (fail_fetch || n == 0 || n > kMessages.size()) return nj::pop3::FetchAnswer::failed();
    return nj::pop3::FetchAnswer::found(kMessages[n - 1]);
  }
  std::optional<nj::pop3::FetchAnswer> on_fetch(uint32_t n, std::string_view) override {
    last_fetch = n;
    if (async) return std::nullopt;
    return answer_fetch(n);
  }
  std::optional<nj::Status> on_commit(const std::vector<uint32_t>& deleted) override {
    for (size_t i = 0; i < deleted.size(); ++i)
      if (deleted[i] == 0 || deleted[i] > kMessages.size() || (i && deleted[i] <= deleted[i - 1]))
        std::abort();
    if (async) return std::nullopt;
    return commit_answer();
  }
  nj::Status commit_answer() const {
    return fail_commit ? nj::Status(nj::make_error("fuzz")) : nj::Status();
  }
  void on_end(nj::pop3::End) override { ++ends; }
  uint32_t last_fetch = 0;
};

void check_output(const std::string& out) {
  if (!out.empty() && (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0)) std::abort();
  if (out.find(kSecret) != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const size_t chunk = 1 + data[1] % 64;
  data += 2;
  size -= 2;

  nj::pop3::Config cfg;
  cfg.max_errors = 30;
  cfg.max_pipelined_bytes = 2048;
  cfg.max_sasl_line = 512;
  cfg.output_high_water = (flags & 8) ? 64 : 4096;
  Permissive hooks;
  hooks.async = flags & 1;
  hooks.fail_commit = flags & 2;
  hooks.fail_fetch = flags & 4;
  {
    nj::pop3::Session s(cfg, hooks);
    s.greet();
    check_output(s.take_output());

    std::string_view in(reinterpret_cast<const char*>(data), size);
    while (!in.empty()) {
      const size_t n = std::min(chunk, in.size());
      const bool closed = s.want_close();
      s.feed(in.substr(0, n));
      in.remove_prefix(n);
      // Pending hooks are answered after each chunk, the way a host answers from its loop.
      for (int round = 0; round < 8 && s.pending(); ++round) {
        s.resolve_auth(Permissive::answer_auth((flags & 16) ? "locked" : "ok"));
        s.resolve_fetch(hooks.answer_fetch(hooks.last_fetch));
        s.resolve_commit(hooks.commit_answer());
      }
      while (s.needs_resume()) {
        check_output(s.take_output());
        s.resume();
      }
      const std::string o = s.take_output();
      if (closed && !o.empty()) std::abort();
      check_output(o);
      if (s.want_close() && hooks.ends != 1) std::abort();
    }
    if ((flags & 32) == 0) {
      s.on_timeout();
      if (!s.take_output().empty()) std::abort();
      if (!s.want_close() || hooks.ends != 1) std::abort();
    }
  }
  if (hooks.ends != 1) std::abort();
  return 0;
}
