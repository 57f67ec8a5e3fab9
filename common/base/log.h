// Logging. Privacy rule: by default no IP address, full mail address, subject or body is ever
// written. Callers pass such values through log::ip() / log::addr(), which print a short keyed
// hash (the key is random per process and lives only in memory) so lines about the same
// client or address can be tied together within one run but not reversed. A per-message random
// id ties log lines of one message together.
#pragma once

#include <cstdarg>
#include <string>
#include <string_view>

namespace nj::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

struct Options {
  Level level = Level::info;
  bool redact = true;      // false only for debugging a test setup; start-up warns loudly
  bool timestamps = true;  // off under systemd, whose journal adds its own
  std::string ident = "nightjar";
};

void init(const Options& o);
const Options& options();

// Redacted renderings for values that identify people or machines.
std::string ip(std::string_view address);
std::string addr(std::string_view mailbox);

// Text a peer chose (a reply from another program, an error naming what a message declared),
// fit for one log line or an SMTP reply: printable ASCII only (anything else becomes '?'; ' '
// too unless `space`), at most `max` characters, the last three "..." when cut. It hides no
// personal data: pass only text that holds none.
std::string printable(std::string_view raw, std::size_t max, bool space = true);

void write(Level l, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void vwrite(Level l, const char* fmt, va_list ap);

#define NJ_LOG_DEBUG(...)                                      \
  do {                                                         \
    if (::nj::log::options().level <= ::nj::log::Level::debug) \
      ::nj::log::write(::nj::log::Level::debug, __VA_ARGS__);  \
  } while (0)
#define NJ_LOG_INFO(...) ::nj::log::write(::nj::log::Level::info, __VA_ARGS__)
#define NJ_LOG_WARN(...) ::nj::log::write(::nj::log::Level::warn, __VA_ARGS__)
#define NJ_LOG_ERROR(...) ::nj::log::write(::nj::log::Level::error, __VA_ARGS__)

// Tests capture what would be written.
using Sink = void (*)(Level, std::string_view line);
void set_sink(Sink s);  // nullptr restores stderr

}  // namespace nj::log
