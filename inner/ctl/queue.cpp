// nightjarctl queue: what the inner holds for the Internet, waiting for the link to an edge.
// Lists ids, queue times, recipient counts and sizes; no addresses, no content.
// Trust: run by the operator beside the inner; reads the store and decrypts nothing. It writes
// nothing but the queue's schema version when the store has none or an older one (as the
// inner's start would; no record is rewritten).
#include "inner/ctl/queue.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>

#include "common/base/clock.h"
#include "common/crypto/keyfile.h"
#include "common/store/lmdb.h"
#include "inner/config/config.h"
#include "inner/outbound/outbound_queue.h"

namespace nj::ctl {
namespace {

constexpr CommandText kText{
    "queue", "usage: nightjarctl queue --config FILE list\n",
    "Lists the inner's outbound queue, one message a line: its id, when it was\n"
    "queued, recipients, size, when it is due to leave, and \"released\" once the\n"
    "edge has it. No addresses; nothing is decrypted.\n"};

constexpr Option kOptions[] = {{"--config"}};

}  // namespace

int cmd_queue(const Args& args) {
  auto p = parse(kText, args, kOptions);
  if (p.exit) return *p.exit;
  const std::string config = p.args.value("--config");
  const auto& pos = p.args.positionals();
  if (!pos.empty() && pos[0] != "list") return usage_error(kText, unexpected(pos[0]));
  if (pos.size() > 1) return usage_error(kText, unexpected(pos[1]));
  if (config.empty() || pos.empty()) return usage_error(kText, "missing arguments");
  auto cfg = inner::load(config);
  if (!cfg) return fail(kText, cfg.error());
  crypto::init();
  auto key = crypto::load_secret_key(cfg->keys.inner_secret);  // the queue key derives from it
  if (!key) return fail(kText, key.error());
  std::string dir = cfg->data_dir + "/store";
  if (!std::filesystem::exists(dir + "/data.mdb")) return 0;  // nothing was ever queued
  auto env = store::Env::open(dir);
  if (!env) return fail(kText, dir + ": " + env.error());
  auto q = inner::OutboundQueue::open(*env, *key);
  if (!q) return fail(kText, dir + ": " + q.error());
  auto items = (*q)->list();
  if (!items) return fail(kText, items.error());
  for (const auto& it : *items) {
    std::printf("%s %s rcpts=%u size=%zu due=%s%s\n", it.id.c_str(), utc_text(it.queued_at).c_str(),
                it.recipients, it.encrypted_size, utc_text(it.due).c_str(),
                it.released ? " released" : "");
  }
  return 0;
}

}  // namespace nj::ctl
