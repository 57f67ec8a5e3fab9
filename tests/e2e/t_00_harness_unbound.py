#!/usr/bin/env python3
"""Harness self-test: unbound serves every record type the edge tests rely on, and NXDOMAIN for
unknown names inside a zone; dig (an independent client) checks the answers."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

ZONES = {
    "sender.test": [
        ("@", "A", "11.0.0.1"),
        ("@", "AAAA", "2001:db8::1"),
        ("@", "MX", "10 mx.sender.test."),
        ("mx", "A", "11.0.0.2"),
        ("@", "NS", "ns.sender.test."),
        ("ns", "A", "11.0.0.3"),
        ("@", "TXT", '"v=spf1 -all"'),
        ("_onion-mx._tcp", "SRV", "0 0 25 abcdefghijklmnop.onion."),
    ],
    "nullmx.test": [("@", "MX", "0 .")],
    "2.0.0.11.in-addr.arpa": [("@", "PTR", "mx.sender.test.")],
}


def test():
    with h.TestDir("t_00") as tdir, h.Unbound(tdir, ZONES) as ub:
        cases = [
            ("sender.test", "A", ["11.0.0.1"]),
            ("sender.test", "AAAA", ["2001:db8::1"]),
            ("sender.test", "MX", ["10 mx.sender.test."]),
            ("mx.sender.test", "A", ["11.0.0.2"]),
            ("sender.test", "NS", ["ns.sender.test."]),
            ("sender.test", "TXT", ['"v=spf1 -all"']),
            ("_onion-mx._tcp.sender.test", "SRV", ["0 0 25 abcdefghijklmnop.onion."]),
            ("nullmx.test", "MX", ["0 ."]),
            ("2.0.0.11.in-addr.arpa", "PTR", ["mx.sender.test."]),
        ]
        for name, qtype, want in cases:
            status, answers = h.dig(ub.port, name, qtype)
            h.check(status == "NOERROR" and answers == want,
                    "%s %s: %s %r, wanted %r" % (name, qtype, status, answers, want))
        status, answers = h.dig(ub.port, "nothere.sender.test", "A")
        h.check(status == "NXDOMAIN", "unknown name in zone: %s" % status)
        # a name with data but not of the asked type: NODATA, not NXDOMAIN
        status, answers = h.dig(ub.port, "mx.sender.test", "MX")
        h.check(status == "NOERROR" and answers == [], "NODATA: %s %r" % (status, answers))
        # the harness's own UDP client agrees with dig
        for name, qtype, want in cases:
            rcode, ans = h.dns_query(ub.port, name, qtype)
            h.check(rcode == 0 and [a for _, a in ans] == want,
                    "dns_query %s %s: %d %r, wanted %r" % (name, qtype, rcode, ans, want))
        rcode, ans = h.dns_query(ub.port, "nothere.sender.test", "A")
        h.check(rcode == 3 and ans == [], "dns_query NXDOMAIN: %d %r" % (rcode, ans))
        # nothing outside the test data is resolved (no query leaves the machine)
        status, _ = h.dig(ub.port, "example.com", "A")
        h.check(status == "REFUSED", "outside names must be refused, got %s" % status)


h.main(test)
