#!/usr/bin/env python3
"""Inner: mailboxes are sealed at rest. After local delivery of a message with markers in the
Subject, a header and the body, no file under data_dir holds a marker (raw bytes, after the
daemon has stopped so LMDB is flushed); the message is still there (POP3 after a restart returns
it whole); the inner's log holds no full address and no marker."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "zq8bobmark@example.i2p", "bob secret 2"
M_SUBJECT = "zq8subjectmark"
M_HEADER = "zq8headermark"
M_BODY = "zq8bodymark"


def test():
    with ih.inner_world("t_39", accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)]) as (tdir, inner):
        msg = ih.message("secret " + M_SUBJECT, "secret body " + M_BODY, frm=ALICE, to=BOB,
                         headers=["X-Marker: " + M_HEADER])
        inner.deliver(ALICE, ALICE_PW, [BOB], msg)
        # failures worth logging must not log the address either
        with inner.smtp() as s:
            s.ehlo("client.test")
            ih.try_auth(s, BOB, "a wrong password")
        p = inner.pop3()
        p.user(BOB)
        ih.pop3_err(p.pass_, "another wrong password")
        p.close()
        rc = inner.stop()
        h.check(rc == 0, "the inner exited %r on SIGTERM" % rc)
        h.check(ih.data_bytes(inner.data_dir) > 0, "data_dir is empty")
        hits = ih.grep_tree(inner.data_dir, [M_SUBJECT, M_HEADER, M_BODY])
        h.check(not hits, "readable at rest: %r" % hits)
        log_text = inner.output()
        leaked = [n for n in (ALICE, BOB, M_SUBJECT, M_HEADER, M_BODY, ALICE_PW, BOB_PW)
                  if n.lower() in log_text.lower()]
        h.check(not leaked, "the inner's log contains %r" % leaked)

        inner.start()
        got = inner.mailbox(BOB, BOB_PW)
        h.check(len(got) == 1, "after a restart bob has %d messages" % len(got))
        text = got[0].decode("utf-8", "replace")
        for m in (M_SUBJECT, M_HEADER, M_BODY):
            h.check(m in text, "the stored message lost %s:\n%s" % (m, text))
        inner.stop()
        log_text = inner.output()
        leaked = [n for n in (ALICE, BOB, M_SUBJECT, M_HEADER, M_BODY, ALICE_PW, BOB_PW)
                  if n.lower() in log_text.lower()]
        h.check(not leaked, "the inner's log contains %r after a login" % leaked)


h.main(test)
