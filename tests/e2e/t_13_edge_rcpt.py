#!/usr/bin/env python3
"""Edge: RCPT TO. Never an open relay (not even from 127.0.0.1); our domain is greylisted on the
first try (450 4.2.0) and accepted after the delay; then the message is queued (250 2.0.0)."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h



def test():
    # A longer delay than the harness default: each swaks run waits out greet_wait, and a slow
    # (sanitizer) build must still make its "too early" retry inside the delay.
    with h.edge_world("t_13", {"checks": {"greylist": {"delay": "6s"}}}) as (tdir, ub, edge):
        for client, sender in (("127.0.0.1", "bob@sender.test"), ("127.0.0.3", "alerts@bank.test"),
                               ("127.0.0.1", "")):
            r = h.send_message(edge.port, client, "mta.sender.test", sender,
                               ["carol@elsewhere.test"], None)
            h.expect_reply(r.get("rcpt:carol@elsewhere.test"), 554, "5.7.1",
                           what="relay to elsewhere.test from %s" % client)
        # a relay attempt hidden in a source route (RFC 5321 says the route is ignored, which
        # leaves carol@elsewhere.test)
        for rcpt in ("@example.test:carol@elsewhere.test",):
            r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                               [rcpt], None)
            got = r.get("rcpt:" + rcpt)
            h.check(got and got[-1][:1] in "45", "relay trick %s was not refused: %r" % (rcpt, got))
        t = h.swaks_edge(edge, "--from", "bob@sender.test", "--to", "alice@example.test",
                         "--body", "greylisted first")
        t.expect("RCPT TO", 450, "4.2.0")
        h.check(t.reply("DATA") is None, "DATA sent after a greylisted RCPT:\n" + t.text)
        # too early: still greylisted
        t = h.swaks_edge(edge, "--from", "bob@sender.test", "--to", "alice@example.test",
                         "--quit-after", "RCPT")
        t.expect("RCPT TO", 450, "4.2.0")
        time.sleep(7.0)  # greylist delay 6s
        t = h.swaks_edge(edge, "--from", "bob@sender.test", "--to", "alice@example.test",
                         "--body", "after the greylist delay")
        t.expect("RCPT TO", 250)
        t.expect(".", 250, "2.0.0", contains="queued")
        # another sender is a new triplet: greylisted again
        t = h.swaks_edge(edge, "--from", "dave@sender.test", "--to", "alice@example.test",
                         "--quit-after", "RCPT")
        t.expect("RCPT TO", 450, "4.2.0")


h.main(test)
