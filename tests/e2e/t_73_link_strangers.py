#!/usr/bin/env python3
"""The link port against strangers: anyone who reaches it can connect, but the edge holds at most
16 unauthenticated connections, each for at most 10 s, and a new one pushes out the oldest
(edge/link/link_server.cpp accept()). So 100 strangers that connect and never finish a handshake
(most silent, some stopping after the protocol's magic, some sending garbage), plus a new one
every 50 ms from 12 s before the inner starts to the end, cannot keep the paired inner out: its
dial gets a slot by pushing out the oldest stranger and the link is up within seconds. Since a
stranger is pushed out after about 0.8 s (16 x 50 ms), no slot ever frees by the 10 s deadline:
the slot rule, not a timeout, lets the inner in (the edge must log no handshake timeout, and the
line before the inner's connection must be a stranger dropped for it). While they keep coming,
mail goes both ways (Internet -> edge -> link -> POP3; user -> inner -> link -> edge ->
smtp-sink), the link stays up, and the edge's log says why it dropped each stranger without
naming any address."""
import os, random, re, socket, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk

ALICE, PW = "alice@example.i2p", "alice pw strangers"
HELD = 100            # strangers connected before the inner starts, held open to the end
CHURN_S = 0.05        # then a new stranger this often
PRE_CHURN_S = 12.0    # churn this long (more than the 10 s handshake deadline) before the inner
POST_CHURN_S = 3.0    # and this long after the mail went through
LINK_BOUND_S = 10.0   # the inner's link must be up this soon after it starts
MAGIC = b"NJL\x02"    # the link's first bytes (docs/link.md)
NOT_OURS = "the peer does not speak the nightjar link protocol"


