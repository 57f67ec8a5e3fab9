#!/usr/bin/env python3
# nj-e2e: timeout 300
"""Full mailboxes and recipient enumeration across the link (`direct` transport), with the real
daemons, smtplib and raw SMTP clients as Internet senders and smtp-sink as the senders' MX.

1. A sender that keeps sending to a full mailbox for a minute gets 452 4.2.2 at RCPT every time,
   nothing is queued, and the bytes on the link (counted by a TCP forwarder between the inner and
   the edge's link port) stay far below what one accepted copy of each attempt would cost; mail to
   another user meanwhile arrives as fast as without the flood (edge's 250 to the inner's
   "delivered" log line, compared with a baseline taken first).
2. A mailbox that fills while the edge still has "exists" cached: the edge accepts the message,
   the inner refuses it for now, the edge offers it again after a growing back-off, and once
   inbound.max_queue_lifetime (1m) has passed its last attempt makes the inner bounce it: the
   Internet sender's MX gets a DSN from MAILER-DAEMON on the public domain naming the recipient on
   the public domain with Status 4.2.2, and the edge's queue is empty.
3. Enumeration: unknown recipients get 550 5.1.1 until the inner's VerifyGuard has seen more than
   20; from then on every RCPT, a real user's too, gets 451 4.4.3 and a DELIVER is refused for
   now; the inner logs one WARN about it, naming nobody.
"""
import os, re, smtplib, statistics, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk
from forwarder import CountingForwarder

ALICE, APW = "alice@example.i2p", "alice pw 72"  # fills while the edge holds her mail
BOB, BPW = "bob@example.i2p", "bob pw 72"  # the other user, whose mail must keep flowing
CAROL, CPW = "carol@example.i2p", "carol pw 72"  # local sender that fills mailboxes
DAVE, DPW = "dave@example.i2p", "dave pw 72"  # full from the start: the flood's target
ERIN, EPW = "erin@example.i2p", "erin pw 72"  # never asked about before the cool-down

MAX_SIZE = 128 * 1024  # mailbox.max_size
MIN_ROOM = 1024  # Mailbox::kMinRoom: less than this left is "full"
FLOOD_SECONDS = 60
FLOOD_SOURCES = ("127.0.1.1", "127.0.2.1", "127.0.3.1")  # one /24 each: per-client limits
FLOOD_PER_CONNECTION = 8  # each refusal counts against the edge's limits.max_errors (10)
PROBE_EVERY = 3.0  # seconds between messages to bob during the flood
BASELINE_PROBES = 6
LIFETIME = 60  # edge inbound.max_queue_lifetime
COOLDOWN_AFTER = 20  # VerifyGuard::Options::max_unknown


def public(addr):
    return addr.replace("@" + ih.INTERNAL, "@" + ih.PUBLIC)


