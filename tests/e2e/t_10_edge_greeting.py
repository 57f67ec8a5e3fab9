#!/usr/bin/env python3
"""Edge: a client that talks before the banner (pregreet) is refused with 554 5.5.1; a client that
waits gets 220 naming the edge's public hostname."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h


def test():
    with h.edge_world("t_10") as (tdir, ub, edge):
        # pregreet: bytes on connect, before the banner could have been read
        with h.RawSmtp(edge.port, source="127.0.0.1") as c:
            c.send("EHLO early.sender.test\r\n")
            lines = []
            while True:
                r = c.reply()
                if not r:
                    break
                lines += r
        h.check(any(l.startswith("554 5.5.1") or l.startswith("554-5.5.1") for l in lines),
                "pregreet: wanted 554 5.5.1, got %r" % lines)
        h.check(not any(l.startswith("250") for l in lines), "pregreet client was served: %r" % lines)
        # a patient client
        t0 = time.monotonic()
        with h.RawSmtp(edge.port, source="127.0.0.1") as c:
            banner = c.reply()
            h.expect_reply(banner, 220, what="banner")
            h.check(h.EDGE_HOSTNAME in banner[0], "banner does not name the edge: %r" % banner)
            h.expect_reply(c.cmd("EHLO mta.sender.test"), 250, what="EHLO")
            h.expect_reply(c.cmd("QUIT"), 221, what="QUIT")
        h.log("banner after %.2fs" % (time.monotonic() - t0))
        # swaks, which waits for the banner, is served too
        t = h.swaks_edge(edge, "--quit-after", "EHLO", "--to", "alice@example.test")
        t.expect("CONNECT", 220)
        t.expect("EHLO", 250)


h.main(test)
