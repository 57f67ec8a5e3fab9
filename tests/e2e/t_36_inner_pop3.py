#!/usr/bin/env python3
"""Inner POP3 with Python poplib and raw commands: CAPA lists USER, UIDL, TOP and SASL PLAIN;
APOP is refused; USER/PASS and AUTH PLAIN log in, a wrong password is -ERR [AUTH]; STAT, LIST,
UIDL, TOP, RETR (exact sizes, dot-stuffing), DELE, RSET, QUIT; after QUIT the deleted messages
are gone and the others keep their UIDs. Delivered messages carry one Return-Path: written by the
server (a client's own Return-Path header is not kept)."""
import hashlib, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "bob@example.i2p", "bob secret 2"


def headers_of(lines):
    out = []
    for l in lines:
        if l == b"":
            break
        out.append(l.decode("utf-8", "replace"))
    return out


def test():
    with ih.inner_world("t_36", accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)]) as (tdir, inner):
        bodies = {
            "pop-1": "first line pop-1\n.starts with a dot\n..two dots\n.\nlast line",
            "pop-2": "only line pop-2",
            "pop-3": "line one pop-3\nline two pop-3\nline three pop-3",
        }
        for mark, body in bodies.items():
            inner.deliver(ALICE, ALICE_PW, [BOB], ih.message(
                "subject " + mark, body, frm=ALICE, to=BOB,
                headers=["Return-Path: <forged@evil.test>", "X-Mark: " + mark]))

        # CAPA and APOP before login; then USER/PASS on the same connection
        p = inner.pop3()
        h.check(p.getwelcome().startswith(b"+OK"), "greeting %r" % p.getwelcome())
        caps = p.capa()
        for c in ("USER", "UIDL", "TOP"):
            h.check(c in caps, "CAPA lacks %s: %r" % (c, caps))
        h.check("PLAIN" in [m.upper() for m in caps.get("SASL", [])],
                "CAPA lacks SASL PLAIN: %r" % caps)
        digest = hashlib.md5(b"<1.2@x>" + BOB_PW.encode()).hexdigest()
        err = ih.pop3_err(p._shortcmd, "APOP %s %s" % (BOB, digest))
        h.check(err.startswith("-ERR"), "APOP: %r" % err)
        p.user(BOB)
        p.pass_(BOB_PW)
        p.quit()

        # wrong password, unknown user
        p = inner.pop3()
        p.user(BOB)
        err = ih.pop3_err(p.pass_, "not " + BOB_PW)
        h.check(err.startswith("-ERR [AUTH]"), "wrong password: %r" % err)
        p.close()
        p = inner.pop3()
        try:
            p.user("nobody@example.i2p")
            err = ih.pop3_err(p.pass_, BOB_PW)
        except ih.poplib.error_proto as e:
            err = e.args[0].decode()
        h.check(err.startswith("-ERR"), "unknown user: %r" % err)
        p.close()

        # AUTH PLAIN (SASL, RFC 5034) with the initial response
        r = ih.pop3_raw(inner.pop3_port, ["AUTH PLAIN " + ih.auth_plain_blob(BOB, BOB_PW),
                                          "STAT", "QUIT"])
        h.check(r[1][1].startswith("+OK") and r[2][1].startswith("+OK 3 "),
                "AUTH PLAIN: %r" % r)
        r = ih.pop3_raw(inner.pop3_port, ["AUTH PLAIN " + ih.auth_plain_blob(BOB, "nope"),
                                          "QUIT"])
        h.check(r[1][1].startswith("-ERR"), "AUTH PLAIN wrong password: %r" % r)

        # the mailbox
        p = inner.pop3_login(BOB, BOB_PW)
        count, total = p.stat()
        h.check(count == 3, "STAT: %d messages, wanted 3" % count)
        _, listing, _ = p.list()
        sizes = {int(l.split()[0]): int(l.split()[1]) for l in listing}
        h.check(sorted(sizes) == [1, 2, 3] and sum(sizes.values()) == total,
                "LIST %r does not add up to STAT %d" % (listing, total))
        h.check(int(p.list(2).split()[2]) == sizes[2], "LIST 2: %r" % p.list(2))
        _, uidl, _ = p.uidl()
        uids = {int(l.split()[0]): l.split()[1] for l in uidl}
        h.check(sorted(uids) == [1, 2, 3] and len(set(uids.values())) == 3, "UIDL %r" % uidl)
        h.check(p.uidl(3).split()[2] == uids[3], "UIDL 3: %r" % p.uidl(3))
        by_mark = {}
        for i in range(1, 4):
            _, lines, octets = p.retr(i)
            h.check(octets == sizes[i], "RETR %d: %d octets, LIST says %d" % (i, octets, sizes[i]))
            hdrs = headers_of(lines)
            mark = [x.split(":", 1)[1].strip() for x in hdrs if x.lower().startswith("x-mark:")]
            h.check(len(mark) == 1, "message %d lacks X-Mark: %r" % (i, hdrs))
            by_mark[mark[0]] = i
            rp = [x for x in hdrs if x.lower().startswith("return-path:")]
            h.check(rp == ["Return-Path: <%s>" % ALICE],
                    "message %d: Return-Path headers %r, wanted one naming the envelope sender"
                    % (i, rp))
            body = b"\n".join(lines[len(hdrs) + 1:]).decode()
            want = bodies[mark[0]]
            h.check(body == want, "message %d body %r, sent %r" % (i, body, want))
            # TOP n 0: the headers and the blank line, no body
            _, top0, _ = p.top(i, 0)
            h.check(headers_of(top0) == hdrs and top0[len(hdrs):] == [b""],
                    "TOP %d 0: %r" % (i, top0))
            _, top1, _ = p.top(i, 1)
            h.check(top1[len(hdrs) + 1:] == lines[len(hdrs) + 1:len(hdrs) + 2],
                    "TOP %d 1: %r" % (i, top1[len(hdrs):]))
        h.check(sorted(by_mark) == sorted(bodies), "marks %r" % by_mark)
        h.check(p.noop().startswith(b"+OK"), "NOOP")

        # DELE and RSET
        d1, d3 = by_mark["pop-1"], by_mark["pop-3"]
        p.dele(d1)
        h.check(p.stat()[0] == 2, "STAT after DELE: %r" % (p.stat(),))
        h.check(ih.pop3_err(p.retr, d1).startswith("-ERR"), "RETR of a deleted message")
        h.check(ih.pop3_err(p.dele, d1).startswith("-ERR"), "DELE twice")
        h.check(ih.pop3_err(p.retr, 4).startswith("-ERR"), "RETR 4 of 3")
        p.rset()
        h.check(p.stat() == (count, total), "STAT after RSET: %r" % (p.stat(),))
        p.dele(d1)
        p.dele(d3)
        h.check(p.quit().startswith(b"+OK"), "QUIT")

        p = inner.pop3_login(BOB, BOB_PW)
        h.check(p.stat()[0] == 1, "after DELE x2 and QUIT: STAT %r" % (p.stat(),))
        _, lines, _ = p.retr(1)
        h.check(b"X-Mark: pop-2" in lines, "the message left is not pop-2")
        _, uidl2, _ = p.uidl()
        h.check(uidl2 == [b"1 " + uids[by_mark["pop-2"]]],
                "UIDL after deleting: %r, before: %r" % (uidl2, uidl))
        p.quit()
        h.check(inner.mailbox(ALICE, ALICE_PW) == [], "alice's mailbox is not empty")


h.main(test)
