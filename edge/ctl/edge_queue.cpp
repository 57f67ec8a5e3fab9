// nightjarctl edge-queue: reads the edge's sealed inbound queue with the inner's secret key.
// The edge itself cannot do this — it never holds that key — so this is a tool for the inner's
// operator (and for tests) to inspect what an edge holds. It reads the edge's queue format
// (edge/queue), so it is the edge's command, in the edge's nightjarctl (nightjarctl-edge in the
// build), run on a machine that holds the inner's secret key with a copy of the edge's data_dir.
// `list` prints each message's queued time (clear in the record) with its size and recipient
// count (from the opened envelope).
// Trust: the queue records are read from disk and decoded with limits; nothing is written (a
// queue of an older schema version is refused, not migrated: its edge may be running).
#include "edge/ctl/edge_queue.h"

#include <cstdio>
#include <ctime>
#include <filesystem>

#include "common/base/clock.h"
#include "common/crypto/keyfile.h"
#include "common/queue/envelope.h"
#include "edge/queue/inbound_queue.h"

namespace nj::ctl {
namespace {

constexpr CommandText kText{
    "edge-queue",
    "usage: nightjarctl edge-queue --data-dir DIR --inner-secret FILE list\n"
    "       nightjarctl edge-queue --data-dir DIR --inner-secret FILE show ID\n",
    "Lists the messages in an edge's sealed inbound queue (DIR is the edge's\n"
    "data_dir), or prints one: its envelope as X-Envelope-* lines, then the message.\n"
    "It needs the inner's secret key, which never goes near the edge: run it on a\n"
    "copy of the edge's data_dir.\n"};

constexpr Option kOptions[] = {{"--data-dir"}, {"--inner-secret"}};

}  // namespace

int cmd_edge_queue(const Args& args) {
  auto p = parse(kText, args, kOptions);
  if (p.exit) return *p.exit;
  const std::string data_dir = p.args.value("--data-dir"), secret = p.args.value("--inner-secret");
  const auto& pos = p.args.positionals();
  if (!pos.empty() && pos[0] != "list" && pos[0] != "show")
    return usage_error(kText, unexpected(pos[0]));
  if (data_dir.empty() || secret.empty() || pos.empty())
    return usage_error(kText, "missing arguments");
  const std::string& action = pos[0];
  if (action == "show" && pos.size() < 2) return usage_error(kText, "show needs a message id");
  if (pos.size() > (action == "show" ? 2u : 1u)) return usage_error(kText, unexpected(pos.back()));
  const std::string id = action == "show" ? pos[1] : std::string();

  crypto::init();
  auto kp = crypto::load_secret_key(secret);
  if (!kp) return fail(kText, kp.error());
  std::string qdir = data_dir + "/queue";
  if (!std::filesystem::exists(qdir + "/data.mdb")) return fail(kText, qdir + ": no queue here");
  auto env = store::Env::open(qdir);
  if (!env) return fail(kText, qdir + ": " + env.error());
  auto q = edge::InboundQueue::open_existing(*env);
  if (!q) return fail(kText, qdir + ": " + q.error());

  auto open_one = [&](const std::string& mid) -> Result<queue::Envelope> {
    auto sealed = (*q)->sealed(mid);
    if (!sealed) return make_error(mid + ": " + sealed.error());
    auto plain = crypto::open_sealed(*kp, *sealed);
    if (!plain) return make_error(mid + ": cannot open (wrong key?): " + plain.error());
    auto e = queue::decode(*plain);
    if (!e) return make_error(mid + ": " + e.error());
    return e;
  };

  if (action == "list") {
    auto items = (*q)->items();
    if (!items) return fail(kText, items.error());
    for (const auto& it : *items) {
      auto e = open_one(it.id);
      if (!e) return fail(kText, e.error());
      std::printf("%s queued=%s size=%zu rcpts=%zu\n", it.id.c_str(),
                  utc_text(it.queued_at).c_str(), e->message.size(), e->recipients.size());
    }
    return 0;
  }
  auto e = open_one(id);
  if (!e) return fail(kText, e.error());
  std::printf("X-Envelope-Id: %s\r\nX-Envelope-From: <%s>\r\n", e->id.c_str(),
              e->mail_from.c_str());
  for (const auto& r : e->recipients) std::printf("X-Envelope-To: <%s>\r\n", r.c_str());
  std::fwrite(e->message.data(), 1, e->message.size(), stdout);
  return 0;
}

}  // namespace nj::ctl
