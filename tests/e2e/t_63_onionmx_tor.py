#!/usr/bin/env python3
"""Delivery to OnionMX domains over the private Tor network: a user's mail for a domain listed in
the edge's static onion map, and for a domain that publishes an `_onion-mx._tcp` SRV record, goes
through Tor's SOCKS port by name to a peer MTA behind its own onion service (smtp-sink), never by
the clearnet. Uses the shared network of the ctest fixture `tornet` when it runs."""
# nj-e2e: tornet
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk
import tornet

ALICE, PW = "alice@example.i2p", "alice pw 63"


def test():
    h.require_edge()
    ih.require_inner()
    with h.TestDir("t_63") as tdir, h.SmtpSink(tdir) as peer:
        net, shared = tornet.shared_or_own(tdir)
        with net:
            peer_onion = net.add_onion_service({25: peer.port})
            socks = net.add_client()
            zones = dict(h.sender_zones())
            # srvpeer.test: found by its SRV record. mappeer.test: only in the static map. Both
            # also publish a clearnet MX that must never be used (nothing listens there).
            zones["srvpeer.test"] = [("_onion-mx._tcp", "SRV", "0 0 25 %s." % peer_onion),
                                     ("@", "MX", "10 mx.srvpeer.test."), ("mx", "A", "127.0.0.1")]
            zones["mappeer.test"] = [("@", "MX", "10 mx.mappeer.test."), ("mx", "A", "127.0.0.1")]
            onion_map = os.path.join(tdir.path, "onion_map.yaml")
            with open(onion_map, "w") as f:
                f.write("'%s':\n  - mappeer.test\n" % peer_onion)
            with h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
                    h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
                dead_port = h.free_port()  # the clearnet MX port: nothing listens
                pair = lk.LinkedPair(
                    tdir, ub,
                    edge_overrides={"outbound": {"onion_map": onion_map,
                                                 "socks": "127.0.0.1:%d" % socks,
                                                 "smtp_port": dead_port,
                                                 "allow_private_addresses": True,
                                                 "retry_initial": "2s", "retry_max": "4s"}},
                    inner_overrides={"delay": {"default": "none"}})
                edge, inner = pair.edge, pair.inner
                inner.add_account(ALICE, PW)
                edge.start()
                inner.start()
                try:
                    lk.wait_log(inner, "link up")
                    tornet.wait_reachable(peer_onion, 25, socks, timeout=180)
                    for rcpt in ("bob@mappeer.test", "carol@srvpeer.test"):
                        msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: onionmx\r\n\r\n"
                               "onionmx-marker %s\r\n" % (ALICE, rcpt, rcpt))
                        inner.deliver(ALICE, PW, [rcpt], msg)
                    got = peer.wait_messages(2, timeout=180)
                    for rcpt in ("bob@mappeer.test", "carol@srvpeer.test"):
                        h.check(any("onionmx-marker " + rcpt in m for m in got),
                                "%s did not arrive at the onion peer:\n%s" % (rcpt, got))
                    lk.wait_log(inner, "final delivered=1 failed=0", count=2, timeout=60)
                    for m in got:
                        h.check("example.i2p" not in m, "internal domain leaked:\n" + m)
                except BaseException:
                    h.log("edge log:\n" + edge.output()[-5000:])
                    h.log("inner log:\n" + inner.output()[-5000:])
                    raise
                finally:
                    inner.stop()
                    edge.stop()


h.main(test)
