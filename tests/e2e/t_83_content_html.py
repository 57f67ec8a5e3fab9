#!/usr/bin/env python3
"""Edge: HTML mail from the Internet loses everything that would reach the network before it is
sealed. The newsletter-shaped corpus (tests/content/html: pixel images, CSS backgrounds, web
fonts, srcset, Outlook's conditional comments, SVG, prefetch hints, meta refresh, forms) is sent
through the real edge by Python's smtplib in the shapes real mail has: multipart/alternative with
quoted-printable HTML beside a text part, single-part base64 HTML, multipart/related whose HTML
shows an image of the same message by cid:. What the edge queued (read back by the edge's
nightjarctl edge-queue show) is parsed like a mail reader would: no HTML part fetches anything
(lib/html_urls.py, which also reads inside comments as Outlook does), the visible text of each
document survives, the text parts are untouched, the cid: image is kept, and one
X-Nightjar-Content field says what went (a sender's own copy is dropped). A multipart/signed
HTML part is left as it was and the field says so. An HTML part in UTF-16, which the cleaner
cannot read as the reader would, is refused 554 5.6.0 and not queued. The edge log names no
address and no subject."""
import collections, email, email.policy, os, re, smtplib, sys
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import html_urls

CORPUS = os.path.join(h.SOURCE_DIR, "tests", "content", "html")
SENDER = "bob@sender.test"
RCPT = "alice@example.test"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4e00000000049454e44ae426082")


def corpus(name):
    with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
        return f.read()


def alternative(subject, html):
    """multipart/alternative: a text part, then the HTML in quoted-printable."""
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, RCPT, subject
    m["X-Nightjar-Content"] = "html cleaned; nothing removed"  # a sender's lie, to be dropped
    m.set_content("The plain text of %s stays as it is.\n" % subject, cte="quoted-printable")
    m.add_alternative(html, subtype="html", cte="quoted-printable")
    return m


def single_base64(subject, html):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, RCPT, subject
    m.set_content(html, subtype="html", cte="base64")
    return m


def related(subject, html):
    """The HTML shows an image of the same message by cid: (kept) among the corpus' remote ones."""
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, RCPT, subject
    body = re.sub(r"(?i)(<body[^>]*>)", r'\1<p><img src="cid:logo@t83.test" alt="our logo"></p>',
                  html, count=1)
    h.check(body != html, "the corpus document has no <body> to put the cid: image in")
    m.set_content(body, subtype="html", cte="quoted-printable")
    m.add_related(PNG, maintype="image", subtype="png", cid="<logo@t83.test>")
    return m


def signed(subject, html):
    """multipart/signed (RFC 1847) around an HTML part: cleaning it would break the signature."""
    outer = MIMEMultipart("signed", protocol="application/pgp-signature", micalg="pgp-sha256")
    outer["From"], outer["To"], outer["Subject"] = SENDER, RCPT, subject
    part = MIMEText(html, "html", "utf-8")
    outer.attach(part)
    sig = MIMEText("-----BEGIN PGP SIGNATURE-----\n\nnot checked here\n-----END PGP SIGNATURE-----\n",
                   "plain")
    sig.replace_header("Content-Type", "application/pgp-signature; name=signature.asc")
    outer.attach(sig)
    return outer


def utf16(subject):
    m = MIMEText("<p>hello <img src=\"http://tracker.test/p.gif\"></p>", "html", "utf-16")
    m["From"], m["To"], m["Subject"] = SENDER, RCPT, subject
    return m


def send(edge, msg):
    """(code, text) of the end of DATA for msg, sent by smtplib."""
    with smtplib.SMTP("127.0.0.1", edge.port, local_hostname="mta.sender.test", timeout=60) as s:
        s.ehlo()
        code, _ = s.mail(SENDER)
        h.check(code == 250, "MAIL FROM: %d" % code)
        code, _ = s.rcpt(RCPT)
        h.check(code == 250, "RCPT TO: %d" % code)
        code, text = s.data(msg.as_bytes(policy=email.policy.SMTP))
        return code, text.decode("utf-8", "replace")


def html_parts(msg):
    return [p for p in msg.walk() if p.get_content_type() == "text/html"]


def decoded(part):
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8", "replace")


def test():
    h.require_edge()
    with h.TestDir("t_83") as tdir:
        with h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl:
            with h.Unbound(tdir, h.sender_zones(), stubs={"dnsbl.test": rbl.port}) as ub:
                edge = h.Edge(tdir, ub.addr, {"checks": {"greylist": {"enabled": False}}})
                try:
                    run(edge)
                except BaseException:
                    h.log("edge log:\n" + edge.output()[-6000:])
                    raise
                finally:
                    edge.stop()


