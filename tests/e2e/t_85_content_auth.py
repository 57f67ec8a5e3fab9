#!/usr/bin/env python3
"""Edge: SPF, DKIM and DMARC of inbound mail, recorded in one Authentication-Results field under
the edge's hostname. The test's own unbound serves SPF records listing 127.0.0.1 (where smtplib
connects from), DKIM keys made here (ed25519 and rsa) and DMARC policies; messages are signed by
dkimpy (an outside signer) and sent through the real nightjar-edge. What was queued is read back
with the edge's nightjarctl edge-queue show:
  - signed by signed.test with both keys: spf=pass, two dkim=pass (header.d/s/a/b), dmarc=pass;
  - the same with the body altered after signing: both dkim=fail, dmarc still passes on SPF;
  - unsigned mail: dkim=none, dmarc=none, and a sender's own Authentication-Results claiming
    the edge's name is gone;
  - a From in a p=quarantine domain: dmarc=fail (p=quarantine dis=quarantine), accepted;
  - a From in a p=reject domain it does not come from: 550 5.7.1 naming DMARC, not queued;
    the same with a second author in another domain (which DMARC cannot judge, and which would
    otherwise slip past p=reject): 550 5.7.1, not queued.
Each queued message has exactly one field with the edge's authserv-id, right after the edge's
Received line, and no IP address in it."""
import base64, email, email.policy, json, os, re, smtplib, subprocess, sys
from email.message import EmailMessage

SIGNER_PY = "/usr/bin/python3"  # Debian's, with python3-dkim


def signer_main():
    """Run under Debian's python3: `keygen DIR` or `sign DIR SELECTOR DOMAIN` (message on stdin)."""
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    cmd, d = sys.argv[2], sys.argv[3]
    if cmd == "keygen":
        k = ed25519.Ed25519PrivateKey.generate()
        seed = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                               serialization.NoEncryption())
        pub = k.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)
        r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = r.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption())
        rpub = r.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        with open(os.path.join(d, "ed.key"), "wb") as f:
            f.write(base64.b64encode(seed))
        with open(os.path.join(d, "rs.key"), "wb") as f:
            f.write(pem)
        json.dump({"ed": "v=DKIM1; k=ed25519; p=" + base64.b64encode(pub).decode(),
                   "rs": "v=DKIM1; k=rsa; p=" + base64.b64encode(rpub).decode()},
                  sys.stdout)
        return
    selector, domain = sys.argv[4], sys.argv[5]
    with open(os.path.join(d, selector + ".key"), "rb") as f:
        key = f.read()
    msg = sys.stdin.buffer.read()
    alg = b"ed25519-sha256" if selector == "ed" else b"rsa-sha256"
    sys.stdout.buffer.write(dkim.sign(msg, selector.encode(), domain.encode(), key,
                                      signature_algorithm=alg,
                                      include_headers=[b"from", b"to", b"subject", b"date"]))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--signer":
    signer_main()
    sys.exit(0)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

RCPT = "alice@example.test"
IP_RX = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b|\b[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}\b", re.I)


def txt(s):
    """A TXT rdata for unbound: the text in strings of at most 255 octets."""
    return " ".join('"%s"' % s[i:i + 255] for i in range(0, len(s), 255))


def signer(*args, data=None):
    p = subprocess.run([SIGNER_PY, os.path.abspath(__file__), "--signer"] + list(args),
                       input=data, capture_output=True, timeout=60)
    h.check(p.returncode == 0, "signer failed: %s" % p.stderr.decode(errors="replace"))
    return p.stdout


def zones(keys):
    spf_pass = ("@", "TXT", txt("v=spf1 ip4:127.0.0.1 -all"))
    z = h.sender_zones()
    z["signed.test"] = [("@", "MX", "10 mx.signed.test."), ("mx", "A", "11.0.1.1"), spf_pass,
                        ("_dmarc", "TXT", txt("v=DMARC1; p=reject")),
                        ("ed._domainkey", "TXT", txt(keys["ed"])),
                        ("rs._domainkey", "TXT", txt(keys["rs"]))]
    z["unsigned.test"] = [("@", "MX", "10 mx.unsigned.test."), ("mx", "A", "11.0.1.2"), spf_pass]
    z["quar.test"] = [("@", "MX", "10 mx.quar.test."), ("mx", "A", "11.0.1.3"),
                      ("@", "TXT", txt("v=spf1 -all")),
                      ("_dmarc", "TXT", txt("v=DMARC1; p=quarantine"))]
    z["forged.test"] = [("@", "MX", "10 mx.forged.test."), ("mx", "A", "11.0.1.4"),
                        ("@", "TXT", txt("v=spf1 -all")),
                        ("_dmarc", "TXT", txt("v=DMARC1; p=reject; adkim=s; aspf=s"))]
    return z


