#!/usr/bin/env python3
"""Faults on the link over the private Tor network (the phases are in lib/faults.py; t_64 runs
them over the `direct` transport). The edge's link port is behind an onion service; the inner
dials it through a client tor's SOCKS port. Nothing acknowledged with 250 is lost:
- N messages each way while the edge is SIGKILLed and restarted in the middle; its onion service
  (another tor) stays up, and the inner reconnects through Tor on its own (backoff + jitter);
- the onion service is stopped for a while: the user's mail waits in the inner's queue, Internet
  mail for the user waits on the edge, and both flow once the service is back;
- the edge pins a wrong inner key: it refuses every attempt (logged), the link never comes up,
  no mail moves; with the right key back the waiting mail flows;
- the edge is wiped and replaced with new keys behind the same onion service while the user
  sends N messages: all of them reach the Internet through the new edge.
N is 2,000 each way; $NJ_FAULTS_MESSAGES overrides it."""
# nj-e2e: tornet
# nj-e2e: timeout 1200
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import faults

N = faults.message_count(2000)
TIMEOUT = 600  # seconds for each wait of a phase (on a condition; a pass takes far less)


def test():
    with faults.world("t_67", "tor") as w:
        faults.kill_restart(w, N, TIMEOUT)
        faults.link_down(w, 50, TIMEOUT)
        faults.wrong_key(w, 50, TIMEOUT)
        faults.replace_edge(w, N, TIMEOUT)


h.main(test)
