#!/usr/bin/env python3
"""Inner: auth.max_failures and auth.lockout on submission. After max_failures wrong passwords,
a further attempt on the same connection is refused even with the correct password (a refusal
reply or a closed connection, never 235); after the lockout has passed, a fresh connection with
the correct password succeeds. Failures below the limit do not lock anyone out, and another
account is not affected."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "bob@example.i2p", "bob secret 2"
MAX_FAILURES = 3
LOCKOUT = 3.0


def test():
    overrides = {"auth": {"max_failures": MAX_FAILURES, "lockout": "%ds" % LOCKOUT}}
    with ih.inner_world("t_35", overrides=overrides,
                        accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)]) as (tdir, inner):
        # below the limit: max_failures - 1 wrong, then the right one, same connection
        with inner.smtp() as s:
            s.ehlo("client.test")
            for i in range(MAX_FAILURES - 1):
                ih.expect_smtp(ih.try_auth(s, ALICE, "wrong %d" % i), 535, "5.7.8",
                               "wrong password %d" % i)
            ih.expect_smtp(ih.try_auth(s, ALICE, ALICE_PW), 235, None,
                           "correct password below the failure limit")

        # past the limit
        with inner.smtp() as s:
            s.ehlo("client.test")
            n = 0
            for i in range(MAX_FAILURES):
                code, text = ih.try_auth(s, ALICE, "wrong %d" % i)
                if code is None:
                    break  # the server may close after the last counted failure
                h.check(code != 235 and 400 <= code < 600,
                        "wrong password %d: %s %s" % (i, code, text))
                n += 1
            h.check(n >= MAX_FAILURES - 1, "connection closed after %d failures" % n)
            code, text = ih.try_auth(s, ALICE, ALICE_PW)
            t_locked = time.monotonic()
            h.check(code != 235, "correct password after %d failures was accepted: %s %s"
                    % (MAX_FAILURES, code, text))
            h.check(code is None or 400 <= code < 600, "locked out attempt: %s %s"
                    % (code, text))
            if code is not None:
                # and still no MAIL
                try:
                    c2, t2 = ih.smtp_code(s.mail(ALICE))
                except (ih.smtplib.SMTPServerDisconnected, OSError) as e:
                    c2, t2 = None, str(e)
                h.check(c2 != 250, "MAIL after a refused AUTH: %d %s" % (c2, t2))
        # bob, who did nothing wrong, is not locked out (every overlay client comes from
        # 127.0.0.1, so a lockout by client address would lock out everyone)
        with inner.smtp() as s:
            s.ehlo("client.test")
            ih.expect_smtp(ih.try_auth(s, BOB, BOB_PW), 235, None, "bob during alice's lockout")

        time.sleep(max(0.0, t_locked + LOCKOUT + 1.0 - time.monotonic()))
        with inner.smtp() as s:
            s.ehlo("client.test")
            ih.expect_smtp(ih.try_auth(s, ALICE, ALICE_PW), 235, None,
                           "fresh connection after the lockout")
            ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL after the lockout")


h.main(test)
