"""End-to-end test harness: real peers (unbound, rbldnsd, Postfix, smtp-sink, swaks) and the
nightjar daemons, each on 127.0.0.1 with a free port, in a per-test directory under the build
directory.

Trust: everything here runs as a test on a developer or CI machine. Child processes are started
in their own process group with PR_SET_PDEATHSIG, and every helper is a context manager that is
also registered with atexit, so a failing or killed test leaves no server behind.

Python 3 standard library only.
"""

import atexit
import contextlib
import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77  # ctest SKIP_RETURN_CODE

SOURCE_DIR = os.environ.get(
    "NJ_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
BUILD_DIR = os.environ.get("NJ_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))


def edge_bin():
    return os.environ.get("NJ_EDGE_BIN", os.path.join(BUILD_DIR, "bin", "nightjar-edge"))


def ctl_bin():
    """The inner's nightjarctl."""
    return os.environ.get("NJ_CTL_BIN", os.path.join(BUILD_DIR, "bin", "nightjarctl"))


def edge_ctl_bin():
    """The edge's nightjarctl (built as nightjarctl-edge; on the edge it is installed as
    nightjarctl): keygen, status, overlay, edge-queue."""
    return os.environ.get("NJ_EDGE_CTL_BIN", os.path.join(BUILD_DIR, "bin", "nightjarctl-edge"))


def log(*args):
    print("[e2e]", *args, file=sys.stderr, flush=True)


class TestFailure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


# ---------------------------------------------------------------------------------------------
# processes

_live = []  # objects with a stop() method, stopped at exit in reverse order


def _register(obj):
    _live.append(obj)


def _unregister(obj):
    if obj in _live:
        _live.remove(obj)


@atexit.register
def _stop_all():
    for obj in reversed(list(_live)):
        try:
            obj.stop()
        except Exception as e:  # keep stopping the others
            log("cleanup of", obj, "failed:", e)


def _on_signal(signum, frame):
    # ctest sends SIGTERM on timeout before SIGKILL on some platforms; turn it into a normal exit
    # so atexit runs.
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _child_setup():
    # Own process group (so the whole tree can be killed), and die with the test process even if
    # it is SIGKILLed (ctest timeout) and atexit never runs.
    os.setsid()
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Proc:
    """A child process in its own process group, output captured to a file."""

    def __init__(self, argv, log_path, env=None, cwd=None):
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self._log = open(log_path, "ab")
        log("start:", " ".join(self.argv))
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                  stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  preexec_fn=_child_setup)
        self.pid = self.p.pid
        _register(self)

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10):
        """SIGTERM the group, SIGKILL it if it has not gone after timeout. Returns exit status."""
        if self._log.closed:
            return self.p.returncode
        if self.alive():
            self.signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                log("did not stop on SIGTERM, killing:", self.argv[0])
                self.signal(signal.SIGKILL)
                self.p.wait()
        self._reap_group()
        _unregister(self)
        self._log.close()
        return self.p.returncode

    def kill(self):
        """SIGKILL the group (a crash); the process is finished with afterwards."""
        self.signal(signal.SIGKILL)
        self.p.wait()
        self._reap_group()
        _unregister(self)
        self._log.close()

    def _reap_group(self):
        # Children that outlived the leader (forked workers) are still in the group.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def unit_settings(text):
    """{directive: [values, in order]} of a systemd unit file's text (every section)."""
    settings = {}
    for line in text.split("\n"):
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            settings.setdefault(m.group(1), []).append(m.group(2))
    return settings


def run(argv, timeout=60, check_rc=True, **kw):
    argv = [str(a) for a in argv]
    log("run:", " ".join(argv))
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, **kw)
    out = r.stdout.decode("utf-8", "replace")
    if check_rc and r.returncode != 0:
        raise TestFailure("%s exited %d:\n%s" % (argv[0], r.returncode, out))
    return r.returncode, out


# ---------------------------------------------------------------------------------------------
# ports and directories


def free_port(kind=socket.SOCK_STREAM):
    """A port free for both TCP and UDP on 127.0.0.1 right now (servers bind it soon after)."""
    for _ in range(100):
        port = random.randint(20000, 59999)
        ok = True
        for k in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, k)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise TestFailure("no free port")


# Readiness probes come from their own /24 so that they never count against a test's
# per-client limits while the server notices that they have gone.
PROBE_SOURCE = "127.255.255.1"


def wait_tcp(port, timeout=20, proc=None, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise TestFailure("%s exited before listening:\n%s" % (proc.argv[0], proc.output()))
        try:
            with socket.create_connection((host, port), timeout=1,
                                          source_address=(PROBE_SOURCE, 0)):
                return
        except OSError:
            time.sleep(0.05)
    raise TestFailure("nothing listens on %s:%d after %ss" % (host, port, timeout))


class TestDir:
    """A per-test directory under $NJ_BUILD_DIR/e2e-tmp; removed on success, kept on failure."""

    def __init__(self, name):
        root = os.path.join(BUILD_DIR, "e2e-tmp")
        os.makedirs(root, exist_ok=True)
        self.path = tempfile.mkdtemp(prefix=name + "-", dir=root)
        # Postfix and rbldnsd drop privileges and must be able to walk into it.
        os.chmod(self.path, 0o755)

    def sub(self, name):
        p = os.path.join(self.path, name)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, 0o755)
        return p

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None and not os.environ.get("NJ_E2E_KEEP"):
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            log("kept test directory:", self.path)
        return False


