#!/usr/bin/env python3
"""A fleet of two edges (mxa, mxb) and one inner over the `direct` transport (lib/fleet.py), with
a receiving Postfix that greylists some recipients (postgrey) and a sending Postfix that finds
both edges as MX records of equal preference in DNS:

1. Internet mail arrives through each edge, and from the sending Postfix through both; outbound
   mail is spread over both (each edge's own Received line says which carried it).
2. `nightjarctl status` and the metrics endpoint: both links up, the figures match what was
   sent, and neither holds an address, an account, a domain of a user or an IP.
3. Edge mxa is SIGKILLed and its data directory wiped while N messages go each way (inbound
   through the sending Postfix, outbound to recipients of whom half are greylisted): every
   outbound recipient gets its copy, the inner hands mxa's unfinished recipients to mxb once
   failover_after (5 s) has passed, and the copies delivered twice are no more than the inner
   said it handed on; every inbound message the Postfix handed over arrives, but for those that
   were still on mxa's disk when it was wiped (read from it first with the inner's key: what a
   seized edge takes with it). mxa comes back empty with the same keys, the link is up again,
   and mail flows through it both ways.
4. `nightjarctl edge remove mxa` while mail waits on both edges (the receiving Postfix is
   down): mxa is revoked (its link is closed and never dialed again; adding its key back is
   refused), what it held goes to mxb at once, and every message arrives once the Postfix is
   back, none through mxa.
$NJ_FLEET_MESSAGES sets N (default 2,000)."""
# nj-e2e: timeout 900
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import fleet as fl


def test():
    n = fl.n_messages(2000)
    with fl.fleet("t_76") as f:
        fl.phase_spread(f)
        fl.phase_observe(f)
        fl.phase_failover(f, n)
        fl.phase_remove(f)


h.main(test)
