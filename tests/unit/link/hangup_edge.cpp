// nj_hangup_edge: a stand-in for a seized edge, for tests/e2e: it listens on 127.0.0.1:PORT with
// the edge's key and the inner's pinned public key, completes every link handshake (so the inner
// sees a working link), and hangs up at once. It prints one line per event to stdout
// ("accept", "open", "end <how>"), flushed, so a test can count the inner's dials.
//   nj_hangup_edge PORT EDGE_SECRET_FILE INNER_PUBLIC_FILE
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>

#include "common/crypto/keyfile.h"
#include "common/link/session.h"
#include "common/uv/handles.h"
#include "common/uv/session_set.h"
#include "common/uv/tcp.h"

using namespace nj;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: nj_hangup_edge PORT EDGE_SECRET_FILE INNER_PUBLIC_FILE\n");
    return 2;
  }
  crypto::init();
  auto edge = crypto::load_secret_key(argv[2]);
  auto inner = crypto::load_public_key(argv[3]);
  if (!edge || !inner) {
    std::fprintf(stderr, "nj_hangup_edge: %s\n", !edge ? edge.error().c_str() : inner.error().c_str());
    return 1;
  }
  uv::Loop loop;
  uv::SessionSet<link::Session> sessions(loop);
  auto l = uv::TcpListener::bind(loop, std::string("127.0.0.1:") + argv[1],
                                 [&](std::unique_ptr<uv::Connection> c) {
                                   std::printf("accept\n");
                                   std::fflush(stdout);
                                   auto* s = sessions.add(std::make_unique<link::Session>(
                                       loop, std::move(c), link::Role::responder, *edge, *inner,
                                       link::Session::Options{}));
                                   s->start(link::Session::Events{
                                       [s] {
                                         std::printf("open\n");
                                         std::fflush(stdout);
                                         s->abort("hang up after the handshake");
                                       },
                                       [](link::Frame) {},
                                       [&sessions, s](const link::Session::Ended& e) {
                                         std::printf("end %s\n", link::Session::end_name(e.how));
                                         std::fflush(stdout);
                                         sessions.finished(s);
                                       }});
                                 });
  if (!l) {
    std::fprintf(stderr, "nj_hangup_edge: %s\n", l.error().c_str());
    return 1;
  }
  loop.run();
  return 0;
}