# ---------------------------------------------------------------------------------------------
# DNS


_DNS_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
              "SRV": 33}


def dns_query(port, name, qtype, host="127.0.0.1", timeout=2.0):
    """One UDP DNS query. Returns (rcode, [(type number, rdata as text)]), the text as dig
    prints it for A, AAAA, NS, PTR, CNAME, MX, SRV and TXT."""
    qid = random.randint(0, 0xFFFF)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        if label:
            q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", _DNS_TYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, (host, port))
        msg, _ = s.recvfrom(4096)
    rid, flags, qd, an = struct.unpack(">HHHH", msg[:8])
    check(rid == qid, "DNS id mismatch")
    off = 12
    for _ in range(qd):
        off = _read_name(msg, off)[1] + 4
    answers = []
    for _ in range(an):
        off = _read_name(msg, off)[1]
        t, _c, _ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        answers.append((t, _rdata_text(msg, t, off, rdlen)))
        off += rdlen
    return flags & 0xF, answers


def _read_name(msg, off):
    """(name with trailing dot, offset after the name), following compression pointers."""
    labels, end, hops = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            hops += 1
            check(hops < 64, "DNS compression loop")
            continue
        if n == 0:
            return ".".join(labels) + ".", (end if end is not None else off + 1)
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += n + 1


def _rdata_text(msg, t, off, rdlen):
    rd = msg[off:off + rdlen]
    if t == 1:
        return socket.inet_ntop(socket.AF_INET, rd)
    if t == 28:
        return socket.inet_ntop(socket.AF_INET6, rd)
    if t in (2, 5, 12):
        return _read_name(msg, off)[0]
    if t == 15:
        return "%d %s" % (struct.unpack(">H", rd[:2])[0], _read_name(msg, off + 2)[0])
    if t == 33:
        pr, w, p = struct.unpack(">HHH", rd[:6])
        return "%d %d %d %s" % (pr, w, p, _read_name(msg, off + 6)[0])
    if t == 16:
        parts, i = [], 0
        while i < len(rd):
            parts.append('"%s"' % rd[i + 1:i + 1 + rd[i]].decode("utf-8", "replace"))
            i += rd[i] + 1
        return " ".join(parts)
    return rd.hex()


def dig(port, name, qtype):
    """Answer section via dig(1), an independent client: (status, [rdata text])."""
    _, out = run(["dig", "@127.0.0.1", "-p", port, "+time=2", "+tries=2", name, qtype],
                 timeout=20)
    m = re.search(r"status: (\w+)", out)
    status = m.group(1) if m else "NONE"
    answers = []
    section = None
    for line in out.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = "answer"
            continue
        if line.startswith(";;"):
            section = None if line.strip() != ";;" else section
            continue
        if section == "answer" and line.strip():
            parts = line.split(None, 4)
            if len(parts) == 5 and parts[3] == qtype:
                answers.append(parts[4])
    return status, answers


