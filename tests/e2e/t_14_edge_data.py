#!/usr/bin/env python3
"""Edge: DATA. Over max_message_size (1M) 552 5.3.4, also one byte over (and SIZE= one over at
MAIL FROM), with nothing queued; exactly 1M is accepted; a bare LF is refused with a 5xx; a proper
message 250 2.0.0 queued."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

LIMIT = 1 << 20  # the harness's limits.max_message_size: 1M


def sized(subject, size):
    """A message of exactly `size` bytes as the edge counts them (unstuffed, CRLF line ends)."""
    out = h.message(subject, "").encode()
    pad = size - len(out)
    h.check(pad >= 2, "headers alone are %d bytes" % len(out))
    while pad > 0:
        n = min(pad, 1000)  # lines of at most 998 characters and CRLF
        if pad - n == 1:  # a single byte left over could not end in CRLF
            n -= 1
        out += b"z" * (n - 2) + b"\r\n"
        pad -= n
    h.check(len(out) == size, "sized message is %d bytes, wanted %d" % (len(out), size))
    return out


def test():
    with h.edge_world("t_14") as (tdir, ub, edge):
        h.pass_greylist(edge, "127.0.0.1", "bob@sender.test", "alice@example.test")
        big = h.message("big", ("x" * 998 + "\n") * 1200)  # ~1.2 MB
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], big)
        h.expect_reply(r.get("."), 552, "5.3.4", what="oversized message")
        bare = h.message("bare lf", "line one").encode() + b"line two\nline three\r\n"
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], bare)
        got = r.get(".")
        h.check(got and got[-1][:1] == "5", "bare LF: wanted 5xx, got %r" % got)
        ok = h.message("fine", "a proper message\n.leading dot survives stuffing")
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], ok)
        h.expect_reply(r.get("."), 250, "2.0.0", what="proper message")
        h.check("queued" in r["."][-1].lower(), "250 without 'queued': %r" % r["."])
        # just under the limit passes
        under = h.message("under", ("y" * 998 + "\n") * 900)
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], under)
        h.expect_reply(r.get("."), 250, "2.0.0", what="message under the limit")
        # The limit is exact: one byte over is refused at the end of DATA, the limit itself passes.
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], sized("one over", LIMIT + 1))
        h.expect_reply(r.get("."), 552, "5.3.4", what="message one byte over the limit")
        r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "bob@sender.test",
                           ["alice@example.test"], sized("exact", LIMIT))
        h.expect_reply(r.get("."), 250, "2.0.0", what="message of exactly the limit")
        with h.RawSmtp(edge.port) as c:
            h.expect_reply(c.reply(), 220, what="banner")
            h.expect_reply(c.cmd("EHLO mta.sender.test"), 250, what="ehlo")
            h.expect_reply(c.cmd("MAIL FROM:<bob@sender.test> SIZE=%d" % (LIMIT + 1)), 552,
                           "5.3.4", what="SIZE one over the limit")
            h.expect_reply(c.cmd("MAIL FROM:<bob@sender.test> SIZE=%d" % LIMIT), 250,
                           what="SIZE at the limit")
        # Only the three accepted messages were queued; nothing of the refused ones.
        rc = edge.stop()
        h.check(rc == 0, "edge exit status %r" % rc)
        ids = edge.queue_ids()
        h.check(len(ids) == 3, "wanted 3 queued messages, found %d: %r" % (len(ids), ids))


h.main(test)
