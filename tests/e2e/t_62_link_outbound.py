#!/usr/bin/env python3
"""Outbound mail end to end over the link (`direct` transport): a user submits to the inner; the
inner hands the message to the edge when its delay class lets it go; the edge delivers it to an
Internet MTA (Postfix's smtp-sink, found by MX in a real DNS server) and reports back; the inner
then forgets it. A recipient whose domain refuses mail (null MX) becomes a DSN (RFC 3464) in the
sender's mailbox. Mail of an account in a delay class leaves only once it is due. The delivered
copy names neither the inner nor the user's client, carries only the public address, and its Date
is UTC."""
import email.utils, os, re, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk

ALICE, PW = "alice@example.i2p", "alice pw 62"
CAROL, CPW = "carol@example.i2p", "carol pw 62"


def wait_queue_empty(inner, timeout=60):
    deadline = time.monotonic() + timeout
    while inner.queue_ids():
        h.check(time.monotonic() < deadline, "the inner's outbound queue did not empty:\n" +
                inner.ctl("queue", "list").out)
        time.sleep(0.3)


def test():
    h.require_edge()
    ih.require_inner()
    zones = dict(h.sender_zones())
    zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    with h.TestDir("t_62") as tdir, h.SmtpSink(tdir) as sink, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
        pair = lk.LinkedPair(
            tdir, ub,
            edge_overrides={"outbound": {"smtp_port": sink.port, "allow_private_addresses": True,
                                         "retry_initial": "1s", "retry_max": "2s"}},
            inner_overrides={"delay": {"default": "none", "defer_min": "3s", "defer_max": "4s"}})
        edge, inner = pair.edge, pair.inner
        inner.add_account(ALICE, PW)
        inner.add_account(CAROL, CPW)
        inner.ctl("account", "set", CAROL, "delay=defer")
        edge.start()
        inner.start()
        try:
            lk.wait_log(inner, "link up")
            msg = ("From: Alice <%s>\r\nTo: <bob@dest.test>\r\nSubject: outbound over the link\r\n"
                   "Date: Sun, 22 Nov 2026 09:15:00 +0900\r\nUser-Agent: Mutt/2.2.9\r\n"
                   "Message-ID: <20261122.abc@alice-laptop.home.lan>\r\n\r\n"
                   "outbound-link-marker\r\n" % ALICE)
            inner.deliver(ALICE, PW, ["bob@dest.test"], msg)
            got = sink.wait_messages(1, timeout=60)[0]
            lk.wait_log(inner, "final delivered=1 failed=0", timeout=30)
            wait_queue_empty(inner)
            h.check("outbound-link-marker" in got, "body missing at the sink:\n" + got)
            # What the edge sent starts at its own Received line (smtp-sink adds X-* fields and
            # a Received naming the edge's connection above it).
            at = got.find("Received: from %s by %s" % (h.PUBLIC_DOMAIN, h.EDGE_HOSTNAME))
            h.check(at >= 0, "no Received from the edge:\n" + got)
            got = got[at:]
            for bad in ("example.i2p", "alice-laptop", "Mutt", "+0900", "127.0.0.1",
                        inner.config["hostname"]):
                h.check(bad not in got, "the delivered copy contains %r:\n%s" % (bad, got))
            h.check("alice@example.test" in got, "From is not the public address:\n" + got)
            h.check(re.search(r"^Date: .*\+0000\r?$", got, re.M), "Date is not UTC:\n" + got)
            h.check(len(re.findall(r"^Received:", got, re.M)) == 1,
                    "more than the edge's one Received:\n" + got)

            # a recipient whose domain accepts no mail: the sender gets a DSN
            inner.deliver(ALICE, PW, ["nobody@nullmx.test"],
                          msg.replace("bob@dest.test", "nobody@nullmx.test"))
            lk.wait_log(inner, "final delivered=0 failed=1", timeout=60)
            wait_queue_empty(inner)
            box = inner.mailbox(ALICE, PW)
            h.check(len(box) == 1, "no DSN in the sender's mailbox: %d messages" % len(box))
            dsn = box[0].decode("utf-8", "replace")
            h.check("multipart/report" in dsn and "report-type=delivery-status" in dsn,
                    "not a DSN:\n" + dsn[:800])
            h.check("Final-Recipient: rfc822; nobody@nullmx.test" in dsn and
                    "Action: failed" in dsn and "Status: 5.1.10" in dsn,
                    "DSN fields missing:\n" + dsn)
            h.check("outbound-link-marker" not in dsn, "the DSN quotes the body")

            # A delay class holds mail on the inner: the link takes it only once it is due
            # (3 to 4 s after it was queued), and its Date says when it left.
            before = len(sink.messages())
            t0 = time.time()
            inner.deliver(CAROL, CPW, ["bob@dest.test"],
                          "From: <%s>\r\nTo: <bob@dest.test>\r\nSubject: held\r\n\r\n"
                          "deferred-marker\r\n" % CAROL)
            time.sleep(1.5)
            h.check(len(sink.messages()) == before,
                    "mail of a deferred account left before it was due")
            got = sink.wait_messages(before + 1, timeout=60)
            waited = time.time() - t0
            held = [m for m in got if "deferred-marker" in m]
            h.check(len(held) == 1, "the deferred message did not arrive once:\n%s" % got)
            # queued at t0 rounded down to the second, due 3 to 4 s later, taken by a 1 s tick
            h.check(waited >= 2.0, "the deferred message arrived after %.1f s" % waited)
            d = re.search(r"^Date: (.*)\r?$", held[0], re.M)
            h.check(d is not None, "no Date on the deferred message:\n" + held[0])
            left = email.utils.parsedate_to_datetime(d.group(1)).timestamp()
            h.check(left >= int(t0) + 3, "Date %s is before the message was due (queued %d)"
                    % (d.group(1), int(t0)))
            lk.wait_log(inner, "final delivered=1 failed=0", count=2, timeout=30)
            wait_queue_empty(inner)
        except BaseException:
            h.log("edge log:\n" + edge.output()[-5000:])
            h.log("inner log:\n" + inner.output()[-5000:])
            raise
        finally:
            inner.stop()
            edge.stop()


h.main(test)
