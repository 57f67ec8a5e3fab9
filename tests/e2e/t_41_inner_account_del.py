#!/usr/bin/env python3
"""Inner: `nightjarctl account del` leaves no trace of the account. After mail to and from it,
del, and a stop (so LMDB is flushed), neither the address, nor its local part, nor a marker from
its mail is in any file under data_dir; the account cannot log in, a local recipient of that name
is 550 5.1.1, and the other accounts and their mail are untouched."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
LOCAL = "zq5delmelocal"
GONE, GONE_PW = LOCAL + "@example.i2p", "gone secret 2"
M_KEEP = "zq5keepmark"
M_GONE = "zq5gonemark"


def test():
    with ih.inner_world("t_41", accounts=[(ALICE, ALICE_PW), (GONE, GONE_PW)]) as (tdir, inner):
        inner.deliver(ALICE, ALICE_PW, [GONE], ih.message(
            "to gone " + M_GONE, "body " + M_GONE, frm=ALICE, to=GONE))
        inner.deliver(GONE, GONE_PW, [ALICE], ih.message(
            "from gone " + M_KEEP, "body " + M_KEEP, frm=GONE, to=ALICE))
        h.check(len(inner.mailbox(GONE, GONE_PW)) == 1, "the account never got its mail")
        h.check(len(inner.accounts()) == 2, "account list: %r" % inner.accounts())
        inner.ctl("account", "del", GONE)
        h.check(inner.accounts() == [ALICE], "account list after del: %r" % inner.accounts())
        p = inner.pop3()
        p.user(GONE)
        h.check(ih.pop3_err(p.pass_, GONE_PW).startswith("-ERR"), "deleted account logs in")
        p.close()
        with inner.smtp() as s:
            s.ehlo("client.test")
            c, t = ih.try_auth(s, GONE, GONE_PW)
            h.check(c != 235, "deleted account authenticates on submission: %s %s" % (c, t))
        with inner.smtp() as s:
            s.ehlo("client.test")
            s.login(ALICE, ALICE_PW)
            ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL")
            ih.expect_smtp(s.rcpt(GONE), 550, "5.1.1", "RCPT to the deleted account")
        h.check(inner.stop() == 0, "the inner did not exit 0 on SIGTERM")

        hits = ih.grep_tree(inner.data_dir, [GONE, LOCAL, M_GONE])
        h.check(not hits, "traces of the deleted account: %r" % hits)
        inner.start()
        got = inner.mailbox(ALICE, ALICE_PW)
        h.check(len(got) == 1 and M_KEEP.encode() in got[0],
                "alice's mail from the deleted account is gone: %r" % got)
        inner.stop()
        leaked = [n for n in (GONE, ALICE, M_GONE, M_KEEP) if n in inner.output()]
        h.check(not leaked, "the inner's log contains %r" % leaked)


h.main(test)
