#!/usr/bin/env python3
"""Inner: each account may send to quota.daily Internet recipients a day. Every RCPT past the
quota is refused with 452 4.5.3, and the text says how many are left and how to buy more; local
recipients still pass. The count is charged with the message's commit: a message refused at DATA
costs nothing. `nightjarctl quota show` reports it and `quota grant` raises it."""
import os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "bob@example.i2p", "bob secret 2"


def show(inner, who):
    out = inner.ctl("quota", "show", who).out
    m = re.search(r"used today (\d+), bought (\d+).*remaining (\d+)", out)
    h.check(m is not None, "quota show: %r" % out)
    return tuple(int(x) for x in m.groups())


def test():
    with ih.inner_world("t_50", accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)]) as (tdir, inner):
        h.check(show(inner, ALICE) == (0, 0, 20), "fresh quota: %r" % (show(inner, ALICE),))

        # A message refused at DATA (From: is not the login) charges nothing.
        with inner.smtp() as s:
            s.ehlo("client.test")
            s.login(ALICE, ALICE_PW)
            ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL")
            for i in range(5):
                ih.expect_smtp(s.rcpt("r%d@elsewhere.test" % i), 250, None, "RCPT %d" % i)
            bad = ih.message("bad-from", "b", frm=BOB, to="r0@elsewhere.test")
            code, _ = s.data(bad.encode())
            h.check(code == 550, "DATA with a foreign From: gave %d" % code)
        h.check(show(inner, ALICE) == (0, 0, 20), "a refused message was charged: %r"
                % (show(inner, ALICE),))

        # 20 Internet recipients pass, the 21st is refused, a local one still passes; the same
        # address twice counts once.
        with inner.smtp() as s:
            s.ehlo("client.test")
            s.login(ALICE, ALICE_PW)
            ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL")
            for i in range(20):
                ih.expect_smtp(s.rcpt("r%d@elsewhere.test" % i), 250, None, "RCPT %d" % i)
            ih.expect_smtp(s.rcpt("r3@elsewhere.test"), 250, None, "RCPT repeated")
            code, text = s.rcpt("r20@elsewhere.test")
            text = text.decode()
            h.check(code == 452 and text.startswith("4.5.3"), "21st RCPT: %d %s" % (code, text))
            h.check("0 more" in text and "hashcash" in text and "quota@example.i2p" in text,
                    "the refusal does not say what is left and how to buy more: %s" % text)
            ih.expect_smtp(s.rcpt(BOB), 250, None, "local RCPT past the quota")
            m = ih.message("twenty", "b", frm=ALICE, to="r0@elsewhere.test")
            ih.expect_smtp(s.data(m.encode()), 250, "2.0.0", "DATA")
        h.check(show(inner, ALICE) == (20, 0, 0), "after 20: %r" % (show(inner, ALICE),))
        h.check("twenty" in b"\n".join(inner.mailbox(BOB, BOB_PW)).decode("utf-8", "replace"),
                "bob lacks the local copy")

        # A later message: swaks sees the refusal; local-only mail is unaffected.
        t = inner.swaks("--from", ALICE, "--to", "late@elsewhere.test", "--auth", "PLAIN",
                        "--auth-user", ALICE, "--auth-password", ALICE_PW,
                        "--header", "From: <%s>" % ALICE)
        t.expect("RCPT TO", 452, "4.5.3")
        inner.deliver(ALICE, ALICE_PW, [BOB], ih.message("local", "b", frm=ALICE, to=BOB))
        # Bob's quota is his own.
        h.check(show(inner, BOB) == (0, 0, 20), "bob's quota: %r" % (show(inner, BOB),))

        # The operator grants 2: two more pass, the third does not.
        out = inner.ctl("quota", "grant", ALICE, "2").out
        h.check("granted 2" in out, "quota grant: %r" % out)
        with inner.smtp() as s:
            s.ehlo("client.test")
            s.login(ALICE, ALICE_PW)
            ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL")
            ih.expect_smtp(s.rcpt("g1@elsewhere.test"), 250, None, "granted RCPT 1")
            ih.expect_smtp(s.rcpt("g2@elsewhere.test"), 250, None, "granted RCPT 2")
            ih.expect_smtp(s.rcpt("g3@elsewhere.test"), 452, "4.5.3", "RCPT past the grant")
            ih.expect_smtp(s.data(ih.message("granted", "b", frm=ALICE, to="g1@elsewhere.test")
                                  .encode()), 250, "2.0.0", "DATA")
        h.check(show(inner, ALICE) == (20, 0, 0), "after the grant: %r" % (show(inner, ALICE),))
        inner.ctl("quota", "grant", "nobody@example.i2p", "2", expect_rc="fail")
        inner.ctl("quota", "grant", ALICE, "0", expect_rc="fail")

        # The count survives a restart.
        inner.stop()
        inner.start()
        h.check(show(inner, ALICE) == (20, 0, 0), "after restart: %r" % (show(inner, ALICE),))


h.main(test)
