#include "common/dns/resolver.h"

namespace nj::dns {

const char* status_name(Status s) {
  switch (s) {
    case Status::ok:
      return "ok";
    case Status::nxdomain:
      return "nxdomain";
    case Status::nodata:
      return "nodata";
    case Status::servfail:
      return "servfail";
    case Status::timeout:
      return "timeout";
    case Status::error:
      return "error";
  }
  return "?";
}

}  // namespace nj::dns