def run(edge):
    docs = {name: corpus(name) for name in sorted(os.listdir(CORPUS)) if name.endswith(".html")}
    h.check(len(docs) >= 3, "the corpus is missing: %s" % CORPUS)
    sent = {}  # subject -> (shape, document name, message)
    for i, (name, html) in enumerate(sorted(docs.items())):
        for shape, make in (("alternative", alternative), ("base64", single_base64),
                            ("related", related)):
            subject = "t83-%s-%d" % (shape, i)
            sent[subject] = (shape, name, make(subject, html))
    signed_subject = "t83-signed"
    sent[signed_subject] = ("signed", "newsletter_tables.html",
                            signed(signed_subject, docs["newsletter_tables.html"]))

    edge.start()
    for subject, (shape, name, msg) in sent.items():
        code, text = send(edge, msg)
        h.check(code == 250, "%s (%s, %s): %d %s" % (subject, shape, name, code, text))
    code, text = send(edge, utf16("t83-utf16"))
    h.check(code == 554 and text.startswith("5.6.0"),
            "a UTF-16 HTML part: wanted 554 5.6.0, got %d %s" % (code, text))
    h.check(edge.stop() == 0, "the edge did not exit 0 on SIGTERM")

    queued = {}
    for qid in edge.queue_ids():
        m = email.message_from_string(edge.queue("show", qid).replace("\r\n", "\n"),
                                      policy=email.policy.default)
        queued[str(m["Subject"])] = m
    h.check("t83-utf16" not in queued, "the refused UTF-16 message was queued")
    missing = sorted(set(sent) - set(queued))
    h.check(not missing, "acknowledged but not queued: %s" % missing)

    for subject, (shape, name, original) in sent.items():
        got = queued[subject]
        fields = got.get_all("X-Nightjar-Content") or []
        h.check(len(fields) == 1, "%s: %d X-Nightjar-Content fields: %r" % (subject, len(fields),
                                                                             fields))
        field = " ".join(str(fields[0]).split())
        before_html = [decoded(p) for p in html_parts(original)]
        after_html = [decoded(p) for p in html_parts(got)]
        h.check(len(after_html) == len(before_html) == 1,
                "%s: HTML parts before %d, after %d" % (subject, len(before_html), len(after_html)))
        if shape == "signed":
            h.check(after_html == before_html, "%s: the signed HTML part was changed" % subject)
            h.check("signed part not cleaned" in field, "%s: the field says %r" % (subject, field))
            h.check(html_urls.scan(after_html[0]).fetches, "%s: the signed part fetches nothing; "
                    "it shows nothing" % subject)
            continue
        h.check(field.startswith("html cleaned; removed "), "%s: the field says %r" % (subject,
                                                                                     field))
        before, after = html_urls.scan(before_html[0]), html_urls.scan(after_html[0])
        h.check(before.fetches, "%s: the original fetches nothing; it tests nothing" % subject)
        h.check(not after.fetches, "%s (%s): still fetches %s" % (subject, name, after.fetches[:5]))
        lost = collections.Counter(before.words) - collections.Counter(after.words)
        h.check(not lost, "%s (%s): visible text lost: %s" % (subject, name,
                                                              " ".join(sorted(lost))[:300]))
        if shape == "alternative":
            plain = [p for p in got.walk() if p.get_content_type() == "text/plain"]
            h.check(len(plain) == 1 and plain[0].get_content() ==
                    "The plain text of %s stays as it is.\n" % subject,
                    "%s: the text part changed: %r" % (subject, [p.get_content() for p in plain]))
        if shape == "related":
            h.check('src="cid:logo@t83.test"' in after_html[0],
                    "%s: the cid: image is gone:\n%s" % (subject, after_html[0][:2000]))
            images = [p for p in got.walk() if p.get_content_type() == "image/png"]
            h.check(len(images) == 1 and images[0].get_payload(decode=True) == PNG,
                    "%s: the image part changed" % subject)
        h.log("%s (%s): %d fetches before, none after; %s" % (subject, name, len(before.fetches),
                                                              field))

    log = edge.output()
    for secret in list(sent) + ["t83-utf16", SENDER, RCPT]:
        h.check(secret not in log, "the edge log holds %r" % secret)
    h.check("reason=content: " in log, "the refusal of the UTF-16 part is not logged")


if __name__ == "__main__":
    h.main(test)
