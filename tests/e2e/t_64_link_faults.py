#!/usr/bin/env python3
"""Faults on the link over the `direct` transport, nothing lost (the phases are in
lib/faults.py; t_67 runs the same over Tor):
- 2,000 messages each way (Internet -> edge -> user; user -> inner -> edge -> Internet) while the
  edge is killed with SIGKILL and restarted in the middle: every message that got its 250 arrives
  (duplicates are allowed: a sender whose 250 was lost retries, as SMTP permits);
- the edge is stopped for a while: the user's mail waits in the inner's queue and flows once the
  edge is back and the inner has reconnected by itself (t_60 covers inbound mail waiting on the
  edge while the inner is away);
- the edge pins a wrong inner key: it refuses every attempt (logged), the link never comes up,
  no mail moves; with the right key back the waiting mail flows (t_60 covers an inner with
  an unpaired key);
- the edge is wiped and replaced with new keys while the user keeps sending: the inner's
  outbound mail waits and all of it reaches the Internet through the new edge.
$NJ_FAULTS_MESSAGES overrides the 2,000."""
# nj-e2e: timeout 600
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import faults

N = faults.message_count(2000)
TIMEOUT = 240  # seconds for each wait of a phase (on a condition; a pass takes far less)


def test():
    with faults.world("t_64", "direct") as w:
        faults.kill_restart(w, N, TIMEOUT)
        faults.link_down(w, 50, TIMEOUT)
        faults.wrong_key(w, 50, TIMEOUT)
        faults.replace_edge(w, N, TIMEOUT)


h.main(test)
