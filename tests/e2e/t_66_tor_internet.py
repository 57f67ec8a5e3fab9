#!/usr/bin/env python3
"""The whole path with real peers over a real (private) Tor network. The inner dials the edge's
link onion service through Tor; a user submits with swaks over the inner's onion service (AUTH,
a normal message); the edge finds the recipient's clearnet Postfix by MX in the test DNS and
delivers; that Postfix is the final destination and stores the copy in a Maildir, which is read
byte for byte: no trace of the inner (hostname, internal domain, onion name), of the user's
client (swaks, its HELO, its Message-ID host) or of a time zone other than UTC, and of the
Received lines only Postfix's own (naming the edge) and the edge's. The other way, a Postfix on
the "Internet" relays mail for the user to the edge, and the user fetches it by POP3 over the
inner's onion service (curl --socks5-hostname).

Why swaks runs with --pipe and nc -X 5 instead of under torsocks: swaks resolves its own host
name at start-up (gethostbyname(hostname()), for its default From and Message-ID, whatever the
options). torsocks sends every name lookup to Tor as a SOCKS RESOLVE, which needs an exit relay;
the private network has none (ExitRelay 0), so each lookup waits until Tor gives up after 120 s
(reply 4, host unreachable); there are two, and `torsocks swaks` starts talking SMTP after 240 s
(measured; the onion name itself is mapped into OnionAddrRange and connects fine, without
AllowOutboundLocalhost). On the real network the lookup would hand the machine's name to an exit.
With --pipe, swaks's own lookup stays local, and OpenBSD netcat's SOCKS5 CONNECT passes the onion
name to Tor as a domain name, as a mail client set up for Tor does."""
# nj-e2e: tornet
import os, re, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk
import tornet

ALICE, APW = "alice@example.i2p", "alice pw 66"
CLIENT_HELO = "alice-laptop.home.lan"


def edge_part(copy):
    """What the edge sent, starting at its own Received line: Postfix puts Return-Path,
    X-Original-To, Delivered-To and its Received above it."""
    at = copy.find(b"Received: from %s by %s" % (h.PUBLIC_DOMAIN.encode(),
                                                   h.EDGE_HOSTNAME.encode()))
    h.check(at >= 0, "no Received from the edge in the stored copy:\n%s" % copy.decode(
        "utf-8", "replace"))
    return copy[at:]


def header_fields(part):
    """Unfolded header fields of a message (bytes), as (name, value) in order."""
    head = re.split(rb"\r?\n\r?\n", part, 1)[0]
    fields = []
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + b" " + line.strip())
        elif b":" in line:
            name, value = line.split(b":", 1)
            fields.append((name.strip(), value.strip()))
    return fields


