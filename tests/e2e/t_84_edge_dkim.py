#!/usr/bin/env python3
"""DKIM signing of outbound mail end to end: `nightjarctl dkim keygen` makes an ed25519 and an
rsa key for the public domain and prints their TXT records, which go into the test's real DNS
server (unbound); the edge is configured with both keys; a user submits to the real inner with
AUTH; the edge signs and delivers to an Internet MTA (Postfix's smtp-sink). What the sink got is
verified by an outside verifier, dkimpy (Debian's python3-dkim, run by Debian's python3), whose
key lookups are answered by dig from that DNS server: both signatures verify, and neither does
once the body or a signed field is changed. `nightjarctl overlay` prints the same DKIM records
beside the domain's SPF and DMARC records. Then the edge signs only for another public domain:
the user's mail leaves unsigned. (opendkim-testmsg is not used: it verifies only through the
system's resolver, which cannot be pointed at the test's DNS server.)"""
# nj-e2e: timeout 300
import os, re, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk

ALICE, PW = "alice@example.i2p", "alice pw 84"
RECORD = re.compile(r'^(\S+\._domainkey\.\S+\.) IN TXT ((?:"[^"]*" ?)+)$', re.M)

# Debian's python3 has python3-dkim (the tests' python may be another one); dig asks the
# test's unbound. argv: port, file; prints one line per signature: "a=ALG d=DOMAIN s=SEL ok|fail".
VERIFIER = r'''
import subprocess, sys, dkim
port, path = sys.argv[1], sys.argv[2]
def txt(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    out = subprocess.run(["dig", "-p", port, "@127.0.0.1", "TXT", name.rstrip("."), "+short"],
                         capture_output=True, text=True, timeout=timeout).stdout
    return "".join(re.findall(r'"([^"]*)"', out)).encode() or None
import re
msg = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
d = dkim.DKIM(msg)
sigs = [v for k, v in d.headers if k.lower() == b"dkim-signature"]
for i, v in enumerate(sigs):
    tags = dkim.util.parse_tag_value(re.sub(rb"\s+", b"", v))
    try:
        ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=txt)
    except dkim.DKIMException as e:  # a body hash mismatch is raised, not returned
        print("(%s)" % e, file=sys.stderr)
        ok = False
    print("a=%s d=%s s=%s %s" % (tags[b"a"].decode(), tags[b"d"].decode(), tags[b"s"].decode(),
                                "ok" if ok else "fail"))
'''


def verify(tdir, ub, message, name):
    path = os.path.join(tdir.path, name)
    with open(path, "w", newline="") as f:
        f.write(message)
    r = subprocess.run(["/usr/bin/python3", "-c", VERIFIER, str(ub.port), path],
                       capture_output=True, text=True, timeout=60)
    h.check(r.returncode == 0, "dkimpy failed:\n" + r.stdout + r.stderr)
    h.log("dkimpy on %s:\n%s%s" % (name, r.stdout, r.stderr))
    return sorted(r.stdout.split("\n")[:-1])


def keygen(key_dir, domain, selector, algorithm):
    path = os.path.join(key_dir, "dkim-%s-%s.key" % (selector, domain))
    _, out = h.run([h.edge_ctl_bin(), "dkim", "keygen", "--domain", domain, "--selector",
                    selector, "--algorithm", algorithm, "--out", path])
    m = RECORD.search(out)
    h.check(m is not None, "no TXT record printed:\n" + out)
    h.check(oct(os.stat(path).st_mode & 0o777) == "0o600", "key file not 0600")
    return path, m.group(1), m.group(2), m.group(0)


