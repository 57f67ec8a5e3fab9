#!/usr/bin/env python3
"""Edge: HELO/EHLO sanity. Malformed names 501 5.5.2, dotless names 504 5.5.2, the edge's own
name 550 5.7.1, a well-formed name is accepted."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

CASES = [("a..b", 501, "5.5.2"), ("localhost", 504, "5.5.2"), (h.EDGE_HOSTNAME, 550, "5.7.1"),
         ("mta.sender.test", 250, None)]


def test():
    with h.edge_world("t_11") as (tdir, ub, edge):
        for verb in ("HELO", "EHLO"):
            for name, code, enhanced in CASES:
                with h.RawSmtp(edge.port) as c:
                    h.expect_reply(c.reply(), 220, what="banner")
                    h.expect_reply(c.cmd("%s %s" % (verb, name)), code, enhanced,
                                   what="%s %s" % (verb, name))
        # with swaks, the refusal stops the session before MAIL
        t = h.swaks_edge(edge, "--helo", "localhost", "--to", "alice@example.test")
        t.expect("EHLO", 504, "5.5.2")
        h.check(t.reply("MAIL FROM") is None or not t.reply("MAIL FROM")[-1].startswith("250"),
                "a refused HELO went on to a MAIL FROM that passed:\n" + t.text)


h.main(test)
