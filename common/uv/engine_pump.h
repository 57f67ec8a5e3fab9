// EnginePump: the glue between one uv::Connection and a protocol engine that does no I/O of its
// own (smtp::ServerSession, pop3::ServerSession): it writes what the engine produced, ends the
// connection when the engine asks, and runs the engine's own per-state timeout. The daemons'
// sessions hold one each and add only what is theirs (STARTTLS, logging, commits).
// An engine provides take_output(), want_close(), timeout() and on_timeout().
// Trust: none needed; it moves bytes the engine has already judged.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "common/uv/handles.h"
#include "common/uv/tcp.h"

namespace nj::uv {

template <class Engine>
class EnginePump {
 public:
  // `after_timeout` runs after the engine was told its timeout expired (usually the owner's
  // flush, which sends the engine's 421 and ends the connection). `conn` and `engine` must
  // outlive the pump.
  EnginePump(Loop& loop, Connection& conn, Engine& engine, std::function<void()> after_timeout)
      : conn_(conn), engine_(engine), timer_(loop), after_timeout_(std::move(after_timeout)) {}
  ~EnginePump() { timer_.close(); }
  EnginePump(const EnginePump&) = delete;
  EnginePump& operator=(const EnginePump&) = delete;

  bool closed() const { return closed_; }

  // Writes the engine's output. False when the session is over: already closed, the write
  // failed (the connection is closed at once), or the engine asked to end (the connection shuts
  // down once the output is sent).
  bool write_output() {
    if (closed_) return false;
    std::string out = engine_.take_output();
    if (!out.empty() && !conn_.write(std::move(out))) {
      close();
      return false;
    }
    if (engine_.want_close()) {
      end_after_output();
      return false;
    }
    return true;
  }

  // (Re)starts the timer for what the engine waits for now.
  void arm_timeout() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(engine_.timeout()).count();
    timer_.start(static_cast<uint64_t>(ms > 0 ? ms : 1), 0, [this] {
      engine_.on_timeout();
      after_timeout_();
    });
  }

  // The timer, for a wait of the owner's before the engine runs (the edge's greeting delay).
  Timer& timer() { return timer_; }

  // Ends the session once what was written is sent.
  void end_after_output() {
    if (closed_) return;
    closed_ = true;
    timer_.stop();
    conn_.shutdown_then_close();
  }
  // Ends it now; unsent output is dropped.
  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.stop();
    conn_.close();
  }
  // The connection has closed under us: nothing more to send or time.
  void connection_gone() {
    closed_ = true;
    timer_.stop();
  }

 private:
  Connection& conn_;
  Engine& engine_;
  Timer timer_;
  std::function<void()> after_timeout_;
  bool closed_ = false;
};

}  // namespace nj::uv
