#!/usr/bin/env python3
"""The link, over the `direct` transport: Internet mail accepted by the edge reaches the user's
mailbox on the inner and is fetched by POP3; the edge asks the inner whether recipients exist
(550 5.1.1 for unknown users, 451 4.4.3 when the link is down); mail waits on the edge while the
inner is away and flows when it returns; the edge deletes a message only after the inner's ACK;
an edge killed with SIGKILL loses nothing; a peer with the wrong key is refused, and both logs
say so: the edge that its handshake does not authenticate, the refused inner that the edge does
not accept its key."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk

ALICE, PW = "alice@example.i2p", "alice pw 1"
# inner/link/link_client.cpp and common/link/channel.cpp
REFUSED_KEY = "the edge hung up during the handshake: it does not accept this inner's key"
REFUSED_EDGE = "refused: link: refused: handshake message 1 does not authenticate"


def send(edge, rcpt, body, expect=250):
    t = h.swaks_edge(edge, "--from", "bob@sender.test", "--to", rcpt, "--body", body)
    if expect == 250:
        t.expect(".", 250, "2.0.0")
    return t


def test():
    h.require_edge()
    ih.require_inner()
    with h.TestDir("t_60") as tdir, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, h.sender_zones(), stubs={"dnsbl.test": rbl.port}) as ub:
        pair = lk.LinkedPair(tdir, ub, edge_overrides={"checks": {"greylist": {"enabled": False}}})
        edge, inner = pair.edge, pair.inner
        inner.add_account(ALICE, PW)
        edge.start()
        try:
            inner.start()
            lk.wait_log(inner, "link up")
            lk.wait_log(edge, " up queued=")

            # recipient verification through the link
            t = h.swaks_edge(edge, "--from", "bob@sender.test", "--to", "nobody@example.test",
                             "--quit-after", "RCPT")
            t.expect("RCPT TO", 550, "5.1.1")

            # Internet -> edge -> link -> mailbox -> POP3
            send(edge, "alice@example.test", "first-link-marker")
            lk.wait_log(inner, "delivered new=1", timeout=30)
            lk.wait_log(edge, "delivered to the inner")
            box = inner.mailbox(ALICE, PW)
            h.check(len(box) == 1 and b"first-link-marker" in box[0], "mailbox: %r" % box)
            h.check(box[0].startswith(b"Return-Path: <bob@sender.test>\r\n"),
                    "no Return-Path first: %r" % box[0][:200])
            h.check(edge.queue_ids() == [], "the edge kept a message after the ACK")

            # the inner goes away: a known user is still accepted (cached answer) and waits on
            # the edge; an unknown-to-the-cache user gets 451 4.4.3
            inner.stop()
            lk.wait_log(edge, "down", timeout=30)
            send(edge, "alice@example.test", "second-link-marker")
            h.check(len(edge.queue_ids()) == 1, "the message does not wait on the edge")
            t = h.swaks_edge(edge, "--from", "bob@sender.test", "--to", "carol@example.test",
                             "--quit-after", "RCPT")
            t.expect("RCPT TO", 451, "4.4.3")

            # the inner comes back: the waiting message flows
            inner.start()
            lk.wait_log(edge, "delivered to the inner", count=2, timeout=60)
            box = inner.mailbox(ALICE, PW)
            h.check(len(box) == 2 and b"second-link-marker" in box[1], "after return: %r" % box)

            # the edge is killed and restarted: the link comes back, mail flows again
            edge.kill()
            edge.start()
            lk.wait_log(inner, "link up", count=3, timeout=90)
            send(edge, "alice@example.test", "third-link-marker")
            lk.wait_log(inner, "delivered new=1", count=3, timeout=30)
            h.check(len(inner.mailbox(ALICE, PW)) == 3, "third message missing")

            # a peer with another key is refused by the edge (the edge pins another inner key):
            # the edge says why, the refused inner says the edge does not accept its key, on
            # every attempt
            intruder = ih.Inner(tdir, {"edge": {"address": "127.0.0.1:%d" % pair.link_port,
                                                "transport": "direct"}}, name="intruder")
            intruder.keygen()
            import shutil
            shutil.copy(os.path.join(edge.key_dir, "edge.pub"),
                        os.path.join(intruder.key_dir, "edge.pub"))
            refusals = edge.output().count("refused:")
            intruder.start()
            try:
                lk.wait_log(intruder, REFUSED_KEY, count=2, timeout=30)
                lk.wait_log(edge, "refused:", count=refusals + 2, timeout=10)
                h.check("link up" not in intruder.output(), "an unpaired inner got a link")
                dials = intruder.output().count("link dialing")  # the third is >= 1.5 s away
                h.check(dials in (2, 3), "the refused inner dialed %d times for 2 refusals"
                        % dials)
                h.check(all(" warn: " in ln for ln in intruder.output().splitlines()
                            if REFUSED_KEY in ln), "a refusal is not a warning")
                h.check(edge.output().count(REFUSED_EDGE) == refusals + 2,
                        "the edge does not say why it refused:\n" + edge.output()[-3000:])
            finally:
                intruder.stop()
        except BaseException:
            h.log("edge log:\n" + edge.output()[-6000:])
            h.log("inner log:\n" + inner.output()[-6000:])
            raise
        finally:
            inner.stop()
            edge.stop()


h.main(test)
