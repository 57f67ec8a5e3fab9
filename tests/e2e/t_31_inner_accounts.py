#!/usr/bin/env python3
"""Inner: accounts with `nightjarctl --config inner.yaml account add|passwd|del|list|show`,
passwords read as one line on standard input (a pipe, not a tty). add refuses a duplicate and an
address outside the internal domain; list and show see the account; passwd needs the old password;
del refuses an unknown account. An account added while the daemon runs can log in at once (POP3
and submission), and a deleted one cannot."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "correct horse alice"
CAROL, CAROL_PW = "carol@example.i2p", "carol's 1st password"


def can_pop3(inner, user, pw):
    try:
        inner.pop3_login(user, pw).quit()
        return True
    except ih.poplib.error_proto:
        return False


def test():
    with ih.inner_world("t_31", accounts=[(ALICE, ALICE_PW)]) as (tdir, inner):
        h.check(inner.accounts() == [ALICE], "account list: %r" % inner.accounts())
        show = inner.ctl("account", "show", ALICE)
        h.check(ALICE in show.out, "account show does not name the account: %r" % show)
        h.check(ALICE_PW not in show.out + show.err, "account show prints the password")
        inner.ctl("account", "show", "nobody@example.i2p", expect_rc="fail")
        # a duplicate, and addresses that are not ours
        inner.ctl("account", "add", ALICE, stdin="another password\n", expect_rc="fail")
        inner.ctl("account", "add", "mallory@elsewhere.test", stdin="pw pw pw pw\n",
                  expect_rc="fail")
        inner.ctl("account", "add", "not-an-address", stdin="pw pw pw pw\n", expect_rc="fail")
        inner.ctl("account", "add", "eve@example.i2p", stdin="", expect_rc="fail")  # no password
        h.check(inner.accounts() == [ALICE], "failed adds changed the list: %r"
                % inner.accounts())
        h.check(can_pop3(inner, ALICE, ALICE_PW), "alice cannot log in")
        h.check(not can_pop3(inner, ALICE, "correct horse alicE"), "a wrong password logs in")

        # while the daemon runs
        add = inner.add_account(CAROL, CAROL_PW)
        h.check(CAROL_PW not in add.out + add.err, "account add echoes the password")
        h.check(inner.accounts() == [ALICE, CAROL], "account list: %r" % inner.accounts())
        h.check(can_pop3(inner, CAROL, CAROL_PW), "an account added at run time cannot log in")
        with inner.smtp() as s:
            s.ehlo("client.test")
            ih.expect_smtp(ih.try_auth(s, CAROL, CAROL_PW), 235, None, "carol AUTH PLAIN")

        # passwd: old and new password, one per line
        inner.ctl("account", "passwd", CAROL, stdin="wrong old\nnew carol pw\n", expect_rc="fail")
        h.check(can_pop3(inner, CAROL, CAROL_PW), "a refused passwd changed the password")
        inner.ctl("account", "passwd", CAROL, stdin=CAROL_PW + "\nnew carol pw\n")
        h.check(can_pop3(inner, CAROL, "new carol pw"), "the new password does not log in")
        h.check(not can_pop3(inner, CAROL, CAROL_PW), "the old password still logs in")
        inner.ctl("account", "passwd", "nobody@example.i2p", stdin="a\nb\n", expect_rc="fail")

        inner.ctl("account", "del", CAROL)
        h.check(inner.accounts() == [ALICE], "after del: %r" % inner.accounts())
        h.check(not can_pop3(inner, CAROL, "new carol pw"), "a deleted account logs in")
        inner.ctl("account", "del", CAROL, expect_rc="fail")
        inner.ctl("account", "del", "nobody@example.i2p", expect_rc="fail")
        h.check(can_pop3(inner, ALICE, ALICE_PW), "del of carol broke alice")
        rc = inner.stop()
        h.check(rc == 0, "the inner exited %r on SIGTERM" % rc)


h.main(test)
