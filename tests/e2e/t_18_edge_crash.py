#!/usr/bin/env python3
"""Edge: every 250 is durable. Clients send in parallel while the edge is SIGKILLed; after a
restart, the edge's `nightjarctl edge-queue list` holds every acknowledged message, and `show` prints it
decrypted: recipient rewritten to the internal domain, one Received line naming no IP, and
Return-Path / Delivered-To / X-Original-To and the sender's X-Nightjar-* dropped (the one such
field left is the edge's own X-Nightjar-Content)."""
import os, re, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

import threading

SENDERS = 8
RUN_SECONDS = 3.0


def test():
    with h.edge_world("t_18", overrides={"limits": {"max_connections_per_client": 50}}) as (
            tdir, ub, edge):
        h.pass_greylist(edge, "127.0.0.1", "bob@sender.test", "alice@example.test")
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def sender(n):
            # many messages per connection, so the run is not dominated by greet_wait
            i = 0
            while not stop.is_set():
                try:
                    with h.RawSmtp(edge.port, source="127.0.0.1") as c:
                        if not c.reply()[-1:] or not c.cmd("EHLO mta.sender.test")[-1:]:
                            continue
                        while not stop.is_set():
                            mark = "crashmark-%d-%d" % (n, i)
                            i += 1
                            msg = h.message("crash " + mark, "body " + mark, headers=[
                                "Return-Path: <bounce@sender.test>",
                                "Delivered-To: alice@example.test",
                                "X-Original-To: alice@example.test",
                                "X-Nightjar-Verdict: forged"])
                            if not c.cmd("MAIL FROM:<bob@sender.test>")[-1:][0].startswith("250"):
                                break
                            if not c.cmd("RCPT TO:<alice@example.test>")[-1].startswith("250"):
                                break
                            if not c.cmd("DATA")[-1].startswith("354"):
                                break
                            c.send(msg.encode() + b".\r\n")
                            r = c.reply()
                            if r and r[-1].startswith("250"):
                                with lock:
                                    acked.append(mark)
                            elif r:
                                h.log("sender %d: unexpected %r" % (n, r))
                                break
                            else:
                                break
                except (OSError, IndexError):
                    continue  # the edge died under this transaction: no 250, no promise

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
        for t in threads:
            t.start()
        time.sleep(RUN_SECONDS)
        edge.kill()
        stop.set()
        for t in threads:
            t.join(60)
        h.check(len(acked) >= 20, "only %d messages acknowledged before the kill" % len(acked))
        h.log("%d messages acknowledged before SIGKILL" % len(acked))

        edge.start()  # same data_dir and keys
        ids = edge.queue_ids()
        h.check(len(ids) >= len(acked), "queue holds %d messages, %d were acknowledged"
                % (len(ids), len(acked)))
        found = {}
        for qid in ids:
            text = edge.queue("show", qid)
            m = re.search(r"crashmark-\d+-\d+", text)
            if m:
                found[m.group(0)] = text
        missing = [m for m in acked if m not in found]
        h.check(not missing, "acknowledged but lost: %r" % missing[:20])

        text = found[acked[0]].replace("\r", "")
        # everything before the body (show may print the envelope before the message)
        head = text[:text.index("body " + acked[0])]
        h.check("alice@" + h.INTERNAL_DOMAIN in text,
                "recipient not rewritten to %s:\n%s" % (h.INTERNAL_DOMAIN, text))
        received = [l for l in head.split("\n") if l.lower().startswith("received:")]
        h.check(len(received) == 1, "wanted one Received line, got %r" % received)
        # a Received header may be folded: check the whole field
        rfield = re.search(r"(?ims)^received:.*?(?=^\S)", head + "\nEnd:")
        h.check(not re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b|\[[0-9a-f:]+\]", rfield.group(0)),
                "Received names an IP: %r" % rfield.group(0))
        for name in ("Return-Path:", "Delivered-To:", "X-Original-To:", "X-Nightjar-Verdict"):
            h.check(not re.search(r"(?im)^" + re.escape(name), head),
                    "%s was not dropped:\n%s" % (name, head))
        # The only X-Nightjar- field is the edge's own: what its body cleaner did.
        ours = re.findall(r"(?im)^x-nightjar-[^:]*:.*$", head)
        h.check(ours == ["X-Nightjar-Content: no html"],
                "X-Nightjar- fields other than the edge's one: %r" % ours)
        h.check(edge.stop() == 0, "edge did not exit 0 on SIGTERM after the restart")


h.main(test)
