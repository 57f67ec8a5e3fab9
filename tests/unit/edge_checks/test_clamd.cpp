#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <optional>

#include "common/uv/pipe.h"
#include "edge/checks/clamd.h"
#include "tests/unit/support/run_until.h"

using namespace nj::checks;
using nj::testing::run_until;
namespace uv = nj::uv;

namespace {

using Kind = ClamdResult::Kind;

std::string nul(std::string s) { return s + std::string(1, '\0'); }

struct Scratch {
  std::filesystem::path path;
  Scratch() {
    std::string t = (std::filesystem::temp_directory_path() / "nj-clamd-XXXXXX").string();
    if (::mkdtemp(t.data())) path = t;
  }
  ~Scratch() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

// clamd's side of INSTREAM at the client's seam: a unix socket that decodes the request as clamd
// does and answers with `reply` once the zero-length chunk arrives (or after `reply_after`
// message bytes, reading on as clamd's size limit does not), in `pieces` writes.
struct FakeClamd {
  std::unique_ptr<uv::PipeListener> listener;
  std::vector<std::unique_ptr<uv::Connection>> conns;
  std::unique_ptr<uv::Timer> later;
  std::string reply;
  std::optional<size_t> reply_after;
  bool silent = false;
  int pieces = 1;

  int connections = 0;
  std::string command;
  std::string message;
  std::vector<size_t> chunks;
  bool ended = false;
  bool answered = false;
  bool client_closed = false;
  std::string buf;

  FakeClamd(uv::Loop& loop, const std::string& path) : later(std::make_unique<uv::Timer>(loop)) {
    auto l = uv::PipeListener::bind(loop, path, 0600, [this](std::unique_ptr<uv::Connection> c) {
      ++connections;
      uv::Connection* raw = c.get();
      raw->on_read([this, raw](std::string_view b) { feed(*raw, b); });
      raw->on_close([this](const nj::Status&) { client_closed = true; });
      conns.push_back(std::move(c));
    });
    BOOST_REQUIRE_MESSAGE(l.ok(), (l.ok() ? "" : l.error()));
    listener = std::move(*l);
  }

  void feed(uv::Connection& c, std::string_view b) {
    buf.append(b);
    if (command.empty()) {
      if (buf.size() < 10) return;
      command = buf.substr(0, 10);
      buf.erase(0, 10);
    }
    while (buf.size() >= 4) {
      auto* p = reinterpret_cast<const unsigned char*>(buf.data());
      size_t n = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
      if (buf.size() < 4 + n) return;
      if (n == 0) {
        ended = true;
        buf.erase(0, 4);
        answer(c, true);
        return;
      }
      chunks.push_back(n);
      message += buf.substr(4, n);
      buf.erase(0, 4 + n);
      if (reply_after && message.size() >= *reply_after) answer(c, false);
    }
  }

  void answer(uv::Connection& c, bool then_close) {
    if (silent || answered) return;
    answered = true;
    size_t first = pieces > 1 ? reply.size() / 2 : reply.size();
    (void)c.write(reply.substr(0, first));
    if (first == reply.size()) {
      if (then_close) c.shutdown_then_close();
      return;
    }
    // The rest after a pause, so the client sees the reply in two reads.
    later->start(30, 0, [this, &c, first, then_close] {
      (void)c.write(reply.substr(first));
      if (then_close) c.shutdown_then_close();
    });
  }
};

struct Fixture {
  Scratch dir;
  uv::Loop loop;
  std::string path = (dir.path / "clamd.ctl").string();

  ClamdOptions options() {
    ClamdOptions o;
    o.unix_path = path;
    o.timeout_ms = 2000;
    o.chunk_size = 4096;
    return o;
  }