class Unbound:
    """unbound in the foreground, authoritative for local zones built from Python data.

    zones: {"example.test": [("@", "MX", "10 mx.example.test."), ("mx", "A", "11.0.0.1"), ...]}
    Owner names are relative to the zone ("@" is the apex) unless they end in ".". Names inside a
    zone that have no data get NXDOMAIN (local-zone static). stubs: {"dnsbl.test": port} sends
    that zone to an authoritative server on 127.0.0.1:port (rbldnsd).
    """

    def __init__(self, tdir, zones, stubs=None, resolver=False):
        self.dir = tdir.sub("unbound")
        self.port = free_port()
        self.zones = zones
        self.stubs = stubs or {}
        self.proc = None
        # resolver=True: also port 53 on an address of its own (derived from the port, so that
        # tests running side by side do not collide), for a program that reads the resolver
        # from resolv.conf, where no port can be given (Postfix(resolver=...)).
        self.resolver_ip = ("127.53.%d.%d" % ((self.port >> 8) & 255, self.port & 255)
                            if resolver else None)

    def config(self):
        L = ["server:",
             '  interface: 127.0.0.1@%d' % self.port]
        if self.resolver_ip:
            L.append('  interface: %s@53' % self.resolver_ip)
        L += ["  port: %d" % self.port,
             "  do-daemonize: no",
             '  username: ""',
             '  chroot: ""',
             '  directory: "%s"' % self.dir,
             '  pidfile: "%s/unbound.pid"' % self.dir,
             "  use-syslog: no",
             '  logfile: ""',
             "  verbosity: 1",
             '  module-config: "iterator"',
             "  do-ip6: no",
             "  do-ip4: yes",
             "  do-tcp: yes",
             "  do-not-query-localhost: no",
             "  access-control: 127.0.0.0/8 allow",
             "  num-threads: 1",
             "  so-reuseport: no",
             "  cache-max-ttl: 1",
             "  cache-max-negative-ttl: 1",
             # Nothing here may leave the machine: names outside the test data are refused at
             # once instead of timing out against unreachable root servers.
             '  local-zone: "." refuse',
             # unbound's built-in special-use zones (test., 127.in-addr.arpa., ...) would shadow
             # the test data.
             '  local-zone: "test." nodefault',
             '  local-zone: "127.in-addr.arpa." nodefault',
             '  local-zone: "10.in-addr.arpa." nodefault',
             '  local-zone: "168.192.in-addr.arpa." nodefault']
        for zone, records in self.zones.items():
            z = zone.rstrip(".") + "."
            L.append('  local-zone: "%s" static' % z)
            L.append('  local-data: "%s 60 IN SOA ns.%s hostmaster.%s 1 3600 600 86400 60"'
                     % (z, z, z))
            for owner, rtype, rdata in records:
                if owner == "@":
                    fq = z
                elif owner.endswith("."):
                    fq = owner
                else:
                    fq = owner + "." + z
                L.append("  local-data: '%s 60 IN %s %s'" % (fq, rtype, rdata))
        for zone in self.stubs:
            L.append('  local-zone: "%s." transparent' % zone.rstrip("."))
        L += ["remote-control:", "  control-enable: no"]
        for zone, port in self.stubs.items():
            L += ["stub-zone:", '  name: "%s."' % zone.rstrip("."),
                  "  stub-addr: 127.0.0.1@%d" % port]
        return "\n".join(L) + "\n"

    def start(self):
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        run(["unbound-checkconf", conf])
        self.proc = Proc(["unbound", "-d", "-c", conf], os.path.join(self.dir, "unbound.log"))
        _register(self)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise TestFailure("unbound exited:\n" + self.proc.output())
            try:
                dns_query(self.port, next(iter(self.zones), "test"), "SOA", timeout=0.3)
                return self
            except (OSError, socket.timeout):
                time.sleep(0.05)
        raise TestFailure("unbound does not answer")

    def stop(self):
        if self.proc:
            self.proc.stop()
        _unregister(self)

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    __enter__ = start

    def __exit__(self, *a):
        self.stop()


class Rbldnsd:
    """rbldnsd for one DNSBL zone listing some IPv4 addresses (answer 127.0.0.2)."""

    def __init__(self, tdir, zone, listed_ips):
        self.dir = tdir.sub("rbldnsd")
        self.zone = zone.rstrip(".")
        self.listed = list(listed_ips)
        self.port = free_port()
        self.proc = None

    def start(self):
        data = os.path.join(self.dir, "listed.ip4set")
        with open(data, "w") as f:
            f.write(":127.0.0.2:Listed by the nightjar test DNSBL\n")
            for ip in self.listed:
                f.write(ip + "\n")
        os.chmod(data, 0o644)
        self.proc = Proc(["rbldnsd", "-n", "-f", "-u", "nobody", "-b",
                          "127.0.0.1/%d" % self.port, "-w", self.dir, "-t", "1",
                          "%s:ip4set:listed.ip4set" % self.zone],
                         os.path.join(self.dir, "rbldnsd.log"))
        _register(self)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise TestFailure("rbldnsd exited:\n" + self.proc.output())
            try:
                dns_query(self.port, self.zone, "SOA", timeout=0.3)
                return self
            except (OSError, socket.timeout):
                time.sleep(0.05)
        raise TestFailure("rbldnsd does not answer")

    def stop(self):
        if self.proc:
            self.proc.stop()
        _unregister(self)

    __enter__ = start

    def __exit__(self, *a):
        self.stop()


def reverse_ip(ip):
    return ".".join(reversed(ip.split(".")))


# ---------------------------------------------------------------------------------------------
# Postfix and smtp-sink

POSTFIX_MASTER = "/usr/lib/postfix/sbin/master"


