#!/usr/bin/env python3
"""Harness self-test: a private Postfix instance relays a message to smtp-sink; the sink's file
holds it, and Postfix's own log says status=sent with the sink's reply."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

MARKER = "harness-postfix-marker-7f3a"


def test():
    with h.TestDir("t_02") as tdir, h.SmtpSink(tdir) as sink, \
            h.Postfix(tdir, relay="[127.0.0.1]:%d" % sink.port) as pf:
        msg = ("From: a@sender.test\r\nTo: b@elsewhere.test\r\nSubject: harness\r\n\r\n"
               "body %s\r\n" % MARKER)
        pf.send("a@sender.test", ["b@elsewhere.test"], msg)
        lines = pf.wait_log(r"to=<b@elsewhere\.test>.*relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d.*"
                            r"status=sent \(250 " % sink.port)
        h.log("postfix:", lines[0])
        pf.wait_queue_empty()
        msgs = sink.wait_messages(1)
        h.check(len(msgs) == 1, "sink has %d messages" % len(msgs))
        h.check(MARKER in msgs[0], "the sink's file lacks the body:\n" + msgs[0])
        h.check("X-Rcpt-Args: <b@elsewhere.test>" in msgs[0], "the sink's file lacks the recipient")
        h.check("X-Mail-Args: <a@sender.test>" in msgs[0], "the sink's file lacks the sender")
        h.check("X-Helo-Args: mta.sender.test" in msgs[0],
                "the sink did not see Postfix's HELO name:\n" + msgs[0])
        conf = pf.conf
    # stopped: nothing of this instance remains
    rc, out = h.run(["pgrep", "-f", conf], check_rc=False)
    h.check(rc != 0, "Postfix processes left behind:\n" + out)


h.main(test)
