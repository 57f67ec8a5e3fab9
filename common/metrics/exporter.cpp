#include "common/metrics/exporter.h"

#include "common/uv/address.h"
#include "common/uv/handles.h"

namespace nj::metrics {
namespace {

bool printable(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) return false;
  return !s.empty();
}

bool is_token(std::string_view s) {
  for (char c : s)
    if (c < 'A' || c > 'Z') return false;
  return !s.empty();
}

}  // namespace

HttpVerdict judge_request(std::string_view head, size_t max_head) {
  // The head, its blank line included, must fit in max_head bytes. So the verdict does not
  // depend on how the client split its bytes: once max_head bytes hold no end, none can come.
  size_t end = head.find("\r\n\r\n");
  if (end != std::string_view::npos) end += 4;
  size_t lf_end = head.find("\n\n");  // RFC 9112 2.2: a bare LF may end a line
  if (lf_end != std::string_view::npos && (end == std::string_view::npos || lf_end + 2 < end))
    end = lf_end + 2;
  if (end == std::string_view::npos)
    return head.size() >= max_head ? HttpVerdict::too_large : HttpVerdict::incomplete;
  if (end > max_head) return HttpVerdict::too_large;
  std::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return HttpVerdict::bad_request;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return HttpVerdict::bad_request;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || !printable(target) || target.front() != '/')
    return HttpVerdict::bad_request;
  if (version != "HTTP/1.0" && version != "HTTP/1.1") return HttpVerdict::bad_request;
  std::string_view path = target.substr(0, target.find('?'));
  if (method == "GET" && path == "/metrics") return HttpVerdict::metrics;
  return HttpVerdict::not_found;
}

std::string http_answer(HttpVerdict v, std::string_view body) {
  std::string status, type = "text/plain; charset=utf-8", text;
  switch (v) {
    case HttpVerdict::metrics:
      status = "200 OK";
      type = "text/plain; version=0.0.4; charset=utf-8";
      text = std::string(body);
      break;
    case HttpVerdict::not_found:
      status = "404 Not Found";
      text = "not found: the metrics are at /metrics\n";
      break;
    case HttpVerdict::too_large:
      status = "431 Request Header Fields Too Large";
      text = "request head too large\n";
      break;
    case HttpVerdict::bad_request:
    case HttpVerdict::incomplete:
      status = "400 Bad Request";
      text = "bad request\n";
      break;
  }
  return "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(text.size()) +
         "\r\nConnection: close\r\n\r\n" + text;
}

// One scrape: read the head, answer, close.
class Exporter::Conn {
 public:
  Conn(Exporter& ex, std::unique_ptr<uv::Connection> c)
      : ex_(ex), conn_(std::move(c)), timer_(ex.loop_) {}
  ~Conn() { timer_.close(); }

  void start() {
    conn_->on_close([this](const Status&) { done(); });
    conn_->on_read([this](std::string_view b) { on_bytes(b); });
    timer_.start(ex_.limits_.timeout_ms, 0, [this] {
      conn_->close();
      done();
    });
  }
  void close() {
    conn_->close();
    done();
  }

 private:
  void on_bytes(std::string_view b) {
    if (answered_) return;
    head_.append(b.substr(0, ex_.limits_.max_head - head_.size()));
    HttpVerdict v = judge_request(head_, ex_.limits_.max_head);
    if (v == HttpVerdict::incomplete) return;
    answered_ = true;
    conn_->pause_reading();
    std::string body = v == HttpVerdict::metrics ? ex_.registry_.render() : std::string();
    head_.clear();
    if (!conn_->write(http_answer(v, body))) {
      close();
      return;
    }
    // A scraper that never reads its answer is cut off like one that never sends its head.
    timer_.start(ex_.limits_.timeout_ms, 0, [this] {
      conn_->close();
      done();
    });
    conn_->shutdown_then_close(ex_.limits_.timeout_ms);
  }
  void done() {
    if (finished_) return;
    finished_ = true;
    timer_.stop();
    ex_.conns_.finished(this);
  }

  Exporter& ex_;
  std::unique_ptr<uv::Connection> conn_;
  uv::Timer timer_;
  std::string head_;
  bool answered_ = false;
  bool finished_ = false;
};

Exporter::Exporter(uv::Loop& loop, Registry& registry, Limits limits)
    : loop_(loop), registry_(registry), limits_(limits), conns_(loop) {}

Exporter::~Exporter() { close(); }

Result<std::unique_ptr<Exporter>> Exporter::start(uv::Loop& loop, std::string_view host_port,
                                                  Registry& registry, Limits limits) {
  auto hp = uv::parse_host_port(host_port);
  if (!hp) return make_error("metrics address '" + std::string(host_port) + "': " + hp.error());
  auto sa = uv::make_sockaddr(hp->host, hp->port);
  if (!sa) return make_error("metrics address '" + std::string(host_port) + "': " + sa.error());
  if (!uv::is_loopback(*sa))
    return make_error("metrics address '" + std::string(host_port) +
                      "': not a loopback address (the metrics are served on 127.0.0.0/8 or "
                      "[::1] only)");
  std::unique_ptr<Exporter> ex(new Exporter(loop, registry, limits));
  auto* raw = ex.get();
  auto l = uv::TcpListener::bind(
      loop, host_port, [raw](std::unique_ptr<uv::Connection> c) { raw->accept(std::move(c)); },
      16);
  if (!l) return make_error("metrics: " + l.error());
  ex->listener_ = std::move(*l);
  return ex;
}

void Exporter::accept(std::unique_ptr<uv::Connection> c) {
  if (conns_.size() >= limits_.max_connections) {
    c->close();  // the object goes now; libuv frees the handle on its next turn
    return;
  }
  conns_.add(std::make_unique<Conn>(*this, std::move(c)))->start();
}

void Exporter::close() {
  if (listener_) listener_->close();
  listener_.reset();
  for (auto* c : conns_.snapshot()) c->close();
}

}  // namespace nj::metrics