  // Runs one scan to its end.
  ClamdResult scan(const ClamdOptions& o, const std::string& message, int* calls_before = nullptr) {
    ClamdClient client(loop, o);
    std::optional<ClamdResult> got;
    int calls = 0;
    auto s = client.scan(message, [&](ClamdResult r) {
      ++calls;
      got = std::move(r);
    });
    if (calls_before) *calls_before = calls;
    BOOST_REQUIRE(run_until(loop, [&] { return got.has_value(); }));
    // Exactly once: nothing more arrives later.
    run_until(loop, [] { return false; }, 50);
    BOOST_CHECK_EQUAL(calls, 1);
    return *got;
  }
};

std::string sample_message(size_t n) {
  std::string m;
  for (size_t i = 0; m.size() < n; ++i) m += "line " + std::to_string(i) + " of the message\r\n";
  m.resize(n);
  return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(clamd)

BOOST_AUTO_TEST_CASE(every_reply_kind_parses) {
  auto ok = parse_clamd_reply("stream: OK");
  BOOST_TEST(static_cast<int>(ok.kind) == static_cast<int>(Kind::clean));
  auto found = parse_clamd_reply("stream: Win.Test.EICAR_HDB-1 FOUND");
  BOOST_TEST(static_cast<int>(found.kind) == static_cast<int>(Kind::infected));
  BOOST_TEST(found.signature == "Win.Test.EICAR_HDB-1");
  auto custom = parse_clamd_reply("stream: Nightjar.Test.Eicar.UNOFFICIAL FOUND");
  BOOST_TEST(custom.signature == "Nightjar.Test.Eicar.UNOFFICIAL");
  auto err = parse_clamd_reply("stream: Can't allocate memory ERROR");
  BOOST_TEST(static_cast<int>(err.kind) == static_cast<int>(Kind::error));
  BOOST_TEST(err.reason == "Can't allocate memory");
  auto limit = parse_clamd_reply("INSTREAM size limit exceeded. ERROR");
  BOOST_TEST(static_cast<int>(limit.kind) == static_cast<int>(Kind::error));
  BOOST_TEST(limit.reason == "INSTREAM size limit exceeded");
}

BOOST_AUTO_TEST_CASE(anything_else_is_an_error) {
  for (std::string bad :
       {std::string(), std::string("OK"), std::string("stream: ok"), std::string("stream: OK\n"),
        std::string("stream:OK"), std::string(" stream: OK"), std::string("stream: "),
        std::string("stream: FOUND"), std::string("stream:  FOUND"),
        std::string("stream: two words FOUND"), std::string("stream: Eicar FOUND trailing"),
        std::string("stream:  ERROR"), std::string("stream: ERROR"), std::string("PONG"),
        std::string("UNKNOWN COMMAND"), std::string("1: stream: OK"),
        std::string("INSTREAM size limit exceeded"), std::string("stream: OK stream: OK"),
        std::string("\x01\x02\xff garbage")}) {
    BOOST_TEST_CONTEXT("reply \"" << bad << "\"") {
      auto r = parse_clamd_reply(bad);
      BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::error));
      BOOST_TEST(!r.reason.empty());
      for (char c : r.reason) BOOST_TEST((c >= 0x20 && c < 0x7f));
    }
  }
  // Over-long: refused whatever it says.
  std::string longsig = "stream: " + std::string(kMaxClamdReply, 'A') + " FOUND";
  auto r = parse_clamd_reply(longsig);
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::error));
  BOOST_TEST(r.reason.find("reply over") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(signatures_are_sanitized) {
  auto r = parse_clamd_reply("stream: Evil\x1b[31m\r\n<b>\x80 FOUND");
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::infected));
  BOOST_TEST(r.signature == "Evil?[31m?" "?<b>?");  // split: no trigraph
  std::string longest(300, 'S');
  auto l = parse_clamd_reply("stream: " + longest + " FOUND");
  BOOST_TEST(l.signature.size() == kMaxSignatureLength);
  BOOST_TEST(l.signature.substr(kMaxSignatureLength - 3) == "...");
  BOOST_TEST(l.signature.substr(0, 10) == "SSSSSSSSSS");
  BOOST_TEST(sanitize_signature("") == "?");
  BOOST_TEST(sanitize_signature("A B") == "A?B");
  BOOST_TEST(sanitize_signature(std::string(kMaxSignatureLength, 'x')) ==
             std::string(kMaxSignatureLength, 'x'));
}

