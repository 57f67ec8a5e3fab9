// Fuzz the SMTP server engine: arbitrary client bytes, in arbitrary chunks, with hooks that
// say yes to everything (synchronously or later). The engine must never crash, must only ever
// write well-formed replies, and must write nothing after it asked to close.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/smtp/server.h"

namespace {

struct Permissive : nj::smtp::Hooks {
  bool async = false;
  using R = std::optional<nj::smtp::Reply>;
  R yes() { return async ? R() : R(nj::smtp::Reply::ok()); }
  R on_helo(std::string_view, bool) override { return yes(); }
  R on_mail(std::string_view, const std::vector<nj::smtp::EsmtpParam>&) override { return yes(); }
  R on_rcpt(std::string_view, const std::vector<nj::smtp::EsmtpParam>&) override { return yes(); }
  R on_message(const nj::smtp::Message&) override { return yes(); }
  R on_auth(std::string_view, std::string_view, std::string_view, std::string_view) override {
    return async ? R() : R(nj::smtp::Reply::auth_ok());
  }
};

void check_output(nj::smtp::ReplyParser& p, const std::string& out) {
  if (!p.feed(out).ok()) std::abort();
  while (p.next()) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const size_t chunk = 1 + data[1] % 64;
  data += 2;
  size -= 2;

  nj::smtp::ServerConfig cfg;
  cfg.hostname = "mx.fuzz";
  cfg.max_message_size = 4096;
  cfg.max_recipients = 5;
  cfg.max_errors = 50;
  cfg.starttls_available = flags & 1;
  cfg.auth_enabled = flags & 2;
  cfg.auth_required = flags & 4;
  cfg.pipelining = !(flags & 8);
  cfg.max_pipelined_bytes = 2048;
  Permissive hooks;
  hooks.async = flags & 16;
  nj::smtp::ServerSession s(cfg, hooks);
  nj::smtp::ReplyParser out;
  s.greet();
  check_output(out, s.take_output());

  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    const size_t n = std::min(chunk, in.size());
    const bool closed = s.want_close();
    s.feed(in.substr(0, n));
    in.remove_prefix(n);
    if (hooks.async && s.pending()) s.resolve(nj::smtp::Reply::ok());
    if (s.want_starttls()) s.tls_started();
    const std::string o = s.take_output();
    if (closed && !o.empty()) std::abort();
    check_output(out, o);
  }
  s.on_timeout();
  check_output(out, s.take_output());
  if (!s.want_close()) std::abort();
  return 0;
}
