#!/usr/bin/env python3
"""A private Tor network on 127.0.0.1 for the end-to-end tests: 3 directory authorities,
3 relays, clients with a SocksPort and onion services, built from Debian's `tor` and
`tor-gencert` (see docs/overlays.md and docs/testing.md).

Trust: a test on a developer or CI machine, like harness.py. It never touches the public Tor
network: every tor gets its own DataDirectory and torrc listing only our own authorities
(`DirAuthority` lines replace the built-in ones), all ports are on 127.0.0.1, and every tor
process runs under harness.Proc (own process group, PR_SET_PDEATHSIG, stopped at exit).

Two ways to use it:
- in a test: `with TorNet(tdir) as net: net.start(); port = net.add_client(); ...`
- shared by all Tor tests of one ctest run: `python3 tornet.py up DIR` starts a supervisor
  process that owns the network and writes DIR/tornet.json once it has bootstrapped;
  `python3 tornet.py down DIR` stops it. A test calls `shared_or_own(tdir)`, which attaches to
  the running network named by $NJ_TORNET_DIR (ctest fixture `tornet`) or else starts its own.
  Tests attached to a shared network add their own clients and services as new tors that join
  it, so parallel tests never share a service.

Python 3 standard library only (plus the `openssl` program for client authorization keys).
"""

import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOR = os.environ.get("NJ_TOR_BIN", "tor")
TOR_GENCERT = os.environ.get("NJ_TOR_GENCERT_BIN", "tor-gencert")

# Lines every node shares (TOR-TESTNET facts): testing network, flags for every relay so that
# three relays are enough for guards and HSDirs, no sandbox, no lingering on shutdown.
COMMON = """\
TestingTorNetwork 1
PathsNeededToBuildCircuits 0.67
TestingDirAuthVoteExit *
TestingDirAuthVoteHSDir *
TestingDirAuthVoteGuard *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
Sandbox 0
RunAsDaemon 0
ShutdownWaitLength 0
ClientUseIPv6 0
"""

# Short voting schedule: intervals divide a day and vote+dist delay is under half the interval.
# With these an onion service answers about 25 s after start.
AUTHORITY = """\
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
ContactInfo nightjar-test-authority@localhost
TestingV3AuthInitialVotingInterval 5
TestingV3AuthInitialVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthVotingInterval 10
V3AuthVoteDelay 2
V3AuthDistDelay 2
"""

BOOTSTRAP_TIMEOUT = float(os.environ.get("NJ_TORNET_TIMEOUT", "150"))

# SOCKS5 reply codes; 0xF0..0xF7 are tor's onion-service extended errors (SocksPort
# ExtendedErrors), which tell "needs client authorization" apart from "not there yet".
SOCKS_REPLIES = {
    0x00: "succeeded", 0x01: "general failure", 0x04: "host unreachable",
    0x05: "connection refused", 0x06: "TTL expired",
    0xF0: "onion descriptor not found", 0xF1: "onion descriptor invalid",
    0xF2: "onion introduction failed", 0xF3: "onion rendezvous failed",
    0xF4: "onion service missing client authorization",
    0xF5: "onion service wrong client authorization", 0xF6: "onion address invalid",
    0xF7: "onion introduction timed out",
}
SOCKS_MISSING_CLIENT_AUTH = 0xF4


def progress(*args):
    # Progress goes to stdout (ctest shows it with --output-on-failure / -V).
    print("[tornet]", *args, flush=True)


def _mkdir700(path):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _bootstrapped(log_path):
    try:
        with open(log_path, errors="replace") as f:
            return "Bootstrapped 100%" in f.read()
    except FileNotFoundError:
        return False


def _last_bootstrap_line(log_path):
    try:
        with open(log_path, errors="replace") as f:
            lines = [ln.strip() for ln in f if "Bootstrapped" in ln]
        return lines[-1] if lines else "(no Bootstrapped line yet)"
    except FileNotFoundError:
        return "(no log yet)"


