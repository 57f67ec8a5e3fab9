#!/usr/bin/env python3
"""Harness self-test: the private Tor network (lib/tornet.py). A TCP echo server behind an onion
service answers through a client's SocksPort, both with a raw SOCKS5 socket and with curl
--socks5-hostname; an onion service with v3 client authorization answers a client holding the
key and refuses one without it (tor's extended SOCKS error 0xF4, not a timeout).

Uses the shared network of the ctest fixture `tornet` when it runs, else starts its own.
"""
# nj-e2e: tornet
import os, shutil, socket, socketserver, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import tornet


class Echo(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                while True:
                    data = self.request.recv(4096)
                    if not data:
                        return
                    self.request.sendall(data)
        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


def echo_roundtrip(s, payload):
    s.settimeout(30)
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    return got


def test():
    for prog in ("tor", "tor-gencert", "curl", "openssl"):
        h.check(shutil.which(prog), "%s is not installed" % prog)
    echo = Echo()
    with h.TestDir("tornet") as tdir:
        t0 = time.monotonic()
        net, shared = tornet.shared_or_own(tdir)
        with net:
            t_net = time.monotonic() - t0
            print("network %s in %.1f s" % ("attached" if shared else "bootstrapped", t_net))

            onion = net.add_onion_service({7: echo.port})
            h.check(onion.endswith(".onion") and len(onion) == 62, "bad onion name %r" % onion)
            socks = net.add_client()
            t1 = time.monotonic()
            s, dt = tornet.wait_reachable(onion, 7, socks)
            got = echo_roundtrip(s, b"hello through tor\n")
            h.check(got == b"hello through tor\n", "echo returned %r" % got)
            print("first connection %.1f s after the service was up (%.1f s since start)"
                  % (dt, time.monotonic() - t0))

            # curl speaks SOCKS5 with the domain-name address type itself; telnet:// sends
            # stdin and prints what comes back.
            r = subprocess.run(["curl", "-sS", "--max-time", "10", "--socks5-hostname",
                                "127.0.0.1:%d" % socks, "telnet://%s:7" % onion],
                               input=b"curl says hi\n", stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            # curl's telnet keeps the connection until --max-time (rc 28) after stdin ends.
            rc, out = r.returncode, r.stdout.decode(errors="replace")
            h.check("curl says hi" in out, "curl through tor: rc %d, %r" % (rc, out))

            # A port the service does not map: the connection must fail, not reach the echo.
            code, s2 = tornet.socks5_connect(socks, onion, 8)
            h.check(s2 is None and code != 0, "unmapped port 8 was reachable")

            # Client authorization.
            pub, priv = tornet.x25519_keypair()
            private_onion = net.add_onion_service({7: echo.port}, client_auth_pubkeys=[pub])
            with_key = net.add_client(auth_private=[(private_onion, priv)])
            without_key = socks
            s, dt = tornet.wait_reachable(private_onion, 7, with_key)
            got = echo_roundtrip(s, b"authorized\n")
            h.check(got == b"authorized\n", "echo (authorized) returned %r" % got)
            code, s3 = tornet.socks5_connect(without_key, private_onion, 7)
            h.check(s3 is None, "reachable without the client key")
            h.check(code == tornet.SOCKS_MISSING_CLIENT_AUTH,
                    "without the key: SOCKS reply 0x%02x (%s), expected 0xF4 (missing client "
                    "authorization)" % (code, tornet.SOCKS_REPLIES.get(code, "?")))
            print("client-auth onion: reachable with the key after %.1f s, refused without it "
                  "(0x%02x)" % (dt, code))
            # A wrong key is refused too (the descriptor cannot be decrypted with it).
            _, other_priv = tornet.x25519_keypair()
            wrong_key = net.add_client(auth_private=[(private_onion, other_priv)])
            code, s4 = tornet.socks5_connect(wrong_key, private_onion, 7)
            h.check(s4 is None and code in (0xF4, 0xF5),
                    "with a wrong key: SOCKS reply 0x%02x" % code)
            print("total %.1f s (network %.1f s, services and clients %.1f s)"
                  % (time.monotonic() - t0, t_net, time.monotonic() - t1))


h.main(test)
