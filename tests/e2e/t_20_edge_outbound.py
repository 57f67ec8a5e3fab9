#!/usr/bin/env python3
"""Edge outbound: the Deliverer and the encrypted queue (run through the nj_deliver_tool test
executable, since the daemon wiring is the integrator's) deliver to a real smtp-sink found by MX
in a real unbound. The sink gets the message with the fixed HELO, no header naming the inner,
Date in UTC, exactly one Received (the edge's) with no IP. A null MX domain bounces 5.1.10, a
domain that does not exist 5.1.2, our own domain never leaves, and the queue files on disk hold
no plaintext."""
import os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

TOOL = os.path.join(h.BUILD_DIR, "tests", "nj_deliver_tool")
MARK = "PLAINTEXT-MARK-t20"

INNER_MESSAGE = "\r\n".join([
    "Received: from laptop.home.lan (unknown [192.168.1.20]) by inner.abcdefghijklmnop.onion",
    " with ESMTPSA id 42; Sun, 22 Nov 2026 06:00:00 +0100",
    "From: Alice <alice@users.nightjar.onion>",
    "To: <rcpt@dest.test>",
    "Subject: hello " + MARK,
    "Date: Sun, 22 Nov 2026 06:00:00 +0100",
    "Message-ID: <1234.5678@laptop.home.lan>",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Thunderbird/115.0",
    "X-Originating-IP: [192.168.1.20]",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "body " + MARK,
    ".leading dot line",
    ""])

SINK_ANNOTATIONS = ("X-Client-Addr:", "X-Client-Proto:", "X-Helo-Args:", "X-Mail-Args:",
                    "X-Rcpt-Args:")


def zones():
    return {
        "dest.test": [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")],
        "nullmx.test": [("@", "MX", "0 .")],
    }


def run_tool(tdir, name, sink_port, ub, rcpts):
    msg = os.path.join(tdir.sub(name), "message.eml")
    with open(msg, "w", newline="") as f:
        f.write(INNER_MESSAGE)
    argv = [TOOL, "--data", os.path.join(tdir.sub(name), "db"), "--dns", ub.addr,
            "--helo", "mx.edge.test", "--public-domain", "public.test",
            "--our-domain", "public.test", "--our-domain", "users.nightjar.onion",
            "--rewrite", "users.nightjar.onion=public.test",
            "--from", "alice@public.test", "--message", msg,
            "--smtp-port", str(sink_port), "--allow-private", "--timeout", "60"]
    for r in rcpts:
        argv += ["--to", r]
    rc, out = h.run(argv, timeout=90, check_rc=False)
    h.log("tool:", out)
    return rc, out


def results(out):
    got = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            _, addr, status, reply = line.split(" ", 3)
            got[addr] = (status, reply)
    return got


def test():
    if not os.path.exists(TOOL):
        print("SKIP: %s does not exist" % TOOL)
        sys.exit(h.SKIP)
    with h.TestDir("t_20") as tdir:
        with h.Unbound(tdir, zones()) as ub, h.SmtpSink(tdir) as sink:
            rc, out = run_tool(tdir, "one", sink.port, ub,
                              ["rcpt@dest.test", "other@dest.test", "x@nullmx.test",
                               "y@nothere.dest.test", "me@public.test"])
            got = results(out)
            h.check(got.get("rcpt@dest.test", ("",))[0] == "delivered", "rcpt: %r" % got)
            h.check(got.get("other@dest.test", ("",))[0] == "delivered", "other: %r" % got)
            st, reply = got.get("x@nullmx.test", ("", ""))
            h.check(st == "permanent" and "5.1.10" in reply, "null MX: %r" % ((st, reply),))
            st, reply = got.get("y@nothere.dest.test", ("", ""))
            h.check(st == "permanent" and "5.1.2" in reply, "NXDOMAIN: %r" % ((st, reply),))
            h.check(got.get("me@public.test", ("",))[0] == "permanent", "ours: %r" % got)

            msgs = sink.wait_messages(1, timeout=20)
            h.check(len(msgs) == 1, "one message for two recipients, got %d" % len(msgs))
            raw = msgs[0].replace("\r\n", "\n")
            lines = raw.split("\n")
            annotations = [l for l in lines if l.startswith(SINK_ANNOTATIONS)]
            h.check(any(l == "X-Helo-Args: mx.edge.test" for l in annotations),
                    "fixed HELO: %r" % annotations)
            body = "\n".join(l for l in lines if not l.startswith(SINK_ANNOTATIONS))
            head = body.split("\n\n", 1)[0]
            h.log("headers as received:\n" + head)
            # smtp-sink prepends its own Received ("by sink.test (smtp-sink)"); every other one
            # travelled with the message.
            fields = re.findall(r"^Received:.*(?:\n[ \t].*)*", head, re.M | re.I)
            ours = [f for f in fields if "(smtp-sink)" not in f]
            h.check(len(fields) == len(ours) + 1, "the sink's own Received: %r" % fields)
            h.check(len(ours) == 1, "exactly one Received from the edge, got %r" % ours)
            rline = ours[0]
            h.check("by mx.edge.test" in rline, "Received by the edge: %r" % rline)
            h.check(not re.search(r"\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:]+\]", rline),
                    "IP in Received: %r" % rline)
            sent = "\n".join(f for f in re.split(r"\n(?=\S)", head) if "(smtp-sink)" not in f)
            for leak in ("onion", "laptop", "home.lan", "192.168.", "127.0.0.1", "Thunderbird",
                         "X-Originating-IP", "+0100"):
                h.check(leak not in sent, "header leaks %r:\n%s" % (leak, sent))
            date = re.search(r"^Date: (.*)$", head, re.M)
            h.check(date and date.group(1).endswith("+0000"), "Date in UTC: %r" % head)
            h.check(re.search(r"^From: .*alice@public\.test", head, re.M),
                    "From rewritten to public: %r" % head)
            h.check(re.search(r"^Message-ID: <[^@]+@public\.test>", head, re.M | re.I),
                    "fresh Message-ID: %r" % head)
            h.check(MARK in body and "\n.leading dot line" in body, "body intact: %r" % body)
            h.check(rc == 0, "tool exit %d" % rc)

            # The queue's files: encrypted, so the marker is nowhere on disk.
            dbdir = os.path.join(tdir.sub("one"), "db")
            for fn in os.listdir(dbdir):
                with open(os.path.join(dbdir, fn), "rb") as f:
                    data = f.read()
                h.check(MARK.encode() not in data and b"rcpt@dest.test" not in data,
                        "plaintext in %s" % fn)


h.main(test)
