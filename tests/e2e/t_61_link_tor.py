#!/usr/bin/env python3
"""The whole inbound path over a real (private) Tor network: the inner dials the edge's link onion
service through Tor's SOCKS port by name; Internet mail accepted by the edge reaches the user's
mailbox; the user submits over the inner's onion service (smtplib through Tor's SOCKS port) and
fetches by POP3 over it (curl --socks5-hostname); the delivered copies name neither the inner nor
the user's client. Uses the shared network of the ctest fixture `tornet` when it runs."""
# nj-e2e: tornet
import os, smtplib, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk
import tornet

ALICE, APW = "alice@example.i2p", "alice pw 61"
BOB, BPW = "bob@example.i2p", "bob pw 61"


def test():
    h.require_edge()
    ih.require_inner()
    with h.TestDir("t_61") as tdir, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, h.sender_zones(), stubs={"dnsbl.test": rbl.port}) as ub:
        net, shared = tornet.shared_or_own(tdir)
        with net:
            link_port = h.free_port()
            edge_onion = net.add_onion_service({2600: link_port})
            socks = net.add_client()
            edge = h.Edge(tdir, ub.addr, {"listen": {"link": ["127.0.0.1:%d" % link_port]},
                                          "checks": {"greylist": {"enabled": False}}})
            inner = ih.Inner(tdir, {"edge": {"address": "%s:2600" % edge_onion,
                                             "transport": "tor",
                                             "socks": "127.0.0.1:%d" % socks}})
            lk.pair_keys(edge, inner)
            inner.add_account(ALICE, APW)
            inner.add_account(BOB, BPW)
            user_onion = net.add_onion_service({587: inner.submission_port,
                                                110: inner.pop3_port})
            edge.start()
            inner.start()
            try:
                t0 = time.monotonic()
                lk.wait_log(inner, "link up", timeout=180)
                print("link up over Tor after %.1f s" % (time.monotonic() - t0))

                # Internet -> edge (clearnet MX) -> link over Tor -> alice's mailbox
                t = h.swaks_edge(edge, "--from", "bob@sender.test", "--to", "alice@example.test",
                                 "--body", "over-tor-inbound-marker")
                t.expect(".", 250, "2.0.0")
                lk.wait_log(inner, "delivered new=1", timeout=120)

                # the user fetches it over the inner's onion service
                tornet.wait_reachable(user_onion, 110, socks, timeout=180)
                r = subprocess.run(["curl", "-s", "--max-time", "120", "--socks5-hostname",
                                    "127.0.0.1:%d" % socks, "-u", "%s:%s" % (ALICE, APW),
                                    "pop3://%s:110/1" % user_onion],
                                   capture_output=True, text=True, timeout=180)
                h.check(r.returncode == 0 and "over-tor-inbound-marker" in r.stdout,
                        "POP3 over Tor: rc=%d out=%r err=%r" % (r.returncode, r.stdout[-500:],
                                                                 r.stderr[-500:]))

                # alice submits to bob over the onion service, through Tor's SOCKS port
                tornet.wait_reachable(user_onion, 587, socks, timeout=180)
                # Python's smtplib over a SOCKS5 connection to the onion name (the name goes to
                # tor, never to a resolver), as a mail client configured for Tor would do.
                class OnionSMTP(smtplib.SMTP):
                    def _get_socket(self, host, port, timeout):
                        code, sock = tornet.socks5_connect(socks, host, port, timeout=120)
                        h.check(code == 0, "SOCKS CONNECT to the inner: reply %#x" % code)
                        return sock
                msg = ("From: Alice <%s>\r\nTo: <%s>\r\nSubject: over tor\r\n"
                       "User-Agent: Thunderbird/115.0\r\n\r\nover-tor-submission-marker\r\n"
                       % (ALICE, BOB))
                with OnionSMTP(user_onion, 587, local_hostname="alice-laptop.home.lan",
                               timeout=120) as smtp:
                    smtp.login(ALICE, APW)
                    refused = smtp.sendmail(ALICE, [BOB], msg)
                    h.check(not refused, "refused: %r" % refused)
                box = inner.mailbox(BOB, BPW)
                h.check(len(box) == 1 and b"over-tor-submission-marker" in box[0],
                        "bob's mailbox: %r" % box)
                # nothing in the delivered copy names the user's machine
                h.check(b"alice-laptop" not in box[0] and b"127.0.0.1" not in box[0],
                        "the local copy names the client: %r" % box[0][:600])
            except BaseException:
                h.log("edge log:\n" + edge.output()[-5000:])
                h.log("inner log:\n" + inner.output()[-5000:])
                raise
            finally:
                inner.stop()
                edge.stop()


h.main(test)
