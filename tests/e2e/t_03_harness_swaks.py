#!/usr/bin/env python3
"""Harness self-test: swaks talks to smtp-sink, the transcript parser finds each step's reply,
and a refusal (smtp-sink -q style errors are not needed: a wrong expectation) is reported."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

MARKER = "harness-swaks-marker-11c2"


def test():
    with h.TestDir("t_03") as tdir, h.SmtpSink(tdir) as sink:
        t = h.swaks("--server", "127.0.0.1", "--port", sink.port, "--local-interface",
                    "127.0.0.2", "--helo", "client.sender.test", "--from", "a@sender.test",
                    "--to", "b@elsewhere.test", "--body", MARKER)
        h.check(t.rc == 0, "swaks failed (%d):\n%s" % (t.rc, t.text))
        t.expect("CONNECT", 220)
        t.expect("EHLO", 250)
        t.expect("MAIL FROM", 250, "2.1.0")
        t.expect("RCPT TO", 250, "2.1.5")
        t.expect("DATA", 354)
        t.expect(".", 250, "2.0.0")
        t.expect("QUIT", 221)
        # the reply to the message body ("."), as swaks labels it
        body = [c for c, _ in t.steps if MARKER in c]
        h.check(body, "transcript has no body line")
        # a wrong expectation must fail: the helper cannot pass vacuously
        for args in (("MAIL FROM", 550, "5.1.8"), ("MAIL FROM", 250, "2.1.9"),
                     ("VRFY", 250, None)):
            try:
                t.expect(*args)
            except h.TestFailure:
                continue
            raise h.TestFailure("expect%r passed on:\n%s" % (args, t.text))
        msgs = sink.wait_messages(1)
        h.check(MARKER in msgs[0], "sink file lacks the body")
        h.check("X-Client-Addr: 127.0.0.2" in msgs[0], "--local-interface was not used:\n" + msgs[0])
        # raw client: the banner arrives, a command gets a reply
        with h.RawSmtp(sink.port, source="127.0.0.5") as c:
            h.expect_reply(c.reply(), 220, what="banner")
            h.expect_reply(c.cmd("HELO raw.sender.test"), 250, what="HELO")
            h.expect_reply(c.cmd("QUIT"), 221, what="QUIT")


h.main(test)
