// A scripted dns::Resolver for the outbound tests: answers from a table, records every query
// (so a test can prove a name was never asked), answers synchronously like a warm cache.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/dns/resolver.h"

namespace nj::edge::outbound::test {

class FakeResolver final : public dns::Resolver {
 public:
  void set(const std::string& name, dns::Type t, dns::Answer a) {
    table_[{name, t}] = std::move(a);
  }
  void query(std::string_view name, dns::Type type, dns::Callback cb) override {
    asked.emplace_back(std::string(name), type);
    auto it = table_.find({std::string(name), type});
    if (it == table_.end()) {
      dns::Answer a;
      a.status = dns::Status::nxdomain;
      cb(a);
      return;
    }
    cb(it->second);
  }
  bool was_asked(const std::string& name) const {
    for (const auto& q : asked) {
      if (q.first == name) return true;
    }
    return false;
  }
  std::vector<std::pair<std::string, dns::Type>> asked;

 private:
  std::map<std::pair<std::string, dns::Type>, dns::Answer> table_;
};

inline dns::Answer status(dns::Status s) {
  dns::Answer a;
  a.status = s;
  return a;
}

inline dns::Answer mx(std::vector<dns::MxRecord> r) {
  dns::Answer a;
  a.status = dns::Status::ok;
  a.mx = std::move(r);
  return a;
}

inline dns::Answer srv(std::vector<dns::SrvRecord> r) {
  dns::Answer a;
  a.status = dns::Status::ok;
  a.srv = std::move(r);
  return a;
}

inline dns::Answer addrs(std::vector<std::string> r) {
  dns::Answer a;
  a.status = dns::Status::ok;
  a.addresses = std::move(r);
  return a;
}

}  // namespace nj::edge::outbound::test
