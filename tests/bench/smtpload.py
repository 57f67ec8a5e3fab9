#!/usr/bin/env python3
"""An authenticating SMTP load generator for tests/bench/relay (smtp-source cannot authenticate).

C connections, each doing EHLO and AUTH PLAIN once and then MAIL/RCPT/DATA for its share of N
messages, without pipelining: every command waits for its reply, as a mail client does. The
clock starts when every connection has authenticated; the result is (login seconds, seconds
until the last 250 to DATA).

Two generators, the same protocol:
- "raw" (default): P worker processes (this file, `worker` mode), each driving its connections
  from one non-blocking event loop over raw sockets, with every message's dot-stuffed DATA bytes
  prepared before the clock starts. Processes sidestep Python's GIL; the event loop avoids a
  thread switch per reply.
- "smtplib": the first generator (20 threads of smtplib in one process), kept so that its
  ceiling can be measured beside the new one's.

Workers talk to the parent over their stdin/stdout: one JSON line in (the job), "ready" out once
their connections have authenticated, "go" in, one JSON line out (per-connection finish times on
CLOCK_MONOTONIC, shared by all processes of the machine). A worker whose parent dies reads EOF
on stdin and exits.
"""
import base64
import collections
import json
import os
import resource
import selectors
import smtplib
import socket
import subprocess
import sys
import threading
import time

LINE = b"The quick brown fox jumps over the lazy dog, benchmark filler text 0123456789."
HELO = "client.test"


class LoadError(Exception):
    pass


# login: seconds until every connection has authenticated; accepted: seconds from the clock's
# start (t0, on time.monotonic()) to the last 250 to DATA; cpu: the generator's own user+system
# CPU seconds over the whole run (its worker processes, or this process for smtplib).
Result = collections.namedtuple("Result", "login accepted t0 cpu")


