#!/usr/bin/env python3
"""Edge: a real Postfix, as the sending Internet MTA, relays mail into the edge. The first try is
greylisted (Postfix defers with 450 4.2.0), after the delay and a flush Postfix's log shows
status=sent with the edge's 250 2.0.0."""
import os, re, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h



def test():
    with h.edge_world("t_17") as (tdir, ub, edge):
        with h.Postfix(tdir, relay="[127.0.0.1]:%d" % edge.port) as pf:
            pf.send("bob@sender.test", ["alice@example.test"],
                    h.message("via postfix", "relayed by a real MTA"))
            pf.wait_log(r"to=<alice@example\.test>.*status=deferred.*450[ -]4\.2\.0", timeout=60)
            time.sleep(3.0)
            deadline = time.monotonic() + 90
            while True:
                pf.flush()
                try:
                    lines = pf.wait_log(r"to=<alice@example\.test>, relay=127\.0\.0\.1"
                                        r"\[127\.0\.0\.1\]:%d.*status=sent \(250 2\.0\.0"
                                        % edge.port, timeout=5)
                    break
                except h.TestFailure:
                    if time.monotonic() > deadline:
                        raise
            h.log("postfix:", lines[0])
            pf.wait_queue_empty()


h.main(test)