def x25519_keypair():
    """A v3 onion client-authorization key pair as (base32 public, base32 private): raw 32-byte
    X25519 keys from `openssl genpkey`, base32 without padding as tor's .auth files want."""
    r = subprocess.run(["openssl", "genpkey", "-algorithm", "x25519", "-outform", "DER"],
                       stdout=subprocess.PIPE, check=True)
    priv_der = r.stdout
    r = subprocess.run(["openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER"],
                       input=priv_der, stdout=subprocess.PIPE, check=True)
    pub_der = r.stdout
    # Both DER encodings end with the raw 32-byte key.
    b32 = lambda raw: base64.b32encode(raw[-32:]).decode().rstrip("=")  # noqa: E731
    return b32(pub_der), b32(priv_der)


class Node:
    """One tor process with its own DataDirectory, torrc and notice log."""

    def __init__(self, net, nick, role):
        self.net = net
        self.nick = nick
        self.role = role
        self.dir = _mkdir700(os.path.join(net.dir, nick))
        self.torrc = os.path.join(self.dir, "torrc")
        self.notice_log = os.path.join(self.dir, "notice.log")
        self.proc = None
        self.or_port = self.dir_port = self.socks_port = None
        self.extra = ""

    def base_config(self):
        return COMMON + "DataDirectory %s\nNickname %s\nLog notice file %s\n" % (
            self.dir, self.nick, self.notice_log)

    def config(self):
        return self.base_config() + self.extra + "".join(
            a + "\n" for a in self.net.dir_authority_lines)

    def start(self):
        _write(self.torrc, self.config())
        # Verify first: a mistake in a torrc is clearer here than as a dead process.
        h.run([TOR, "--defaults-torrc", os.devnull, "--verify-config", "-f", self.torrc],
              timeout=30)
        self.proc = h.Proc([TOR, "--defaults-torrc", os.devnull, "-f", self.torrc],
                           os.path.join(self.dir, "stdout.log"))

    def stop(self):
        if self.proc is not None:
            self.proc.stop()

    def bootstrapped(self):
        return _bootstrapped(self.notice_log)


