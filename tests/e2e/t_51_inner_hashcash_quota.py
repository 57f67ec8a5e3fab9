#!/usr/bin/env python3
"""Inner: users buy Internet recipients by mailing hashcash stamps (X-Hashcash:, made by the real
`hashcash -m` tool, resource "quota:" + their address) to quota@ the internal domain. The message
goes to no mailbox; a reply lands in the sender's mailbox saying what was credited and what was
refused. A stamp is accepted once; a stamp for another address is refused."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
QUOTA = "quota@example.i2p"


def mint(bits, resource):
    r = subprocess.run(["hashcash", "-mq", "-b", str(bits), resource], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    h.check(r.returncode == 0, "hashcash failed: %r" % r.stderr)
    return r.stdout.decode().strip()


def buy(inner, stamps, subject):
    hdrs = "".join("X-Hashcash: %s\r\n" % s for s in stamps)
    msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n%s\r\nbuy\r\n" % (ALICE, QUOTA, subject, hdrs))
    inner.deliver(ALICE, ALICE_PW, [QUOTA], msg)


def replies(inner):
    msgs = [m.decode("utf-8", "replace") for m in inner.mailbox(ALICE, ALICE_PW)]
    return [m for m in msgs if "Subject: Recipient quota:" in m]


def test():
    h.check(subprocess.run(["which", "hashcash"], stdout=subprocess.DEVNULL).returncode == 0,
            "the hashcash tool is required (apt install hashcash)")
    overrides = {"quota": {"daily": 1}}
    with ih.inner_world("t_51", overrides, accounts=[(ALICE, ALICE_PW)]) as (tdir, inner):
        good = mint(20, "quota:" + ALICE)
        other = mint(20, "quota:bob@example.i2p")
        buy(inner, [good, other], "first")
        r = replies(inner)
        h.check(len(r) == 1, "wanted one reply, got %d" % len(r))
        h.check("Subject: Recipient quota: 20 credited" in r[0], "reply: %s" % r[0])
        h.check("Stamp 1: accepted, 20" in r[0], "stamp 1 not accepted: %s" % r[0])
        h.check("Stamp 2: refused: wrong resource" in r[0], "stamp 2 not refused: %s" % r[0])
        h.check("buy" not in r[0].split("\r\n\r\n", 1)[1], "the purchase itself was delivered")
        out = inner.ctl("quota", "show", ALICE).out
        h.check("bought 20" in out and "remaining 21" in out, "quota show: %r" % out)

        # The same stamp again buys nothing, and the reply says why.
        buy(inner, [good], "again")
        r = replies(inner)
        h.check(len(r) == 2, "wanted two replies, got %d" % len(r))
        second = [m for m in r if "Stamp 1: refused: already spent" in m]
        h.check(len(second) == 1 and "Recipient quota: 0 credited" in second[0],
                "second reply: %r" % r)
        out = inner.ctl("quota", "show", ALICE).out
        h.check("remaining 21" in out, "quota after the spent stamp: %r" % out)

        # The bought recipients are usable: 21 Internet RCPTs pass, the 22nd does not.
        with inner.smtp() as s:
            s.ehlo("client.test")
            s.login(ALICE, ALICE_PW)
            ih.expect_smtp(s.mail(ALICE), 250, None, "MAIL")
            for i in range(21):
                ih.expect_smtp(s.rcpt("r%d@elsewhere.test" % i), 250, None, "RCPT %d" % i)
            ih.expect_smtp(s.rcpt("r21@elsewhere.test"), 452, "4.5.3", "RCPT 22")
            s.rset()

        # Spent stamps survive a restart.
        inner.stop()
        inner.start()
        buy(inner, [good], "after restart")
        h.check(sum("already spent" in m for m in replies(inner)) == 2,
                "a spent stamp was accepted after a restart")


h.main(test)