BOOST_AUTO_TEST_CASE(chunk_framing) {
  BOOST_TEST(clamd_chunk("abc") == std::string("\0\0\0\x03" "abc", 7));
  BOOST_TEST(clamd_chunk("") == std::string(4, '\0'));
  std::string big(0x010203, 'x');
  BOOST_TEST(clamd_chunk(big).substr(0, 4) == std::string("\0\x01\x02\x03", 4));
  BOOST_TEST(clamd_chunk(big).size() == big.size() + 4);
  std::string want("zINSTREAM\0", 10);
  want += std::string("\0\0\0\x04" "hell", 8);
  want += std::string("\0\0\0\x04" "o wo", 8);
  want += std::string("\0\0\0\x03" "rld", 7);
  want += std::string(4, '\0');
  BOOST_TEST(clamd_request("hello world", 4) == want);
  BOOST_TEST(clamd_request("", 4) == std::string("zINSTREAM\0\0\0\0\0", 14));
  // Chunk sizes are clamped: 0 sends single bytes, a huge one kMaxClamdChunk.
  BOOST_TEST(clamd_request("ab", 0) ==
             std::string("zINSTREAM\0\0\0\0\x01" "a\0\0\0\x01" "b\0\0\0\0", 24));
  std::string two_mib(2u << 20, 'y');
  std::string req = clamd_request(two_mib, 64u << 20);
  BOOST_TEST(req.size() == 10 + 2 * (4 + kMaxClamdChunk) + 4);
  BOOST_TEST(req.substr(10, 4) == std::string("\0\x10\0\0", 4));
}

BOOST_FIXTURE_TEST_CASE(clean_message_in_bounded_chunks, Fixture) {
  FakeClamd clamd(loop, path);
  clamd.reply = nul("stream: OK");
  std::string m = sample_message(700 * 1024 + 17);  // over the send window: paced by drains
  auto r = scan(options(), m);
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::clean), r.reason);
  BOOST_TEST(clamd.command == std::string("zINSTREAM\0", 10));
  BOOST_TEST(clamd.ended);
  BOOST_TEST(clamd.message == m);
  BOOST_TEST(clamd.chunks.size() == (m.size() + 4095) / 4096);
  for (size_t n : clamd.chunks) BOOST_TEST(n <= 4096u);
  BOOST_TEST(clamd.connections == 1);
}

BOOST_FIXTURE_TEST_CASE(empty_message_is_scanned_too, Fixture) {
  FakeClamd clamd(loop, path);
  clamd.reply = nul("stream: OK");
  auto r = scan(options(), "");
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::clean), r.reason);
  BOOST_TEST(clamd.ended);
  BOOST_TEST(clamd.chunks.empty());
}

BOOST_FIXTURE_TEST_CASE(infected_reply_in_two_reads, Fixture) {
  FakeClamd clamd(loop, path);
  clamd.reply = nul("stream: Nightjar.Test.Eicar.UNOFFICIAL FOUND");
  clamd.pieces = 2;
  auto r = scan(options(), sample_message(5000));
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::infected), r.reason);
  BOOST_TEST(r.signature == "Nightjar.Test.Eicar.UNOFFICIAL");
}

BOOST_FIXTURE_TEST_CASE(an_early_size_limit_reply_ends_the_scan, Fixture) {
  FakeClamd clamd(loop, path);
  clamd.reply = nul("INSTREAM size limit exceeded. ERROR");
  clamd.reply_after = 8192;
  auto r = scan(options(), sample_message(600 * 1024));
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::error));
  BOOST_TEST(r.reason == "INSTREAM size limit exceeded");
}

BOOST_FIXTURE_TEST_CASE(broken_replies_are_errors, Fixture) {
  struct Case {
    std::string reply;
    std::string reason;
  };
  for (const auto& c : std::vector<Case>{
           {"stream: OK", "connection closed in the middle of the reply"},
           {"", "connection closed before the reply"},
           {nul("stream: OK") + "x", "bytes after the reply"},
           {std::string(kMaxClamdReply + 10, 'A'), "reply over 1024 bytes"},
           {nul("stream: maybe"), "unexpected reply \"stream: maybe\""},
       }) {
    BOOST_TEST_CONTEXT("reply " << c.reply.substr(0, 40)) {
      Scratch d;
      std::string p = (d.path / "c.ctl").string();
      FakeClamd clamd(loop, p);
      clamd.reply = c.reply;
      auto o = options();
      o.unix_path = p;
      auto r = scan(o, sample_message(100));
      BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::error));
      BOOST_TEST(r.reason == c.reason);
    }
  }
}