class TorNet:
    """The private network. `start()` builds and boots authorities and relays; clients and
    onion services are added afterwards (each its own tor)."""

    def __init__(self, tdir, prefix="tornet"):
        # tdir: a harness.TestDir, or a plain directory path (the CLI's DIR).
        base = tdir.path if hasattr(tdir, "path") else tdir
        self.dir = _mkdir700(os.path.join(base, prefix))
        self.authorities = []
        self.relays = []
        self.clients = []
        self.services = []
        self.dir_authority_lines = []
        self._counter = 0
        h._register(self)

    # --- building the network ------------------------------------------------------------

    def _nick(self, kind):
        self._counter += 1
        return "%s%d" % (kind, self._counter)

    def _relay_fingerprint(self, node):
        # Creates the node's identity keys in its DataDirectory and prints "Nick FPR FPR ...".
        _, out = h.run([TOR, "--defaults-torrc", os.devnull, "--ignore-missing-torrc", "-f",
                        node.torrc + ".none", "--orport",
                        "1", "--datadirectory", node.dir, "--list-fingerprint"], timeout=60)
        last = [ln for ln in out.strip().splitlines() if ln.strip()][-1].split()
        fpr = "".join(last[1:])
        h.check(re.fullmatch(r"[0-9A-F]{40}", fpr), "bad fingerprint line: %r" % last)
        return fpr

    def _make_authority(self):
        n = Node(self, self._nick("auth"), "authority")
        n.or_port, n.dir_port = h.free_port(), h.free_port()
        keys = _mkdir700(os.path.join(n.dir, "keys"))
        r = subprocess.run(
            [TOR_GENCERT, "--create-identity-key", "--passphrase-fd", "0",
             "-i", os.path.join(keys, "authority_identity_key"),
             "-s", os.path.join(keys, "authority_signing_key"),
             "-c", os.path.join(keys, "authority_certificate"),
             "-m", "12", "-a", "127.0.0.1:%d" % n.dir_port],
            input=b"nightjar-test-passphrase\n", stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=60)
        h.check(r.returncode == 0, "tor-gencert failed:\n" + r.stdout.decode(errors="replace"))
        with open(os.path.join(keys, "authority_certificate")) as f:
            m = re.search(r"^fingerprint ([0-9A-F]{40})$", f.read(), re.M)
        h.check(m, "no fingerprint line in authority_certificate")
        v3ident = m.group(1)
        fpr = self._relay_fingerprint(n)
        self.dir_authority_lines.append(
            "DirAuthority %s orport=%d no-v2 v3ident=%s 127.0.0.1:%d %s"
            % (n.nick, n.or_port, v3ident, n.dir_port, fpr))
        n.extra = self._relay_lines(n) + AUTHORITY
        self.authorities.append(n)

    def _relay_lines(self, n):
        return ("SocksPort 0\nORPort 127.0.0.1:%d\nAddress 127.0.0.1\nDirPort 127.0.0.1:%d\n"
                "ExitRelay 0\nAssumeReachable 1\n" % (n.or_port, n.dir_port))

    def _make_relay(self):
        n = Node(self, self._nick("relay"), "relay")
        n.or_port, n.dir_port = h.free_port(), h.free_port()
        n.extra = self._relay_lines(n)
        self.relays.append(n)

    def start(self, n_authorities=3, n_relays=3):
        t0 = time.monotonic()
        progress("building %d authorities and %d relays in %s" % (n_authorities, n_relays,
                                                                  self.dir))
        for _ in range(n_authorities):
            self._make_authority()
        for _ in range(n_relays):
            self._make_relay()
        for n in self.authorities + self.relays:
            n.start()
        self.wait_bootstrapped(self.authorities + self.relays)
        progress("network bootstrapped in %.1f s" % (time.monotonic() - t0))
        return self

    def wait_bootstrapped(self, nodes, timeout=BOOTSTRAP_TIMEOUT):
        t0 = time.monotonic()
        deadline = t0 + timeout
        last_report = 0.0
        while True:
            for n in nodes:
                if n.proc is not None and not n.proc.alive():
                    raise h.TestFailure("tor %s exited:\n%s\n%s" % (
                        n.nick, n.proc.output()[-3000:], _tail(n.notice_log)))
            waiting = [n for n in nodes if not n.bootstrapped()]
            if not waiting:
                return time.monotonic() - t0
            now = time.monotonic()
            if now > deadline:
                raise h.TestFailure("not bootstrapped after %ds: %s\n%s" % (
                    timeout, ", ".join(n.nick for n in waiting), _tail(waiting[0].notice_log)))
            if now - last_report >= 5:
                last_report = now
                progress("%.0f s: waiting for %s (%s)" % (
                    now - t0, " ".join(n.nick for n in waiting),
                    _last_bootstrap_line(waiting[0].notice_log)))
            time.sleep(0.25)

    # --- clients and services ------------------------------------------------------------

    def add_client(self, auth_private=()):
        """A client tor with a SocksPort on 127.0.0.1 (ExtendedErrors, so that onion failures
        have their own reply codes). auth_private: (onion_hostname, base32_private_key) pairs
        written to its ClientOnionAuthDir. Returns the SOCKS port once bootstrapped."""
        n = Node(self, self._nick("client"), "client")
        n.socks_port = h.free_port()
        auth_dir = _mkdir700(os.path.join(n.dir, "onion_auth"))
        for i, (onion, priv) in enumerate(auth_private):
            addr = onion[:-len(".onion")] if onion.endswith(".onion") else onion
            _write(os.path.join(auth_dir, "key%d.auth_private" % i),
                   "%s:descriptor:x25519:%s\n" % (addr, priv))
        n.extra = ("SocksPort 127.0.0.1:%d ExtendedErrors\nClientOnionAuthDir %s\n"
                   % (n.socks_port, auth_dir))
        n.start()
        self.clients.append(n)
        dt = self.wait_bootstrapped([n])
        progress("client %s on SOCKS port %d bootstrapped in %.1f s" % (n.nick, n.socks_port, dt))
        return n.socks_port

    def add_onion_service(self, ports, client_auth_pubkeys=()):
        """A service tor publishing one onion service: ports maps virtual port to a local port on
        127.0.0.1. client_auth_pubkeys: base32 X25519 public keys; when given, only clients
        holding a matching private key can reach it. Returns the .onion hostname."""
        n = Node(self, self._nick("service"), "service")
        hs = _mkdir700(os.path.join(n.dir, "hs"))
        if client_auth_pubkeys:
            ac = _mkdir700(os.path.join(hs, "authorized_clients"))
            for i, pub in enumerate(client_auth_pubkeys):
                _write(os.path.join(ac, "client%d.auth" % i), "descriptor:x25519:%s\n" % pub)
        lines = "SocksPort 0\nHiddenServiceDir %s\n" % hs
        for vport, lport in sorted(ports.items()):
            lines += "HiddenServicePort %d 127.0.0.1:%d\n" % (vport, lport)
        n.extra = lines
        n.start()
        self.services.append(n)
        dt = self.wait_bootstrapped([n])
        hostname = os.path.join(hs, "hostname")
        deadline = time.monotonic() + 30
        while not os.path.exists(hostname):
            h.check(time.monotonic() < deadline, "no %s after 30 s" % hostname)
            time.sleep(0.1)
        with open(hostname) as f:
            onion = f.read().strip()
        progress("onion service %s (%s) bootstrapped in %.1f s" % (
            onion, ", ".join("%d->%d" % kv for kv in sorted(ports.items())), dt))
        return onion

    # --- lifetime --------------------------------------------------------------------------

    def stop(self):
        for n in reversed(self.services + self.clients + self.relays + self.authorities):
            n.stop()
        h._unregister(self)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
        return False


