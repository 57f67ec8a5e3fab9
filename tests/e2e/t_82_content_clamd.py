#!/usr/bin/env python3
"""Edge: virus scanning by a real clamd (checks.clamd). clamd runs from its own clamd.conf in the
test directory with one signature database of our own (freshclam has no network here): the MD5
of the EICAR test file, which matches only the decoded file, so a hit on a mail proves that clamd
decoded the MIME attachment. With on_error tempfail: a clean message and one with a harmless
attachment are queued (250); a message carrying EICAR as a base64 attachment, as swaks and real
mail carry it, is refused 554 5.7.1 naming the signature, and nothing of it is queued; with clamd
stopped, 451 4.7.1. After a restart of the edge with on_error accept, clamd still stopped: 250.
Then a socket that takes the stream and never answers (a hung clamd): a client that hangs up
during the scan has the edge drop the scan's connection at once, and the next message gets 451
when the scan's timeout ends it. The edge log names the signature and the failures (warnings)
but no address and no subject."""
import os, socket, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

CLAMD = "/usr/sbin/clamd"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_MD5 = "44d88612fea8a8f36de82e1278abb02f"
SIGNATURE = "Nightjar.Test.Eicar"
REPORTED = SIGNATURE + ".UNOFFICIAL"  # clamd's suffix for a signature outside its official set
SENDER = "bob@sender.test"
RCPT = "alice@example.test"
SUBJECTS = ["t82-clean-subject", "t82-attachment-subject", "t82-virus-subject",
            "t82-clamd-down-subject", "t82-accept-subject", "t82-hangup-subject",
            "t82-hung-subject"]


class Clamd:
    """clamd in the foreground on a unix socket in the test directory, with our database only."""

    def __init__(self, tdir):
        self.dir = tdir.sub("clamd")
        self.db = os.path.join(self.dir, "db")
        os.makedirs(self.db, exist_ok=True)
        self.socket = os.path.join(self.dir, "clamd.ctl")
        self.conf = os.path.join(self.dir, "clamd.conf")
        self.proc = None
        # An MD5 signature: hash:size:name of the whole (decoded) file.
        with open(os.path.join(self.db, "nightjar.hdb"), "w") as f:
            f.write("%s:%d:%s\n" % (EICAR_MD5, len(EICAR), SIGNATURE))
        with open(self.conf, "w") as f:
            f.write("Foreground yes\n"
                    "LocalSocket %s\n"
                    "DatabaseDirectory %s\n"
                    "TemporaryDirectory %s\n"
                    "LogFile %s\n"
                    "LogTime yes\n"
                    "LogClean yes\n"
                    "SelfCheck 0\n" % (self.socket, self.db, self.dir,
                                       os.path.join(self.dir, "clamd.file.log")))

    def ping(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(self.socket)
            s.sendall(b"zPING\0")
            return s.recv(16)

    def start(self):
        self.proc = h.Proc([CLAMD, "-c", self.conf], os.path.join(self.dir, "clamd.log"))
        h._register(self)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise h.TestFailure("clamd exited:\n" + self.proc.output())
            try:
                if self.ping() == b"PONG\0":
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise h.TestFailure("clamd does not answer PING:\n" + self.proc.output())

    def stop(self):
        if self.proc:
            self.proc.stop()
        h._unregister(self)

    __enter__ = start

    def __exit__(self, *a):
        self.stop()


class HungClamd:
    """A unix socket that reads whatever comes and never answers; notes when each connection
    ends (the peer closed it)."""

    def __init__(self, path):
        self.path = path
        self.ended = []  # monotonic time of each connection's end, in order
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._drain, args=(c,), daemon=True).start()

    def _drain(self, c):
        with c:
            try:
                while c.recv(65536):
                    pass
            except OSError:
                pass
        self.ended.append(time.monotonic())

    def close(self):
        self.srv.close()


def send(edge, subject, *extra):
    return h.swaks_edge(edge, "--from", SENDER, "--to", RCPT, "--header", "Subject: " + subject,
                        *extra)


def test():
    h.require_edge()
    h.check(os.path.exists(CLAMD), "%s is not installed (Debian: clamav-daemon)" % CLAMD)
    with h.TestDir("t_82") as tdir:
        with h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl:
            with h.Unbound(tdir, h.sender_zones(), stubs={"dnsbl.test": rbl.port}) as ub:
                clamd = Clamd(tdir).start()
                eicar = os.path.join(tdir.path, "eicar.com")
                with open(eicar, "wb") as f:
                    f.write(EICAR)
                notes = os.path.join(tdir.path, "notes.txt")
                with open(notes, "w") as f:
                    f.write("harmless notes, nothing to find here\n")
                edge = h.Edge(tdir, ub.addr, {"checks": {
                    "greylist": {"enabled": False},
                    "clamd": {"socket": clamd.socket, "on_error": "tempfail", "timeout": "20s"}}})
                try:
                    run(edge, clamd, eicar, notes)
                except BaseException:
                    h.log("edge log:\n" + edge.output()[-6000:])
                    h.log("clamd log:\n" + clamd.proc.output()[-3000:])
                    raise
                finally:
                    edge.stop()
                    clamd.stop()


