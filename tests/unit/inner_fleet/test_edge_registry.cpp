#define BOOST_TEST_MODULE inner_fleet
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <chrono>
#include <string>
#include <vector>

#include "common/crypto/keyfile.h"
#include "common/store/lmdb.h"
#include "inner/config/config.h"
#include "inner/fleet/edge_registry.h"
#include "tests/unit/store/temp_dir.h"

using namespace nj;
using namespace nj::inner;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kNow = 1796565900;  // 2026-12-06 14:05 UTC

// A store and an inner.yaml with two edges (mx1 over Tor, mx2 direct), their key files real.
struct Fleet {
  store::test::TempDir dir;
  std::optional<store::Env> env;
  std::unique_ptr<EdgeRegistry> reg;
  InnerConfig cfg;
  crypto::PublicKey mx1, mx2;

  Fleet() {
    crypto::init();
    auto e = store::Env::open(dir.sub("store"));
    BOOST_REQUIRE(e);
    env.emplace(std::move(*e));
    auto r = EdgeRegistry::open(*env);
    BOOST_REQUIRE_MESSAGE(r.ok(), (r ? std::string() : r.error()));
    reg = std::move(*r);
    mx1 = write_key("mx1");
    mx2 = write_key("mx2");
    write_key("inner");
    cfg = load(config_text({"mx1", "mx2"}));
  }

  crypto::PublicKey write_key(const std::string& name) {
    auto kp = crypto::KeyPair::generate();
    BOOST_REQUIRE(crypto::write_keypair(dir.sub(name), kp));
    return kp.pub;
  }

  std::string config_text(const std::vector<std::string>& edges) const {
    std::string t = "hostname: mail.example.i2p\ndata_dir: " + dir.path() +
                    "\ndomain: {internal: example.i2p, public: example.org}\n"
                    "listen: {submission: [\"127.0.0.1:10587\"], pop3: [\"127.0.0.1:10110\"]}\n"
                    "keys: {inner_secret: " +
                    dir.sub("inner.secret") + "}\nedges:\n";
    for (size_t i = 0; i < edges.size(); ++i) {
      const std::string& n = edges[i];
      if (n == "mx1")
        t += "  - {name: mx1, address: \"" + std::string(56, 'a') +
             ".onion:2600\", transport: tor, socks: \"127.0.0.1:9050\", public_key: " +
             dir.sub("mx1.pub") + "}\n";
      else
        t += "  - {name: " + n + ", address: \"127.0.0.1:" + std::to_string(2600 + i) +
             "\", transport: direct, failover_after: 5m, public_key: " + dir.sub(n + ".pub") +
             "}\n";
    }
    return t;
  }

  InnerConfig load(const std::string& text) const {
    auto c = load_text(text, "inner.yaml");
    BOOST_REQUIRE_MESSAGE(c.ok(), (c ? std::string() : c.error()));
    return *c;
  }

  std::vector<EdgeSpec> configured() const {
    auto c = configured_edges(cfg);
    BOOST_REQUIRE_MESSAGE(c.ok(), (c ? std::string() : c.error()));
    return *c;
  }

  // An edge for `nightjarctl edge add`, checked by the config's rules as the ctl does.
  EdgeSpec added(const std::string& name, const std::string& address, crypto::PublicKey key) {
    auto l = check_edge_entry(name, address, "direct", "", "90s");
    BOOST_REQUIRE_MESSAGE(l.ok(), (l ? std::string() : l.error()));
    return EdgeSpec{*l, key, ""};
  }

  std::string add_error(const EdgeSpec& e) {
    auto s = reg->add(e, configured(), kNow);
    BOOST_REQUIRE(!s);
    return s.error();
  }

  // Writes a raw value into the registry's database, as a damaged store would hold it.
  void put_raw(const std::string& key, const std::string& value) {
    auto db = env->open_dbi(EdgeRegistry::kDbName);
    BOOST_REQUIRE(db);
    auto txn = env->begin_write();
    BOOST_REQUIRE(txn);
    BOOST_REQUIRE(txn->put(*db, key, value));
    BOOST_REQUIRE(txn->commit());
  }

  std::vector<std::string> names(const std::vector<EdgeSpec>& v) const {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.link.name);
    return out;
  }
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(configured_edges_carry_their_keys_and_origin) {
  Fleet f;
  auto c = f.configured();
  BOOST_REQUIRE_EQUAL(c.size(), 2u);
  BOOST_TEST(c[0].link.name == "mx1");
  BOOST_TEST((c[0].key == f.mx1));
  BOOST_TEST(c[0].origin == "inner.yaml edges[0]");
  BOOST_TEST((c[1].key == f.mx2));
  BOOST_TEST(c[1].origin == "inner.yaml edges[1]");
}