class SharedTorNet(TorNet):
    """A network started by `tornet.py up DIR` (another process owns its authorities and
    relays). New clients and services join it as tors of this process, under tdir."""

    def __init__(self, tdir, info):
        super().__init__(tdir, prefix="tornet-joined")
        self.info = info
        self.dir_authority_lines = list(info["dir_authorities"])
        # Prefix our nicknames so that they never repeat the owner's.
        self._counter = 100

    def start(self, *a, **kw):
        return self


def _tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except FileNotFoundError:
        return "(no %s)" % path


def shared_or_own(tdir):
    """The network to use in a test: the ctest fixture's (NJ_TORNET_DIR/tornet.json, owner
    alive), else a new one started here. Returns (net, shared: bool)."""
    d = os.environ.get("NJ_TORNET_DIR")
    if d:
        info = read_info(d)
        if info is not None:
            progress("using the shared network of", d)
            return SharedTorNet(tdir, info), True
        progress("NJ_TORNET_DIR=%s has no running network; starting one" % d)
    return TorNet(tdir).start(), False


# ---------------------------------------------------------------------------------------------
# SOCKS5


def socks5_connect(socks_port, host, port, timeout=30):
    """A SOCKS5 CONNECT with the domain-name address type (the .onion name goes to tor, never
    to a resolver). Returns (reply_code, socket or None)."""
    s = socket.create_connection(("127.0.0.1", socks_port), timeout=timeout)
    try:
        s.sendall(b"\x05\x01\x00")
        h.check(_recv_exact(s, 2) == b"\x05\x00", "SOCKS5: no-auth method refused")
        name = host.encode()
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        head = _recv_exact(s, 4)
        code = head[1]
        if code != 0:
            s.close()
            return code, None
        atyp = head[3]
        rest = {1: 4, 4: 16}.get(atyp)
        if rest is None:
            rest = _recv_exact(s, 1)[0]
        _recv_exact(s, rest + 2)
        return 0, s
    except Exception:
        s.close()
        raise


def _recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise ConnectionError("SOCKS server closed the connection")
        b += chunk
    return b


def wait_reachable(onion, port, socks_port, timeout=120):
    """Retry a SOCKS5 connect to onion:port until it succeeds (the descriptor is published a few
    seconds after the service bootstraps). Returns (open socket, seconds taken)."""
    t0 = time.monotonic()
    attempts = 0
    last = None
    while time.monotonic() - t0 < timeout:
        attempts += 1
        try:
            code, s = socks5_connect(socks_port, onion, port)
        except OSError as e:
            code, s, last = None, None, str(e)
        if s is not None:
            dt = time.monotonic() - t0
            progress("%s:%d reachable after %.1f s (%d attempts)" % (onion, port, dt, attempts))
            return s, dt
        if code is not None:
            last = "SOCKS reply 0x%02x (%s)" % (code, SOCKS_REPLIES.get(code, "?"))
        if attempts % 5 == 1:
            progress("%s:%d not yet reachable: %s" % (onion, port, last))
        time.sleep(1)
    raise h.TestFailure("%s:%d not reachable through SOCKS port %d after %ds: %s"
                        % (onion, port, socks_port, timeout, last))