def message(author, subject, extra=()):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = author, RCPT, subject
    m["Date"] = "Mon, 07 Dec 2026 12:00:00 +0000"
    for k, v in extra:
        m[k] = v
    m.set_content("Hello Alice,\nthis is %s.\n" % subject)
    return m.as_bytes(policy=email.policy.SMTP)


def sign(keydir, raw, domain):
    """Signed by both keys: the rsa signature is outermost."""
    for sel in ("ed", "rs"):
        raw = signer("sign", keydir, sel, domain, data=raw) + raw
    return raw


def b_prefixes(raw):
    """selector -> the first 8 characters of b= of each DKIM-Signature in raw."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = {}
    for sig in msg.get_all("DKIM-Signature", []):
        tags = dict(t.strip().split("=", 1) for t in re.sub(r"\s+", "", sig).split(";") if "=" in t)
        out[tags["s"]] = tags["b"][:8]
    return out


def send(edge, envelope_from, raw):
    with smtplib.SMTP("127.0.0.1", edge.port, local_hostname="mta.sender.test", timeout=60) as s:
        s.ehlo()
        code, _ = s.mail(envelope_from)
        h.check(code == 250, "MAIL FROM %s: %d" % (envelope_from, code))
        code, _ = s.rcpt(RCPT)
        h.check(code == 250, "RCPT TO: %d" % code)
        code, text = s.data(raw)
        return code, text.decode("utf-8", "replace")


def fields(raw):
    """The header fields of a queued message: [(name, value with folding)]."""
    head = raw.split("\r\n\r\n", 1)[0]
    out = []
    for line in head.split("\r\n"):
        if line.startswith("X-Envelope-"):  # edge-queue show's envelope lines, not the message
            continue
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + "\r\n" + line)
        else:
            name, _, value = line.partition(":")
            out.append((name, value))
    return out


def results(value):
    """The Authentication-Results value as [authserv-id, "method=result props", ...]."""
    unfolded = re.sub(r"\r\n[ \t]", " ", value)
    parts = [re.sub(r"\s+", " ", p).strip() for p in unfolded.split(";")]
    return parts


def test():
    h.require_edge()
    with h.TestDir("t_85") as tdir:
        keydir = tdir.sub("dkim")
        keys = json.loads(signer("keygen", keydir))
        with h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl:
            with h.Unbound(tdir, zones(keys), stubs={"dnsbl.test": rbl.port}) as ub:
                edge = h.Edge(tdir, ub.addr, {"checks": {"greylist": {"enabled": False}}})
                try:
                    run(edge, keydir)
                except BaseException:
                    h.log("edge log:\n" + edge.output()[-6000:])
                    raise
                finally:
                    edge.stop()


def run(edge, keydir):
    host = h.EDGE_HOSTNAME
    good = sign(keydir, message("Bob <bob@signed.test>", "t85-good"), "signed.test")
    altered = sign(keydir, message("Bob <bob@signed.test>", "t85-altered"), "signed.test")
    altered = altered.replace(b"this is t85-altered.", b"this is t85-ALTERED.")
    h.check(b"ALTERED" in altered, "the body was not altered")
    unsigned = message("Bob <bob@unsigned.test>", "t85-unsigned",
                       [("Authentication-Results", "%s; dkim=pass header.d=bank.test" % host)])
    quarantined = message("Carol <carol@quar.test>", "t85-quarantine")
    forged = message("The CEO <ceo@forged.test>", "t85-forged")
    # The same forgery with a second author in a domain that has no DMARC record.
    two_authors = message("The CEO <ceo@forged.test>, Bob <bob@unsigned.test>", "t85-two-authors")
    bs = b_prefixes(good)
    bs_altered = b_prefixes(altered)

    edge.start()
    expect = {}
    for subject, env, raw in (("t85-good", "bob@signed.test", good),
                              ("t85-altered", "bob@signed.test", altered),
                              ("t85-unsigned", "bob@unsigned.test", unsigned),
                              ("t85-quarantine", "bob@unsigned.test", quarantined)):
        code, text = send(edge, env, raw)
        h.check(code == 250, "%s: wanted 250, got %d %s" % (subject, code, text))
    code, text = send(edge, "bob@unsigned.test", forged)
    h.check(code == 550 and text.startswith("5.7.1") and "DMARC" in text,
            "a forgery of a p=reject domain: wanted 550 5.7.1 naming DMARC, got %d %s"
            % (code, text))
    code, text = send(edge, "bob@unsigned.test", two_authors)
    h.check(code == 550 and text.startswith("5.7.1") and "several" in text,
            "authors in two domains: wanted 550 5.7.1 naming them, got %d %s" % (code, text))

    expect["t85-good"] = [
        host, "spf=pass smtp.mailfrom=signed.test",
        "dkim=pass header.d=signed.test header.s=rs header.a=rsa-sha256 header.b=%s" % bs["rs"],
        "dkim=pass header.d=signed.test header.s=ed header.a=ed25519-sha256 header.b=%s"
        % bs["ed"],
        "dmarc=pass (p=reject dis=none) header.from=signed.test"]
    expect["t85-altered"] = [
        host, "spf=pass smtp.mailfrom=signed.test",
        "dkim=fail (body hash mismatch) header.d=signed.test header.s=rs header.a=rsa-sha256 "
        "header.b=%s" % bs_altered["rs"],
        "dkim=fail (body hash mismatch) header.d=signed.test header.s=ed "
        "header.a=ed25519-sha256 header.b=%s" % bs_altered["ed"],
        "dmarc=pass (p=reject dis=none) header.from=signed.test"]
    expect["t85-unsigned"] = [host, "spf=pass smtp.mailfrom=unsigned.test", "dkim=none",
                              "dmarc=none header.from=unsigned.test"]
    expect["t85-quarantine"] = [host, "spf=pass smtp.mailfrom=unsigned.test", "dkim=none",
                                "dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test"]
    # A b= prefix holding '/' (an RFC 2045 tspecial) is written as a quoted-string.
    for k in expect:
        expect[k] = [re.sub(r"header\.b=(\S*/\S*)", r'header.b="\1"', e) for e in expect[k]]

    queued = {}
    for qid in edge.queue_ids():
        raw = edge.queue("show", qid)
        subject = email.message_from_string(raw.replace("\r\n", "\n"))["Subject"]
        queued[str(subject)] = raw
    h.check("t85-forged" not in queued and "t85-two-authors" not in queued,
            "a refused forgery was queued")
    h.check(sorted(queued) == sorted(expect), "queued: %s" % sorted(queued))
    for subject, want in expect.items():
        fs = fields(queued[subject])
        h.check(fs[0][0] == "Received", "%s: the first field is %s" % (subject, fs[0][0]))
        ars = [v for n, v in fs if n.lower() == "authentication-results"]
        h.check(len(ars) == 1, "%s: %d Authentication-Results fields" % (subject, len(ars)))
        h.check(fs[1][0] == "Authentication-Results",
                "%s: Authentication-Results is not right after Received" % subject)
        got = results(ars[0])
        h.check(got == want, "%s: Authentication-Results\n got %s\nwant %s" % (subject, got, want))
        h.check(not IP_RX.search(ars[0]), "%s: an IP address in %r" % (subject, ars[0]))
    h.check("bank.test" not in queued["t85-unsigned"],
            "the sender's own Authentication-Results claiming our name survived")
    auth_lines = [l for l in edge.output().splitlines() if " auth spf=" in l]
    h.check(len(auth_lines) == 6, "wanted 6 auth log lines, got %d" % len(auth_lines))
    h.check(not any(IP_RX.search(l.split(" auth ", 1)[1]) or "test" in l for l in auth_lines),
            "the auth log lines name an address or a domain: %s" % auth_lines)
    h.log("t_85: signed, altered, unsigned, quarantined and forged mail as expected")


if __name__ == "__main__":
    h.main(test)
