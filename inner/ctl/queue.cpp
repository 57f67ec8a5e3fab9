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

constexpr const char* kUsage = "usage: nightjarctl queue --config FILE list\n";

int usage(const std::string& problem) {
  std::fprintf(stderr, "nightjarctl queue: %s\n%s", problem.c_str(), kUsage);
  return 2;
}

int fail(const std::string& problem) {
  std::fprintf(stderr, "nightjarctl queue: %s\n", problem.c_str());
  return 1;
}

}  // namespace

int cmd_queue(const std::vector<std::string_view>& args) {
  std::string config, action;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::printf(
          "%s"
          "Lists the inner's outbound queue, one message a line: its id, when it was\n"
          "queued, recipients, size, when it is due to leave, and \"released\" once the\n"
          "edge has it. No addresses; nothing is decrypted.\n",
          kUsage);
      return 0;
    }
    if (args[i] == "--config" && i + 1 < args.size()) {
      config = std::string(args[++i]);
    } else if (action.empty() && args[i] == "list") {
      action = "list";
    } else {
      return usage("unexpected argument '" + std::string(args[i]) + "'");
    }
  }
  if (config.empty() || action.empty()) return usage("missing arguments");
  auto cfg = inner::load(config);
  if (!cfg) return fail(cfg.error());
  crypto::init();
  auto key = crypto::load_secret_key(cfg->keys.inner_secret);  // the queue key derives from it
  if (!key) return fail(key.error());
  std::string dir = cfg->data_dir + "/store";
  if (!std::filesystem::exists(dir + "/data.mdb")) return 0;  // nothing was ever queued
  auto env = store::Env::open(dir);
  if (!env) return fail(dir + ": " + env.error());
  auto q = inner::OutboundQueue::open(*env, *key);
  if (!q) return fail(dir + ": " + q.error());
  auto items = (*q)->list();
  if (!items) return fail(items.error());
  for (const auto& it : *items) {
    std::printf("%s %s rcpts=%u size=%zu due=%s%s\n", it.id.c_str(), utc_text(it.queued_at).c_str(),
                it.recipients, it.encrypted_size, utc_text(it.due).c_str(),
                it.released ? " released" : "");
  }
  return 0;
}

}  // namespace nj::ctl
