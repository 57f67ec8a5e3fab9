#!/usr/bin/env python3
"""Inner: `nightjarctl account passwd` (old and new password on standard input) re-wraps the
mailbox key, so mail delivered before the change is still readable over POP3 with the new
password, as is mail delivered after it, also after a restart; the old password no longer logs in
(-ERR [AUTH]) on POP3 or submission."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, OLD_PW, NEW_PW = "bob@example.i2p", "bob old secret", "bob new secret"


def marks_for(inner, pw):
    text = b"\n".join(inner.mailbox(BOB, pw)).decode("utf-8", "replace")
    return sorted(m for m in ("zq6before", "zq6after") if ("body " + m) in text)


def test():
    with ih.inner_world("t_40", accounts=[(ALICE, ALICE_PW), (BOB, OLD_PW)]) as (tdir, inner):
        inner.deliver(ALICE, ALICE_PW, [BOB], ih.message("s1", "body zq6before", frm=ALICE,
                                                         to=BOB))
        h.check(marks_for(inner, OLD_PW) == ["zq6before"], "before passwd")
        inner.ctl("account", "passwd", BOB, stdin=OLD_PW + "\n" + NEW_PW + "\n")
        h.check(marks_for(inner, NEW_PW) == ["zq6before"],
                "old mail is not readable with the new password")
        p = inner.pop3()
        p.user(BOB)
        err = ih.pop3_err(p.pass_, OLD_PW)
        h.check(err.startswith("-ERR [AUTH]"), "old password on POP3: %r" % err)
        p.close()
        with inner.smtp() as s:
            s.ehlo("client.test")
            ih.expect_smtp(ih.try_auth(s, BOB, OLD_PW), 535, "5.7.8", "old password on AUTH")
        with inner.smtp() as s:
            s.ehlo("client.test")
            ih.expect_smtp(ih.try_auth(s, BOB, NEW_PW), 235, None, "new password on AUTH")
        inner.deliver(ALICE, ALICE_PW, [BOB], ih.message("s2", "body zq6after", frm=ALICE,
                                                         to=BOB))
        h.check(marks_for(inner, NEW_PW) == ["zq6after", "zq6before"], "after passwd")
        h.check(inner.stop() == 0, "the inner did not exit 0 on SIGTERM")
        inner.start()
        h.check(marks_for(inner, NEW_PW) == ["zq6after", "zq6before"], "after a restart")


h.main(test)
