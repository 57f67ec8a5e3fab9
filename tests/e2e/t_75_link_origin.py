#!/usr/bin/env python3
"""Internet mail and our own domains, through the real edge, link and inner (direct transport):
- an Internet message whose From: is in our public domain and which carries a forged
  `Nightjar-Origin: local` and a folded `nightjar-ORIGIN:` field reaches the user's mailbox
  (POP3) with exactly one origin mark, `Nightjar-Origin: internet`, first in the header after
  the Return-Path, and nothing of the forged fields;
- a message a local user submits at the inner with a forged `Nightjar-Origin: internet` (and a
  folded one in other case) reaches another local user with no origin mark at all, and never
  goes to the edge;
- an envelope sender in one of our domains (public or internal) from the Internet is refused
  550 5.7.1 at MAIL FROM, the rest of that transaction is refused too, and nothing of it reaches
  the inner (t_12 covers the edge's refusal alone), while a message sent right after it by a
  real sender arrives.
The mark's name and the rule are in common/mail/origin.h."""
import os, re, smtplib, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk

ALICE, ALICE_PW = "alice@example.i2p", "alice pw origin"
CAROL, CAROL_PW = "carol@example.i2p", "carol pw origin"
MARK = "Nightjar-Origin: internet"


def header_fields(msg):
    """The header section of a CRLF message as [(name, raw field with its folded lines)]."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    fields = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + "\r\n" + line)
        else:
            fields.append((line.split(":", 1)[0], line))
    return fields


def origin_fields(msg):
    return [raw for name, raw in header_fields(msg) if name.strip().lower() == "nightjar-origin"]


def edge_smtp(edge):
    c = smtplib.SMTP("127.0.0.1", edge.port, local_hostname="mta.sender.test", timeout=30)
    c.ehlo()
    return c


def internet_mark(edge, inner):
    """From: in our public domain, a forged mark and a folded one in other case."""
    msg = ("From: Alice <alice@example.test>\r\n"
           "To: <alice@example.test>\r\n"
           "Subject: looks like one of ours\r\n"
           "Nightjar-Origin: local\r\n"
           "Date: Sun, 22 Nov 2026 04:00:00 +0000\r\n"
           "nightjar-ORIGIN:\r\n"
           "\tlocal-folded-forgery\r\n"
           "Message-ID: <origin-1@sender.test>\r\n"
           "\r\n"
           "internet-origin-marker\r\n")
    with edge_smtp(edge) as c:
        refused = c.sendmail("bob@sender.test", ["alice@example.test"], msg)
        h.check(not refused, "refused: %r" % refused)
    box = ih.wait_until(lambda: [m for m in inner.mailbox(ALICE, ALICE_PW)
                                 if b"internet-origin-marker" in m],
                        30, "the Internet message in alice's mailbox")
    h.check(len(box) == 1, "%d copies in the mailbox" % len(box))
    m = box[0]
    fields = header_fields(m)
    h.check(fields[0][1] == "Return-Path: <bob@sender.test>",
            "the first field is not our Return-Path: %r" % fields[:3])
    h.check(fields[1][1] == MARK, "the second field is not %r: %r" % (MARK, fields[:3]))
    h.check(origin_fields(m) == [MARK], "origin fields: %r, wanted exactly [%r]"
            % (origin_fields(m), MARK))
    h.check(b"local-folded-forgery" not in m and b": local\r\n" not in m,
            "a forged mark survived:\n%s" % m.decode("utf-8", "replace"))
    h.check(any(raw == "From: Alice <alice@example.test>" for _, raw in fields),
            "the author's From: in our domain did not arrive as sent: %r" % fields)
    print("Internet message: %s" % " | ".join(raw for _, raw in fields[:3]))


def local_no_mark(inner):
    """A local user's message to another local user carries no origin mark, whatever she put."""
    queued = inner.output().count("outbound=1")
    msg = ih.message("between us", "local-origin-marker", ALICE, CAROL,
                     headers=["Nightjar-Origin: internet",
                              "NIGHTJAR-origin:\r\n internet-folded-forgery"])
    inner.deliver(ALICE, ALICE_PW, [CAROL], msg)
    box = ih.wait_until(lambda: [m for m in inner.mailbox(CAROL, CAROL_PW)
                                 if b"local-origin-marker" in m],
                        30, "the local message in carol's mailbox")
    h.check(len(box) == 1, "%d copies in carol's mailbox" % len(box))
    m = box[0]
    h.check(origin_fields(m) == [], "a local message carries an origin mark: %r"
            % origin_fields(m))
    h.check(b"internet-folded-forgery" not in m and b"nightjar-origin" not in m.lower(),
            "a forged mark survived:\n%s" % m.decode("utf-8", "replace"))
    fields = header_fields(m)
    h.check(fields[0][1] == "Return-Path: <%s>" % ALICE, "first field: %r" % fields[:2])
    h.check(inner.output().count("outbound=1") == queued,
            "the local message was queued for the Internet")
    print("local message: %s | %s (no origin mark)" % (fields[0][1], fields[1][1]))


