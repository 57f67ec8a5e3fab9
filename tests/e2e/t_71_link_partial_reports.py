#!/usr/bin/env python3
"""Partial delivery reports over the link (`direct` transport), against a real Postfix as the
recipients' final destination. The inner keeps an Internet-bound message until the edge has
reported a final result for every recipient; the edge reports each recipient when it becomes
final (STATUS), and the inner settles them one by one, with a DSN for each failure, once.

One message from alice to three recipients of dest.test: ok@ is accepted at once, grey@ and
bounce@ are greylisted (450 4.7.1, a check_recipient_access table) and retried by the edge every
second or two. The inner logs the partial result for ok@ (and keeps the message). Then:

- replaced: the edge is SIGKILLed, its data directory wiped, and a fresh edge (same keys, as a
  replacement image paired with the same inner key) started; Postfix now accepts grey@ and
  refuses bounce@ (550 5.1.1, unknown in its virtual mailbox table). grey@ arrives once, ok@
  stays delivered once (the fresh edge got only the unfinished recipients), one DSN names
  bounce@ with Postfix's reply, and the inner's queue is empty.
- stays: the same with the edge kept, and a repeated report: the inner is stopped (SIGSTOP)
  before Postfix changes its answers; once the edge's final STATUS waits unread in the inner's
  socket (its Recv-Q), the link is cut at the edge's end (`ss -K`, the kernel aborting the
  socket as a network fault would). The inner, continued, applies that STATUS from its buffer but
  cannot ACK it; the edge sends it again on the next link, and the inner ACKs the repeat
  without settling anything or making a second DSN.

An inner that forgot a message at its first STATUS would deliver nothing more to grey@ after the
edge is replaced, and would make no DSN for bounce@ in either case; one that resubmitted every
recipient would deliver ok@ twice."""
import email, os, re, shutil, signal, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk

ALICE, PW = "alice@example.i2p", "alice pw 71"
DEST = "dest.test"
GREY = "450 4.7.1 greylisted, try again later"
UNKNOWN = "550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table"
# The local parts of each case: accepted at once, greylisted then accepted, greylisted then
# refused (not a mailbox of Postfix's, so refused once the greylisting entry is gone).
CASES = {"replaced": ("ok", "grey", "bounce"), "stays": ("ok2", "grey2", "bounce2")}


def addr(local):
    return "%s@%s" % (local, DEST)


def greylist(pf, locals_):
    """Postfix answers 450 4.7.1 to these local parts from now on (and accepts the others)."""
    pf.write_map("rcpt_access", {addr(l): GREY for l in locals_})
    pf.reload()


def results(inner, mid):
    """(kind, delivered, failed) of each STATUS the inner recorded for `mid`, in order; kind is
    "final", "partial" or "repeat" (the message was no longer queued)."""
    out = []
    for line in inner.output().splitlines():
        m = re.search(r"link msg=%s (final|partial \(others pending\)) delivered=(\d+) "
                      r"failed=(\d+) edge=\S+$" % re.escape(mid), line)
        if m:
            out.append((m.group(1).split()[0], int(m.group(2)), int(m.group(3))))
        elif "link msg=%s results for a message no longer queued" % mid in line:
            out.append(("repeat", 0, 0))
    return out


def wait_results(inner, mid, want, timeout=60):
    return ih.wait_until(lambda: (lambda r: r if len(r) >= want else None)(results(inner, mid)),
                         timeout, "%d STATUS results for msg=%s in the inner's log" % (want, mid))


def sent_lines(pf, local):
    """Postfix's log lines of a delivery to local@dest.test."""
    return [l for l in pf.log().splitlines()
            if "to=<%s>" % addr(local) in l and "status=sent" in l]


def dsns(inner):
    box = [email.message_from_bytes(m) for m in inner.mailbox(ALICE, PW)]
    return [m for m in box if m.get_content_type() == "multipart/report"]