def test():
    h.require_edge()
    ih.require_inner()
    h.check(subprocess.run(["nc", "-h"], capture_output=True).stderr.startswith(b"OpenBSD"),
            "nc is not OpenBSD netcat (package netcat-openbsd)")
    zones = dict(h.sender_zones())
    zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    t_start = time.monotonic()
    with h.TestDir("t_66") as tdir, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub, \
            h.Postfix(tdir, name="mx-dest", helo="mx.dest.test", domain="dest.test",
                      mailboxes=["bob"]) as dest:
        net, _shared = tornet.shared_or_own(tdir)
        with net:
            link_port = h.free_port()
            edge_onion = net.add_onion_service({2600: link_port})
            socks = net.add_client()
            edge = h.Edge(tdir, ub.addr, {
                "listen": {"link": ["127.0.0.1:%d" % link_port]},
                "checks": {"greylist": {"enabled": False}},
                # the MX of dest.test is 127.0.0.1 (a private address), on Postfix's port
                "outbound": {"smtp_port": dest.port, "allow_private_addresses": True,
                             "retry_initial": "1s", "retry_max": "2s"}})
            inner = ih.Inner(tdir, {"edge": {"address": "%s:2600" % edge_onion,
                                             "transport": "tor",
                                             "socks": "127.0.0.1:%d" % socks},
                                    "delay": {"default": "none"}})
            lk.pair_keys(edge, inner)
            inner.add_account(ALICE, APW)
            user_onion = net.add_onion_service({587: inner.submission_port,
                                                110: inner.pop3_port})
            edge.start()
            inner.start()
            t0 = time.monotonic()
            sender = h.Postfix(tdir, relay="[127.0.0.1]:%d" % edge.port, name="mta-sender")
            try:
                sender.start()
                lk.wait_log(inner, "link up", timeout=180)
                h.log("link up over Tor after %.1f s" % (time.monotonic() - t0))

                # 1. alice submits to bob@dest.test with swaks over the inner's onion service
                tornet.wait_reachable(user_onion, 587, socks, timeout=180)[0].close()
                client_msgid = "<%d.swaks@%s>" % (time.time_ns(), CLIENT_HELO)
                r = subprocess.run(
                    ["swaks", "--timeout", "120",
                     "--pipe", "nc -X 5 -x 127.0.0.1:%d %s 587" % (socks, user_onion),
                     "--helo", CLIENT_HELO, "--auth", "PLAIN", "--auth-user", ALICE,
                     "--auth-password", APW, "--from", ALICE, "--to", "bob@dest.test",
                     "--header", "Subject: lunch on friday",
                     "--header", "Message-Id: %s" % client_msgid,
                     "--body", "see you at noon\ntor-internet-outbound-marker\n"],
                    # the user's machine is in Tokyo: swaks writes Date with +0900
                    env=dict(os.environ, TZ="JST-9"), stdin=subprocess.DEVNULL,
                    capture_output=True, text=True, timeout=180)
                t = h.Transcript(r.returncode, r.stdout + r.stderr)
                t.expect("AUTH", 235, "2.7.0")
                t.expect(".", 250, "2.0.0")
                # what the check below looks for was really sent
                for sent in ("X-Mailer: swaks", "+0900", client_msgid, "EHLO " + CLIENT_HELO):
                    h.check(sent in t.text, "swaks did not send %r:\n%s" % (sent, t.text))

                # 2. the edge finds mx.dest.test by MX; Postfix stores the copy in bob's Maildir
                copy = dest.wait_delivered("bob", 1, timeout=90)[0]
                lk.wait_log(inner, "final delivered=1 failed=0", timeout=60)
                text = copy.decode("utf-8", "replace")
                h.log("copy stored by Postfix:\n" + text)
                h.check(b"tor-internet-outbound-marker" in copy, "body missing:\n" + text)
                h.check(re.search(rb"^Subject: lunch on friday\r?$", copy, re.M),
                        "Subject missing:\n" + text)
                h.check(re.search(rb"^From: alice@example\.test\r?$", copy, re.M),
                        "From is not the public address:\n" + text)
                h.check(re.search(rb"^Return-Path: <alice@example\.test>\r?$", copy, re.M),
                        "envelope sender is not the public address:\n" + text)
                # 4. byte for byte, nothing names the inner, the client or its time zone
                needles = [ih.INTERNAL, inner.config["hostname"], user_onion,
                           user_onion[:-len(".onion")], CLIENT_HELO, "alice-laptop", "home.lan",
                           "swaks", "jetmore", client_msgid, "+0900"]
                if len(socket.gethostname()) >= 6:  # swaks's own host name (short ones match
                    needles.append(socket.gethostname())  # by chance in base64 text)
                for bad in needles:
                    h.check(bad.lower().encode() not in copy.lower(),
                            "the stored copy contains %r:\n%s" % (bad, text))
                part = edge_part(copy)
                h.check(b"127.0.0.1" not in part,
                        "what the edge sent names a client address:\n" + text)
                fields = header_fields(copy)
                received = [v for n, v in fields if n.lower() == b"received"]
                h.check(len(received) == 2, "wanted Postfix's and the edge's Received:\n" + text)
                # Postfix's own: the edge's connection, by one of the edge's fixed public names
                h.check(re.match(rb"from (%s|%s) \(localhost \[127\.0\.0\.1\]\) by mx\.dest\.test "
                                 % (re.escape(h.EDGE_HOSTNAME.encode()),
                                    re.escape(h.PUBLIC_DOMAIN.encode())), received[0]),
                        "Postfix's Received does not name the edge: %r" % received[0])
                # the edge's: only its own names
                h.check(re.fullmatch(rb"from %s by %s .*; [^;]*\+0000( \(UTC\))?"
                                     % (re.escape(h.PUBLIC_DOMAIN.encode()),
                                        re.escape(h.EDGE_HOSTNAME.encode())), received[1]),
                        "the edge's Received: %r" % received[1])
                for n, v in header_fields(part):
                    h.check(not n.lower().startswith((b"x-", b"user-agent")),
                            "the edge passed on %r: %r" % (n, v))
                dates = [v for n, v in fields if n.lower() == b"date"]
                h.check(len(dates) == 1 and dates[0].endswith(b" +0000"),
                        "Date is not one UTC Date: %r" % dates)
                head = re.split(rb"\r?\n\r?\n", part, 1)[0]
                zones_seen = re.findall(rb"\d\d:\d\d:\d\d ([+-]\d{4})", head)
                h.check(zones_seen and set(zones_seen) == {b"+0000"},
                        "a time zone other than UTC in the edge's headers: %r" % zones_seen)

                # 3. a Postfix on the Internet sends to alice through the edge; she fetches it
                # by POP3 over the inner's onion service
                sender.send("bob@sender.test", ["alice@example.test"],
                            h.message("re: lunch", "fine, noon it is\ntor-internet-in-marker"))
                sender.wait_log(r"to=<alice@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]"
                                r":%d.*status=sent \(250 2\.0\.0" % edge.port, timeout=60)
                lk.wait_log(inner, "delivered new=1", timeout=120)
                tornet.wait_reachable(user_onion, 110, socks, timeout=180)[0].close()
                r = subprocess.run(["curl", "-s", "--max-time", "120", "--socks5-hostname",
                                    "127.0.0.1:%d" % socks, "-u", "%s:%s" % (ALICE, APW),
                                    "pop3://%s:110/1" % user_onion],
                                   capture_output=True, text=True, timeout=180)
                h.check(r.returncode == 0 and "tor-internet-in-marker" in r.stdout and
                        "Subject: re: lunch" in r.stdout,
                        "POP3 over Tor: rc=%d out=%r err=%r" % (r.returncode, r.stdout[-800:],
                                                                 r.stderr[-500:]))
                sender.wait_queue_empty()
                h.log("t_66 done in %.1f s" % (time.monotonic() - t_start))
            except BaseException:
                h.log("edge log:\n" + edge.output()[-5000:])
                h.log("inner log:\n" + inner.output()[-5000:])
                h.log("mx.dest.test maillog:\n" + dest.log()[-3000:])
                h.log("sender maillog:\n" + sender.log()[-3000:])
                raise
            finally:
                sender.stop()
                inner_rc = inner.stop()
                edge_rc = edge.stop()
            # both daemons end cleanly on SIGTERM (under ASan: no error, no leak)
            h.check(inner_rc == 0 and edge_rc == 0, "exit status on SIGTERM: inner %r, edge %r\n"
                    "inner log:\n%s\nedge log:\n%s" % (inner_rc, edge_rc, inner.output()[-3000:],
                                                       edge.output()[-3000:]))


h.main(test)
