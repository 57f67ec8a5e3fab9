#include "edge/checks/clamd.h"

#include <algorithm>
#include <utility>

#include "common/base/log.h"

namespace nj::checks {
namespace {

constexpr std::string_view kCommand{"zINSTREAM\0", 10};
constexpr std::string_view kStreamPrefix = "stream: ";
constexpr std::string_view kSizeLimit = "INSTREAM size limit exceeded. ERROR";
// Bytes handed to the connection ahead of the kernel; more are queued as these drain, so a
// large message is never copied whole into the write queue.
constexpr size_t kSendWindow = 256 << 10;
constexpr size_t kMaxReasonLength = 200;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

size_t clamp_chunk(size_t n) {
  return std::clamp<size_t>(n, 1, kMaxClamdChunk);
}

class Scan final : public ClamdScan {
 public:
  Scan(uv::Loop& loop, const ClamdOptions& opt, std::string_view message, ClamdClient::Callback cb)
      : loop_(loop),
        opt_(opt),
        message_(message),
        chunk_(clamp_chunk(opt.chunk_size)),
        cb_(std::move(cb)),
        timer_(loop) {}

  void start() {
    if (message_.size() > opt_.max_size) {
      later("message of " + std::to_string(message_.size()) + " bytes is over max_size (" +
            std::to_string(opt_.max_size) + "), not scanned");
      return;
    }
    auto connected = [this](const Status& s) {
      if (!s) {
        fail(s.error());
        return;
      }
      send();
    };
    auto c = opt_.unix_path.empty()
                 ? uv::Connection::connect(loop_, opt_.host, opt_.port, connected)
                 : uv::Connection::connect_unix(loop_, opt_.unix_path, connected);
    if (!c) {
      later(c.error());
      return;
    }
    conn_ = std::move(*c);
    conn_->on_close([this](const Status& why) {
      std::string what = reply_.empty() ? "connection closed before the reply"
                                        : "connection closed in the middle of the reply";
      fail(why ? what : what + ": " + why.error());
    });
    conn_->on_drain([this] { send(); });
    timer_.start(opt_.timeout_ms, 0, [this] {
      fail("no reply within " + std::to_string(opt_.timeout_ms / 1000) + "s");
    });
  }

 private:
  // Fails from the loop, not from inside scan().
  void later(std::string why) {
    timer_.start(0, 0, [this, why = std::move(why)] { fail(why); });
  }

  void fail(std::string why) { finish(ClamdResult::error(std::move(why))); }

  void finish(ClamdResult r) {
    if (!cb_) return;
    conn_.reset();
    timer_.close();
    auto cb = std::move(cb_);
    cb_ = nullptr;
    cb(std::move(r));  // may destroy this
  }

  void send() {
    if (!conn_ || sent_all_) return;
    if (!command_sent_) {
      command_sent_ = true;
      conn_->on_read([this](std::string_view bytes) { on_reply(bytes); });
      if (!conn_->write(std::string(kCommand))) return;  // on_close reports it
    }
    while (offset_ < message_.size() && conn_->queued_bytes() < kSendWindow) {
      size_t n = std::min(chunk_, message_.size() - offset_);
      if (!conn_->write(clamd_chunk(message_.substr(offset_, n)))) return;
      offset_ += n;
    }
    if (offset_ < message_.size()) return;  // on_drain sends more
    sent_all_ = true;
    (void)conn_->write(clamd_chunk({}));
  }

  void on_reply(std::string_view bytes) {
    reply_.append(bytes);
    size_t end = reply_.find('\0');
    if (end == std::string::npos) {
      if (reply_.size() >= kMaxClamdReply)
        fail("reply over " + std::to_string(kMaxClamdReply) + " bytes");
      return;
    }
    if (end + 1 != reply_.size()) {
      fail("bytes after the reply");
      return;
    }
    reply_.pop_back();
    finish(parse_clamd_reply(reply_));
  }

  uv::Loop& loop_;
  ClamdOptions opt_;
  std::string_view message_;
  size_t chunk_;
  ClamdClient::Callback cb_;
  uv::Timer timer_;
  std::unique_ptr<uv::Connection> conn_;
  size_t offset_ = 0;
  bool command_sent_ = false;
  bool sent_all_ = false;
  std::string reply_;
};

}  // namespace

std::string sanitize_signature(std::string_view raw) {
  std::string s = log::printable(raw, kMaxSignatureLength, false);
  return s.empty() ? "?" : s;
}

ClamdResult parse_clamd_reply(std::string_view reply) {
  if (reply.size() >= kMaxClamdReply)
    return ClamdResult::error("reply over " + std::to_string(kMaxClamdReply) + " bytes");
  if (reply == kSizeLimit) return ClamdResult::error("INSTREAM size limit exceeded");
  auto unexpected = [&] {
    return ClamdResult::error("unexpected reply \"" + log::printable(reply, 64, true) + "\"");
  };
  if (reply.substr(0, kStreamPrefix.size()) != kStreamPrefix) return unexpected();
  std::string_view rest = reply.substr(kStreamPrefix.size());
  if (rest == "OK") return ClamdResult::clean();
  if (ends_with(rest, " FOUND")) {
    std::string_view sig = rest.substr(0, rest.size() - 6);
    // A signature name is one word; clamd writes nothing else between "stream: " and FOUND.
    if (sig.empty() || sig.find(' ') != std::string_view::npos) return unexpected();
    return ClamdResult::infected(sanitize_signature(sig));
  }
  if (ends_with(rest, " ERROR") && rest.size() > 6)
    return ClamdResult::error(
        log::printable(rest.substr(0, rest.size() - 6), kMaxReasonLength, true));
  return unexpected();
}

std::string clamd_chunk(std::string_view data) {
  auto n = static_cast<uint32_t>(data.size());
  std::string out;
  out.reserve(4 + data.size());
  out += static_cast<char>((n >> 24) & 0xff);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out.append(data);
  return out;
}

std::string clamd_request(std::string_view message, size_t chunk_size) {
  size_t chunk = clamp_chunk(chunk_size);
  std::string out(kCommand);
  for (size_t at = 0; at < message.size(); at += chunk)
    out += clamd_chunk(message.substr(at, std::min(chunk, message.size() - at)));
  out += clamd_chunk({});
  return out;
}

ClamdClient::ClamdClient(uv::Loop& loop, ClamdOptions options)
    : loop_(loop), opt_(std::move(options)) {}

std::unique_ptr<ClamdScan> ClamdClient::scan(std::string_view message, Callback cb) {
  auto s = std::make_unique<Scan>(loop_, opt_, message, std::move(cb));
  s->start();
  return s;
}

std::string ClamdClient::where() const {
  if (!opt_.unix_path.empty()) return "unix:" + opt_.unix_path;
  bool v6 = opt_.host.find(':') != std::string::npos;
  return "tcp:" + (v6 ? "[" + opt_.host + "]" : opt_.host) + ":" + std::to_string(opt_.port);
}

}  // namespace nj::checks