def _cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def message(tag, i, size, sender, rcpt):
    """Message i of a run: about size bytes, carrying the marker `relay-bench-TAG-NNNNNN`."""
    marker = b"relay-bench-%s-%06d" % (tag.encode(), i)
    body = b"\r\n".join([marker] + [LINE] * max(1, size // (len(LINE) + 2)))
    return (b"From: <%s>\r\nTo: <%s>\r\nSubject: relay bench %s %06d\r\n"
            b"Date: Sun, 22 Nov 2026 09:15:00 +0000\r\n"
            b"Message-ID: <relay-bench-%s-%06d@client.test>\r\n\r\n%s\r\n"
            % (sender.encode(), rcpt.encode(), tag.encode(), i, tag.encode(), i, body))


def marker_prefix(tag):
    return b"relay-bench-%s-" % tag.encode()


def dot_stuffed(msg):
    """The DATA bytes of msg: CRLF lines, a leading dot doubled, ending with CRLF.CRLF."""
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    lines = msg.split(b"\r\n")
    return b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in lines) + b".\r\n"


def auth_plain(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())


# --------------------------------------------------------------------------------------------
# raw generator: the worker process

WAIT = object()  # a session yields this once authenticated, until the parent says "go"


def _expect(what, reply, codes):
    code, text = reply
    if code not in codes:
        raise LoadError("%s: %d %r" % (what, code, text[-200:]))


def _session(job, indices, finished, k):
    """One connection's dialogue: yields the bytes to send (None: only read), receives each
    reply as (code, text)."""
    r = yield None
    _expect("greeting", r, (220,))
    r = yield b"EHLO %s\r\n" % HELO.encode()
    _expect("EHLO", r, (250,))
    r = yield b"AUTH PLAIN " + auth_plain(job["user"], job["password"]) + b"\r\n"
    _expect("AUTH PLAIN", r, tuple(job["auth_ok"]))
    yield WAIT
    mail = b"MAIL FROM:<%s>\r\n" % job["sender"].encode()
    rcpt = b"RCPT TO:<%s>\r\n" % job["rcpt"].encode()
    payloads = [dot_stuffed(message(job["tag"], i, job["size"], job["sender"], job["rcpt"]))
                for i in indices]
    yield WAIT  # payloads are built before the clock starts
    for data in payloads:
        _expect("MAIL", (yield mail), (250,))
        _expect("RCPT", (yield rcpt), (250, 251))
        _expect("DATA", (yield b"DATA\r\n"), (354,))
        _expect("end of DATA", (yield data), (250,))
    finished[k] = time.monotonic()
    yield b"QUIT\r\n"


def _reply(buf):
    """(code, text, rest) for the first complete reply in buf, or None."""
    start = 0
    while True:
        end = buf.find(b"\r\n", start)
        if end < 0:
            return None
        line = buf[start:end]
        if len(line) < 3 or not line[:3].isdigit():
            raise LoadError("malformed reply line %r" % line[:100])
        if len(line) == 3 or line[3:4] == b" ":
            return int(line[:3]), buf[:end].decode("latin-1"), buf[end + 2:]
        start = end + 2


class _Conn:
    def __init__(self, sock, gen):
        self.sock, self.gen = sock, gen
        self.inbuf = b""
        self.out = memoryview(b"")
        self.waiting = False
        self.closed = False


def _worker(job):
    sel = selectors.DefaultSelector()
    conns = []
    finished = [0.0] * len(job["connections"])
    for k, indices in enumerate(job["connections"]):
        s = socket.create_connection((job["host"], job["port"]), timeout=job["timeout"])
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        c = _Conn(s, _session(job, indices, finished, k))
        next(c.gen)
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)

    def advance(c, reply):
        """Feed a reply (None: resume after WAIT); queue what the session sends next."""
        try:
            nxt = c.gen.send(reply)
        except StopIteration:
            sel.unregister(c.sock)
            c.sock.close()
            c.closed = True
            return
        if nxt is WAIT:
            c.waiting = True
            return
        if nxt is not None:
            try:
                n = c.sock.send(nxt)
            except BlockingIOError:
                n = 0
            c.out = memoryview(nxt)[n:]
            if c.out:
                sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    def run_until(pred):
        deadline = time.monotonic() + job["timeout"]
        while not pred():
            events = sel.select(timeout=1.0)
            if not events and time.monotonic() > deadline:
                raise LoadError("no progress for %ds" % job["timeout"])
            if events:
                deadline = time.monotonic() + job["timeout"]
            for key, mask in events:
                c = key.data
                if mask & selectors.EVENT_WRITE and c.out:
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
                    if not c.out:
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                if mask & selectors.EVENT_READ:
                    data = c.sock.recv(65536)
                    if not data:
                        raise LoadError("the server closed the connection")
                    c.inbuf += data
                    while not c.closed and not c.waiting:
                        r = _reply(c.inbuf)
                        if r is None:
                            break
                        code, text, c.inbuf = r
                        advance(c, (code, text))

    def resume_all():
        for c in conns:
            c.waiting = False
            advance(c, None)

    run_until(lambda: all(c.waiting for c in conns))  # greeting, EHLO, AUTH
    authenticated = time.monotonic()
    resume_all()  # builds the payloads, stops at the second WAIT
    print("ready %.6f" % authenticated, flush=True)
    if sys.stdin.readline().strip() != "go":
        return {"error": "no go from the parent"}
    resume_all()
    run_until(lambda: all(c.closed for c in conns))
    return {"finished": finished}


