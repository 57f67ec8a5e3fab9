#define BOOST_TEST_MODULE metrics
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics/exporter.h"
#include "common/metrics/registry.h"
#include "tests/unit/support/run_until.h"

using namespace nj::metrics;
using nj::testing::run_until;

BOOST_TEST_DONT_PRINT_LOG_VALUE(nj::metrics::HttpVerdict)

BOOST_AUTO_TEST_CASE(renders_families_in_text_format) {
  Registry r;
  r.counter("nj_refusals_total", "Refusals by reason.", {{"reason", "greylist"}}).inc(3);
  r.counter("nj_refusals_total", "Refusals by reason.", {{"reason", "dnsbl"}}).inc();
  r.gauge("nj_queue_messages", "Messages queued.").set(7);
  auto& h = r.histogram("nj_batch_size", "Items per commit.", {1, 4, 16});
  h.observe(1);
  h.observe(3);
  h.observe(100);
  std::string want =
      "# HELP nj_batch_size Items per commit.\n"
      "# TYPE nj_batch_size histogram\n"
      "nj_batch_size_bucket{le=\"1\"} 1\n"
      "nj_batch_size_bucket{le=\"4\"} 2\n"
      "nj_batch_size_bucket{le=\"16\"} 2\n"
      "nj_batch_size_bucket{le=\"+Inf\"} 3\n"
      "nj_batch_size_sum 104\n"
      "nj_batch_size_count 3\n"
      "# HELP nj_queue_messages Messages queued.\n"
      "# TYPE nj_queue_messages gauge\n"
      "nj_queue_messages 7\n"
      "# HELP nj_refusals_total Refusals by reason.\n"
      "# TYPE nj_refusals_total counter\n"
      "nj_refusals_total{reason=\"dnsbl\"} 1\n"
      "nj_refusals_total{reason=\"greylist\"} 3\n";
  BOOST_TEST(r.render() == want);
}

BOOST_AUTO_TEST_CASE(same_series_is_one_object_and_remove_forgets_it) {
  Registry r;
  auto& a = r.gauge("nj_link_up", "Link up.", {{"edge", "a"}});
  BOOST_TEST(&a == &r.gauge("nj_link_up", "Link up.", {{"edge", "a"}}));
  BOOST_TEST(&a != &r.gauge("nj_link_up", "Link up.", {{"edge", "b"}}));
  r.remove("nj_link_up", {{"edge", "a"}});
  BOOST_TEST(r.render().find("edge=\"a\"") == std::string::npos);
  BOOST_TEST(r.render().find("nj_link_up{edge=\"b\"} 0") != std::string::npos);
  r.remove("nj_link_up", {{"edge", "b"}});
  BOOST_TEST(r.render().empty());  // a family without series writes nothing, not even HELP
  r.remove("nj_nothing", {});
}