def check_dsn(dsn, subject, bounced, others):
    """The DSN for the message with `subject`: bounced@ failed with Postfix's reply, nothing
    said of `others`."""
    h.check(dsn.get_param("report-type") == "delivery-status", "not a delivery report:\n%s" % dsn)
    parts = {}
    for p in dsn.get_payload():  # not walk(): the status blocks are text/plain "messages" too
        parts.setdefault(p.get_content_type(), p)
    for t in ("text/plain", "message/delivery-status", "text/rfc822-headers"):
        h.check(t in parts, "the DSN has no %s part:\n%s" % (t, dsn))
    headers = parts["text/rfc822-headers"].get_payload()
    h.check("Subject: %s" % subject in headers, "the DSN is not about %r:\n%s" % (subject, dsn))
    blocks = parts["message/delivery-status"].get_payload()[1:]  # after the per-message fields
    h.check(len(blocks) == 1, "the DSN reports %d recipients, not 1:\n%s" % (len(blocks), dsn))
    b = blocks[0]
    h.check(b["Final-Recipient"] == "rfc822; " + addr(bounced) and b["Action"] == "failed" and
            b["Status"] == "5.1.1" and b["Diagnostic-Code"] == "smtp; " + UNKNOWN % addr(bounced),
            "the DSN's recipient fields:\n%s" % b)
    text = parts["text/plain"].get_payload()
    h.check("<%s>" % addr(bounced) in text and UNKNOWN % addr(bounced) in text,
            "the DSN's text does not name %s with the reply:\n%s" % (addr(bounced), text))
    reported = parts["text/plain"].get_payload() + str(parts["message/delivery-status"])
    for o in others:
        h.check(addr(o) not in reported, "the DSN names %s as failed:\n%s" % (addr(o), dsn))


def submit(inner, case, subject):
    ok, grey, bounce = CASES[case]
    before = set(inner.queue_ids())
    rcpts = [addr(ok), addr(grey), addr(bounce)]
    inner.deliver(ALICE, PW, rcpts,
                  "From: <%s>\r\nTo: %s\r\nSubject: %s\r\n\r\n%s body\r\n"
                  % (ALICE, ", ".join("<%s>" % r for r in rcpts), subject, case))
    new = set(inner.queue_ids()) - before
    h.check(len(new) == 1, "the inner queued %r for one submission" % sorted(new))
    return new.pop()


def first_edge_pass(inner, edge, pf, case, mid):
    """ok@ delivered and reported (the inner keeps the message for the others); the edge goes on
    retrying the greylisted two."""
    ok, grey, bounce = CASES[case]
    r = wait_results(inner, mid, 1)
    h.check(r == [("partial", 1, 0)], "the inner recorded %r, not ok@'s partial result" % r)
    pf.wait_delivered(ok, 1)
    # The edge tries again: a second greylisting of each since the first attempt.
    for l in (grey, bounce):
        pf.wait_log(r"450 4\.7\.1 <%s>" % re.escape(addr(l)), count=2, timeout=30)
    h.check(inner.queue_ids() == [mid], "the inner's queue after ok@'s report: %r"
            % inner.queue_ids())
    h.check(not pf.delivered(grey), "grey@ delivered while greylisted")


def check_done(inner, pf, case, mid, subject, n_dsn):
    ok, grey, bounce = CASES[case]
    pf.wait_delivered(grey, 1)
    ih.wait_until(lambda: not inner.queue_ids(), 60, "the inner's outbound queue to empty")
    pf.wait_queue_empty()
    for l in (ok, grey):
        h.check(len(pf.delivered(l)) == 1 and len(sent_lines(pf, l)) == 1,
                "%s delivered %d times (%d log lines)" % (addr(l), len(pf.delivered(l)),
                                                          len(sent_lines(pf, l))))
    h.check(not pf.delivered(bounce), "bounce@ delivered")
    settled = [x for x in results(inner, mid) if x[0] != "repeat"]
    h.check(settled[-1][0] == "final" and sum(x[1] for x in settled) == 2 and
            sum(x[2] for x in settled) == 1,
            "the inner's results for msg=%s: %r (each recipient settled once)" % (mid, settled))
    got = dsns(inner)
    h.check(len(got) == n_dsn, "%d DSNs in alice's mailbox, not %d" % (len(got), n_dsn))
    mine = [d for d in got if "Subject: %s" % subject in str(d)]
    h.check(len(mine) == 1, "%d DSNs for %r" % (len(mine), subject))
    check_dsn(mine[0], subject, bounce, (ok, grey))


def unread_by_inner(link_port):
    """Bytes waiting unread in the inner's end of the link connection (Recv-Q)."""
    _, out = h.run(["ss", "-Htn", "state", "established", "( dport = :%d )" % link_port])
    return sum(int(line.split()[0]) for line in out.splitlines() if line.strip())


def cut_link(edge, link_port):
    """Aborts the edge's end of the link connection (the kernel's SOCK_DESTROY, as a network
    fault would): the edge sees it at once, the peer gets a reset after the bytes already in its
    receive buffer."""
    downs = edge.output().count(" down (")
    h.run(["ss", "-K", "-tn", "state", "established", "( sport = :%d )" % link_port])
    ih.wait_until(lambda: edge.output().count(" down (") > downs, 10,
                  "the edge to see its link end after ss -K (a kernel without "
                  "CONFIG_INET_DIAG_DESTROY cannot abort sockets)")