def stranger_source(i):
    """Different loopback addresses stand for different clients (127.0.2.x, 127.0.3.x)."""
    return "127.0.%d.%d" % (2 + i // 250, 1 + i % 250)


class Strangers:
    """Plain TCP connections to the link port, never closed from this side until the end. Of
    every ten: two send the magic and a few bytes of a message 1 and stop (a handshake that never
    ends), the rest send nothing, except that among the first HELD one in ten sends a garbage
    first message (refused at once: not our protocol). The churn sends no garbage: a refusal
    frees a slot, and then the inner's connection would not have to push anyone out."""

    def __init__(self, port):
        self.port = port
        self.socks = []
        self.kinds = {"silent": 0, "partial": 0, "garbage": 0}
        self.failed_connects = 0
        self._stop = threading.Event()
        self._thread = None

    def open_one(self, garbage_ok=True):
        i = len(self.socks) + self.failed_connects
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5,
                                         source_address=(stranger_source(i % 500), 0))
        except OSError as e:
            self.failed_connects += 1
            h.log("stranger %d could not connect: %s" % (i, e))
            return
        kind = ("garbage" if i % 10 == 3 and garbage_ok else
                "partial" if i % 10 in (1, 6) else "silent")
        try:
            if kind == "garbage":
                s.sendall(bytes(random.getrandbits(8) for _ in range(52)))
            elif kind == "partial":
                s.sendall(MAGIC + os.urandom(12))
        except OSError:
            pass  # already pushed out: it still counts as a stranger that came
        self.kinds[kind] += 1
        self.socks.append(s)

    def churn(self):
        """A new stranger every CHURN_S seconds, in a thread, until stop()."""
        def loop():
            while not self._stop.wait(CHURN_S):
                self.open_one(garbage_ok=False)
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join()

    def closed_by_edge(self):
        """How many of the held connections the edge has closed (EOF or reset)."""
        n = 0
        for s in self.socks:
            s.setblocking(False)
            try:
                while True:
                    b = s.recv(4096)
                    if not b:
                        n += 1
                        break
            except BlockingIOError:
                pass
            except OSError:
                n += 1
        return n

    def close_all(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


def log_lines(owner, needle):
    return [ln for ln in owner.output().splitlines() if needle in ln]


def test():
    h.require_edge()
    ih.require_inner()
    zones = dict(h.sender_zones())
    zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    with h.TestDir("t_73") as tdir, h.SmtpSink(tdir) as sink, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
        pair = lk.LinkedPair(tdir, ub, edge_overrides={
            "checks": {"greylist": {"enabled": False}},
            "outbound": {"smtp_port": sink.port, "allow_private_addresses": True}},
            inner_overrides={"delay": {"default": "none"}})
        edge, inner = pair.edge, pair.inner
        inner.add_account(ALICE, PW)
        edge.start()
        strangers = Strangers(pair.link_port)
        try:
            for _ in range(HELD):
                strangers.open_one()
                time.sleep(0.01)  # so that the edge reads a garbage sender before it drops it
            h.check(len(strangers.socks) == HELD, "only %d of %d strangers could connect"
                    % (len(strangers.socks), HELD))
            lk.wait_log(edge, "dropped: 16 handshakes pending", count=HELD - 16 - 20,
                        timeout=10)
            # Longer than the handshake deadline before the inner comes: fresh strangers keep
            # every slot full, so none can free by a timeout.
            strangers.churn()
            time.sleep(PRE_CHURN_S)

            t0 = time.monotonic()
            inner.start()
            while "link up" not in inner.output():
                h.check(time.monotonic() - t0 < LINK_BOUND_S,
                        "the link is not up %.0f s after the inner started, with %d strangers "
                        "connected to the link port:\ninner log:\n%s\nedge log:\n%s"
                        % (LINK_BOUND_S, len(strangers.socks), inner.output()[-3000:],
                           edge.output()[-3000:]))
                time.sleep(0.02)
            up_after = time.monotonic() - t0
            dials = inner.output().count("link dialing")
            h.log("link up %.2f s after the inner started, on dial %d, with %d strangers "
                  "connected so far" % (up_after, dials, len(strangers.socks)))
            print("link up after %.2f s (dial %d) against %d strangers"
                  % (up_after, dials, len(strangers.socks)))
            lk.wait_log(edge, " up queued=", timeout=5)
            # The inner's connection found 16 strangers pending and pushed out the oldest.
            lines = edge.output().splitlines()
            eid = re.search(r"link peer=(\S+) up queued=", "\n".join(lines)).group(1)
            at = [i for i, ln in enumerate(lines) if "link peer=%s connect" % eid in ln]
            h.check(len(at) == 1, "the edge logged %d connects of the inner" % len(at))
            before = at[0] - 1  # accept() logs the drop, then the new connection
            while before >= 0 and not re.search(r"link peer=\S+ (connect|dropped)", lines[before]):
                before -= 1
            h.check(before >= 0 and "dropped: 16 handshakes pending" in lines[before],
                    "the inner's connection did not push out the oldest stranger:\n"
                    + "\n".join(lines[max(0, at[0] - 4):at[0] + 1]))

            # mail both ways while the strangers keep coming
            t1 = time.monotonic()
            t = h.swaks_edge(edge, "--from", "bob@sender.test", "--to", "alice@example.test",
                             "--body", "inbound-despite-strangers")
            t.expect(".", 250, "2.0.0")
            inner.deliver(ALICE, PW, ["carol@dest.test"],
                          ih.message("out", "outbound-despite-strangers", ALICE,
                                     "carol@dest.test"))
            box = ih.wait_until(lambda: [m for m in inner.mailbox(ALICE, PW)
                                         if b"inbound-despite-strangers" in m],
                                30, "the Internet message in the mailbox")
            h.check(len(box) == 1, "mailbox: %r" % box)
            ih.wait_until(lambda: any("outbound-despite-strangers" in m
                                      for m in sink.messages()),
                          30, "the user's message at the Internet peer")
            h.log("mail both ways in %.2f s" % (time.monotonic() - t1))
            print("mail both ways in %.2f s" % (time.monotonic() - t1))
            time.sleep(POST_CHURN_S)  # the link stays up while they keep coming
            strangers.stop()

            # the link never went down, the strangers were pushed out, none timed out
            h.check(inner.output().count("link up") == 1 and "link down" not in inner.output(),
                    "the link did not stay up:\n" + inner.output()[-3000:])
            total = len(strangers.socks)
            closed = strangers.closed_by_edge()
            elog = edge.output()
            dropped = log_lines(edge, "dropped: 16 handshakes pending")
            refused = [ln for ln in log_lines(edge, "link peer=") if " refused: " in ln]
            timeouts = log_lines(edge, "handshake timeout")
            print("strangers: %d (%s), %d closed by the edge; edge log: %d dropped for a new "
                  "one, %d refused, %d handshake timeouts"
                  % (total, ", ".join("%d %s" % (n, k) for k, n in strangers.kinds.items()),
                     closed, len(dropped), len(refused), len(timeouts)))
            h.check(not timeouts, "a stranger's slot freed by the deadline, not by the slot rule:"
                    "\n" + "\n".join(timeouts[:5]))
            # (a garbage sender pushed out before the edge read its bytes is dropped instead)
            h.check(strangers.kinds["garbage"] // 2 <= len(refused) <= strangers.kinds["garbage"]
                    and all(NOT_OURS in ln for ln in refused),
                    "wanted about %d refusals saying %r (one per garbage sender), "
                    "got:\n%s" % (strangers.kinds["garbage"], NOT_OURS, "\n".join(refused[:10])))
            # every stranger but the 16 still pending was pushed out or refused
            h.check(len(dropped) + len(refused) >= total - 16,
                    "%d strangers, only %d dropped and %d refused" % (total, len(dropped),
                                                                   len(refused)))
            h.check(closed >= total - 16, "the edge closed only %d of %d strangers"
                    % (closed, total))
            # ... and said so with its own random ids, never an address or a port
            link_lines = log_lines(edge, "link peer=")
            sources = {stranger_source(i % 500) for i in range(total)}
            bad = [ln for ln in link_lines
                   if re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b|\[[0-9a-fA-F:]+\]", ln)
                   or any(src in ln for src in sources)]
            h.check(not bad, "the edge's link log names an address:\n" + "\n".join(bad[:5]))
            for s in strangers.socks:
                port = str(s.getsockname()[1])
                hit = [ln for ln in link_lines if re.search(r"\b%s\b" % port, ln)]
                h.check(not hit, "the edge's link log names a client port:\n" + "\n".join(hit))
            h.check(re.search(r"link peer=\S+ dropped: 16 handshakes pending", elog),
                    "no \"dropped\" line of the expected shape")
        except BaseException:
            h.log("edge log:\n" + edge.output()[-6000:])
            h.log("inner log:\n" + inner.output()[-6000:])
            raise
        finally:
            strangers.stop()
            inner.stop()
            edge.stop()
            strangers.close_all()


h.main(test)