def worker_main():
    job = json.loads(sys.stdin.readline())
    try:
        out = _worker(job)
    except (LoadError, OSError) as e:
        out = {"error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out), flush=True)
    return 0 if "error" not in out else 1


# --------------------------------------------------------------------------------------------
# the parent


def _split(n, connections):
    return [list(range(k, n, connections)) for k in range(connections)]


def _readline(p, deadline, what):
    import select
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise LoadError("worker %d: no %s in time" % (p.pid, what))
        r, _, _ = select.select([p.stdout], [], [], left)
        if r:
            line = p.stdout.readline()
            if not line:
                raise LoadError("worker %d exited before %s (status %r)"
                                % (p.pid, what, p.wait()))
            return line


def run_raw(host, port, n, connections, processes, tag, size, user, password, sender, rcpt,
            auth_ok=(235,), timeout=120, on_start=None):
    """The raw generator. Returns a Result; login includes starting the worker processes (about
    50 ms). on_start() runs just before the clock starts."""
    connections = max(1, min(connections, n))
    processes = max(1, min(processes, connections))
    split = _split(n, connections)
    per_proc = [split[i::processes] for i in range(processes)]
    me = os.path.abspath(__file__)
    procs = []
    cpu0 = _cpu(resource.RUSAGE_CHILDREN)
    try:
        t_login = time.monotonic()
        for conns in per_proc:
            p = subprocess.Popen([sys.executable, me, "worker"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
            procs.append(p)
            p.stdin.write(json.dumps({
                "host": host, "port": port, "connections": conns, "tag": tag, "size": size,
                "user": user, "password": password, "sender": sender, "rcpt": rcpt,
                "auth_ok": list(auth_ok), "timeout": timeout}) + "\n")
            p.stdin.flush()
        deadline = time.monotonic() + timeout
        authenticated = []
        for p in procs:
            line = _readline(p, deadline, "ready").split()
            if len(line) != 2 or line[0] != "ready":
                raise LoadError("worker %d: %s" % (p.pid, " ".join(line)[:500]))
            authenticated.append(float(line[1]))
        # from starting the workers until the last connection has authenticated
        login = max(authenticated) - t_login
        if on_start:
            on_start()
        t0 = time.monotonic()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        finished = []
        errors = []
        for p in procs:
            line = _readline(p, time.monotonic() + timeout + n, "result")
            out = json.loads(line)
            if "error" in out:
                errors.append(out["error"])
            else:
                finished.extend(out["finished"])
        if errors:
            raise LoadError("%d worker(s) failed; first: %s" % (len(errors), errors[0]))
        for p in procs:
            p.stdin.close()
            p.wait(30)
        # only the workers were reaped since cpu0 (the servers under test are still running)
        return Result(login, max(finished) - t0, t0, _cpu(resource.RUSAGE_CHILDREN) - cpu0)
    finally:
        for p in procs:
            try:
                p.stdin.close()
            except OSError:
                pass
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run_smtplib(host, port, n, threads, tag, size, user, password, sender, rcpt,
                auth_ok=(235,), timeout=120, on_start=None):
    """The first generator: threads of smtplib in this process. Returns a Result."""
    threads = max(1, min(threads, n))
    chunks = _split(n, threads)
    errors = []
    barrier = threading.Barrier(threads + 1, action=on_start)
    done = [0.0] * threads
    blob = auth_plain(user, password).decode()

    def worker(k):
        s = None
        try:
            s = smtplib.SMTP(host, port, local_hostname=HELO, timeout=timeout)
            s.ehlo(HELO)
            code, text = s.docmd("AUTH", "PLAIN " + blob)
            if code not in auth_ok:
                raise LoadError("AUTH PLAIN: %d %r" % (code, text))
            msgs = [message(tag, i, size, sender, rcpt) for i in chunks[k]]
        except Exception as e:  # reported by the main thread
            errors.append(e)
        barrier.wait()
        if s is None or errors:
            return
        try:
            for m in msgs:
                code, text = s.mail(sender)
                if code != 250:
                    raise LoadError("MAIL: %d %r" % (code, text))
                code, text = s.rcpt(rcpt)
                if code not in (250, 251):
                    raise LoadError("RCPT: %d %r" % (code, text))
                code, text = s.data(m)
                if code != 250:
                    raise LoadError("end of DATA: %d %r" % (code, text))
            done[k] = time.monotonic()
            s.quit()
        except Exception as e:  # reported by the main thread
            errors.append(e)

    cpu0 = _cpu(resource.RUSAGE_SELF)
    t_login = time.monotonic()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.monotonic()
    login = t0 - t_login
    if errors:
        for t in ts:
            t.join()
        raise LoadError("login failed: %r" % errors[0])
    for t in ts:
        t.join()
    if errors:
        raise LoadError("%d thread(s) failed; first: %r" % (len(errors), errors[0]))
    return Result(login, max(done) - t0, t0, _cpu(resource.RUSAGE_SELF) - cpu0)


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        sys.exit(worker_main())
    print("usage: %s worker  (started by tests/bench/relay)" % sys.argv[0], file=sys.stderr)
    sys.exit(2)
