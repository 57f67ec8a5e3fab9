#include "common/base/log.h"

#include <sodium.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace nj::log {
namespace {

Options g_opts;
Sink g_sink = nullptr;
std::once_flag g_key_once;
std::array<unsigned char, crypto_generichash_KEYBYTES> g_key;
std::mutex g_write_mu;

const char* level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "?";
}

std::string keyed_tag(const char* kind, std::string_view v) {
  std::call_once(g_key_once, [] {
    if (sodium_init() < 0) std::abort();
    randombytes_buf(g_key.data(), g_key.size());
  });
  unsigned char h[5];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(v.data()), v.size(),
                     g_key.data(), g_key.size());
  char hex[11];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string(kind) + ":" + hex;
}

}  // namespace

void init(const Options& o) {
  g_opts = o;
}
const Options& options() {
  return g_opts;
}
void set_sink(Sink s) {
  g_sink = s;
}

std::string ip(std::string_view address) {
  if (!g_opts.redact) return std::string(address);
  return keyed_tag("ip", address);
}

std::string addr(std::string_view mailbox) {
  if (!g_opts.redact) return std::string(mailbox);
  if (mailbox.empty()) return "<>";
  return keyed_tag("addr", mailbox);
}

void vwrite(Level l, const char* fmt, va_list ap) {
  if (l < g_opts.level) return;
  char msg[2048];
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  std::string line;
  if (g_opts.timestamps) {
    char ts[32];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    line += ts;
  }
  line += g_opts.ident;
  line += " ";
  line += level_name(l);
  line += ": ";
  line += msg;
  std::lock_guard<std::mutex> lk(g_write_mu);
  if (g_sink) {
    g_sink(l, line);
  } else {
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

void write(Level l, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwrite(l, fmt, ap);
  va_end(ap);
}

std::string printable(std::string_view raw, std::size_t max, bool space) {
  std::string out;
  for (char ch : raw) {
    if (out.size() == max) {
      if (max >= 3) out.replace(max - 3, 3, "...");
      break;
    }
    auto c = static_cast<unsigned char>(ch);
    bool ok = (c > 0x20 && c < 0x7f) || (space && c == 0x20);
    out += ok ? ch : '?';
  }
  return out;
}

}  // namespace nj::log
