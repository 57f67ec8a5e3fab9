"""End-to-end helpers for nightjar-inner: its configuration, the daemon itself, `nightjarctl
--config inner.yaml ...` (accounts, outbound queue), and the clients the tests drive it with
(Python smtplib and poplib, swaks, curl, fetchmail, raw POP3).

Builds on harness.py (processes, test directories, ports, YAML, swaks transcripts); what is here
is only what the inner adds. Trust: a test on a developer or CI machine, like harness.py.

Python 3 standard library only.
"""

import base64
import contextlib
import os
import poplib
import re
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HOSTNAME = "mail.nightjar.test"
INTERNAL = h.INTERNAL_DOMAIN  # example.i2p: the users' own addresses
PUBLIC = h.PUBLIC_DOMAIN  # example.test: the same users seen from the Internet


def inner_bin():
    return os.environ.get("NJ_INNER_BIN", os.path.join(h.BUILD_DIR, "bin", "nightjar-inner"))


def require_inner():
    """Exit with SKIP only when the inner daemon has not been built; anything else missing (the
    operator tool, a client program) is a failure."""
    if not os.path.exists(inner_bin()):
        print("SKIP: %s does not exist" % inner_bin())
        sys.exit(h.SKIP)
    h.check(os.path.exists(h.ctl_bin()), "%s does not exist" % h.ctl_bin())


def inner_config(dir_, submission_port, pop3_port, overrides=None):
    """The one place that knows the inner's configuration schema."""
    c = {
        "hostname": HOSTNAME,
        "data_dir": os.path.join(dir_, "data"),
        "domain": {"internal": INTERNAL, "public": PUBLIC},
        "listen": {"submission": ["127.0.0.1:%d" % submission_port],
                   "pop3": ["127.0.0.1:%d" % pop3_port]},
        "keys": {"inner_secret": os.path.join(dir_, "keys", "inner.secret"),
                 "edge_public": os.path.join(dir_, "keys", "edge.pub")},
        "mailbox": {"max_size": "50M"},
        "auth": {"max_failures": 5, "lockout": "15m"},
        "log": {"level": "info"},
    }
    return h.deep_update(c, overrides or {})