BOOST_AUTO_TEST_CASE(an_unreadable_key_file_names_the_entry) {
  Fleet f;
  f.cfg.edges[1].public_key = f.dir.sub("inner.secret");  // the wrong kind of key file
  auto c = configured_edges(f.cfg);
  BOOST_REQUIRE(!c);
  BOOST_TEST(contains(c.error(), "edges[1] (mx2): public_key: "));
}

BOOST_AUTO_TEST_CASE(add_stores_the_edge_and_the_fleet_runs_it) {
  Fleet f;
  auto key = f.write_key("mx3");
  BOOST_REQUIRE(f.reg->add(f.added("mx3", "127.0.0.1:2700", key), f.configured(), kNow));
  auto a = f.reg->added();
  BOOST_REQUIRE(a);
  BOOST_REQUIRE_EQUAL(a->size(), 1u);
  const auto& e = (*a)[0];
  BOOST_TEST(e.link.name == "mx3");
  BOOST_TEST(e.link.address == "127.0.0.1:2700");
  BOOST_TEST((e.link.transport == Transport::direct));
  BOOST_TEST(e.link.socks.port == 0);
  BOOST_TEST(e.link.failover_after.count() == 90000);
  BOOST_TEST(e.link.public_key.empty());
  BOOST_TEST((e.key == key));
  BOOST_TEST(e.origin == "added 2026-12-06 14:05 UTC");

  // Tor with its SOCKS port round-trips too.
  auto tor = check_edge_entry("mx4", std::string(56, 'b') + ".onion:2600", "tor", "127.0.0.1:9150",
                              "");
  BOOST_REQUIRE(tor);
  BOOST_REQUIRE(f.reg->add(EdgeSpec{*tor, f.write_key("mx4"), ""}, f.configured(), kNow + 60));
  a = f.reg->added();
  BOOST_REQUIRE(a);
  BOOST_REQUIRE_EQUAL(a->size(), 2u);
  BOOST_TEST((*a)[1].link.socks.str() == "127.0.0.1:9150");
  BOOST_TEST((*a)[1].link.failover_after.count() == 600000);  // the config's default

  std::vector<std::string> warnings;
  auto fleet = effective_fleet(f.cfg, *f.reg, warnings);
  BOOST_REQUIRE(fleet);
  BOOST_TEST(f.names(*fleet) == (std::vector<std::string>{"mx1", "mx2", "mx3", "mx4"}),
             boost::test_tools::per_element());
  BOOST_TEST(warnings.empty());
}

BOOST_AUTO_TEST_CASE(add_refuses_clashes_with_the_registry_and_inner_yaml) {
  Fleet f;
  auto key = f.write_key("mx3");
  BOOST_REQUIRE(f.reg->add(f.added("mx3", "127.0.0.1:2700", key), f.configured(), kNow));
  auto other = f.write_key("other");
  // A name of inner.yaml, then of the registry.
  BOOST_TEST(contains(f.add_error(f.added("mx1", "127.0.0.1:2701", other)),
                      "the name is taken by \"mx1\" (in inner.yaml)"));
  BOOST_TEST(contains(f.add_error(f.added("mx3", "127.0.0.1:2701", other)),
                      "the name is taken by \"mx3\" (added)"));
  // A key already in the fleet.
  BOOST_TEST(contains(f.add_error(f.added("mx5", "127.0.0.1:2701", f.mx2)),
                      "the key is already that of \"mx2\" (in inner.yaml)"));
  BOOST_TEST(contains(f.add_error(f.added("mx5", "127.0.0.1:2701", key)),
                      "the key is already that of \"mx3\" (added)"));
  // An address already used.
  BOOST_TEST(contains(f.add_error(f.added("mx5", f.cfg.edges[1].address, other)),
                      "the address is already that of \"mx2\" (in inner.yaml)"));
  BOOST_TEST(contains(f.add_error(f.added("mx5", "127.0.0.1:2700", other)),
                      "the address is already that of \"mx3\" (added)"));
  auto a = f.reg->added();
  BOOST_REQUIRE(a);
  BOOST_TEST(a->size() == 1u);
}

