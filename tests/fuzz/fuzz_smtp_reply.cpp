// Fuzz ReplyParser: splitting must not change the result, and every reply it accepts must
// survive serialize() and a second parse unchanged. The same bytes then play a hostile server
// against ClientSession: it must not crash, and every queued message must end with exactly
// one result once the connection is gone.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/smtp/client.h"
#include "common/smtp/reply.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + data[0] % 13;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  nj::smtp::ReplyParser::Limits l;
  l.max_line = 256;
  l.max_lines = 8;

  nj::smtp::ReplyParser whole(l);
  const bool ok = whole.feed(in).ok();
  std::vector<nj::smtp::Reply> a;
  while (auto r = whole.next()) a.push_back(*r);

  nj::smtp::ReplyParser split(l);
  std::vector<nj::smtp::Reply> b;
  bool ok2 = true;
  for (size_t pos = 0; pos < in.size(); pos += chunk) {
    ok2 = split.feed(in.substr(pos, chunk)).ok() && ok2;
    while (auto r = split.next()) b.push_back(*r);
  }
  if (ok != ok2 || a.size() != b.size()) std::abort();
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a[i] == b[i])) std::abort();
    if (a[i].code < 200 || a[i].code > 599 || a[i].lines.empty()) std::abort();
    // serialize() repeats the enhanced code on every line, so a reply that was within the
    // limits on the wire may be longer once re-serialized: reparse with room for that.
    nj::smtp::ReplyParser::Limits wide = l;
    wide.max_line = 2 * l.max_line + 16;
    nj::smtp::ReplyParser again(wide);
    if (!again.feed(a[i].serialize()).ok()) std::abort();
    auto r = again.next();
    if (!r || !(*r == a[i]) || again.next()) std::abort();
  }

  nj::smtp::ClientConfig cfg;
  cfg.helo_name = "out.fuzz";
  cfg.use_pipelining = chunk % 2;
  if (chunk % 3 == 0) cfg.credentials = nj::smtp::ClientCredentials{"", "u", "p"};
  nj::smtp::ClientSession c(cfg);
  for (int k = 0; k < 2; ++k) {
    nj::smtp::OutboundMessage m;
    m.reverse_path = "a@a.fuzz";
    m.recipients = {"b@b.fuzz", "c@b.fuzz"};
    m.data = ".x\r\ny";
    m.eight_bit = k;
    c.add_message(std::move(m));
  }
  c.quit_when_idle();
  for (size_t pos = 0; pos < in.size() && !c.done(); pos += chunk) {
    c.feed(in.substr(pos, chunk));
    if (c.want_starttls()) c.tls_started();
    c.take_output();
  }
  c.on_connection_closed();
  if (!c.done()) std::abort();
  const auto results = c.take_results();
  if (results.size() != 2) std::abort();
  for (const auto& res : results)
    if (res.recipients.size() != 2) std::abort();
  return 0;
}
