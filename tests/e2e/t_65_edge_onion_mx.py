#!/usr/bin/env python3
"""The edge's OnionMX listener over the private Tor network: another OnionMX domain's MTA reaches
the edge's onion service on port 25 through Tor; mail for our domains is accepted and sealed, any
other domain is refused as relaying — every onion peer arrives from 127.0.0.1, and that address
earns nothing. Uses the shared network of the ctest fixture `tornet` when it runs."""
# nj-e2e: tornet
import os, smtplib, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import tornet


def test():
    h.require_edge()
    with h.TestDir("t_65") as tdir, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, h.sender_zones(), stubs={"dnsbl.test": rbl.port}) as ub:
        net, shared = tornet.shared_or_own(tdir)
        with net:
            onion_port = h.free_port()
            edge = h.Edge(tdir, ub.addr, {"listen": {"onion_mx": ["127.0.0.1:%d" % onion_port]},
                                          "checks": {"greylist": {"enabled": False}}})
            edge_onion = net.add_onion_service({25: onion_port})
            socks = net.add_client()
            with edge:
                tornet.wait_reachable(edge_onion, 25, socks, timeout=180)

                class OnionSMTP(smtplib.SMTP):
                    def _get_socket(self, host, port, timeout):
                        code, sock = tornet.socks5_connect(socks, host, port, timeout=120)
                        h.check(code == 0, "SOCKS CONNECT: %#x" % code)
                        return sock

                with OnionSMTP(edge_onion, 25, local_hostname="mx.sender.test", timeout=120) as s:
                    code, _ = s.ehlo()
                    h.check(code == 250, "EHLO over Tor: %d" % code)
                    h.check(s.mail("peer@sender.test")[0] == 250, "MAIL refused")
                    code, text = s.rcpt("someone@elsewhere.test")
                    h.check(code == 554 and text.startswith(b"5.7.1"),
                            "relay through the onion listener: %d %r" % (code, text))
                    code, text = s.rcpt("alice@example.test")
                    h.check(code == 250, "our domain refused: %d %r" % (code, text))
                    code, text = s.data("From: <peer@sender.test>\r\nSubject: onion mx\r\n\r\n"
                                        "onion-mx-marker\r\n")
                    h.check(code == 250, "DATA: %d %r" % (code, text))
                h.check("listener=onion_mx" in edge.output(), "not logged as the onion listener")
                ids = edge.queue_ids()
                h.check(len(ids) == 1, "queued: %r" % ids)
                h.check("onion-mx-marker" in edge.queue("show", ids[0]), "content lost")


h.main(test)