def test():
    h.require_edge()
    ih.require_inner()
    zones = dict(h.sender_zones())
    zones[DEST] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    greylisted = [l for c in CASES.values() for l in c[1:]]
    mailboxes = [l for c in CASES.values() for l in c[:2]]
    with h.TestDir("t_71") as tdir, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
        pf = h.Postfix(tdir, name="mx-dest", helo="mx.dest.test", domain=DEST,
                       mailboxes=mailboxes)
        pf.extra["smtpd_recipient_restrictions"] = "check_recipient_access " + pf.write_map(
            "rcpt_access", {addr(l): GREY for l in greylisted})
        with pf:
            pair = lk.LinkedPair(
                tdir, ub,
                # No connection cache: a cached connection would keep the smtpd process
                # that still has the greylisting table Postfix was reloaded without.
                edge_overrides={"outbound": {"smtp_port": pf.port,
                                             "allow_private_addresses": True,
                                             "retry_initial": "1s", "retry_max": "2s",
                                             "connection_cache_time": "0s"}},
                inner_overrides={"delay": {"default": "none"}})
            edge, inner = pair.edge, pair.inner
            inner.add_account(ALICE, PW)
            edge.start()
            inner.start()
            try:
                lk.wait_log(inner, "link up")

                # -- replaced: the edge dies with grey@ and bounce@ pending there
                subject = "t71 replaced edge"
                mid = submit(inner, "replaced", subject)
                first_edge_pass(inner, edge, pf, "replaced", mid)
                ups = inner.output().count("link up")
                edge.kill()
                shutil.rmtree(edge.data_dir)
                os.makedirs(edge.data_dir)
                edge.start()
                lk.wait_log(inner, "link up", count=ups + 1)
                # The fresh edge is handed the two unfinished recipients, not ok@ again.
                lk.wait_log(edge, "outbound %s: queued for 2 recipient(s)" % mid)
                h.check(edge.output().count("outbound %s: queued for" % mid) == 2,
                        "the edges queued msg=%s other than once with 3 recipients and once "
                        "with 2:\n%s" % (mid, edge.output()[-3000:]))
                greylist(pf, CASES["stays"][1:])
                check_done(inner, pf, "replaced", mid, subject, 1)
                h.log("replaced: %r" % results(inner, mid))

                # -- stays: the same edge delivers the rest and repeats its final STATUS
                subject = "t71 edge stays"
                mid = submit(inner, "stays", subject)
                first_edge_pass(inner, edge, pf, "stays", mid)
                ups = inner.output().count("link up")
                inner.proc.signal(signal.SIGSTOP)
                try:
                    greylist(pf, [])
                    ih.wait_until(  # the edge's queue id is the inner's
                        lambda: re.search(r"outbound %s: attempt \d+: 1 delivered, 1 bounced, "
                                          r"0 expired" % re.escape(mid), edge.output()),
                        60, "the edge's final result for msg=%s" % mid)
                    pf.wait_delivered(CASES["stays"][1], 1)
                    ih.wait_until(lambda: unread_by_inner(pair.link_port), 10,
                                  "the final STATUS to reach the stopped inner's socket")
                    cut_link(edge, pair.link_port)
                finally:
                    inner.proc.signal(signal.SIGCONT)
                r = wait_results(inner, mid, 3)
                h.check(r == [("partial", 1, 0), ("final", 1, 1), ("repeat", 0, 0)],
                        "the inner's results for msg=%s: %r (wanted ok@'s partial, the final "
                        "STATUS from the cut link, its repeat on the next)" % (mid, r))
                h.check(inner.output().count("link up") > ups, "the repeat came on no new link")
                h.check(edge.output().count("outbound %s: queued for" % mid) == 1,
                        "msg=%s was handed to the edge again" % mid)
                check_done(inner, pf, "stays", mid, subject, 2)
                # Nothing more comes: the repeat was ACKed, the edge has no report left.
                time.sleep(2.0)
                h.check(len(dsns(inner)) == 2, "a DSN came after the repeated STATUS")
                h.check(len(results(inner, mid)) == 3, "the edge sent the STATUS yet again: %r"
                        % results(inner, mid))
            except BaseException:
                h.log("edge log:\n" + edge.output()[-6000:])
                h.log("inner log:\n" + inner.output()[-6000:])
                h.log("postfix log:\n" + pf.log()[-4000:])
                raise
            finally:
                inner.stop()
                edge.stop()


h.main(test)
