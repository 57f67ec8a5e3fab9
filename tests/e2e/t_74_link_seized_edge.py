#!/usr/bin/env python3
"""A seized edge must not make the inner dial it again and again. Over Tor every dial is a new
circuit, and many circuits help whoever holds the edge find the inner's guard. The stand-in is
nj_hangup_edge (tests/unit/link/hangup_edge.cpp): it holds the edge's key and pins the inner's,
completes every handshake (so the inner sees a link come up) and hangs up at once. The inner
(direct transport) must follow its DialPolicy (inner/link/dial_policy.h): back-off 1 s doubling
to 60 s with +-25 % jitter, reset only by a link that stayed up 60 s, so about 7 dials in 100 s
(redialing at once after each link would be ~100), each interval within the jitter of its step,
and its log says after each end how long it waits and how many dials it made in the last hour.
(An edge that refuses the inner's key, and what both logs say then, is t_60's last phase.)"""
# nj-e2e: timeout 300
import os, re, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

WATCH_S = 100.0
FIRST_BACKOFF_S, MAX_BACKOFF_S, JITTER = 1.0, 60.0, 0.25
SLACK_S = 0.3  # the handshake, the hang-up and this test's polling, per interval


def hangup_edge_bin():
    return os.path.join(h.BUILD_DIR, "tests", "nj_hangup_edge")


def expected_waits(n):
    """The DialPolicy's nominal waits before dials 2..n+1: 1, 2, 4, ... capped at 60 s."""
    return [min(FIRST_BACKOFF_S * 2 ** i, MAX_BACKOFF_S) for i in range(n)]


def test():
    ih.require_inner()
    h.check(os.path.exists(hangup_edge_bin()), "%s does not exist (build target nj_hangup_edge)"
            % hangup_edge_bin())
    with h.TestDir("t_74") as tdir:
        port = h.free_port()
        inner = ih.Inner(tdir, {"edge": {"address": "127.0.0.1:%d" % port,
                                         "transport": "direct"}})
        inner.keygen()  # inner.{secret,pub} and the edge.pub the inner pins
        # The seized edge's key pair, made like every other key, and the inner pinning it.
        seized_dir = tdir.sub("seized")
        h.run([h.edge_ctl_bin(), "keygen", "--out", os.path.join(seized_dir, "edge")])
        with open(os.path.join(seized_dir, "edge.pub"), "rb") as src, \
                open(os.path.join(inner.key_dir, "edge.pub"), "wb") as dst:
            dst.write(src.read())
        out_path = os.path.join(seized_dir, "events.log")
        seized = h.Proc([hangup_edge_bin(), port, os.path.join(seized_dir, "edge.secret"),
                         os.path.join(inner.key_dir, "inner.pub")], out_path)
        try:
            h.wait_tcp(port, proc=seized)  # the probe shows up as one accept before the inner
            time.sleep(0.5)
            probe_lines = len(seized.output().splitlines())

            # Timestamp each event of the seized edge as it appears.
            events = []  # (seconds since the inner started, line)
            seen = probe_lines
            t0 = time.monotonic()
            inner.start()
            while time.monotonic() - t0 < WATCH_S:
                h.check(seized.alive(), "nj_hangup_edge exited:\n" + seized.output())
                lines = seized.output().splitlines()
                now = time.monotonic() - t0
                events += [(now, ln) for ln in lines[seen:]]
                seen = len(lines)
                time.sleep(0.02)
            ilog = inner.output()
        except BaseException:
            h.log("seized edge:\n" + seized.output()[-3000:])
            h.log("inner log:\n" + inner.output()[-6000:])
            raise
        finally:
            inner.stop()
            seized.stop()

        accepts = [t for t, ln in events if ln == "accept"]
        opens = [t for t, ln in events if ln == "open"]
        intervals = [b - a for a, b in zip(accepts, accepts[1:])]
        print("dials in %.0f s: %d; intervals (s): %s" % (
            WATCH_S, len(accepts), ", ".join("%.2f" % d for d in intervals)))
        h.log("seized edge events: %r" % events)
        h.check(len(opens) == len(accepts) and len(accepts) >= 1,
                "not every dial completed the handshake (%d dials, %d opened): the stand-in "
                "does not act as a seized edge:\n%s" % (len(accepts), len(opens),
                                                         seized.output()[-2000:]))
        h.check(ilog.count("link up") == len(accepts),
                "the inner logged %d links up for %d dials" % (ilog.count("link up"),
                                                                len(accepts)))
        # Dial 7 comes 63 s +-25 % after the first, dial 8 123 s +-25 %: 7 or 8 in 100 s.
        h.check(7 <= len(accepts) <= 8,
                "%d dials in %.0f s against an edge that hangs up after each handshake; the "
                "DialPolicy allows 7 or 8 (back-off 1 s doubling to 60 s, +-25 %%)"
                % (len(accepts), WATCH_S))
        for i, (got, want) in enumerate(zip(intervals, expected_waits(len(intervals)))):
            lo, hi = want * (1 - JITTER) - SLACK_S, want * (1 + JITTER) + SLACK_S
            h.check(lo <= got <= hi, "dial %d came %.2f s after dial %d; the back-off step is "
                    "%.0f s +-25 %% (%.2f..%.2f)" % (i + 2, got, i + 1, want, lo, hi))
        h.check(ilog.count("link dialing") == len(accepts),
                "the inner logged %d dials, the edge saw %d" % (ilog.count("link dialing"),
                                                                 len(accepts)))

        # The inner's log says, after each lost link, how long it waits and how many dials it
        # made in the last hour.
        said = re.findall(r"link down: .*; next attempt in (\d+)ms \((\d+) dials in the last "
                          r"hour\)", ilog)
        h.check(len(said) >= len(accepts) - 1 and said,
                "the inner does not log its waits and dials per hour:\n" + ilog[-3000:])
        counts = [int(n) for _, n in said]
        h.check(counts == list(range(1, len(counts) + 1)),
                "dials in the last hour as logged: %r, wanted 1, 2, 3, ..." % counts)
        waits = [int(ms) / 1000.0 for ms, _ in said]
        for i, (got, want) in enumerate(zip(waits, expected_waits(len(waits)))):
            h.check(want * (1 - JITTER) <= got <= want * (1 + JITTER),
                    "logged wait %d: %.3f s, the back-off step is %.0f s +-25 %%"
                    % (i + 1, got, want))
        print("logged: %s" % "; ".join("next in %.1f s (%s dials/h)" % (w, n)
                                       for w, (_, n) in zip(waits, said)))


h.main(test)
