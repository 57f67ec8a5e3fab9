// SessionSet: owns a daemon's live sessions (one per connection) and deletes a finished one on the
// next loop turn, because a session usually learns it is finished inside one of its own
// callbacks, where deleting it would pull the stack out from under it.
// Trust: none needed; sessions are the daemon's own objects.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "common/uv/handles.h"

namespace nj::uv {

template <class T>
class SessionSet {
 public:
  explicit SessionSet(Loop& loop) : reaper_(loop) {}
  SessionSet(const SessionSet&) = delete;
  SessionSet& operator=(const SessionSet&) = delete;
  ~SessionSet() {
    reaper_.close();
    dead_.clear();
    live_.clear();
  }

  T* add(std::unique_ptr<T> s) {
    T* raw = s.get();
    live_.emplace(raw, std::move(s));
    return raw;
  }

  // The session is over: it is deleted on the next loop turn. Unknown pointers are ignored.
  void finished(T* s) {
    auto it = live_.find(s);
    if (it == live_.end()) return;
    dead_.push_back(std::move(it->second));
    live_.erase(it);
    if (!reaper_.active()) reaper_.start(0, 0, [this] { dead_.clear(); });
  }

  // The live sessions at this moment (a callback may finish some while the caller iterates).
  std::vector<T*> snapshot() const {
    std::vector<T*> out;
    out.reserve(live_.size());
    for (const auto& [p, _] : live_) out.push_back(p);
    return out;
  }

  size_t size() const { return live_.size(); }

 private:
  Timer reaper_;
  std::unordered_map<T*, std::unique_ptr<T>> live_;
  std::vector<std::unique_ptr<T>> dead_;
};

}  // namespace nj::uv
