// The edge's status text and its counters (edge/server/observe.h).
#define BOOST_TEST_MODULE edge_status
#include <boost/test/unit_test.hpp>
#include <set>
#include <string>

#include "common/metrics/registry.h"
#include "edge/server/observe.h"

using namespace nj::edge;

BOOST_AUTO_TEST_CASE(status_with_the_link_up_and_queues) {
  const int64_t now = 1796652003;  // 2026-12-07 14:00:03 UTC
  StatusFigures f;
  f.now = now;
  f.started = now - 3725;
  LinkServer::State link;
  link.up = true;
  link.since = now - 302;
  link.last_error = "closed by the peer: the peer ended the link";
  link.rtt_ms = 42;
  link.links_opened = 3;
  f.link = link;
  f.inbound.messages = 2;
  f.inbound.oldest = now - 65;
  QueueFigures out;
  out.messages = 1;
  out.recipients = 3;
  out.oldest = now - 12;
  f.outbound = out;
  f.sessions = 1;
  f.connections = 14;
  f.messages_accepted = 5;
  f.refusals = 9;
  f.deliveries = {3, 1, 1, 0};
  const std::string want =
      "running since:   2026-12-07 12:57:58 UTC (1h 2m)\n"
      "link:            up since 2026-12-07 13:55:01 UTC (5m 2s), round trip 42 ms\n"
      "links opened:    3\n"
      "last link end:   closed by the peer: the peer ended the link\n"
      "inbound queue:   2 messages, oldest 1m 5s\n"
      "outbound queue:  1 message, 3 recipients pending, oldest 12s\n"
      "smtp sessions:   1 open\n"
      "since start:     14 connections, 5 messages accepted, 9 refusals\n"
      "deliveries:      3 delivered, 1 deferred, 1 failed, 0 expired (per recipient)\n";
  BOOST_TEST(format_status(f) == want);
}

BOOST_AUTO_TEST_CASE(status_without_a_link_and_with_an_unreadable_queue) {
  StatusFigures f;
  f.now = 1000;
  f.started = 1000;
  f.inbound.error = "MDB_CORRUPTED: Located page was wrong type";
  f.connections = 1;
  f.messages_accepted = 1;
  f.refusals = 1;
  const std::string want =
      "running since:   1970-01-01 00:16:40 UTC (0s)\n"
      "link:            not configured (listen.link is empty)\n"
      "inbound queue:   cannot be read: MDB_CORRUPTED: Located page was wrong type\n"
      "outbound queue:  none (no link configured)\n"
      "smtp sessions:   0 open\n"
      "since start:     1 connection, 1 message accepted, 1 refusal\n";
  BOOST_TEST(format_status(f) == want);

  // A link that is down says since when and how the last one ended; no round trip.
  LinkServer::State down;
  down.since = 900;
  f.link = down;
  f.inbound = QueueFigures{};
  f.outbound = QueueFigures{};
  std::string s = format_status(f);
  BOOST_TEST(s.find("link:            down since 1970-01-01 00:15:00 UTC (1m 40s)\n") !=
             std::string::npos);
  BOOST_TEST(s.find("round trip") == std::string::npos);
  BOOST_TEST(s.find("last link end:   none yet\n") != std::string::npos);
  BOOST_TEST(s.find("inbound queue:   0 messages\n") != std::string::npos);
  BOOST_TEST(s.find("outbound queue:  0 messages, 0 recipients pending\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(counters_create_every_series_and_count) {
  nj::metrics::Registry r;
  EdgeCounters c(r);
  // Every reason and outcome has its own fixed name, valid as a label value and a word.
  std::set<std::string> names;
  for (size_t i = 0; i < kRefusals; ++i) {
    std::string n = refusal_name(static_cast<Refusal>(i));
    BOOST_TEST(nj::metrics::Registry::valid_label_name(n), n);
    names.insert(n);
  }
  BOOST_TEST(names.size() == kRefusals);
  std::string scrape = r.render();
  for (const auto& n : names)
    BOOST_TEST(scrape.find("nightjar_edge_smtp_refusals_total{reason=\"" + n + "\"} 0\n") !=
               std::string::npos, n);
  for (const char* o : {"delivered", "deferred", "failed", "expired"})
    BOOST_TEST(scrape.find("nightjar_edge_deliveries_total{outcome=\"" + std::string(o) +
                           "\"} 0\n") != std::string::npos, o);

  c.connection(false);
  c.connection(false);
  c.connection(true);
  c.refused(Refusal::greylist);
  c.refused(Refusal::greylist);
  c.refused(Refusal::relay);
  c.message_accepted();
  c.delivery(Delivery::deferred, 2);
  c.delivery(Delivery::delivered);
  BOOST_TEST(c.connections() == 3u);
  BOOST_TEST(c.refusals() == 3u);
  BOOST_TEST(c.refusals(Refusal::greylist) == 2u);
  BOOST_TEST(c.messages_accepted() == 1u);
  BOOST_TEST(c.deliveries(Delivery::deferred) == 2u);
  scrape = r.render();
  for (const char* line : {"nightjar_edge_smtp_connections_total{listener=\"mx\"} 2\n",
                           "nightjar_edge_smtp_connections_total{listener=\"onion_mx\"} 1\n",
                           "nightjar_edge_smtp_refusals_total{reason=\"greylist\"} 2\n",
                           "nightjar_edge_smtp_refusals_total{reason=\"relay\"} 1\n",
                           "nightjar_edge_messages_accepted_total 1\n",
                           "nightjar_edge_deliveries_total{outcome=\"deferred\"} 2\n",
                           "nightjar_edge_deliveries_total{outcome=\"delivered\"} 1\n"})
    BOOST_TEST(scrape.find(line) != std::string::npos, line);
}
