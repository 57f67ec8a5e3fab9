#!/usr/bin/env python3
"""Harness self-test: an rbldnsd listing reaches a client through unbound's stub zone, and an
address that is not listed gets NXDOMAIN, so the edge needs one DNS server address."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h


def test():
    with h.TestDir("t_01") as tdir, h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2", "11.1.2.3"]) as rbl:
        # rbldnsd itself answers
        status, answers = h.dig(rbl.port, "2.0.0.127.dnsbl.test", "A")
        h.check(status == "NOERROR" and answers == ["127.0.0.2"], "rbldnsd: %s %r" % (status, answers))
        with h.Unbound(tdir, {"sender.test": [("@", "A", "11.0.0.1")]},
                       stubs={"dnsbl.test": rbl.port}) as ub:
            for ip in ("127.0.0.2", "11.1.2.3"):
                name = h.reverse_ip(ip) + ".dnsbl.test"
                status, answers = h.dig(ub.port, name, "A")
                h.check(status == "NOERROR" and answers == ["127.0.0.2"],
                        "%s through unbound: %s %r" % (name, status, answers))
                status, answers = h.dig(ub.port, name, "TXT")
                h.check(status == "NOERROR" and answers and "Listed" in answers[0],
                        "TXT %s: %s %r" % (name, status, answers))
            for ip in ("127.0.0.1", "127.0.0.3", "11.1.2.4"):
                status, answers = h.dig(ub.port, h.reverse_ip(ip) + ".dnsbl.test", "A")
                h.check(status == "NXDOMAIN", "%s is not listed but got %s %r" % (ip, status, answers))
            # the local zones still work beside the stub
            status, answers = h.dig(ub.port, "sender.test", "A")
            h.check(answers == ["11.0.0.1"], "local zone beside stub: %s %r" % (status, answers))


h.main(test)