def test():
    h.require_edge()
    ih.require_inner()
    with h.TestDir("t_84") as tdir:
        key_dir = tdir.sub("dkim")
        os.chmod(key_dir, 0o700)
        ed = keygen(key_dir, h.PUBLIC_DOMAIN, "mx1-ed", "ed25519")
        rsa = keygen(key_dir, h.PUBLIC_DOMAIN, "mx1-rsa", "rsa")
        other = keygen(key_dir, "other.test", "mx1-ed", "ed25519")
        h.check(len(re.findall(r'"[^"]*"', rsa[2])) == 2, "an RSA record is two strings:\n"
                + rsa[3])
        zones = dict(h.sender_zones())
        zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
        zones[h.PUBLIC_DOMAIN] = [(ed[1], "TXT", ed[2]), (rsa[1], "TXT", rsa[2])]
        zones["other.test"] = [(other[1], "TXT", other[2])]
        with h.SmtpSink(tdir) as sink, \
                h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
                h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
            dkim_keys = [
                {"domain": h.PUBLIC_DOMAIN, "selector": "mx1-ed", "key": ed[0],
                 "algorithm": "ed25519"},
                {"domain": h.PUBLIC_DOMAIN, "selector": "mx1-rsa", "key": rsa[0],
                 "algorithm": "rsa"}]
            pair = lk.LinkedPair(
                tdir, ub,
                edge_overrides={"outbound": {"smtp_port": sink.port,
                                             "allow_private_addresses": True,
                                             "retry_initial": "1s", "retry_max": "2s"},
                                "dkim": dkim_keys},
                inner_overrides={"delay": {"default": "none"}})
            edge, inner = pair.edge, pair.inner
            inner.add_account(ALICE, PW)
            edge.start()
            inner.start()
            try:
                lk.wait_log(inner, "link up")
                lk.wait_log(edge, "dkim: signing outbound mail with 2 key(s)")
                msg = ("From: Alice <%s>\r\nTo: <bob@dest.test>\r\nSubject: signed at the edge\r\n"
                       "Date: Sun, 22 Nov 2026 09:15:00 +0900\r\n"
                       "Message-ID: <20261122.abc@alice-laptop.home.lan>\r\n\r\n"
                       "dkim-marker line one\r\n\r\nline two\r\n" % ALICE)
                inner.deliver(ALICE, PW, ["bob@dest.test"], msg)
                got = sink.wait_messages(1, timeout=60)[0]
                h.check("dkim-marker" in got, "body missing at the sink:\n" + got)
                h.check(len(re.findall(r"^DKIM-Signature:", got, re.M)) == 2,
                        "not two signatures:\n" + got)
                # Both verify, each on its own, by an outside verifier through the real DNS.
                verdicts = verify(tdir, ub, got, "signed.eml")
                h.check(verdicts == ["a=ed25519-sha256 d=%s s=mx1-ed ok" % h.PUBLIC_DOMAIN,
                                     "a=rsa-sha256 d=%s s=mx1-rsa ok" % h.PUBLIC_DOMAIN],
                        "signatures do not verify: %s\n%s" % (verdicts, got))
                # t= is the second of the Date the edge wrote; no x=, no l=.
                sig = re.search(r"^DKIM-Signature:(.*?)\r?\n(?! )(?!\t)", got, re.M | re.S)
                tags = re.sub(r"\s+", "", sig.group(1))
                h.check(re.search(r"(^|;)l=", tags) is None and re.search(r"(^|;)x=", tags) is None,
                        "l= or x= in " + tags)
                h.check(re.search(r"(^|;)h=[^;]*received", tags, re.I) is None,
                        "Received is signed: " + tags)
                # Changed after signing: body, or a signed field: both signatures fail.
                body = got.replace("line two", "line 2")
                h.check(verify(tdir, ub, body, "body.eml") ==
                        ["a=ed25519-sha256 d=%s s=mx1-ed fail" % h.PUBLIC_DOMAIN,
                         "a=rsa-sha256 d=%s s=mx1-rsa fail" % h.PUBLIC_DOMAIN],
                        "an altered body still verifies")
                subject = got.replace("Subject: signed at the edge", "Subject: signed at the edgE")
                h.check(all(v.endswith(" fail") for v in verify(tdir, ub, subject, "subj.eml")),
                        "an altered Subject still verifies")

                # nightjarctl overlay prints the same DKIM records, beside SPF and DMARC.
                _, out = h.run([h.edge_ctl_bin(), "overlay", "tor", "--config", edge.config_path,
                                "--tor-dir", tdir.sub("tor")])
                auth = out.split("# ---- DNS: SPF, DMARC and DKIM, in each public domain's "
                                 "zone ----\n", 1)[1]
                lines = [ln for ln in auth.splitlines() if ln and not ln.startswith("#")]
                h.check(lines == ['%s. IN TXT "v=spf1 mx -all"' % h.PUBLIC_DOMAIN,
                                  '_dmarc.%s. IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"'
                                  % h.PUBLIC_DOMAIN, ed[3], rsa[3]],
                        "overlay's records:\n" + auth)

                # The edge now signs only for another of its public domains: unsigned.
                inner.stop()
                edge.stop()
                edge.config["domains"].append({"public": "other.test", "internal": "other.i2p"})
                edge.config["dkim"] = [{"domain": "other.test", "selector": "mx1-ed",
                                        "key": other[0], "algorithm": "ed25519"}]
                edge.start()
                inner.start()
                lk.wait_log(inner, "link up", count=2)
                inner.deliver(ALICE, PW, ["bob@dest.test"],
                              msg.replace("dkim-marker", "unsigned-marker"))
                msgs = sink.wait_messages(2, timeout=60)
                plain = [m for m in msgs if "unsigned-marker" in m]
                h.check(len(plain) == 1, "the second message did not arrive once")
                h.check("DKIM-Signature" not in plain[0], "signed without a key:\n" + plain[0])
                h.check(verify(tdir, ub, plain[0], "plain.eml") == [], "a signature was found")
                for bad in ("@example.", "@dest.test", "signed at the edge"):
                    h.check(bad not in edge.output(), "the edge log names %r" % bad)
            except BaseException:
                h.log("edge log:\n" + edge.output()[-5000:])
                h.log("inner log:\n" + inner.output()[-5000:])
                raise
            finally:
                inner.stop()
                edge.stop()


h.main(test)