def padded_message(subject, frm, to, size, marker):
    """A message of exactly `size` bytes (CRLF lines of at most 78 characters)."""
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%d@sender.test>\r\n\r\n"
            "%s\r\n" % (frm, to, subject, time.time_ns(), marker))
    line = ("%s " % marker) * (70 // (len(marker) + 1)) + "\r\n"
    body = ""
    while len(head) + len(body) + len(line) <= size:
        body += line
    rest = size - len(head) - len(body)
    if rest >= 3:
        body += "x" * (rest - 2) + "\r\n"
    else:
        head = head.replace("Subject: ", "Subject: " + "s" * rest, 1)
    m = head + body
    h.check(len(m) == size, "padded_message: %d bytes, wanted %d" % (len(m), size))
    return m


FLOOD_MESSAGE = padded_message("flood", "flood@sender.test", public(DAVE), 16 * 1024, "flood")


class LogWatch:
    """Follows a daemon's log file and notes when each line matching `pattern` (one group: the
    key) first appeared, in time.monotonic(), polling every 5 ms. The log carries whole seconds
    only, so the test's own clock times arrivals."""

    def __init__(self, path, pattern):
        self.path, self.rx = path, re.compile(pattern)
        self.seen = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        off, part = 0, b""
        while not self._stop.is_set():
            try:
                with open(self.path, "rb") as f:
                    f.seek(off)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            if data:
                off += len(data)
                now = time.monotonic()
                lines = (part + data).split(b"\n")
                part = lines.pop()
                for ln in lines:
                    m = self.rx.search(ln.decode("utf-8", "replace"))
                    if m and m.group(1) not in self.seen:
                        self.seen[m.group(1)] = now
            time.sleep(0.005)

    def wait(self, key, timeout=30):
        deadline = time.monotonic() + timeout
        while key not in self.seen:
            h.check(time.monotonic() < deadline, "%r not logged within %ds" % (key, timeout))
            time.sleep(0.005)
        return self.seen[key]

    def stop(self):
        self._stop.set()
        self._t.join()


def send_internet(edge, source, mail_from, rcpt, message):
    """One Internet message that must get its 250; returns (queue id, monotonic time of the 250)."""
    r = h.send_message(edge.port, source, "mta.sender.test", mail_from, [rcpt], message)
    h.expect_reply(r.get("rcpt:" + rcpt), 250, "2.1.5", "RCPT TO:<%s>" % rcpt)
    h.expect_reply(r.get("."), 250, "2.0.0", "end of DATA to <%s>" % rcpt)
    t = time.monotonic()
    m = re.search(r"queued as (\S+)", r["."][-1])
    h.check(m, "no queue id in %r" % r["."])
    return m.group(1), t


def probe(edge, watch, n):
    """One message to bob; seconds from the edge's 250 to the inner's "delivered" line. It can
    be a millisecond below zero: the edge offers the message on the link as it sends the 250,
    and the inner may log its delivery before this client has read the reply."""
    msg = h.message("probe %d" % n, "latency probe %d" % n, to=public(BOB), frm="carl@sender.test")
    mid, t = send_internet(edge, "127.0.0.1", "carl@sender.test", public(BOB), msg)
    return watch.wait(mid) - t


def spread(xs):
    return "min %.3f s, median %.3f s, max %.3f s (n=%d)" % (
        min(xs), statistics.median(xs), max(xs), len(xs))


def usage(inner, addr):
    """(stored bytes, max_size) from `nightjarctl account show`."""
    out = inner.ctl("account", "show", addr).out
    m = re.search(r"stored bytes: (\d+) of (\d+)", out)
    h.check(m, "account show %s says no mailbox use:\n%s" % (addr, out))
    return int(m.group(1)), int(m.group(2))


def fill(inner, addr):
    """Carol submits to `addr` until less than Mailbox::kMinRoom is left, then checks that the
    inner's own RCPT says full (552 5.2.2). What the inner adds to a message (trace fields, the
    seal) is measured on the first submission rather than assumed."""
    overhead = 2048
    for i in range(6):
        used, cap = usage(inner, addr)
        h.check(cap == MAX_SIZE, "mailbox.max_size is %d, wanted %d" % (cap, MAX_SIZE))
        room = cap - used
        if room < MIN_ROOM:
            break
        size = max(room - MIN_ROOM // 2 - overhead, 300)
        msg = padded_message("filler %d" % i, CAROL, addr, size, "filler%d" % i)
        code, text = inner.submit(CAROL, CPW, CAROL, [addr], msg)
        if code == 250:
            after, _ = usage(inner, addr)
            overhead = after - used - size
        else:
            h.check(code == 552 and text.startswith("5.2.2"),
                    "filling %s: %d %s" % (addr, code, text))
            overhead += MIN_ROOM // 2
    used, cap = usage(inner, addr)
    h.check(cap - used < MIN_ROOM, "%s still has %d bytes of room" % (addr, cap - used))
    with inner.smtp() as s:
        s.ehlo("client.test")
        s.login(CAROL, CPW)
        ih.expect_smtp(s.mail(CAROL), 250, None, "MAIL FROM")
        ih.expect_smtp(s.rcpt(addr), 552, "5.2.2", "the inner's RCPT to the full mailbox")
    h.log("%s filled: %d of %d bytes stored (overhead per message %d)" % (addr, used, cap,
                                                                          overhead))
    return cap - used


def flood(edge, source, stop, replies, lock):
    """Keeps offering FLOOD_MESSAGE to dave until `stop`, FLOOD_PER_CONNECTION transactions a
    connection (smtplib: MAIL with SIZE=, RCPT, RSET when refused). Every RCPT reply goes into
    `replies`; a connection that fails is recorded as ("error", why)."""
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", edge.port, local_hostname="mta.sender.test",
                              timeout=30, source_address=(source, 0)) as s:
                for _ in range(FLOOD_PER_CONNECTION):
                    if stop.is_set():
                        break
                    try:
                        s.sendmail("flood@sender.test", [public(DAVE)], FLOOD_MESSAGE)
                        r = ("accepted", "")
                    except smtplib.SMTPRecipientsRefused as e:
                        code, text = e.recipients[public(DAVE)]
                        r = (code, text.decode("utf-8", "replace"))
                    with lock:
                        replies.append(r)
        except (smtplib.SMTPException, OSError) as e:
            with lock:
                replies.append(("error", repr(e)))
            time.sleep(0.2)


def phase_flood(edge, inner, fwd, watch):
    """1: a minute of mail to a full mailbox, and bob's latency meanwhile."""
    base = [probe(edge, watch, i) for i in range(BASELINE_PROBES)]
    h.log("baseline latency to bob: " + spread(base))

    replies, lock, stop = [], threading.Lock(), threading.Event()
    up0, down0 = fwd.counts()
    t0 = time.monotonic()
    ts = [threading.Thread(target=flood, args=(edge, src, stop, replies, lock))
          for src in FLOOD_SOURCES]
    for t in ts:
        t.start()
    lat = []
    try:
        n = BASELINE_PROBES
        while time.monotonic() - t0 < FLOOD_SECONDS:
            slot = time.monotonic()
            lat.append(probe(edge, watch, n))
            n += 1
            time.sleep(max(0.0, slot + PROBE_EVERY - time.monotonic()))
    finally:
        stop.set()
        for t in ts:
            t.join()
    elapsed = time.monotonic() - t0
    up1, down1 = fwd.counts()
    up, down = up1 - up0, down1 - down0  # up: inner -> edge, down: edge -> inner

    bad = [r for r in replies if not (r[0] == 452 and r[1].startswith("4.2.2"))]
    h.check(not bad, "%d of %d flood attempts were not refused 452 4.2.2 at RCPT, e.g. %r"
            % (len(bad), len(replies), bad[:5]))
    attempts = len(replies)
    h.check(attempts >= FLOOD_SECONDS, "only %d flood attempts in %.0f s" % (attempts, elapsed))
    h.check(edge.queue_ids() == [], "the edge queued mail for a full mailbox: %r"
            % edge.queue_ids())
    # Before VERIFY said "full" every one of these would have been accepted and offered to the
    # inner at least once (and again every 30 s): at least `old` bytes towards the inner. What
    # crosses now is bob's mail (a DELIVER of about 1 KiB each), a VERIFY for dave a minute (the
    # edge caches "full"), ACKs and keepalives: allow 4 KiB a probe and 64 KiB besides. Towards
    # the edge only ACKs, a VERIFY answer a minute and keepalives: a VERIFY per attempt (31
    # bytes each way and more) would pass up_bound.
    old = attempts * len(FLOOD_MESSAGE)
    bound = 64 * 1024 + 4096 * len(lat)
    up_bound = 8 * 1024 + 128 * len(lat)
    h.check(bound * 10 < old, "the bound (%d) would not tell the old behaviour (%d) apart: "
            "too few flood attempts" % (bound, old))
    h.log("flood: %d attempts in %.1f s, every one 452 4.2.2; link bytes edge->inner %d, "
          "inner->edge %d (bounds %d in all, %d towards the edge; one accepted copy of each "
          "attempt alone: %d)" % (attempts, elapsed, down, up, bound, up_bound, old))
    h.check(down + up <= bound, "the link carried %d + %d bytes during the flood (bound %d)"
            % (down, up, bound))
    h.check(up <= up_bound, "the inner sent %d bytes during the flood (bound %d): does the edge "
            "ask about every attempt?" % (up, up_bound))

    h.log("latency to bob during the flood: " + spread(lat))
    mb, mf = statistics.median(base), statistics.median(lat)
    h.check(mf < 2.0, "median latency during the flood %.3f s" % mf)
    h.check(mf <= max(4 * mb, mb + 0.5), "median latency %.3f s during the flood, %.3f s before"
            % (mf, mb))
    return {"attempts": attempts, "down": down, "up": up, "bound": bound, "up_bound": up_bound,
            "old": old,
            "base": base, "lat": lat}


def phase_fills_while_held(edge, inner, sink):
    """2: alice's mailbox fills while the edge has "exists" cached for her."""
    msg = h.message("before", "room-marker", to=public(ALICE), frm="someone@dest.test")
    mid, _ = send_internet(edge, "127.0.0.1", "someone@dest.test", public(ALICE), msg)
    lk.wait_log(inner, "link msg=%s delivered new=1" % mid)
    fill(inner, ALICE)

    held = padded_message("held", "someone@dest.test", public(ALICE), 4096, "held-marker")
    mid, _ = send_internet(edge, "127.0.0.1", "someone@dest.test", public(ALICE), held)
    t0 = time.monotonic()
    lk.wait_log(inner, "link msg=%s not delivered (temporary): mailbox full" % mid)
    h.check(edge.queue_ids() == [mid], "the edge does not hold the message: %r"
            % edge.queue_ids())
    lk.wait_log(edge, "link msg=%s last attempt" % mid, timeout=LIFETIME + 30)
    lk.wait_log(inner, "link msg=%s delivered new=0 unknown=0 full=1 bounced=1" % mid)
    lk.wait_log(edge, "link msg=%s delivered to the inner" % mid)
    waited = time.monotonic() - t0
    waits = [int(n) for n in re.findall(
        r"link msg=%s refused for now by the inner \(mailbox full\); again in (\d+)s" % mid,
        edge.output())]
    h.log("refused for now %d times, again in %s s; last attempt %.1f s after the 250"
          % (len(waits), waits, waited))
    h.check(len(waits) >= 4, "only %d refusals before the last attempt: %r" % (len(waits), waits))
    h.check(all(a < b for a, b in zip(waits[:4], waits[1:4])),
            "the back-off does not grow: %r" % waits)
    h.check(waited >= LIFETIME - 2, "last attempt after %.1f s, the lifetime is %d s"
            % (waited, LIFETIME))

    dsns = [m for m in sink.wait_messages(1, timeout=30) if "Final-Recipient:" in m]
    h.check(len(dsns) == 1, "wanted one DSN at the sender's MX, got %d" % len(dsns))
    dsn = dsns[0]
    h.check(re.search(r"^X-Mail-Args: <>", dsn, re.M), "the DSN's sender is not null:\n" + dsn)
    h.check(re.search(r"^X-Rcpt-Args: <someone@dest\.test>", dsn, re.M),
            "the DSN is not for the Internet sender:\n" + dsn)
    h.check(re.search(r"^From: .*<MAILER-DAEMON@%s>" % re.escape(ih.PUBLIC), dsn, re.M),
            "the DSN is not from MAILER-DAEMON on the public domain:\n" + dsn)
    h.check("Final-Recipient: rfc822; " + public(ALICE) in dsn and "Status: 4.2.2" in dsn
            and "Action: failed" in dsn, "DSN fields missing:\n" + dsn)
    for bad in (ih.INTERNAL, inner.config["hostname"], "held-marker"):
        h.check(bad.lower() not in dsn.lower(), "the DSN names %r:\n%s" % (bad, dsn))
    h.check(edge.queue_ids() == [], "the edge's queue is not empty: %r" % edge.queue_ids())
    ih.wait_until(lambda: not inner.queue_ids(), 30, "the inner's outbound queue to empty")
    box = b"".join(inner.mailbox(ALICE, APW))
    h.check(b"room-marker" in box and b"held-marker" not in box,
            "alice's mailbox holds the wrong mail")
    return waits, waited


def phase_enumeration(edge, inner):
    """3: 25 unknown names, then a real user, then a DELIVER, all during the cool-down."""
    tag = "%x" % (time.time_ns() & 0xFFFFFF)
    names = ["nobody%02d-%s@%s" % (i, tag, ih.PUBLIC) for i in range(25)]
    got = []
    for k in range(5):  # five sessions of five RCPTs: the edge drops a client after 10 errors
        batch = names[5 * k:5 * k + 5]
        r = h.send_message(edge.port, "127.0.%d.9" % (10 + k), "mta.sender.test",
                           "guess%d@sender.test" % k, batch, None)
        for n in batch:
            lines = r.get("rcpt:" + n)
            h.check(lines, "no reply to RCPT TO:<%s>: %r" % (n, r))
            got.append(lines[-1])
    codes = [re.match(r"(\d{3}) (\d\.\d\.\d)", g).groups() for g in got]
    want = [("550", "5.1.1")] * COOLDOWN_AFTER + [("451", "4.4.3")] * (25 - COOLDOWN_AFTER)
    h.check(codes == want, "RCPT replies to 25 unknown names: %r" % codes)
    h.log("enumeration: %d x 550 5.1.1, then %d x 451 4.4.3"
          % (codes.count(("550", "5.1.1")), codes.count(("451", "4.4.3"))))

    r = h.send_message(edge.port, "127.0.20.9", "mta.sender.test", "friend@sender.test",
                       [public(ERIN)], None)
    h.expect_reply(r.get("rcpt:" + public(ERIN)), 451, "4.4.3", "RCPT to a real user")
    # bob is still cached "exists" at the edge, so the edge takes the message; the inner
    # refuses its DELIVER for now and the edge keeps it.
    msg = h.message("during cool-down", "cooldown-marker", to=public(BOB), frm="carl@sender.test")
    mid, _ = send_internet(edge, "127.0.0.1", "carl@sender.test", public(BOB), msg)
    lk.wait_log(edge, "link msg=%s refused for now by the inner (recipient checks paused" % mid)
    h.check(mid in edge.queue_ids(), "the edge dropped the message refused for now")

    log = inner.output()
    warns = [ln for ln in log.splitlines() if "unknown recipients within" in ln]
    h.check(len(warns) == 1, "wanted one cool-down line in the inner's log, got %r" % warns)
    h.check(" warn: " in warns[0], "the cool-down line is not a warning: " + warns[0])
    h.check("@" not in warns[0], "the cool-down line names an address: " + warns[0])
    leaked = ([n for n in names if n.split("@")[0] in log] +
              [a for a in (public(ERIN), ERIN) if a in log])
    h.check(not leaked, "the inner's log names %r" % leaked)
    h.log("inner: " + warns[0])
    return warns[0]


def test():
    h.require_edge()
    ih.require_inner()
    zones = dict(h.sender_zones())
    # The senders' domain of phase 2, whose MX (smtp-sink) gets the bounce.
    zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    with h.TestDir("t_72") as tdir, h.SmtpSink(tdir) as sink, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
        pair = lk.LinkedPair(
            tdir, ub,
            edge_overrides={
                "checks": {"greylist": {"enabled": False}},
                "inbound": {"max_queue_lifetime": "1m", "retry_initial": "2s",
                            "retry_max": "30s"},
                "outbound": {"smtp_port": sink.port, "allow_private_addresses": True,
                             "retry_initial": "1s", "retry_max": "2s"}},
            inner_overrides={"mailbox": {"max_size": "%dK" % (MAX_SIZE // 1024)},
                             "delay": {"default": "none"}})
        edge, inner = pair.edge, pair.inner
        fwd = CountingForwarder(pair.link_port).start()
        inner.config["edge"]["address"] = "127.0.0.1:%d" % fwd.port
        for a, p in ((ALICE, APW), (BOB, BPW), (CAROL, CPW), (DAVE, DPW), (ERIN, EPW)):
            inner.add_account(a, p)
        edge.start()
        inner.start()
        watch = LogWatch(inner.log_path, r"link msg=(\S+) delivered new=")
        try:
            lk.wait_log(inner, "link up")
            h.check(fwd.connections >= 1, "the link does not pass the forwarder")
            fill(inner, DAVE)
            f = phase_flood(edge, inner, fwd, watch)
            waits, waited = phase_fills_while_held(edge, inner, sink)
            warn = phase_enumeration(edge, inner)
            print("t_72 figures:")
            print("  flood: %d attempts to a full mailbox in %ds, all 452 4.2.2"
                  % (f["attempts"], FLOOD_SECONDS))
            print("  link bytes during the flood: edge->inner %d, inner->edge %d (bounds %d in "
                  "all, %d towards the edge; one accepted copy per attempt would be %d)"
                  % (f["down"], f["up"], f["bound"], f["up_bound"], f["old"]))
            print("  bob's latency, baseline: " + spread(f["base"]))
            print("  bob's latency, flood:    " + spread(f["lat"]))
            print("  held message: again in %s s, last attempt %.1f s after the 250"
                  % (waits, waited))
            print("  enumeration: 20 x 550 5.1.1, then 451 4.4.3; " + warn.split(": ", 1)[1])
        except BaseException:
            h.log("edge log:\n" + edge.output()[-6000:])
            h.log("inner log:\n" + inner.output()[-6000:])
            raise
        finally:
            watch.stop()
            inner.stop()
            edge.stop()
            fwd.stop()


h.main(test)
