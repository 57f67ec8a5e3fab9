#!/usr/bin/env python3
"""Edge: sender checks at MAIL FROM: the domain must resolve, no null MX, no MX/NS in private
ranges, the client must not be on the DNSBL, allowlisted domains only from their clients; the
null sender passes."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

CASES = [
    # (client, sender, code, enhanced)
    ("127.0.0.1", "bob@sender.test", 250, None),
    ("127.0.0.1", "bob@norecords.test", 550, "5.1.8"),
    ("127.0.0.1", "bob@nothere.sender.test", 550, "5.1.8"),
    ("127.0.0.1", "bob@nullmx.test", 550, "5.7.27"),
    ("127.0.0.1", "bob@privmx.test", 550, "5.7.1"),
    ("127.0.0.1", "bob@privns.test", 550, "5.7.1"),
    ("127.0.0.2", "bob@sender.test", 550, "5.7.1"),  # listed in dnsbl.test
    ("127.0.0.1", "alerts@bank.test", 550, "5.7.1"),  # bank.test only from 127.0.0.3
    ("127.0.0.3", "alerts@bank.test", 250, None),
    ("127.0.0.1", "", 250, None),
]


def test():
    with h.edge_world("t_12") as (tdir, ub, edge):
        for client, sender, code, enhanced in CASES:
            r = h.send_message(edge.port, client, "mta.sender.test", sender,
                               ["alice@example.test"], None)
            h.expect_reply(r.get("mail"), code, enhanced, what="MAIL FROM:<%s> from %s"
                           % (sender, client))
        # the same through swaks
        t = h.swaks_edge(edge, "--quit-after", "MAIL", "--from", "bob@nullmx.test",
                         "--to", "alice@example.test")
        t.expect("MAIL FROM", 550, "5.7.27")


h.main(test)
