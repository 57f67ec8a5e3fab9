#define BOOST_TEST_MODULE tls
#include <boost/test/unit_test.hpp>

#include "common/tls/tls.h"
#include "tests/unit/tls/cert_fixture.h"

using nj::tls::Context;
using nj::tls::Session;

namespace {

// Moves ciphertext both ways until neither side has anything to send.
void pump(Session& a, Session& b) {
  for (int i = 0; i < 20; ++i) {
    std::string ab = a.take_ciphertext();
    std::string ba = b.take_ciphertext();
    if (ab.empty() && ba.empty()) return;
    if (!ab.empty()) (void)b.feed(ab);
    if (!ba.empty()) (void)a.feed(ba);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(handshake_and_data_both_ways) {
  nj::testing::CertFiles f;
  auto sctx = Context::server(f.cert, f.key);
  BOOST_REQUIRE_MESSAGE(sctx.ok(), (sctx.ok() ? "" : sctx.error()));
  auto cctx = Context::client();
  BOOST_REQUIRE(cctx.ok());
  auto srv = Session::server(*sctx);
  auto cli = Session::client(*cctx, "mx.test");
  BOOST_REQUIRE(srv.ok() && cli.ok());
  // Written before the handshake: held, then sent.
  BOOST_REQUIRE(cli->write("EHLO early\r\n").ok());
  pump(*cli, *srv);
  BOOST_TEST(cli->handshake_done());
  BOOST_TEST(srv->handshake_done());
  BOOST_TEST(srv->take_plaintext() == "EHLO early\r\n");
  BOOST_TEST(srv->protocol() == "TLSv1.3");
  BOOST_TEST(!srv->cipher().empty());
  BOOST_TEST(srv->cipher_bits() >= 128);
  BOOST_TEST(!cli->peer_verified());  // opportunistic: nothing was verified

  std::string big(200000, 'x');
  BOOST_REQUIRE(srv->write(big).ok());
  pump(*cli, *srv);
  BOOST_TEST(cli->take_plaintext() == big);

  cli->shutdown();
  pump(*cli, *srv);
  BOOST_TEST(srv->peer_closed());
}

BOOST_AUTO_TEST_CASE(tls12_is_accepted_and_older_is_not) {
  nj::testing::CertFiles f;
  auto sctx = Context::server(f.cert, f.key);
  BOOST_REQUIRE(sctx.ok());
  auto cctx = Context::client();
  BOOST_REQUIRE(cctx.ok());
  SSL_CTX_set_max_proto_version(cctx->raw(), TLS1_2_VERSION);
  auto srv = Session::server(*sctx);
  auto cli = Session::client(*cctx, "mx.test");
  pump(*cli, *srv);
  BOOST_TEST(srv->protocol() == "TLSv1.2");

  auto old = Context::client();
  SSL_CTX_set_security_level(old->raw(), 0);
  SSL_CTX_set_min_proto_version(old->raw(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(old->raw(), TLS1_1_VERSION);
  auto srv2 = Session::server(*sctx);
  auto cli2 = Session::client(*old, "mx.test");
  pump(*cli2, *srv2);
  BOOST_TEST(!srv2->handshake_done());
  BOOST_TEST((srv2->failed() || cli2->failed()));
}

BOOST_AUTO_TEST_CASE(garbage_fails_cleanly) {
  nj::testing::CertFiles f;
  auto sctx = Context::server(f.cert, f.key);
  BOOST_REQUIRE(sctx.ok());
  auto srv = Session::server(*sctx);
  auto st = srv->feed("GET / HTTP/1.0\r\n\r\n");
  BOOST_TEST(!st.ok());
  BOOST_TEST(srv->failed());
  BOOST_TEST(srv->error().find("handshake") != std::string::npos);
  BOOST_TEST(!srv->feed("more").ok());  // stays failed
  BOOST_TEST(!srv->write("x").ok());
  BOOST_TEST(srv->protocol().empty());
}

BOOST_AUTO_TEST_CASE(verify_fails_for_untrusted_and_passes_for_pinned_ca) {
  nj::testing::CertFiles f;
  auto sctx = Context::server(f.cert, f.key);
  nj::tls::ClientOptions o;
  o.verify_peer = true;
  o.ca_file = f.cert;
  auto good = Context::client(o);
  BOOST_REQUIRE_MESSAGE(good.ok(), (good.ok() ? "" : good.error()));
  auto srv = Session::server(*sctx);
  auto cli = Session::client(*good, "mx.test");
  pump(*cli, *srv);
  BOOST_TEST(cli->handshake_done());
  BOOST_TEST(cli->peer_verified());

  // Right CA, wrong name.
  auto srv2 = Session::server(*sctx);
  auto cli2 = Session::client(*good, "other.test");
  pump(*cli2, *srv2);
  BOOST_TEST(cli2->failed());
  BOOST_TEST(cli2->error().find("verify") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(load_errors_name_the_file) {
  nj::testing::CertFiles f;
  auto mismatch = Context::server(f.cert, f.other_key);
  BOOST_REQUIRE(!mismatch.ok());
  BOOST_TEST(mismatch.error().find("does not match") != std::string::npos);
  BOOST_TEST(mismatch.error().find(f.other_key) != std::string::npos);

  auto missing = Context::server(f.dir + "/nope.pem", f.key);
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.error().find("nope.pem") != std::string::npos);

  auto badkey = Context::server(f.cert, f.cert);
  BOOST_REQUIRE(!badkey.ok());
  BOOST_TEST(badkey.error().find("private key") != std::string::npos);

  auto wrong_side = Session::server(*Context::client());
  BOOST_TEST(!wrong_side.ok());
}
