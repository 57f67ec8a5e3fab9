// Resolver: the seam between the daemons and DNS. The real implementation is c-ares driven by
// the libuv loop (cares_resolver.h); unit tests use a fake behind this interface.
// Trust: every answer comes from the network and is untrusted input.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace nj::dns {

enum class Type { A, AAAA, MX, TXT, NS, SRV, PTR };

enum class Status {
  ok,        // answer present (may still be empty for some types; see records)
  nxdomain,  // the name does not exist
  nodata,    // the name exists but has no record of this type
  servfail,  // server failure or refused: a temporary condition
  timeout,   // no answer in time: a temporary condition
  error,     // anything else (bad name, resolver shut down)
};

const char* status_name(Status s);
inline bool is_temporary(Status s) { return s == Status::servfail || s == Status::timeout; }

struct MxRecord {
  uint16_t preference = 0;
  std::string host;
};

struct SrvRecord {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string target;
};

struct Answer {
  Status status = Status::error;
  std::vector<std::string> addresses;  // A / AAAA, textual (inet_ntop)
  std::vector<MxRecord> mx;            // MX
  std::vector<std::string> names;      // NS / PTR
  std::vector<std::string> txt;        // TXT, each record's strings joined
  std::vector<SrvRecord> srv;          // SRV
};

using Callback = std::function<void(const Answer&)>;

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Starts a query; the callback runs later on the loop thread, exactly once, unless the
  // resolver is destroyed first (then it runs with Status::error during destruction).
  virtual void query(std::string_view name, Type type, Callback cb) = 0;
};

}  // namespace nj::dns
