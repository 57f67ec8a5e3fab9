// nightjarctl edge-queue: reads the edge's sealed inbound queue with the inner's secret key.
// The edge itself cannot do this — it never holds that key — so this is a tool for the inner's
// operator (and for tests) to inspect what an edge holds. `list` prints each message's queued
// time (clear in the record) with its size and recipient count (from the opened envelope).
// Trust: the queue records are read from disk and decoded with limits; nothing is written (a
// queue of an older schema version is refused, not migrated: its edge may be running).
#include "inner/ctl/edge_queue.h"

#include <cstdio>
#include <ctime>
#include <filesystem>

#include "common/base/clock.h"
#include "common/crypto/keyfile.h"
#include "common/queue/envelope.h"
#include "edge/queue/inbound_queue.h"

namespace nj::ctl {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;
constexpr const char* kUsage =
    "usage: nightjarctl edge-queue --data-dir DIR --inner-secret FILE list\n"
    "       nightjarctl edge-queue --data-dir DIR --inner-secret FILE show ID\n";

int usage(const std::string& problem) {
  std::fprintf(stderr, "nightjarctl edge-queue: %s\n%s", problem.c_str(), kUsage);
  return kExitUsage;
}

int fail(const std::string& problem) {
  std::fprintf(stderr, "nightjarctl edge-queue: %s\n", problem.c_str());
  return kExitFailure;
}

}  // namespace

int cmd_edge_queue(const std::vector<std::string_view>& args) {
  std::string data_dir, secret, action, id;
  for (size_t i = 0; i < args.size(); ++i) {
    auto a = args[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "%s"
          "Lists the messages in an edge's sealed inbound queue (DIR is the edge's\n"
          "data_dir), or prints one: its envelope as X-Envelope-* lines, then the message.\n"
          "It needs the inner's secret key, which never goes near the edge: run it on a\n"
          "copy of the edge's data_dir.\n",
          kUsage);
      return 0;
    }
    if ((a == "--data-dir" || a == "--inner-secret") && i + 1 < args.size()) {
      (a == "--data-dir" ? data_dir : secret) = std::string(args[++i]);
    } else if (action.empty() && (a == "list" || a == "show")) {
      action = std::string(a);
    } else if (action == "show" && id.empty()) {
      id = std::string(a);
    } else {
      return usage("unexpected argument '" + std::string(a) + "'");
    }
  }
  if (data_dir.empty() || secret.empty() || action.empty()) return usage("missing arguments");
  if (action == "show" && id.empty()) return usage("show needs a message id");

  crypto::init();
  auto kp = crypto::load_secret_key(secret);
  if (!kp) return fail(kp.error());
  std::string qdir = data_dir + "/queue";
  if (!std::filesystem::exists(qdir + "/data.mdb")) return fail(qdir + ": no queue here");
  auto env = store::Env::open(qdir);
  if (!env) return fail(qdir + ": " + env.error());
  auto q = edge::InboundQueue::open_existing(*env);
  if (!q) return fail(qdir + ": " + q.error());

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
    if (!items) return fail(items.error());
    for (const auto& it : *items) {
      auto e = open_one(it.id);
      if (!e) return fail(e.error());
      std::printf("%s queued=%s size=%zu rcpts=%zu\n", it.id.c_str(),
                  utc_text(it.queued_at).c_str(), e->message.size(), e->recipients.size());
    }
    return 0;
  }
  auto e = open_one(id);
  if (!e) return fail(e.error());
  std::printf("X-Envelope-Id: %s\r\nX-Envelope-From: <%s>\r\n", e->id.c_str(),
              e->mail_from.c_str());
  for (const auto& r : e->recipients) std::printf("X-Envelope-To: <%s>\r\n", r.c_str());
  std::fwrite(e->message.data(), 1, e->message.size(), stdout);
  return 0;
}

}  // namespace nj::ctl
