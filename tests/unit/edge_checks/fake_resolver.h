// A fake nj::dns::Resolver for the checks' unit tests: a map from (name, type) to Answer. In
// immediate mode it answers inside query(); in deferred mode it queues the callbacks so a test
// can answer later, in any order. Unknown names answer NXDOMAIN.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/dns/resolver.h"

namespace nj::checks::test {

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  return s;
}

class FakeResolver final : public dns::Resolver {
 public:
  struct Query {
    std::string name;
    dns::Type type;
    dns::Callback cb;
  };

  void set(const std::string& name, dns::Type t, dns::Answer a) {
    answers_[{lower(name), t}] = std::move(a);
  }
  void defer(bool on) { deferred_ = on; }

  void query(std::string_view name, dns::Type type, dns::Callback cb) override {
    asked.emplace_back(lower(std::string(name)), type);
    if (deferred_) {
      pending_.push_back(Query{lower(std::string(name)), type, std::move(cb)});
      return;
    }
    cb(lookup(lower(std::string(name)), type));
  }

  size_t pending() const { return pending_.size(); }
  // Answers the i-th waiting query (its callback may start more queries).
  void answer(size_t i) {
    Query q = std::move(pending_.at(i));
    pending_.erase(pending_.begin() + static_cast<long>(i));
    q.cb(lookup(q.name, q.type));
  }
  // Answers everything, newest first, until nothing waits.
  void answer_all_reversed() {
    while (!pending_.empty()) answer(pending_.size() - 1);
  }
  void answer_all_in_order() {
    while (!pending_.empty()) answer(0);
  }
  bool was_asked(const std::string& name, dns::Type t) const {
    return std::find(asked.begin(), asked.end(), std::make_pair(lower(name), t)) != asked.end();
  }

  std::vector<std::pair<std::string, dns::Type>> asked;

 private:
  dns::Answer lookup(const std::string& name, dns::Type t) const {
    auto it = answers_.find({name, t});
    if (it != answers_.end()) return it->second;
    dns::Answer a;
    a.status = dns::Status::nxdomain;
    return a;
  }

  std::map<std::pair<std::string, dns::Type>, dns::Answer> answers_;
  std::vector<Query> pending_;
  bool deferred_ = false;
};

inline dns::Answer with_status(dns::Status s) {
  dns::Answer a;
  a.status = s;
  return a;
}
inline dns::Answer addresses(std::vector<std::string> v) {
  dns::Answer a;
  a.status = dns::Status::ok;
  a.addresses = std::move(v);
  return a;
}
inline dns::Answer names(std::vector<std::string> v) {
  dns::Answer a;
  a.status = dns::Status::ok;
  a.names = std::move(v);
  return a;
}
inline dns::Answer mx(std::vector<dns::MxRecord> v) {
  dns::Answer a;
  a.status = dns::Status::ok;
  a.mx = std::move(v);
  return a;
}

}  // namespace nj::checks::test
