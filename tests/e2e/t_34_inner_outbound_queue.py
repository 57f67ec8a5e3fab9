#!/usr/bin/env python3
"""Inner: mail for the Internet is accepted at RCPT (250), committed before the 250 to DATA,
and waits in the outbound queue: `nightjarctl --config inner.yaml queue list` prints one line per
queued message, id first. Local-only mail is not queued; a message for a local and an Internet
recipient is delivered locally and queued once. The queue survives a restart."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "bob@example.i2p", "bob secret 2"


def test():
    with ih.inner_world("t_34", accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)]) as (tdir, inner):
        h.check(inner.queue_ids() == [], "queue not empty at start: %r"
                % inner.ctl("queue", "list").out)
        t = inner.swaks("--from", ALICE, "--to", "x@elsewhere.test", "--auth", "PLAIN",
                        "--auth-user", ALICE, "--auth-password", ALICE_PW,
                        "--header", "Subject: out-1", "--header", "From: <%s>" % ALICE)
        t.expect("RCPT TO", 250)
        t.expect(".", 250, "2.0.0")
        ids = inner.queue_ids()
        h.check(len(ids) == 1, "after one outbound message the queue lists %r:\n%s"
                % (ids, inner.ctl("queue", "list").out))

        inner.deliver(ALICE, ALICE_PW, [BOB], ih.message("local-2", "b", frm=ALICE, to=BOB))
        h.check(len(inner.queue_ids()) == 1, "local mail was queued: %r" % inner.queue_ids())

        with inner.smtp() as s:
            s.ehlo("client.test")
            s.login(ALICE, ALICE_PW)
            ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL")
            ih.expect_smtp(s.rcpt("y@elsewhere.test"), 250, None, "RCPT Internet")
            ih.expect_smtp(s.rcpt("z@another.example"), 250, None, "RCPT second Internet")
            ih.expect_smtp(s.rcpt(BOB), 250, None, "RCPT local")
            m = ih.message("mixed-3", "b", frm=ALICE, to="y@elsewhere.test")
            ih.expect_smtp(s.data(m.encode()), 250, "2.0.0", "mixed message")
        ids = inner.queue_ids()
        h.check(len(ids) == 2 and len(set(ids)) == 2,
                "after two outbound messages the queue lists %r:\n%s"
                % (ids, inner.ctl("queue", "list").out))
        text = b"\n".join(inner.mailbox(BOB, BOB_PW)).decode("utf-8", "replace")
        h.check("local-2" in text and "mixed-3" in text, "bob lacks local-2 or mixed-3")

        rc = inner.stop()
        h.check(rc == 0, "the inner exited %r on SIGTERM" % rc)
        h.check(sorted(inner.queue_ids()) == sorted(ids), "queue after stop: %r, before %r"
                % (inner.queue_ids(), ids))
        inner.start()
        h.check(sorted(inner.queue_ids()) == sorted(ids), "queue after restart: %r, before %r"
                % (inner.queue_ids(), ids))


h.main(test)