BOOST_AUTO_TEST_CASE(add_refuses_a_full_fleet) {
  Fleet f;
  for (size_t i = 0; i + 2 < kMaxEdges; ++i)
    BOOST_REQUIRE(f.reg->add(
        f.added("e" + std::to_string(i), "127.0.0.1:" + std::to_string(3000 + i),
                f.write_key("e" + std::to_string(i))),
        f.configured(), kNow));
  BOOST_TEST(contains(f.add_error(f.added("one-more", "127.0.0.1:4000", f.write_key("x"))),
                      "16 edges already"));
}

BOOST_AUTO_TEST_CASE(remove_revokes_an_added_edge_for_good) {
  Fleet f;
  auto key = f.write_key("mx3");
  BOOST_REQUIRE(f.reg->add(f.added("mx3", "127.0.0.1:2700", key), f.configured(), kNow));
  auto r = f.reg->remove("mx3", f.configured(), kNow + 3600);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r ? std::string() : r.error()));
  BOOST_TEST(r->name == "mx3");
  BOOST_TEST((r->key == key));
  BOOST_TEST(r->revoked_at == kNow + 3600);
  auto a = f.reg->added();
  BOOST_REQUIRE(a);
  BOOST_TEST(a->empty());
  auto rv = f.reg->is_revoked(key);
  BOOST_REQUIRE(rv);
  BOOST_TEST(*rv);
  rv = f.reg->is_revoked(f.mx1);
  BOOST_REQUIRE(rv);
  BOOST_TEST(!*rv);
  // It never comes back, under any name or address.
  std::string e = f.add_error(f.added("mx9", "127.0.0.1:2799", key));
  BOOST_TEST(contains(e, "revoked on 2026-12-06 15:05 UTC (it was \"mx3\")"));
  BOOST_TEST(contains(e, "new key pair"));
  // The name is free again for a new key.
  BOOST_TEST(f.reg->add(f.added("mx3", "127.0.0.1:2700", f.write_key("mx3b")), f.configured(), kNow).ok());
}

BOOST_AUTO_TEST_CASE(remove_revokes_a_configured_edge_which_the_fleet_then_leaves_out) {
  Fleet f;
  auto r = f.reg->remove("mx2", f.configured(), kNow);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r ? std::string() : r.error()));
  BOOST_TEST((r->key == f.mx2));
  std::vector<std::string> warnings;
  auto fleet = effective_fleet(f.cfg, *f.reg, warnings);
  BOOST_REQUIRE(fleet);
  BOOST_TEST(f.names(*fleet) == (std::vector<std::string>{"mx1"}), boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
  BOOST_TEST(contains(warnings[0], "edge mx2 (inner.yaml edges[1]) is left out"));
  BOOST_TEST(contains(warnings[0], "revoked on 2026-12-06 14:05 UTC"));
  BOOST_TEST(contains(warnings[0], "delete the entry"));
  // Removing it again keeps the first date.
  auto again = f.reg->remove("mx2", f.configured(), kNow + 99);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->revoked_at == kNow);
  auto list = f.reg->revoked();
  BOOST_REQUIRE(list);
  BOOST_TEST(list->size() == 1u);
}

BOOST_AUTO_TEST_CASE(remove_of_an_unknown_name_lists_the_fleet) {
  Fleet f;
  BOOST_REQUIRE(f.reg->add(f.added("mx3", "127.0.0.1:2700", f.write_key("mx3")), f.configured(),
                           kNow));
  auto r = f.reg->remove("mx7", f.configured(), kNow);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error() == "no edge is called \"mx7\" (the fleet: mx1, mx2, mx3)");
  auto revoked = f.reg->revoked();
  BOOST_REQUIRE(revoked);
  BOOST_TEST(revoked->empty());
  InnerConfig none = f.load(f.config_text({}));
  auto empty = f.reg->remove("mx3", {}, kNow);
  BOOST_REQUIRE(empty);  // mx3 is in the registry
  auto r2 = f.reg->remove("mx3", {}, kNow);
  BOOST_REQUIRE(!r2);
  BOOST_TEST(r2.error() == "no edge is called \"mx3\" (the fleet is empty)");
  BOOST_TEST(none.edges.empty());
}

BOOST_AUTO_TEST_CASE(revoked_lists_oldest_first) {
  Fleet f;
  BOOST_REQUIRE(f.reg->remove("mx2", f.configured(), kNow + 10));
  BOOST_REQUIRE(f.reg->remove("mx1", f.configured(), kNow));
  auto list = f.reg->revoked();
  BOOST_REQUIRE(list);
  BOOST_REQUIRE_EQUAL(list->size(), 2u);
  BOOST_TEST((*list)[0].name == "mx1");
  BOOST_TEST(((*list)[0].key == f.mx1));
  BOOST_TEST((*list)[1].name == "mx2");
}

