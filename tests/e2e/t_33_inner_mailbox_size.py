#!/usr/bin/env python3
"""Inner: mailbox.max_size. Delivery that would take a local mailbox over its size is refused
with 552 5.2.2 (at RCPT or at the end of DATA) and stores nothing; a message that fits is still
accepted; deleting mail over POP3 makes room again; a message larger than max_size on its own is
refused for an empty mailbox."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "bob@example.i2p", "bob secret 2"
CAROL, CAROL_PW = "carol@example.i2p", "carol secret 3"
MAX = 40 * 1024


def msg(mark, size):
    line = ("%s " % mark) * 8
    body = "\n".join([line] * (size // (len(line) + 2) + 1))
    return ih.message("size " + mark, body, frm=ALICE, to=BOB)


def attempt(inner, rcpt, m):
    """(step, code, text): the first refused step, or ("DATA", 250, ...) when accepted."""
    with inner.smtp() as s:
        s.ehlo("client.test")
        s.login(ALICE, ALICE_PW)
        ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL FROM")
        code, text = ih.smtp_code(s.rcpt(rcpt))
        if code != 250:
            return "RCPT", code, text
        code, text = ih.smtp_code(s.data(m.encode()))
        return "DATA", code, text


def expect_full(r, what):
    step, code, text = r
    h.check(code == 552 and text.startswith("5.2.2"),
            "%s: wanted 552 5.2.2 at RCPT or end of DATA, got %s %d %s" % (what, step, code, text))


def marks(inner, user, pw):
    text = b"\n".join(inner.mailbox(user, pw)).decode("utf-8", "replace")
    return [m for m in ("big-1", "big-2", "small-3", "big-4") if ("size " + m) in text]


def test():
    accounts = [(ALICE, ALICE_PW), (BOB, BOB_PW), (CAROL, CAROL_PW)]
    with ih.inner_world("t_33", overrides={"mailbox": {"max_size": "40K"}},
                        accounts=accounts) as (tdir, inner):
        big1 = msg("big-1", 25 * 1024)
        r = attempt(inner, BOB, big1)
        h.check(r[1] == 250 and r[2].startswith("2.0.0"), "first 25K message: %r" % (r,))
        expect_full(attempt(inner, BOB, msg("big-2", 25 * 1024)), "second 25K message")
        r = attempt(inner, BOB, msg("small-3", 1024))
        h.check(r[1] == 250 and r[2].startswith("2.0.0"), "1K message that fits: %r" % (r,))
        h.check(marks(inner, BOB, BOB_PW) == ["big-1", "small-3"],
                "bob's mailbox: %r" % marks(inner, BOB, BOB_PW))
        # a message bigger than max_size on its own, to an empty mailbox
        expect_full(attempt(inner, CAROL, msg("big-4", MAX + 4096)), "message over max_size")
        h.check(marks(inner, CAROL, CAROL_PW) == [], "carol got the oversized message")
        # delete the big one: room again
        p = inner.pop3_login(BOB, BOB_PW)
        for i in range(1, p.stat()[0] + 1):
            if b"size big-1" in b"\n".join(p.top(i, 0)[1]):
                p.dele(i)
        p.quit()
        h.check(marks(inner, BOB, BOB_PW) == ["small-3"], "DELE did not remove big-1")
        r = attempt(inner, BOB, msg("big-2", 25 * 1024))
        h.check(r[1] == 250 and r[2].startswith("2.0.0"), "25K after making room: %r" % (r,))
        h.check(marks(inner, BOB, BOB_PW) == ["big-2", "small-3"],
                "bob's mailbox: %r" % marks(inner, BOB, BOB_PW))


h.main(test)