def our_senders_refused(edge, inner):
    """MAIL FROM in our domains from the Internet: 550 5.7.1, then nothing of it moves."""
    before_box = len(inner.mailbox(ALICE, ALICE_PW))
    before_queued = edge.output().count(" queued size=")
    before_delivered = inner.output().count("delivered new=")
    for sender in ("alice@example.test", "Carol@EXAMPLE.I2P"):
        with edge_smtp(edge) as c:
            code, text = c.mail(sender)
            h.check(code == 550 and text.startswith(b"5.7.1"),
                    "MAIL FROM:<%s>: wanted 550 5.7.1, got %d %r" % (sender, code, text))
            code, text = c.rcpt("alice@example.test")
            h.check(code == 503, "RCPT after a refused MAIL: wanted 503, got %d %r"
                    % (code, text))
            code, text = c.docmd("DATA")
            h.check(code == 503, "DATA after a refused MAIL: wanted 503, got %d %r"
                    % (code, text))
    # A real sender's message right after: once it is in the mailbox, anything the refused
    # transactions had started would have arrived too.
    with edge_smtp(edge) as c:
        refused = c.sendmail("bob@sender.test", ["alice@example.test"],
                             h.message("control", "control-after-refusals"))
        h.check(not refused, "refused: %r" % refused)
    ih.wait_until(lambda: any(b"control-after-refusals" in m
                              for m in inner.mailbox(ALICE, ALICE_PW)),
                  30, "the control message in alice's mailbox")
    time.sleep(1.0)
    box = inner.mailbox(ALICE, ALICE_PW)
    h.check(len(box) == before_box + 1, "%d new messages in the mailbox, wanted only the "
            "control" % (len(box) - before_box))
    h.check(edge.output().count(" queued size=") == before_queued + 1,
            "the edge queued something of a refused transaction")
    h.check(inner.output().count("delivered new=") == before_delivered + 1,
            "the inner took a delivery of a refused transaction")
    h.check(edge.queue_ids() == [], "the edge holds mail: %r" % edge.queue_ids())
    refusals = edge.output().count("reject stage=mail code=550 5.7.1 reason=sender in our "
                                   "domain")
    h.check(refusals == 2, "the edge logged %d refusals at MAIL, wanted 2" % refusals)
    print("our domains as sender: 2 refused 550 5.7.1, nothing reached the inner")


def test():
    h.require_edge()
    ih.require_inner()
    with h.TestDir("t_75") as tdir, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, h.sender_zones(), stubs={"dnsbl.test": rbl.port}) as ub:
        pair = lk.LinkedPair(tdir, ub, edge_overrides={"checks": {"greylist": {"enabled": False}}},
                             inner_overrides={"delay": {"default": "none"}})
        edge, inner = pair.edge, pair.inner
        inner.add_account(ALICE, ALICE_PW)
        inner.add_account(CAROL, CAROL_PW)
        edge.start()
        try:
            inner.start()
            lk.wait_log(inner, "link up")
            internet_mark(edge, inner)
            local_no_mark(inner)
            our_senders_refused(edge, inner)
        except BaseException:
            h.log("edge log:\n" + edge.output()[-6000:])
            h.log("inner log:\n" + inner.output()[-6000:])
            raise
        finally:
            inner.stop()
            edge.stop()


h.main(test)
