#!/usr/bin/env python3
"""Edge: at most max_connections_per_client (5) connections per client /24; the sixth gets
421 4.7.0, another /24 is still served, and a closed slot is free again."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h



def test():
    with h.edge_world("t_15") as (tdir, ub, edge):
        held = []
        try:
            for i in range(5):
                held.append(h.RawSmtp(edge.port, source="127.0.0.%d" % (10 + i)))
            for c in held:
                h.expect_reply(c.reply(), 220, what="connection within the limit")
            with h.RawSmtp(edge.port, source="127.0.0.99") as c:
                h.expect_reply(c.reply(), 421, "4.7.0", what="sixth connection from 127.0.0.0/24")
            with h.RawSmtp(edge.port, source="127.0.1.10") as c:
                h.expect_reply(c.reply(), 220, what="connection from 127.0.1.0/24")
            held.pop().close()
            deadline = time.monotonic() + 5
            while True:
                with h.RawSmtp(edge.port, source="127.0.0.99") as c:
                    r = c.reply()
                if r and r[-1].startswith("220") or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            h.expect_reply(r, 220, what="after one connection closed")
        finally:
            for c in held:
                c.close()


h.main(test)
