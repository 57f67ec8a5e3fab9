#include "common/ctl/keygen.h"

#include <cstdio>
#include <string>

#include "common/crypto/crypto.h"
#include "common/crypto/keyfile.h"

namespace nj::ctl {
namespace {

constexpr CommandText kText{
    "keygen", "usage: nightjarctl keygen --out PREFIX\n",
    "Writes a new key pair, PREFIX.secret (mode 0600) and PREFIX.pub, and refuses\n"
    "to overwrite either. Prints the public key line, which the other side of a\n"
    "pairing needs (it is public: any channel will do).\n"};

constexpr Option kOptions[] = {{"--out"}};

}  // namespace

int cmd_keygen(const Args& args) {
  auto p = parse(kText, args, kOptions);
  if (p.exit) return *p.exit;
  if (!p.args.positionals().empty()) return usage_error(kText, unexpected(p.args.positionals()[0]));
  const std::string prefix = p.args.value("--out");
  if (prefix.empty()) return usage_error(kText, "--out PREFIX is required");
  crypto::init();
  auto kp = crypto::KeyPair::generate();
  if (auto st = crypto::write_keypair(prefix, kp); !st) return fail(kText, st.error());
  std::printf("%s\n", crypto::public_key_line(kp.pub).c_str());
  std::fprintf(stderr, "nightjarctl keygen: wrote %s.secret and %s.pub\n", prefix.c_str(),
               prefix.c_str());
  return 0;
}

}  // namespace nj::ctl
