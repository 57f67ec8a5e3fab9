#!/usr/bin/env python3
"""Edge: DATA. Over max_message_size (1M) 552 5.3.4; a bare LF is refused with a 5xx; a proper
message 250 2.0.0 queued."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h



def test():
    with h.edge_world("t_14") as (tdir, ub, edge):
        h.pass_greylist(edge, "127.0.0.1", "bob@sender.test", "alice@example.test")
        big = h.message("big", ("x" * 998 + "\n") * 1200)  # ~1.2 MB
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], big)
        h.expect_reply(r.get("."), 552, "5.3.4", what="oversized message")
        bare = h.message("bare lf", "line one").encode() + b"line two\nline three\r\n"
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], bare)
        got = r.get(".")
        h.check(got and got[-1][:1] == "5", "bare LF: wanted 5xx, got %r" % got)
        ok = h.message("fine", "a proper message\n.leading dot survives stuffing")
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], ok)
        h.expect_reply(r.get("."), 250, "2.0.0", what="proper message")
        h.check("queued" in r["."][-1].lower(), "250 without 'queued': %r" % r["."])
        # just under the limit passes
        under = h.message("under", ("y" * 998 + "\n") * 900)
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], under)
        h.expect_reply(r.get("."), 250, "2.0.0", what="message under the limit")


h.main(test)