# ---------------------------------------------------------------------------------------------
# the shared network: `up DIR` / `down DIR`


def info_path(d):
    return os.path.join(d, "tornet.json")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def read_info(d):
    try:
        with open(info_path(d)) as f:
            info = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    return info if _pid_alive(info.get("pid", 0)) else None


def _serve(d, lifetime):
    """The supervisor: owns every tor of the shared network (they die with it through
    PDEATHSIG), writes tornet.json when the network and one client are ready, then waits for
    SIGTERM (`down`) or its lifetime, so that a lost `down` never leaves tors behind for long."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    net = TorNet(d)
    try:
        net.start()
        socks = net.add_client()
        info = {
            "pid": os.getpid(),
            "dir": d,
            "socks_ports": [socks],
            "onions": {},
            "dir_authorities": net.dir_authority_lines,
            "started": time.time(),
        }
        tmp = info_path(d) + ".tmp"
        _write(tmp, json.dumps(info, indent=2) + "\n", 0o644)
        os.rename(tmp, info_path(d))
        progress("ready:", info_path(d))
        deadline = time.monotonic() + lifetime
        while not stop and time.monotonic() < deadline:
            if any(not n.proc.alive() for n in net.authorities + net.relays + net.clients):
                progress("a tor of the shared network exited; stopping")
                break
            time.sleep(0.5)
    finally:
        try:
            os.unlink(info_path(d))
        except FileNotFoundError:
            pass
        net.stop()
        progress("stopped")


def cmd_up(d, lifetime):
    d = os.path.abspath(d)
    os.makedirs(d, exist_ok=True)
    if read_info(d) is not None:
        progress("already running:", info_path(d))
        return 0
    for stale in (info_path(d),):
        if os.path.exists(stale):
            os.unlink(stale)
    # A network left from an earlier run (its supervisor is gone): its keys would clash.
    shutil.rmtree(os.path.join(d, "tornet"), ignore_errors=True)
    log_path = os.path.join(d, "supervisor.log")
    logf = open(log_path, "wb")  # this run's log only: cmd_up echoes it from the start
    # Its own session, stdio not inherited: ctest waits for the test's output pipes to close,
    # and the supervisor must outlive this command.
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", d,
                          "--lifetime", str(lifetime)],
                         stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                         start_new_session=True)
    logf.close()
    t0 = time.monotonic()
    shown = 0
    while True:
        with open(log_path, errors="replace") as f:
            text = f.read()
        sys.stdout.write(text[shown:])
        sys.stdout.flush()
        shown = len(text)
        if read_info(d) is not None:
            progress("up in %.1f s (supervisor pid %d)" % (time.monotonic() - t0, p.pid))
            return 0
        if p.poll() is not None:
            progress("supervisor exited with status %d" % p.returncode)
            return 1
        if time.monotonic() - t0 > BOOTSTRAP_TIMEOUT + 60:
            progress("not up in time; stopping the supervisor")
            p.terminate()
            p.wait(30)
            return 1
        time.sleep(0.5)


def cmd_down(d):
    d = os.path.abspath(d)
    try:
        with open(info_path(d)) as f:
            pid = json.load(f)["pid"]
    except (FileNotFoundError, ValueError, KeyError):
        progress("no network running in", d)
        return 0
    if not _pid_alive(pid):
        os.unlink(info_path(d))
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _pid_alive(pid):
        progress("supervisor %d did not stop; killing its group" % pid)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    progress("down")
    return 0


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="A private Tor network on 127.0.0.1 for tests.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the shared network; writes DIR/tornet.json")
    up.add_argument("dir")
    up.add_argument("--lifetime", type=float, default=3600,
                    help="seconds after which the network stops by itself (default 3600)")
    down = sub.add_parser("down", help="stop the shared network started in DIR")
    down.add_argument("dir")
    serve = sub.add_parser("serve", help=argparse.SUPPRESS)
    serve.add_argument("dir")
    serve.add_argument("--lifetime", type=float, default=3600)
    a = ap.parse_args(argv)
    if a.cmd == "up":
        return cmd_up(a.dir, a.lifetime)
    if a.cmd == "down":
        return cmd_down(a.dir)
    _serve(os.path.abspath(a.dir), a.lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