BOOST_AUTO_TEST_CASE(the_fleet_leaves_out_added_edges_that_inner_yaml_now_names) {
  Fleet f;
  auto k3 = f.write_key("mx3");
  BOOST_REQUIRE(f.reg->add(f.added("mx3", "127.0.0.1:2700", k3), f.configured(), kNow));
  BOOST_REQUIRE(f.reg->add(f.added("mx4", "127.0.0.1:2701", f.write_key("mx4")), f.configured(),
                           kNow));
  BOOST_REQUIRE(f.reg->add(f.added("mx5", "127.0.0.1:2702", f.write_key("mx5")), f.configured(),
                           kNow));
  BOOST_REQUIRE(f.reg->add(f.added("mx6", "127.0.0.1:2703", f.write_key("mx6")), f.configured(),
                           kNow));
  // inner.yaml gains mx3 by name (another key), mx4's key (as "mx7"), and mx6's address.
  std::string text = f.config_text({"mx1", "mx2"});
  text += "  - {name: mx3, address: \"127.0.0.1:2800\", transport: direct, public_key: " +
          f.dir.sub("mx3b.pub") + "}\n";
  text += "  - {name: mx7, address: \"127.0.0.1:2801\", transport: direct, public_key: " +
          f.dir.sub("mx4.pub") + "}\n";
  text += "  - {name: mx8, address: \"127.0.0.1:2703\", transport: direct, public_key: " +
          f.dir.sub("mx8.pub") + "}\n";
  f.write_key("mx3b");
  f.write_key("mx8");
  f.cfg = f.load(text);
  std::vector<std::string> warnings;
  auto fleet = effective_fleet(f.cfg, *f.reg, warnings);
  BOOST_REQUIRE(fleet);
  BOOST_TEST(f.names(*fleet) == (std::vector<std::string>{"mx1", "mx2", "mx3", "mx7", "mx8", "mx5"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(warnings.size(), 3u);
  BOOST_TEST(contains(warnings[0], "edge mx3 (added 2026-12-06 14:05 UTC) is left out: inner.yaml "
                                   "now has an edge of that name"));
  BOOST_TEST(contains(warnings[1], "edge mx4 (added"));
  BOOST_TEST(contains(warnings[1], "inner.yaml's edge mx7 has the same key"));
  BOOST_TEST(contains(warnings[2], "inner.yaml's edge mx8 has the same address"));
  // Removing the shadowed name revokes both keys that went by it.
  auto r = f.reg->remove("mx3", *configured_edges(f.cfg), kNow);
  BOOST_REQUIRE(r);
  auto rv = f.reg->is_revoked(k3);
  BOOST_REQUIRE(rv);
  BOOST_TEST(*rv);
}

BOOST_AUTO_TEST_CASE(damaged_records_are_errors_not_crashes) {
  auto added_key = std::string("a/mx3");
  std::string key32(32, 'k');
  struct Case {
    std::string key, value, error;
  };
  // A well-formed a/ record to cut and bend: format, address, transport, socks, failover, key, at.
  std::string good;
  good.push_back(1);
  std::string addr = "127.0.0.1:2700";
  good.push_back(0);
  good.push_back(static_cast<char>(addr.size()));
  good += addr;
  good.push_back(2);  // direct
  good += std::string(2, '\0');
  good += store::be64(90000);
  good += key32;
  good += store::be64(kNow);
  {
    Fleet f;
    f.put_raw(added_key, good);
    auto a = f.reg->added();
    BOOST_REQUIRE_MESSAGE(a.ok(), (a ? std::string() : a.error()));  // the layout the test bends is the real one
    BOOST_TEST(a->size() == 1u);
  }
  std::string bad_transport = good;
  bad_transport[1 + 2 + addr.size()] = 7;
  std::string tor_without_socks = good;
  tor_without_socks[1 + 2 + addr.size()] = 0;
  std::string long_text = good;
  long_text[1] = static_cast<char>(0xff);
  std::string zero_failover = good;
  zero_failover.replace(1 + 2 + addr.size() + 1 + 2, 8, store::be64(0));
  std::vector<Case> cases = {
      {added_key, "", "unknown format"},
      {added_key, std::string(1, 9) + good.substr(1), "unknown format"},
      {added_key, good.substr(0, good.size() - 1), "truncated"},
      {added_key, good.substr(0, 5), "truncated"},
      {added_key, good + "x", "trailing bytes"},
      {added_key, long_text, "oversized"},
      {added_key, bad_transport, "unknown transport"},
      {added_key, tor_without_socks, "transport tor"},
      {added_key, zero_failover, "failover_after"},
      {"a/MX\x01", good, "the added edge \"???\" is damaged: name"},
      {"r/short", std::string(1, 1) + store::be64(kNow) + std::string(1, 0) + "\x03mx1",
       "revoked key's record is damaged"},
      {"r/" + key32, "", "unknown format"},
      {"r/" + key32, std::string(1, 1) + store::be64(kNow), "truncated"},
      {"r/" + key32, std::string(1, 1) + store::be64(kNow) + std::string(1, 0) + "\x40" +
                         std::string(64, 'n'),
       "oversized"},
  };
  for (const auto& c : cases) {
    Fleet f;
    f.put_raw(c.key, c.value);
    std::vector<std::string> warnings;
    auto fleet = effective_fleet(f.cfg, *f.reg, warnings);
    BOOST_REQUIRE_MESSAGE(!fleet, c.error);
    BOOST_TEST_MESSAGE(fleet.error());
    BOOST_TEST(contains(fleet.error(), c.error), fleet.error() << " lacks " << c.error);
    BOOST_TEST(contains(fleet.error(), "fleet registry: "));
    if (c.key[0] == 'a') {
      BOOST_TEST(!f.reg->added());
      BOOST_TEST(!f.reg->add(f.added("mx9", "127.0.0.1:2799", f.write_key("mx9")), f.configured(),
                             kNow));
    } else {
      BOOST_TEST(!f.reg->revoked());
    }
  }
}

BOOST_AUTO_TEST_CASE(check_edge_entry_uses_the_configs_rules) {
  auto ok = check_edge_entry("mx1", "127.0.0.1:2600", "direct", "", "");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->failover_after.count() == 600000);
  auto bad = check_edge_entry("MX 1", "no-port", "tor", "", "0s");
  BOOST_REQUIRE(!bad);
  BOOST_TEST(contains(bad.error(), "name: \"MX 1\" is not 1 to 32 of a-z, 0-9 and '-'"));
  BOOST_TEST(contains(bad.error(), "\naddress: \"no-port\" is not host:port"));
  BOOST_TEST(contains(bad.error(), "\nfailover_after: "));
  auto reach = check_edge_entry("mx1", "127.0.0.1:2600", "tor", "", "");
  BOOST_REQUIRE(!reach);
  BOOST_TEST(contains(reach.error(), "address: with transport tor the edge is an onion service"));
  BOOST_TEST(contains(reach.error(), "socks: transport tor needs Tor's SocksPort here"));
  auto socks = check_edge_entry("mx1", "x.i2p:2600", "i2p", "10.0.0.1:4447", "");
  BOOST_REQUIRE(!socks);
  BOOST_TEST(contains(socks.error(), "socks: \"10.0.0.1:4447\" is not a loopback address"));
  BOOST_TEST(!check_edge_entry("mx1", "x.i2p:2600", "carrier-pigeon", "127.0.0.1:4447", ""));
}

BOOST_AUTO_TEST_CASE(a_key_file_unreadable_at_a_reload_keeps_the_key_read_before) {
  Fleet f;
  // As at start-up: both files read.
  KnownKeys known;
  for (const auto& e : f.configured()) known.emplace(e.link.public_key, e.key);
  // The running inner can no longer open mx2's file (here: it is gone).
  std::filesystem::remove(f.dir.sub("mx2.pub"));
  auto plain = configured_edges(f.cfg);
  BOOST_REQUIRE(!plain);
  BOOST_TEST(contains(plain.error(), "edges[1] (mx2): public_key: "));
  std::vector<std::string> warnings;
  auto fleet = effective_fleet(f.cfg, *f.reg, warnings, &known);
  BOOST_REQUIRE(fleet);
  BOOST_REQUIRE_EQUAL(fleet->size(), 2u);
  BOOST_TEST(((*fleet)[1].key == f.mx2));
  BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
  BOOST_TEST(contains(warnings[0], "edges[1] (mx2): public_key cannot be read now"));
  // A file never read before is still an error.
  KnownKeys only_mx1;
  only_mx1.emplace(f.dir.sub("mx1.pub"), f.mx1);
  warnings.clear();
  BOOST_TEST(!effective_fleet(f.cfg, *f.reg, warnings, &only_mx1));
}