def yaml_line_of(text, key_path):
    """1-based line of a dotted key (`listen.submission`) in block YAML written by h.to_yaml."""
    want = key_path.split(".")
    stack = []
    for n, line in enumerate(text.split("\n"), 1):
        m = re.match(r"^( *)([A-Za-z0-9_]+):", line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        stack = stack[:depth] + [m.group(2)]
        if stack == want:
            return n
    raise h.TestFailure("key %s not in:\n%s" % (key_path, text))


class CtlResult:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def __repr__(self):
        return "%s -> %d\nstdout: %s\nstderr: %s" % (" ".join(self.argv), self.rc, self.out,
                                                      self.err)


class Inner:
    """nightjar-inner in the foreground with a generated configuration and fresh keys; its
    stderr goes to inner.log."""

    def __init__(self, tdir, overrides=None, name="inner"):
        self.dir = tdir.sub(name)
        self.key_dir = os.path.join(self.dir, "keys")
        os.makedirs(self.key_dir, exist_ok=True)
        self.submission_port = h.free_port()
        self.pop3_port = h.free_port()
        self.config = inner_config(self.dir, self.submission_port, self.pop3_port, overrides)
        self.data_dir = self.config["data_dir"]
        os.makedirs(self.data_dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "inner.yaml")
        self.log_path = os.path.join(self.dir, "inner.log")
        self.proc = None
        self._keys = False
        self.write_config()

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(h.to_yaml(self.config) + "\n")

    def keygen(self):
        for who in ("inner", "edge"):
            h.run([h.ctl_bin(), "keygen", "--out", os.path.join(self.key_dir, who)])
            for ext in ("secret", "pub"):
                p = os.path.join(self.key_dir, "%s.%s" % (who, ext))
                h.check(os.path.exists(p), "nightjarctl keygen did not write " + p)
        self._keys = True

    def start(self):
        if not self._keys:
            self.keygen()
        self.write_config()
        self.proc = h.Proc([inner_bin(), "--config", self.config_path], self.log_path)
        h._register(self)
        try:
            h.wait_tcp(self.submission_port, proc=self.proc)
            h.wait_tcp(self.pop3_port, proc=self.proc)
        except h.TestFailure as e:
            raise h.TestFailure("%s\ninner log:\n%s" % (e, self.output()))
        return self

    def stop(self):
        """SIGTERM; returns the exit status (the inner must exit 0 on SIGTERM)."""
        rc = None
        if self.proc:
            rc = self.proc.stop(timeout=15)
        h._unregister(self)
        return rc

    def kill(self):
        if self.proc:
            self.proc.kill()
        h._unregister(self)

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    __enter__ = start

    def __exit__(self, *a):
        self.stop()

    # -- nightjarctl --config inner.yaml ...

    def ctl(self, *args, stdin="", expect_rc=0, timeout=60):
        """Runs nightjarctl with this configuration; stdin is fed on a pipe (never a tty).
        expect_rc: 0 (must succeed), "fail" (must exit non-zero) or None (anything)."""
        argv = [h.ctl_bin(), "--config", self.config_path] + [str(a) for a in args]
        h.log("run:", " ".join(argv))
        r = subprocess.run(argv, input=stdin.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        res = CtlResult(argv, r.returncode, r.stdout.decode("utf-8", "replace"),
                        r.stderr.decode("utf-8", "replace"))
        if expect_rc == 0:
            h.check(res.rc == 0, "nightjarctl failed: %r" % res)
        elif expect_rc == "fail":
            h.check(res.rc != 0, "nightjarctl should have failed: %r" % res)
        return res

    def add_account(self, addr, password):
        return self.ctl("account", "add", addr, stdin=password + "\n")

    def accounts(self):
        """Addresses from `account list`: every token that looks like an address."""
        out = self.ctl("account", "list").out
        return sorted(set(re.findall(r"[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+", out)))

    def queue_ids(self):
        """Ids from `queue list`: the first token of each line that is not empty or a header."""
        ids = []
        for line in self.ctl("queue", "list").out.splitlines():
            tok = line.split()
            if tok and re.fullmatch(r"[A-Za-z0-9_.:-]{6,}", tok[0]) and tok[0].lower() != "id":
                ids.append(tok[0])
        return ids

    # -- clients

    def smtp(self, timeout=30):
        """A smtplib.SMTP connected to the submission port (EHLO not yet sent)."""
        return smtplib.SMTP("127.0.0.1", self.submission_port, local_hostname="client.test",
                            timeout=timeout)

    def submit(self, user, password, mail_from, rcpts, msg):
        """AUTH, MAIL, RCPT, DATA with smtplib. Returns (code, text) of the end of DATA; raises
        TestFailure with the reply if any earlier step is refused."""
        with self.smtp() as s:
            s.ehlo("client.test")
            s.login(user, password)
            code, text = s.mail(mail_from)
            h.check(code == 250, "MAIL FROM:<%s>: %d %r" % (mail_from, code, text))
            for r in rcpts:
                code, text = s.rcpt(r)
                h.check(code == 250, "RCPT TO:<%s>: %d %r" % (r, code, text))
            code, text = s.data(msg.encode() if isinstance(msg, str) else msg)
            return code, text.decode("utf-8", "replace")

    def deliver(self, user, password, rcpts, msg, mail_from=None):
        """A submission that must succeed with 250 2.0.0."""
        code, text = self.submit(user, password, mail_from or user, rcpts, msg)
        h.check(code == 250 and text.startswith("2.0.0"),
                "end of DATA: wanted 250 2.0.0, got %d %s" % (code, text))

    def swaks(self, *args, **kw):
        return h.swaks("--server", "127.0.0.1", "--port", self.submission_port, "--helo",
                       "client.test", *args, **kw)

    def pop3(self, timeout=30):
        return poplib.POP3("127.0.0.1", self.pop3_port, timeout=timeout)

    def pop3_login(self, user, password, timeout=30):
        p = self.pop3(timeout)
        try:
            p.user(user)
            p.pass_(password)
        except BaseException:
            p.close()
            raise
        return p

    def mailbox(self, user, password):
        """Every message of the mailbox as bytes (CRLF lines), by RETR; the session ends with
        QUIT, deleting nothing."""
        p = self.pop3_login(user, password)
        try:
            n, _ = p.stat()
            return [b"\r\n".join(p.retr(i)[1]) + b"\r\n" for i in range(1, n + 1)]
        finally:
            p.quit()


def message(subject, body, frm, to, headers=()):
    return h.message(subject, body, headers=headers, to=to, frm=frm)


def pop3_err(fn, *args):
    """Calls a poplib method that must be refused; returns the -ERR line as str."""
    try:
        r = fn(*args)
    except poplib.error_proto as e:
        return e.args[0].decode("utf-8", "replace") if isinstance(e.args[0], bytes) else str(
            e.args[0])
    raise h.TestFailure("%s%r was accepted: %r" % (fn.__name__, args, r))


def smtp_code(reply):
    """(code, text) from smtplib's reply tuple, text as str."""
    code, text = reply
    return code, text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def expect_smtp(reply, code, enhanced, what):
    c, text = smtp_code(reply)
    h.check(c == code and (enhanced is None or text.startswith(enhanced)),
            "%s: wanted %d %s, got %d %s" % (what, code, enhanced or "", c, text))


def auth_plain_blob(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def try_auth(s, user, password):
    """AUTH PLAIN on an smtplib connection after EHLO; returns (code, text) or (None, why) if
    the server closed the connection."""
    try:
        return smtp_code(s.docmd("AUTH", "PLAIN " + auth_plain_blob(user, password)))
    except (smtplib.SMTPServerDisconnected, ConnectionError, OSError) as e:
        return None, "connection closed: %s" % e


def grep_tree(root, needles):
    """(file, needle) for every needle found in any file under root, as UTF-8 or UTF-16-LE
    bytes, case-insensitively for ASCII."""
    hits = []
    for d, _dirs, files in os.walk(root):
        for fn in files:
            p = os.path.join(d, fn)
            with open(p, "rb") as f:
                data = f.read().lower()
            for n in needles:
                for form in (n.lower().encode(), n.lower().encode("utf-16-le")):
                    if form in data:
                        hits.append((p, n))
                        break
    return hits


def data_bytes(root):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)


@contextlib.contextmanager
def inner_world(name, overrides=None, accounts=()):
    """A test directory and a started inner with the given (address, password) accounts, added
    with nightjarctl before start-up. Yields (tdir, inner); on failure the inner's log is
    printed."""
    require_inner()
    with h.TestDir(name) as tdir:
        inner = Inner(tdir, overrides)
        try:
            inner.keygen()
            for addr, pw in accounts:
                inner.add_account(addr, pw)
            inner.start()
            yield tdir, inner
        except BaseException:
            h.log("inner log:\n" + inner.output()[-6000:])
            raise
        finally:
            inner.stop()


def wait_until(fn, timeout, what, step=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise h.TestFailure("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(step)


def pop3_raw(port, lines, timeout=15):
    """Sends raw POP3 command lines one by one after the greeting; returns [(line, reply)]
    with the greeting first as ("", greeting). Single-line replies only."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        out.append(("", f.readline().decode("utf-8", "replace").rstrip("\r\n")))
        for line in lines:
            s.sendall(line.encode() + b"\r\n")
            out.append((line, f.readline().decode("utf-8", "replace").rstrip("\r\n")))
    return out