BOOST_AUTO_TEST_CASE(collect_callbacks_run_at_each_render) {
  Registry r;
  int depth = 0;
  auto& g = r.gauge("nj_depth", "Depth.");
  r.on_collect([&] { g.set(++depth); });
  BOOST_TEST(r.render().find("nj_depth 1\n") != std::string::npos);
  BOOST_TEST(r.render().find("nj_depth 2\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(histogram_assign_takes_per_bucket_counts) {
  Registry r;
  auto& h = r.histogram("nj_b", "B.", {1, 2});
  h.assign({5, 0, 2}, 17);
  std::string out = r.render();
  BOOST_TEST(out.find("nj_b_bucket{le=\"1\"} 5\n") != std::string::npos);
  BOOST_TEST(out.find("nj_b_bucket{le=\"2\"} 5\n") != std::string::npos);
  BOOST_TEST(out.find("nj_b_bucket{le=\"+Inf\"} 7\n") != std::string::npos);
  BOOST_TEST(out.find("nj_b_count 7\n") != std::string::npos);
  BOOST_TEST(out.find("nj_b_sum 17\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(escaping_and_values) {
  BOOST_TEST(escape_help("a\\b\nc\"d") == "a\\\\b\\nc\"d");
  BOOST_TEST(escape_label_value("a\\b\nc\"d") == "a\\\\b\\nc\\\"d");
  Registry r;
  r.counter("nj_x_total", "Line one\nline two \\ end.", {{"edge", "we\"ird\n"}}).inc();
  std::string out = r.render();
  BOOST_TEST(out.find("# HELP nj_x_total Line one\\nline two \\\\ end.\n") != std::string::npos);
  BOOST_TEST(out.find("nj_x_total{edge=\"we\\\"ird\\n\"} 1\n") != std::string::npos);
  BOOST_TEST(format_value(0.25) == "0.25");
  BOOST_TEST(format_value(3) == "3");
  BOOST_TEST(format_value(-2) == "-2");
  BOOST_TEST(format_value(1.0 / 0.0) == "+Inf");
}

BOOST_AUTO_TEST_CASE(names) {
  BOOST_TEST(Registry::valid_name("nightjar_smtp_connections_total"));
  BOOST_TEST(Registry::valid_name("a:b"));
  BOOST_TEST(!Registry::valid_name(""));
  BOOST_TEST(!Registry::valid_name("1abc"));
  BOOST_TEST(!Registry::valid_name("a-b"));
  BOOST_TEST(!Registry::valid_name("a b"));
  BOOST_TEST(Registry::valid_label_name("reason"));
  BOOST_TEST(!Registry::valid_label_name("__reserved"));
  BOOST_TEST(!Registry::valid_label_name("a:b"));
}

BOOST_AUTO_TEST_CASE(judges_request_heads) {
  const size_t max = 4096;
  BOOST_TEST(judge_request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", max) ==
             HttpVerdict::metrics);
  BOOST_TEST(judge_request("GET /metrics HTTP/1.0\r\n\r\n", max) == HttpVerdict::metrics);
  BOOST_TEST(judge_request("GET /metrics?x=1 HTTP/1.1\n\n", max) == HttpVerdict::metrics);
  BOOST_TEST(judge_request("GET / HTTP/1.1\r\n\r\n", max) == HttpVerdict::not_found);
  BOOST_TEST(judge_request("POST /metrics HTTP/1.1\r\n\r\n", max) == HttpVerdict::not_found);
  BOOST_TEST(judge_request("GET /metricsx HTTP/1.1\r\n\r\n", max) == HttpVerdict::not_found);
  BOOST_TEST(judge_request("GET /metrics HTTP/2.0\r\n\r\n", max) == HttpVerdict::bad_request);
  BOOST_TEST(judge_request("GET metrics HTTP/1.1\r\n\r\n", max) == HttpVerdict::bad_request);
  BOOST_TEST(judge_request("GET  /metrics HTTP/1.1\r\n\r\n", max) == HttpVerdict::bad_request);
  BOOST_TEST(judge_request("get /metrics HTTP/1.1\r\n\r\n", max) == HttpVerdict::bad_request);
  BOOST_TEST(judge_request("\x16\x03\x01\r\n\r\n", max) == HttpVerdict::bad_request);
  BOOST_TEST(judge_request("GET /metrics HTTP/1.1\r\nHost: x\r\n", max) ==
             HttpVerdict::incomplete);
  BOOST_TEST(judge_request("", max) == HttpVerdict::incomplete);
  BOOST_TEST(judge_request(std::string(max, 'a'), max) == HttpVerdict::too_large);
  // The blank line must end within the limit, whatever the chunks.
  std::string edge = "GET /metrics HTTP/1.1\r\nX: " + std::string(max - 29, 'a') + "\r\n\r\n";
  BOOST_TEST(edge.size() == max + 1);
  BOOST_TEST(judge_request(edge, max) == HttpVerdict::too_large);
  BOOST_TEST(judge_request(edge.substr(0, max), max) == HttpVerdict::too_large);
  edge.erase(edge.find('a'), 1);
  BOOST_TEST(judge_request(edge, max) == HttpVerdict::metrics);
  std::string late = "GET /metrics HTTP/1.1\r\nX: " + std::string(max, 'a') + "\r\n\r\n";
  BOOST_TEST(judge_request(late, max) == HttpVerdict::too_large);
}

BOOST_AUTO_TEST_CASE(answers_carry_length_and_close) {
  std::string a = http_answer(HttpVerdict::metrics, "x 1\n");
  BOOST_TEST(a.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  BOOST_TEST(a.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
             std::string::npos);
  BOOST_TEST(a.find("Content-Length: 4\r\n") != std::string::npos);
  BOOST_TEST(a.find("Connection: close\r\n\r\nx 1\n") != std::string::npos);
  BOOST_TEST(http_answer(HttpVerdict::not_found, "").rfind("HTTP/1.1 404 ", 0) == 0);
  BOOST_TEST(http_answer(HttpVerdict::bad_request, "").rfind("HTTP/1.1 400 ", 0) == 0);
  BOOST_TEST(http_answer(HttpVerdict::too_large, "").rfind("HTTP/1.1 431 ", 0) == 0);
}

namespace {

// A blocking HTTP client on its own thread: sends `req`, reads until the server closes.
struct Client {
  std::string answer;
  bool connected = false;
  std::thread t;
  Client(uint16_t port, std::string req, int pause_ms = 0) {
    t = std::thread([this, port, req, pause_ms] {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port);
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd);
        return;
      }
      connected = true;
      if (pause_ms) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      if (!req.empty()) (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
      char buf[4096];
      for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        answer.append(buf, static_cast<size_t>(n));
      }
      ::close(fd);
    });
  }
  ~Client() {
    if (t.joinable()) t.join();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(exporter_refuses_non_loopback_addresses) {
  nj::uv::Loop loop;
  Registry r;
  for (const char* a : {"0.0.0.0:0", "192.0.2.1:0", "[::]:0", "[2001:db8::1]:0", "name:0"}) {
    auto ex = Exporter::start(loop, a, r);
    BOOST_TEST(!ex.ok(), a);
  }
  auto ok = Exporter::start(loop, "127.0.0.1:0", r);
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST((*ok)->port() != 0);
}

BOOST_AUTO_TEST_CASE(exporter_serves_metrics_and_404) {
  nj::uv::Loop loop;
  Registry r;
  r.counter("nj_scrapes_total", "Test.").inc(41);
  auto ex = Exporter::start(loop, "127.0.0.1:0", r);
  BOOST_REQUIRE(ex.ok());
  uint16_t port = (*ex)->port();
  {
    Client c(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    std::atomic<bool> done{false};
    std::thread w([&] {
      c.t.join();
      done = true;
    });
    BOOST_TEST(run_until(loop, [&] { return done.load(); }));
    w.join();
    BOOST_TEST(c.answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    BOOST_TEST(c.answer.find("\r\n\r\n# HELP nj_scrapes_total Test.\n") != std::string::npos);
    BOOST_TEST(c.answer.find("nj_scrapes_total 41\n") != std::string::npos);
  }
  {
    Client c(port, "GET /other HTTP/1.0\r\n\r\n");
    std::atomic<bool> done{false};
    std::thread w([&] {
      c.t.join();
      done = true;
    });
    BOOST_TEST(run_until(loop, [&] { return done.load(); }));
    w.join();
    BOOST_TEST(c.answer.rfind("HTTP/1.1 404 ", 0) == 0);
    BOOST_TEST(c.answer.find("nj_scrapes_total") == std::string::npos);
  }
  BOOST_TEST(run_until(loop, [&] { return (*ex)->connections() == 0; }));
}

BOOST_AUTO_TEST_CASE(exporter_bounds_head_time_and_connections) {
  nj::uv::Loop loop;
  Registry r;
  Exporter::Limits lim;
  lim.timeout_ms = 300;
  lim.max_connections = 2;
  auto ex = Exporter::start(loop, "127.0.0.1:0", r, lim);
  BOOST_REQUIRE(ex.ok());
  uint16_t port = (*ex)->port();
  // Two silent clients fill the slots; a third is closed at once; the silent ones are cut off
  // after the timeout with nothing sent.
  std::vector<std::unique_ptr<Client>> silent;
  for (int i = 0; i < 2; ++i) silent.push_back(std::make_unique<Client>(port, ""));
  BOOST_TEST(run_until(loop, [&] { return (*ex)->connections() == 2; }));
  Client third(port, "GET /metrics HTTP/1.1\r\n\r\n");
  std::atomic<int> done{0};
  std::thread w([&] {
    third.t.join();
    ++done;
    for (auto& s : silent) s->t.join();
    ++done;
  });
  BOOST_TEST(run_until(loop, [&] { return done.load() == 2; }, 3000));
  w.join();
  BOOST_TEST(third.answer.empty());
  for (auto& s : silent) BOOST_TEST(s->answer.empty());
  // A head over the limit gets 431.
  Client big(port, "GET /metrics HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n");
  std::atomic<bool> bdone{false};
  std::thread bw([&] {
    big.t.join();
    bdone = true;
  });
  BOOST_TEST(run_until(loop, [&] { return bdone.load(); }));
  bw.join();
  BOOST_TEST(big.answer.rfind("HTTP/1.1 431 ", 0) == 0);
}