def run(edge, clamd, eicar, notes):
    edge.start()
    t = send(edge, SUBJECTS[0], "--body", "t82 clean body")
    t.expect(".", 250, "2.0.0", contains="queued")
    t = send(edge, SUBJECTS[1], "--body", "see the notes", "--attach", "@" + notes)
    t.expect(".", 250, "2.0.0", contains="queued")

    t = send(edge, SUBJECTS[2], "--body", "see the attachment", "--attach", "@" + eicar)
    # What went over the wire: a MIME attachment in base64, never the raw test string, so only
    # clamd's MIME decoding can have found it.
    sent = "\n".join(line for line in t.text.splitlines() if line.startswith(" -> "))
    h.check("WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNU" in sent,
            "EICAR was not sent base64 encoded:\n" + t.text)
    h.check(b"EICAR-STANDARD" not in sent.encode(), "EICAR went out in the clear:\n" + t.text)
    r = t.expect(".", 554, "5.7.1")
    h.check(r[-1] == "554 5.7.1 Message refused: virus found (%s)" % REPORTED,
            "the refusal does not name the signature: %r" % r)

    clamd.stop()
    t = send(edge, SUBJECTS[3], "--body", "t82 while clamd is down")
    r = t.expect(".", 451, "4.7.1", contains="try again later")
    h.check(r[-1] == "451 4.7.1 Virus scan unavailable, try again later", "451 reply: %r" % r)

    rc = edge.stop()
    h.check(rc == 0, "edge exit status %r" % rc)
    ids = edge.queue_ids()
    h.check(len(ids) == 2, "wanted the 2 clean messages queued, found %d: %r" % (len(ids), ids))
    listing = edge.queue("list")

    # The same edge, on_error accept: with clamd still down the message is queued unscanned.
    edge.config["checks"]["clamd"]["on_error"] = "accept"
    edge.start()
    t = send(edge, SUBJECTS[4], "--body", "t82 accepted unscanned")
    t.expect(".", 250, "2.0.0", contains="queued")
    rc = edge.stop()
    h.check(rc == 0, "edge exit status %r" % rc)
    after = edge.queue_ids()
    h.check(len(after) == 3, "wanted 3 queued messages, found %d: %r\n%s" % (len(after), after,
                                                                          listing))

    # Both clean messages were scanned, not waved through.
    clean = clamd.proc.output().count("instream(local): OK")
    h.check(clean == 2, "clamd scanned %d clean messages, wanted 2" % clean)

    # A hung clamd: the scan of a session that ends is dropped with it; the next one times out.
    hung = HungClamd(os.path.join(os.path.dirname(clamd.socket), "hung.ctl"))
    try:
        edge.config["checks"]["clamd"].update(
            {"socket": hung.path, "on_error": "tempfail", "timeout": "5s"})
        edge.start()
        with h.RawSmtp(edge.port) as c:
            h.expect_reply(c.reply(), 220, what="banner")
            h.expect_reply(c.cmd("EHLO mta.sender.test"), 250, what="ehlo")
            h.expect_reply(c.cmd("MAIL FROM:<%s>" % SENDER), 250, what="mail")
            h.expect_reply(c.cmd("RCPT TO:<%s>" % RCPT), 250, what="rcpt")
            h.expect_reply(c.cmd("DATA"), 354, what="data")
            c.send(h.message(SUBJECTS[5], "t82 hung up during the scan") + ".\r\n")
            time.sleep(0.5)  # the scan is under way: clamd has the stream
        hung_up = time.monotonic()
        deadline = time.monotonic() + 10
        while not hung.ended and time.monotonic() < deadline:
            time.sleep(0.05)
        h.check(len(hung.ended) == 1, "the edge kept the scan's connection after the session")
        h.check(hung.ended[0] - hung_up < 1.5,
                "the scan's connection outlived its session by %.1fs"
                % (hung.ended[0] - hung_up))
        start = time.monotonic()
        t = send(edge, SUBJECTS[6], "--body", "t82 hung clamd")
        t.expect(".", 451, "4.7.1")
        h.check(time.monotonic() - start >= 5, "451 came before the scan's timeout")
        h.check(edge.proc.alive(), "the edge died")
        rc = edge.stop()
        h.check(rc == 0, "edge exit status %r" % rc)
    finally:
        hung.close()
    h.check(len(edge.queue_ids()) == 3, "a message was queued while clamd hung")

    log = edge.output()
    for want in ("virus scanning by clamd at unix:" + clamd.socket + " on_error=tempfail",
                 "reject stage=data code=554 5.7.1 reason=virus found: " + REPORTED,
                 "reject stage=data code=451 4.7.1 reason=virus scan failed: ",
                 "virus scan failed, message accepted unscanned (on_error accept): ",
                 "reason=virus scan failed: no reply within 5s"):
        h.check(want in log, "the edge log lacks %r:\n%s" % (want, log[-4000:]))
    warnings = [line for line in log.splitlines() if "virus scan failed" in line]
    h.check(len(warnings) == 3 and all("nightjar-edge warn: " in line for line in warnings),
            "the scan failures are not warnings: %r" % warnings)
    leaked = [n for n in [SENDER, RCPT, "bob@", "alice@", "eicar.com", "notes.txt"] + SUBJECTS
              if n.lower() in log.lower()]
    h.check(not leaked, "the edge log contains %r" % leaked)


h.main(test)