BOOST_FIXTURE_TEST_CASE(no_clamd_is_an_error, Fixture) {
  auto r = scan(options(), "x");
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::error));
  BOOST_TEST(r.reason.find("connect") != std::string::npos, r.reason);
}

BOOST_FIXTURE_TEST_CASE(a_silent_clamd_times_out, Fixture) {
  FakeClamd clamd(loop, path);
  clamd.silent = true;
  auto o = options();
  o.timeout_ms = 200;
  auto r = scan(o, sample_message(100));
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::error));
  BOOST_TEST(r.reason.find("no reply within") != std::string::npos, r.reason);
  BOOST_TEST(clamd.ended);
  run_until(loop, [&] { return clamd.client_closed; }, 1000);
  BOOST_TEST(clamd.client_closed);
}

BOOST_FIXTURE_TEST_CASE(over_max_size_is_not_sent, Fixture) {
  FakeClamd clamd(loop, path);
  clamd.reply = nul("stream: OK");
  auto o = options();
  o.max_size = 1000;
  int before = -1;
  auto r = scan(o, sample_message(1001), &before);
  BOOST_TEST(before == 0);  // never from inside scan()
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::error));
  BOOST_TEST(r.reason == "message of 1001 bytes is over max_size (1000), not scanned");
  BOOST_TEST(clamd.connections == 0);
  // The limit itself is scanned.
  auto at = scan(o, sample_message(1000));
  BOOST_TEST(static_cast<int>(at.kind) == static_cast<int>(Kind::clean), at.reason);
  BOOST_TEST(clamd.connections == 1);
}

BOOST_FIXTURE_TEST_CASE(a_cancelled_scan_never_calls_back, Fixture) {
  FakeClamd clamd(loop, path);
  clamd.silent = true;
  ClamdClient client(loop, options());
  int calls = 0;
  auto s = client.scan("some message", [&](ClamdResult) { ++calls; });
  BOOST_REQUIRE(run_until(loop, [&] { return clamd.ended; }));
  s.reset();
  BOOST_TEST(run_until(loop, [&] { return clamd.client_closed; }));
  run_until(loop, [] { return false; }, 100);
  BOOST_TEST(calls == 0);
}

BOOST_FIXTURE_TEST_CASE(scans_outlive_their_client, Fixture) {
  FakeClamd clamd(loop, path);
  clamd.reply = nul("stream: OK");
  std::optional<ClamdResult> got;
  std::unique_ptr<ClamdScan> s;
  {
    ClamdClient client(loop, options());
    s = client.scan("m", [&](ClamdResult r) { got = std::move(r); });
  }
  BOOST_REQUIRE(run_until(loop, [&] { return got.has_value(); }));
  BOOST_TEST(static_cast<int>(got->kind) == static_cast<int>(Kind::clean));
}

BOOST_FIXTURE_TEST_CASE(loopback_tcp_too, Fixture) {
  // clamd's TCPSocket: the same protocol over TCP.
  std::vector<std::unique_ptr<uv::Connection>> conns;
  std::string seen;
  auto l = uv::TcpListener::bind(loop, "127.0.0.1:0", [&](std::unique_ptr<uv::Connection> c) {
    uv::Connection* raw = c.get();
    raw->on_read([&seen, raw](std::string_view b) {
      seen.append(b);
      if (seen.size() >= 4 && seen.substr(seen.size() - 4) == std::string(4, '\0') &&
          seen == clamd_request("tcp message", 4096)) {
        (void)raw->write(nul("stream: Tcp.Sig FOUND"));
        raw->shutdown_then_close();
      }
    });
    conns.push_back(std::move(c));
  });
  BOOST_REQUIRE(l.ok());
  ClamdOptions o = options();
  o.unix_path.clear();
  o.host = "127.0.0.1";
  o.port = (*l)->port();
  ClamdClient client(loop, o);
  BOOST_TEST(client.where() == "tcp:127.0.0.1:" + std::to_string(o.port));
  auto r = scan(o, "tcp message");
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(Kind::infected), r.reason);
  BOOST_TEST(r.signature == "Tcp.Sig");
}

BOOST_AUTO_TEST_SUITE_END()
