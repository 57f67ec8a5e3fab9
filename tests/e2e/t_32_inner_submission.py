#!/usr/bin/env python3
"""Inner submission with swaks and Python smtplib: EHLO offers AUTH PLAIN LOGIN; MAIL before AUTH
is 530 5.7.0; a wrong password is 535 5.7.8 (PLAIN and LOGIN); an envelope sender that is not the
login is 553 5.7.1; a From: header that is not the login is a 5xx 5.7.1 at the end of DATA; an
unknown local recipient is 550 5.1.1; good local deliveries are 250 2.0.0 and arrive, and the
refused ones do not."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "bob@example.i2p", "bob secret 2"


def test():
    with ih.inner_world("t_32", accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)]) as (tdir, inner):
        # swaks without AUTH
        t = inner.swaks("--from", ALICE, "--to", BOB, "--quit-after", "MAIL")
        ehlo = " ".join(t.expect("EHLO", 250)).upper()
        h.check("AUTH" in ehlo and "PLAIN" in ehlo and "LOGIN" in ehlo,
                "EHLO does not offer AUTH PLAIN LOGIN:\n" + t.text)
        t.expect("MAIL FROM", 530, "5.7.0")

        # swaks, wrong passwords with both mechanisms
        for mech in ("PLAIN", "LOGIN"):
            t = inner.swaks("--from", ALICE, "--to", BOB, "--auth", mech, "--auth-user", ALICE,
                            "--auth-password", "not " + ALICE_PW, "--quit-after", "AUTH")
            h.check(any(l.startswith("535 5.7.8") for _c, r in t.steps for l in r),
                    "AUTH %s with a wrong password: no 535 5.7.8:\n%s" % (mech, t.text))
            h.check(not any(l.startswith("235") for _c, r in t.steps for l in r),
                    "AUTH %s with a wrong password succeeded:\n%s" % (mech, t.text))

        # swaks AUTH LOGIN, a good local delivery
        t = inner.swaks("--from", ALICE, "--to", BOB, "--auth", "LOGIN", "--auth-user", ALICE,
                        "--auth-password", ALICE_PW, "--header", "Subject: swaks-good-1",
                        "--header", "From: <%s>" % ALICE, "--body", "body swaks-good-1")
        h.check(any(l.startswith("235") for _c, r in t.steps for l in r),
                "AUTH LOGIN failed:\n" + t.text)
        t.expect("MAIL FROM", 250)
        t.expect("RCPT TO", 250)
        t.expect(".", 250, "2.0.0")

        # smtplib
        with inner.smtp() as s:
            s.ehlo("client.test")
            mechs = s.esmtp_features.get("auth", "").upper().split()
            h.check("PLAIN" in mechs and "LOGIN" in mechs, "smtplib sees AUTH %r" % mechs)
            ih.expect_smtp(s.mail(ALICE), 530, "5.7.0", "MAIL before AUTH")
            ih.expect_smtp(ih.try_auth(s, ALICE, ALICE_PW + "x"), 535, "5.7.8",
                           "AUTH PLAIN, wrong password")
            ih.expect_smtp(ih.try_auth(s, "nobody@example.i2p", ALICE_PW), 535, "5.7.8",
                           "AUTH PLAIN, unknown user")
            ih.expect_smtp(ih.try_auth(s, ALICE, ALICE_PW), 235, None, "AUTH PLAIN")
            # the envelope sender must be the login
            ih.expect_smtp(s.mail(BOB), 553, "5.7.1", "MAIL FROM someone else")
            ih.expect_smtp(s.mail("alice@elsewhere.test"), 553, "5.7.1",
                           "MAIL FROM another domain")
            s.rset()
            # unknown local recipient
            ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL FROM the login")
            ih.expect_smtp(s.rcpt("nobody@example.i2p"), 550, "5.1.1", "RCPT unknown local")
            ih.expect_smtp(s.rcpt(BOB), 250, None, "RCPT bob")
            # a From: header that is not the login is refused at the end of DATA
            forged = ih.message("forged-from-1", "body forged-from-1", frm=BOB, to=BOB)
            code, text = ih.smtp_code(s.data(forged.encode()))
            h.check(500 <= code < 600 and text.startswith("5.7.1"),
                    "From: someone else: wanted 5xx 5.7.1, got %d %s" % (code, text))
            # the same session goes on: a good message with a display name in From:
            ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL FROM after a refused DATA")
            ih.expect_smtp(s.rcpt(BOB), 250, None, "RCPT bob")
            good = ih.message("smtplib-good-2", "body smtplib-good-2", frm=ALICE, to=BOB)
            good = good.replace("From: <%s>" % ALICE, "From: Alice A. <%s>" % ALICE)
            ih.expect_smtp(s.data(good.encode()), 250, "2.0.0", "good message from smtplib")

        # smtplib.login (its own mechanism choice) and sendmail
        with inner.smtp() as s:
            s.login(ALICE, ALICE_PW)
            refused = s.sendmail(ALICE, [BOB], ih.message("smtplib-good-3", "body smtplib-good-3",
                                                          frm=ALICE, to=BOB))
            h.check(not refused, "sendmail refused %r" % refused)

        got = inner.mailbox(BOB, BOB_PW)
        text = b"\n".join(got).decode("utf-8", "replace")
        h.check(len(got) == 3, "bob has %d messages, wanted 3:\n%s" % (len(got), text[:3000]))
        for mark in ("swaks-good-1", "smtplib-good-2", "smtplib-good-3"):
            h.check(mark in text, "bob's mailbox lacks %s" % mark)
        h.check("forged-from-1" not in text, "the refused message was delivered")
        h.check(inner.mailbox(ALICE, ALICE_PW) == [], "alice's mailbox is not empty")


h.main(test)
