#!/usr/bin/env python3
"""Edge: nothing readable at rest. Markers in the envelope sender, a recipient's local part, a
header and the body of accepted mail, and the client's address, must not appear in any file under
data_dir (raw bytes, after the edge has stopped so LMDB is flushed), nor in the edge's log."""
import os, re, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

M_SENDER = "zq7sendermark"
M_RCPT = "zq7rcptmark"
M_HEADER = "zq7headermark"
M_SUBJECT = "zq7subjectmark"
M_BODY = "zq7bodymark"
CLIENT = "127.0.0.57"


def grep_tree(root, needles):
    hits = []
    for d, _dirs, files in os.walk(root):
        for fn in files:
            p = os.path.join(d, fn)
            with open(p, "rb") as f:
                data = f.read()
            for n in needles:
                for form in (n.encode(), n.encode("utf-16-le")):
                    if form in data:
                        hits.append((p, n))
    return hits


def test():
    with h.edge_world("t_16") as (tdir, ub, edge):
        sender = M_SENDER + "@sender.test"
        rcpt = M_RCPT + "@example.test"
        h.pass_greylist(edge, CLIENT, sender, rcpt)
        msg = h.message(M_SUBJECT, "secret body " + M_BODY, headers=["X-Marker: " + M_HEADER],
                        to=rcpt, frm=sender)
        r = h.send_message(edge.port, CLIENT, "mta.sender.test", sender, [rcpt], msg)
        h.expect_reply(r.get("."), 250, "2.0.0", what="marked message")
        rc = edge.stop()
        h.check(rc == 0, "edge exited %r on SIGTERM" % rc)
        files = [os.path.join(d, f) for d, _, fs in os.walk(edge.data_dir) for f in fs]
        h.check(files and sum(os.path.getsize(f) for f in files) > 0,
                "data_dir is empty: the message cannot have been queued")
        needles = [M_SENDER, M_RCPT, M_HEADER, M_SUBJECT, M_BODY, CLIENT, sender, rcpt]
        hits = grep_tree(edge.data_dir, needles)
        h.check(not hits, "readable at rest: %r" % hits)
        log_text = edge.output()
        leaked = [n for n in (sender, rcpt, M_SUBJECT, M_BODY, M_HEADER, CLIENT) if n in log_text]
        h.check(not leaked, "the edge's log contains %r" % leaked)


h.main(test)
