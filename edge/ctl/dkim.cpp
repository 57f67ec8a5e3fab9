#include "edge/ctl/dkim.h"

#include <cstdio>
#include <string>

#include "common/config/types.h"
#include "edge/dkim/key.h"

namespace nj::ctl {
namespace {

constexpr CommandText kText{
    "dkim",
    "usage: nightjarctl dkim keygen --domain DOMAIN --selector SELECTOR\n"
    "           [--algorithm ed25519|rsa] [--bits N] --out FILE\n"
    "       nightjarctl dkim record --domain DOMAIN --selector SELECTOR\n"
    "           [--algorithm ed25519|rsa] --key FILE\n",
    "keygen writes a new DKIM private key (PEM, PKCS#8) to FILE, mode 0600, and\n"
    "refuses to overwrite one; record reads one. Both print the DNS TXT record that\n"
    "publishes its public half, SELECTOR._domainkey.DOMAIN (an RSA key's text split\n"
    "into strings of 255 characters). Name the file in edge.yaml's dkim: section.\n"
    "  --algorithm A   ed25519 (default) or rsa; many verifiers know only rsa, so\n"
    "                  a domain usually has one key of each (two selectors)\n"
    "  --bits N        RSA key size, 2048 (default) to 4096\n"
    "Example, the keys of edge mx1 for example.org:\n"
    "  nightjarctl dkim keygen --domain example.org --selector mx1-2026-ed \\\n"
    "      --out /etc/nightjar/keys/dkim-mx1-2026-ed-example.org.key\n"
    "  nightjarctl dkim keygen --domain example.org --selector mx1-2026-rsa \\\n"
    "      --algorithm rsa --out /etc/nightjar/keys/dkim-mx1-2026-rsa-example.org.key\n"};

constexpr Option kOptions[] = {{"--domain"}, {"--selector"}, {"--algorithm"},
                               {"--bits"},   {"--out"},      {"--key"}};

}  // namespace

int cmd_dkim(const Args& args) {
  auto p = parse(kText, args, kOptions);
  if (p.exit) return *p.exit;
  const Parsed& a = p.args;
  if (a.positionals().empty()) return usage_error(kText, "keygen or record is required");
  const std::string verb = a.positionals()[0];
  if (verb != "keygen" && verb != "record") return usage_error(kText, unexpected(verb));
  if (a.positionals().size() > 1) return usage_error(kText, unexpected(a.positionals()[1]));
  bool keygen = verb == "keygen";

  if (!a.has("--domain")) return usage_error(kText, "--domain DOMAIN is required");
  auto domain = config::domain().parse(a.value("--domain"));
  if (!domain) return usage_error(kText, "--domain: " + domain.error());
  std::string selector = a.value("--selector");
  for (char& c : selector)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (!a.has("--selector")) return usage_error(kText, "--selector SELECTOR is required");
  if (!edge::dkim::valid_selector(selector))
    return usage_error(kText,
                       "--selector: must be dot-separated labels of a-z, 0-9 and '-', at "
                       "most 63 characters in all, like mx1-2026-ed");
  edge::dkim::Algorithm alg = edge::dkim::Algorithm::ed25519;
  if (a.has("--algorithm")) {
    std::string s = a.value("--algorithm");
    if (s == "rsa")
      alg = edge::dkim::Algorithm::rsa;
    else if (s != "ed25519")
      return usage_error(kText, "--algorithm: must be ed25519 or rsa");
  }
  int bits = edge::dkim::kDefaultRsaBits;
  if (a.has("--bits")) {
    if (!keygen) return usage_error(kText, "--bits is for keygen");
    if (alg != edge::dkim::Algorithm::rsa) return usage_error(kText, "--bits is for rsa keys");
    auto n =
        config::parse_integer(a.value("--bits"), edge::dkim::kMinRsaBits, edge::dkim::kMaxRsaBits);
    if (!n) return usage_error(kText, "--bits: " + n.error());
    bits = static_cast<int>(*n);
  }

  Result<edge::dkim::Key> key = make_error("");
  if (keygen) {
    if (a.has("--key")) return usage_error(kText, "--key is for record; keygen writes --out");
    std::string out = a.value("--out");
    if (out.empty()) return usage_error(kText, "--out FILE is required");
    key = edge::dkim::generate_key(alg, bits);
    if (!key) return fail(kText, key.error());
    if (auto st = edge::dkim::write_key(out, *key); !st) return fail(kText, st.error());
    std::fprintf(stderr, "nightjarctl dkim: wrote %s (%s, mode 0600); publish:\n", out.c_str(),
                 std::string(edge::dkim::algorithm_name(alg)).c_str());
  } else {
    if (a.has("--out")) return usage_error(kText, "--out is for keygen; record reads --key");
    std::string path = a.value("--key");
    if (path.empty()) return usage_error(kText, "--key FILE is required");
    // A credential path of edge.yaml is read from where the unit loads it.
    key = edge::dkim::load_key(config::file_for_this_process(path), alg);
    if (!key) return fail(kText, key.error());
  }
  std::printf("%s\n", edge::dkim::txt_record(selector, *domain, *key).c_str());
  return std::fflush(stdout) == 0 ? 0 : kExitFailure;
}

}  // namespace nj::ctl