class Postfix:
    """A private Postfix instance: own config, queue and data directories in the test directory,
    smtpd on 127.0.0.1:port. Two modes, alone or together:

    - relay ("[127.0.0.1]:PORT"): an Internet MTA sending; every message for a domain that is
      not its own goes to that host.
    - domain + mailboxes: the final destination (an MX) for `domain`; each local part in
      mailboxes gets a Maildir under DIR/vmail/<domain>/<local part>/ written by Postfix's
      virtual(8) as nobody; other local parts are refused at RCPT (550 5.1.1), other domains
      are not relayed (reject_unauth_destination). `delivered(local)` reads what it stored.

    The master runs in the foreground (master -d) as our child, so a killed test cannot leave it
    behind; `postfix -c DIR check` builds the queue tree and `postfix -c DIR stop` stops it.
    Running as root, Postfix accepts -c without alternate_config_directories.
    """

    def __init__(self, tdir, relay=None, name="postfix", helo="mta.sender.test", main=None,
                 domain=None, mailboxes=(), resolver=None):
        self.dir = tdir.sub(name)
        self.conf = self.sub("conf")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.maillog = os.path.join(self.dir, "maillog")
        self.port = free_port()
        self.name = name
        self.relay = relay
        self.helo = helo
        self.domain = domain
        self.mailboxes = list(mailboxes)
        check(bool(self.mailboxes) == bool(domain), "Postfix: a domain needs its mailboxes")
        self.vmail = os.path.join(self.dir, "vmail")
        self.extra = main or {}
        self.proc = None
        # resolver: an IP whose port 53 answers (Unbound(resolver=True)). Postfix then looks up
        # MX records in DNS, in a mount namespace of its own where /etc/resolv.conf names it.
        self.resolver = resolver

    def sub(self, n):
        p = os.path.join(self.dir, n)
        os.makedirs(p, exist_ok=True)
        return p

    def main_cf(self):
        m = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "syslog_name": "postfix-e2e-%s-%d" % (self.name, self.port),
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": self.helo,
            "mydomain": "sender.test",
            "myorigin": "sender.test",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtp_helo_name": self.helo,
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "smtp_bind_address": "127.0.0.1",
            "smtp_dns_support_level": "enabled" if self.resolver else "disabled",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "smtp_connect_timeout": "5s",
            "message_size_limit": "10240000",
        }
        if self.relay:
            m["relayhost"] = self.relay
        if self.domain:
            m.update(self._final_destination_cf())
        m.update(self.extra)
        return "".join("%s = %s\n" % kv for kv in m.items())

    def master_cf(self):
        # No chroot anywhere: the queue is not laid out for it.
        return """\
127.0.0.1:%d inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
virtual   unix  -       n       n       -       -       virtual
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""" % self.port

    def _final_destination_cf(self):
        # virtual(8) delivers as nobody; a "dir/" value is a Maildir under the base.
        uid, gid = _nobody_ids()
        boxes = ", ".join("%s@%s=%s/%s/" % (lp, self.domain, self.domain, lp)
                          for lp in self.mailboxes)
        m = {
            "mydomain": self.domain,
            "myorigin": self.domain,
            "virtual_mailbox_domains": self.domain,
            "virtual_mailbox_base": self.vmail,
            "virtual_mailbox_maps": "inline:{ %s }" % boxes,
            "virtual_uid_maps": "static:%d" % uid,
            "virtual_gid_maps": "static:%d" % gid,
        }
        if not self.relay:
            # An MX for its own domain, open to every client for it and to none for others.
            m["smtpd_relay_restrictions"] = "reject_unauth_destination"
        return m

    def delivered(self, local_part):
        """The messages Postfix has stored for local_part@domain, as bytes exactly as on disk,
        oldest first (Maildir new/ and cur/; a file appears there only once complete)."""
        box = os.path.join(self.vmail, self.domain, local_part)
        files = []
        for sub in ("new", "cur"):
            d = os.path.join(box, sub)
            if os.path.isdir(d):
                files += [os.path.join(d, f) for f in os.listdir(d)]
        out = []
        for path in sorted(files, key=lambda p: (os.stat(p).st_mtime, p)):
            with open(path, "rb") as f:
                out.append(f.read())
        return out

    def wait_delivered(self, local_part, count=1, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.delivered(local_part)) < count:
            if time.monotonic() > deadline:
                raise TestFailure("postfix stored %d/%d messages for %s@%s:\n%s"
                                  % (len(self.delivered(local_part)), count, local_part,
                                     self.domain, self.log()[-4000:]))
            time.sleep(0.2)
        return self.delivered(local_part)

    def _write_config(self):
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(self.main_cf())
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(self.master_cf())

    def write_map(self, name, entries):
        """Writes the lookup table conf/<name> ("key value" lines from the dict `entries`) and
        builds it with postmap; returns "hash:PATH" for a main.cf setting (`main=`). Before
        start() it writes main.cf first (postmap reads it). A running Postfix sees a rewritten
        table after reload()."""
        if not os.path.exists(os.path.join(self.conf, "main.cf")):
            self._write_config()
        path = os.path.join(self.conf, name)
        with open(path, "w") as f:
            f.write("".join("%s %s\n" % kv for kv in entries.items()))
        run(["postmap", "-c", self.conf, "hash:" + path])
        return "hash:" + path

    def reload(self):
        """`postfix -c DIR reload`, waiting until the master has logged it: new connections are
        then served with the current configuration and tables (a session already open keeps
        the process that serves it)."""
        before = self.log().count(" reload -- ")
        run(["postfix", "-c", self.conf, "reload"])
        self.wait_log(" reload -- ", count=before + 1, timeout=20)

    def start(self):
        if self.domain:
            os.makedirs(self.vmail, exist_ok=True)
            uid, gid = _nobody_ids()
            os.chown(self.vmail, uid, gid)
        self._write_config()
        os.makedirs(self.queue, exist_ok=True)
        os.chmod(self.queue, 0o755)
        # Creates the queue tree with Postfix's ownerships and checks the configuration.
        run(["postfix", "-c", self.conf, "check"])
        argv = [POSTFIX_MASTER, "-d", "-c", self.conf]
        if self.resolver:
            resolv = os.path.join(self.dir, "resolv.conf")
            with open(resolv, "w") as f:
                f.write("nameserver %s\noptions timeout:2 attempts:2\n" % self.resolver)
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv] + argv
        self.proc = Proc(argv, os.path.join(self.dir, "master.out"),
                         env=dict(os.environ, MAIL_CONFIG=self.conf))
        _register(self)
        try:
            wait_tcp(self.port, proc=self.proc)
        except TestFailure:
            raise TestFailure("postfix did not start:\n" + self.log())
        return self

    def stop(self):
        if self.proc and self.proc.alive():
            run(["postfix", "-c", self.conf, "stop"], check_rc=False)
            if self.proc.wait(15) is None:
                log("postfix master ignored stop")
        if self.proc:
            self.proc.stop()
        _unregister(self)

    __enter__ = start

    def __exit__(self, *a):
        self.stop()

    def log(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def send(self, mail_from, rcpts, message):
        """Inject over SMTP to this instance's smtpd (as an MUA on the same host would)."""
        import smtplib
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.sender.test",
                          timeout=30) as s:
            s.sendmail(mail_from, rcpts, message)

    def queue_count(self):
        n = 0
        for d in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _root, _dirs, files in os.walk(os.path.join(self.queue, d)):
                n += len(files)
        return n

    def flush(self):
        run(["postqueue", "-c", self.conf, "-f"], check_rc=False)

    def wait_log(self, pattern, timeout=60, count=1):
        """Wait until the maillog has count lines matching the regex; returns them."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            lines = [l for l in self.log().splitlines() if rx.search(l)]
            if len(lines) >= count:
                return lines
            if time.monotonic() > deadline:
                raise TestFailure("postfix log has %d/%d lines matching %r:\n%s"
                                  % (len(lines), count, pattern, self.log()[-4000:]))
            time.sleep(0.2)

    def wait_queue_empty(self, timeout=60):
        deadline = time.monotonic() + timeout
        while self.queue_count():
            if time.monotonic() > deadline:
                raise TestFailure("postfix queue not empty:\n" + self.log()[-4000:])
            time.sleep(0.2)


class Postgrey:
    """postgrey, the greylisting policy server, in the foreground on 127.0.0.1:port; a Postfix
    asks it with check_policy_service (`policy` is that setting's argument). Every (client
    network, sender, recipient) is refused for now until `delay` seconds after it was first
    seen; clients are never whitelisted for having passed before."""

    def __init__(self, tdir, delay=3, name="postgrey"):
        self.dir = tdir.sub(name)
        self.db = os.path.join(self.dir, "db")
        os.makedirs(self.db, exist_ok=True)
        shutil.chown(self.db, "postgrey")
        self.port = free_port()
        self.delay = delay
        self.proc = None

    @property
    def policy(self):
        return "inet:127.0.0.1:%d" % self.port

    def start(self):
        self.proc = Proc(["postgrey", "--inet=127.0.0.1:%d" % self.port,
                          "--delay=%d" % self.delay, "--dbdir=" + self.db,
                          "--auto-whitelist-clients=0", "--user=postgrey", "--group=nogroup",
                          "--pidfile=" + os.path.join(self.dir, "pid")],
                         os.path.join(self.dir, "postgrey.log"))
        _register(self)
        wait_tcp(self.port, proc=self.proc)
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()
        _unregister(self)

    def greylisted(self):
        """How many times it refused a triplet for now."""
        return self.proc.output().count("action=greylist") if self.proc else 0

    __enter__ = start

    def __exit__(self, *a):
        self.stop()


class SmtpSink:
    """Postfix's smtp-sink, one file per received message under dir."""

    def __init__(self, tdir, name="sink"):
        self.dir = tdir.sub(name)
        self.mail_dir = os.path.join(self.dir, "mail")
        os.makedirs(self.mail_dir, exist_ok=True)
        shutil.chown(self.mail_dir, "nobody")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = Proc(["smtp-sink", "-u", "nobody", "-h", "sink.test", "-d",
                          self.mail_dir + "/", "127.0.0.1:%d" % self.port, "100"],
                         os.path.join(self.dir, "smtp-sink.log"))
        _register(self)
        wait_tcp(self.port, proc=self.proc)
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()
        _unregister(self)

    __enter__ = start

    def __exit__(self, *a):
        self.stop()

    def _open_files(self):
        """The files smtp-sink holds open: it writes a dump file while the transaction runs, so
        a file it still holds may be empty or half written."""
        held = set()
        if not self.proc:
            return held
        fd_dir = "/proc/%d/fd" % self.proc.pid
        try:
            for fd in os.listdir(fd_dir):
                try:
                    held.add(os.readlink(os.path.join(fd_dir, fd)))
                except OSError:
                    pass
        except OSError:
            pass
        return held

    def messages(self):
        """The messages whose transaction has ended (smtp-sink has closed their file)."""
        out = []
        held = self._open_files()
        for root, _dirs, files in os.walk(self.mail_dir):
            for fn in sorted(files):
                path = os.path.join(root, fn)
                if os.path.realpath(path) in held:
                    continue
                with open(path, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
        return out

    def wait_messages(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.messages()) < count:
            if time.monotonic() > deadline:
                raise TestFailure("smtp-sink has %d/%d messages" % (len(self.messages()), count))
            time.sleep(0.2)
        return self.messages()


# ---------------------------------------------------------------------------------------------
# swaks and raw SMTP


class Transcript:
    """A swaks transcript, split into (client command, [server reply lines]) steps."""

    def __init__(self, rc, text):
        self.rc = rc
        self.text = text
        self.steps = []  # (client line or "CONNECT", [server reply lines]), in order
        cmd, replies = "CONNECT", []
        for line in text.splitlines():
            if line.startswith((" -> ", " ~> ")):
                self.steps.append((cmd, replies))
                cmd, replies = line[4:], []
            elif line.startswith(("<-  ", "<~  ", "<** ")):
                replies.append(line[4:].strip())
        self.steps.append((cmd, replies))

    def reply(self, command_prefix, nth=0):
        """The reply lines to the nth client command starting with command_prefix (case-
        insensitive), or None if it was never sent."""
        seen = 0
        for cmd, replies in self.steps:
            if cmd.upper().startswith(command_prefix.upper()):
                if seen == nth:
                    return replies
                seen += 1
        return None

    def expect(self, command_prefix, code, enhanced=None, contains=None, nth=0):
        r = self.reply(command_prefix, nth)
        check(r is not None, "%s was never sent; transcript:\n%s" % (command_prefix, self.text))
        check(r, "no reply to %s; transcript:\n%s" % (command_prefix, self.text))
        last = r[-1]
        ok = last.startswith(str(code))
        if enhanced:
            ok = ok and re.match(r"^%s[ -]%s\b" % (code, re.escape(enhanced)), last) is not None
        if contains:
            ok = ok and contains.lower() in " ".join(r).lower()
        check(ok, "%s: wanted %s %s%s, got %r; transcript:\n%s"
              % (command_prefix, code, enhanced or "", " (%s)" % contains if contains else "",
                 r, self.text))
        return r


def swaks(*args, timeout=60):
    """Run swaks; returns a Transcript. Never raises on a non-zero exit: SMTP refusals are what
    the tests look for."""
    argv = ["swaks", "--timeout", "20"] + [str(a) for a in args]
    rc, out = run(argv, timeout=timeout, check_rc=False)
    return Transcript(rc, out)


class RawSmtp:
    """A raw socket client, for what swaks cannot do (talk before the banner, bare LF)."""

    def __init__(self, port, source="127.0.0.1", timeout=15):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.bind((source, 0))
        self.s.connect(("127.0.0.1", port))
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One complete (possibly multi-line) reply as [lines]; [] if the peer closed."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                try:
                    chunk = self.s.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    return lines
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            line = line.decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def send_message(port, source, helo, mail_from, rcpts, message, banner_timeout=15):
    """One SMTP transaction over a raw socket; returns {step: reply lines} for "banner", "ehlo",
    "mail", "rcpt:<addr>", "data", "." (the end of data). Stops at the first refusal. The
    message is sent as given (bytes or str), with dot-stuffing, so tests control line endings.
    message None: stop after RCPT (QUIT without DATA)."""
    out = {}
    with RawSmtp(port, source=source, timeout=banner_timeout + 15) as c:
        out["banner"] = c.reply()
        if not out["banner"] or not out["banner"][-1].startswith("220"):
            return out
        out["ehlo"] = c.cmd("EHLO " + helo)
        if not out["ehlo"][-1:] or not out["ehlo"][-1].startswith("250"):
            return out
        out["mail"] = c.cmd("MAIL FROM:<%s>" % mail_from)
        if not out["mail"][-1:] or not out["mail"][-1].startswith("250"):
            return out
        ok = 0
        for r in rcpts:
            out["rcpt:" + r] = c.cmd("RCPT TO:<%s>" % r)
            ok += bool(out["rcpt:" + r][-1:] and out["rcpt:" + r][-1].startswith("250"))
        if not ok or message is None:
            c.cmd("QUIT")
            return out
        out["data"] = c.cmd("DATA")
        if not out["data"][-1:] or not out["data"][-1].startswith("354"):
            return out
        if isinstance(message, str):
            message = message.encode()
        body = b"\n".join(b"." + l if l.startswith(b".") else l for l in message.split(b"\n"))
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        try:
            c.send(body + b".\r\n")
            out["."] = c.reply()
        except (BrokenPipeError, ConnectionResetError):
            # refused mid-stream (size): the reply was sent before the close
            try:
                out["."] = c.reply()
            except OSError:
                out["."] = []
        try:
            c.cmd("QUIT")
        except OSError:
            pass
    return out


def expect_reply(lines, code, enhanced=None, what=""):
    check(lines, "%s: connection closed, wanted %s %s" % (what, code, enhanced or ""))
    last = lines[-1]
    ok = last.startswith(str(code))
    if enhanced:
        ok = ok and re.match(r"^%s[ -]%s\b" % (code, re.escape(enhanced)), last) is not None
    check(ok, "%s: wanted %s %s, got %r" % (what, code, enhanced or "", lines))


# ---------------------------------------------------------------------------------------------
# nightjar-edge


def require_edge():
    """Exit with SKIP when the edge daemon has not been built; anything else missing (the edge's
    operator tool, a peer program) fails."""
    if not os.path.exists(edge_bin()):
        print("SKIP: %s does not exist" % edge_bin())
        sys.exit(SKIP)
    check(os.path.exists(edge_ctl_bin()), "%s does not exist" % edge_ctl_bin())


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if re.fullmatch(r"[A-Za-z0-9_./@-]+(:[0-9]+)?", s) and s.lower() not in (
            "true", "false", "yes", "no", "on", "off", "null", "~"):
        return s
    return json.dumps(s)  # a JSON string is a YAML double-quoted scalar


def to_yaml(obj, indent=0):
    """Block-style YAML for dicts of dicts/lists/scalars (so config errors carry line numbers)."""
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out.append("%s%s:" % (pad, k))
                out.append(to_yaml(v, indent + 1))
            elif isinstance(v, list) and v and any(isinstance(x, (dict, list)) for x in v):
                out.append("%s%s:" % (pad, k))
                for item in v:
                    lines = to_yaml(item, 0).split("\n")
                    out.append("%s  - %s" % (pad, lines[0]))
                    out += ["%s    %s" % (pad, l) for l in lines[1:]]
            elif isinstance(v, list):
                out.append("%s%s: [%s]" % (pad, k, ", ".join(_yaml_scalar(x) for x in v)))
            elif isinstance(v, dict):
                out.append("%s%s: {}" % (pad, k))
            else:
                out.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    else:
        out.append(pad + _yaml_scalar(obj))
    return "\n".join(out)


def deep_update(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = v
    return base


EDGE_HOSTNAME = "mx.nightjar.test"
PUBLIC_DOMAIN = "example.test"
INTERNAL_DOMAIN = "example.i2p"


def edge_config(data_dir, mx_port, dns_addr, key_dir, overrides=None):
    """The one place that knows the edge's configuration schema."""
    c = {
        "hostname": EDGE_HOSTNAME,
        "data_dir": data_dir,
        "domains": [{"public": PUBLIC_DOMAIN, "internal": INTERNAL_DOMAIN}],
        "listen": {"mx": ["127.0.0.1:%d" % mx_port], "onion_mx": [], "link": []},
        "dns": {"servers": [dns_addr], "timeout": "2s", "tries": 2},
        "keys": {"edge_secret": os.path.join(key_dir, "edge.secret"),
                 "inner_public": os.path.join(key_dir, "inner.pub")},
        "checks": {
            "greet_wait": "1s",
            "sender": {"allow_loopback_dns": True,
                       "allowlists": [{"domain": "bank.test", "clients": ["127.0.0.3/32"]}]},
            "dnsbl": {"zones": [{"zone": "dnsbl.test", "weight": 1}], "threshold": 1},
            "greylist": {"delay": "2s", "retry_window": "2d", "max_age": "35d"},
        },
        "limits": {"max_message_size": "1M", "max_recipients": 50, "max_connections": 100,
                   "max_connections_per_client": 5},
        "log": {"level": "info"},
    }
    return deep_update(c, overrides or {})


class Edge:
    """nightjar-edge in the foreground with a generated configuration and fresh keys."""

    def __init__(self, tdir, dns_addr, overrides=None, name="edge", mx_host="127.0.0.1"):
        self.dir = tdir.sub(name)
        self.mx_host = mx_host
        self.data_dir = os.path.join(self.dir, "data")
        self.key_dir = os.path.join(self.dir, "keys")
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(self.key_dir, exist_ok=True)
        self.port = free_port()
        self.config = edge_config(self.data_dir, self.port, dns_addr, self.key_dir, overrides)
        if mx_host != "127.0.0.1":
            self.config["listen"]["mx"] = ["%s:%d" % (mx_host, self.port)]
        self.config_path = os.path.join(self.dir, "edge.yaml")
        self.log_path = os.path.join(self.dir, "edge.log")
        self.proc = None
        self._keys = False

    def keygen(self):
        for who in ("edge", "inner"):
            run([edge_ctl_bin(), "keygen", "--out", os.path.join(self.key_dir, who)])
            for ext in ("secret", "pub"):
                p = os.path.join(self.key_dir, "%s.%s" % (who, ext))
                check(os.path.exists(p), "nightjarctl keygen did not write " + p)
        self._keys = True

    @property
    def inner_secret(self):
        return os.path.join(self.key_dir, "inner.secret")

    def start(self):
        if not self._keys:
            self.keygen()
        with open(self.config_path, "w") as f:
            f.write(to_yaml(self.config) + "\n")
        self.proc = Proc([edge_bin(), "--config", self.config_path], self.log_path)
        _register(self)
        try:
            wait_tcp(self.port, proc=self.proc, host=self.mx_host)
        except TestFailure as e:
            raise TestFailure("%s\nedge log:\n%s" % (e, self.output()))
        return self

    def stop(self):
        """SIGTERM; returns the exit status (the edge must exit 0 on SIGTERM)."""
        rc = None
        if self.proc:
            rc = self.proc.stop(timeout=15)
        _unregister(self)
        return rc

    def kill(self):
        if self.proc:
            self.proc.kill()
        _unregister(self)

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def queue(self, *args):
        """The edge's nightjarctl edge-queue --data-dir DIR --inner-secret KEY ARGS..."""
        _, out = run([edge_ctl_bin(), "edge-queue", "--data-dir", self.data_dir, "--inner-secret",
                      self.inner_secret] + list(args))
        return out

    def queue_ids(self):
        """Message ids from `edge-queue list`: the first token of each non-empty line that is
        not a header."""
        ids = []
        for line in self.queue("list").splitlines():
            tok = line.split()
            if tok and re.fullmatch(r"[A-Za-z0-9_-]{6,}", tok[0]) and tok[0].lower() != "id":
                ids.append(tok[0])
        return ids

    __enter__ = start

    def __exit__(self, *a):
        self.stop()


def swaks_edge(edge, *args, source="127.0.0.1", helo="mta.sender.test", **kw):
    return swaks("--server", "127.0.0.1", "--port", edge.port, "--local-interface", source,
                 "--helo", helo, *args, **kw)


# ---------------------------------------------------------------------------------------------
# the test DNS world the edge tests share

def sender_zones():
    """Sender domains for the edge's checks. 11.0.0.0/8 is public and never contacted."""
    return {
        "sender.test": [("@", "MX", "10 mx.sender.test."), ("mx", "A", "11.0.0.1"),
                        ("@", "A", "11.0.0.2"), ("@", "NS", "ns.sender.test."),
                        ("ns", "A", "11.0.0.3"), ("mta", "A", "11.0.0.4")],
        "norecords.test": [("other", "A", "11.0.0.9")],  # norecords.test itself: NODATA
        "nullmx.test": [("@", "MX", "0 ."), ("@", "A", "11.0.0.5")],
        "privmx.test": [("@", "MX", "10 mx.privmx.test."), ("mx", "A", "10.1.2.3")],
        "privns.test": [("@", "MX", "10 mx.privns.test."), ("mx", "A", "11.0.0.6"),
                        ("@", "NS", "ns.privns.test."), ("ns", "A", "192.168.1.1")],
        "bank.test": [("@", "MX", "10 mx.bank.test."), ("mx", "A", "11.0.0.7")],
        "example.test": [("@", "MX", "10 mx.nightjar.test.")],
        "nightjar.test": [("mx", "A", "11.0.0.8")],
        "elsewhere.test": [("@", "MX", "10 mx.elsewhere.test."), ("mx", "A", "11.0.0.10")],
    }


@contextlib.contextmanager
def edge_world(name, overrides=None, dnsbl_listed=("127.0.0.2",)):
    """A test directory, rbldnsd listing dnsbl_listed, unbound with sender_zones() forwarding
    dnsbl.test to it, and a started edge using that unbound. Yields (tdir, unbound, edge)."""
    require_edge()
    with TestDir(name) as tdir:
        with Rbldnsd(tdir, "dnsbl.test", dnsbl_listed) as rbl:
            with Unbound(tdir, sender_zones(), stubs={"dnsbl.test": rbl.port}) as ub:
                edge = Edge(tdir, ub.addr, overrides)
                try:
                    edge.start()
                    yield tdir, ub, edge
                except BaseException:
                    log("edge log:\n" + edge.output()[-6000:])
                    raise
                finally:
                    edge.stop()


def pass_greylist(edge, source, mail_from, rcpt, helo="mta.sender.test"):
    """Make the edge's greylist know (client, sender, recipient): try once, wait out the delay.
    Returns the reply lines of the first try (450 4.2.0 when greylisting is on)."""
    r = send_message(edge.port, source, helo, mail_from, [rcpt], None)
    first = r.get("rcpt:" + rcpt)
    check(first is not None, "greylist: the transaction did not reach RCPT: %r" % r)
    if first and first[-1].startswith("450"):
        delay = str(edge.config["checks"]["greylist"]["delay"])
        time.sleep(float(delay.rstrip("s")) + 1.0)
    return first


def message(subject, body, headers=(), to="alice@example.test", frm="bob@sender.test"):
    """An RFC 5322 message with CRLF line endings."""
    lines = ["From: <%s>" % frm, "To: <%s>" % to, "Subject: %s" % subject,
             "Date: Sun, 22 Nov 2026 04:00:00 +0000",
             "Message-ID: <%d.%d@sender.test>" % (time.time_ns(), random.randint(0, 1 << 30))]
    lines += list(headers)
    return "\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n"


def main(fn):
    """Run one test function; exit 0 on success, 1 on failure, SKIP when skipped."""
    try:
        fn()
    except TestFailure as e:
        print("FAIL:", e, flush=True)
        sys.exit(1)
    except Exception:
        import traceback
        traceback.print_exc()
        print("FAIL: unexpected error", flush=True)
        sys.exit(1)
    print("PASS")
    sys.exit(0)


# ---------------------------------------------------------------------------------------------
# helpers added for the Postfix final-destination mode


def _nobody_ids():
    """uid and gid of the unprivileged user Postfix's virtual(8) delivers as."""
    import pwd
    pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid
