#!/usr/bin/env python3
"""The fleet of t_76 over the private Tor network: each edge's link behind an onion service of
its own, the inner dialing both through one client tor's SOCKS port (lib/fleet.py). Internet
mail arrives through each edge and from a sending Postfix with both edges as MX records of equal
preference; outbound mail is spread over both; status and metrics show both links and no
address; edge mxa is SIGKILLed and wiped while N messages go each way (half of the outbound
recipients greylisted by the receiving Postfix): every outbound recipient gets its copy, mxa's
unfinished recipients go to mxb after failover_after, duplicates are no more than what was
handed on, and mxa comes back empty over its onion. $NJ_FLEET_MESSAGES sets N (default 100)."""
# nj-e2e: tornet
# nj-e2e: timeout 900
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import fleet as fl


def test():
    n = fl.n_messages(100)
    with fl.fleet("t_78", transport="tor") as f:
        fl.phase_spread(f)
        fl.phase_observe(f)
        fl.phase_failover(f, n)


h.main(test)
