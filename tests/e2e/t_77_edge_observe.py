#!/usr/bin/env python3
"""Edge status and metrics: the real edge with listen.metrics set, linked to a real inner over
the `direct` transport. Mail from raw SMTP clients and swaks, some of it refused on purpose (one
of each: greylist, recipient check while the link is down, connection limit, pregreet, HELO,
DNSBL, sender in our domain, relay, unknown user, a message over the size limit); mail held on
the edge while the inner is away; outbound mail delivered, refused for good and deferred. After
each phase the scrape of GET /metrics (urllib) and the edge's `nightjarctl status --config FILE`
must show exactly those figures: connections, refusals by reason, messages accepted, inbound and outbound queue lengths
and ages, the link's state, round trip and links opened, delivery outcomes, the store's commit
batch sizes. Neither output may hold an IP address, a mail address, a user's domain, a HELO name,
a subject or a body. A non-loopback listen.metrics stops start-up with file:line: key: problem."""
# nj-e2e: timeout 300
import copy, os, re, sys, time, urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk

ALICE, PW = "alice@example.i2p", "alice pw 77"
SENDER = "bob@sender.test"
SUBJECT = "t77-subject-marker"
BODY = "t77-body-marker"

# What must never appear in a scrape or a status: addresses, names and text the test used.
SECRETS = ["127.0.0.", "127.255.", "alice", "bob", "nobody", "mallory", "carol", "zed",
           "sender.test", "example.test", "example.i2p", "elsewhere.test", "dest.test",
           "nullmx.test", "down.test", "nodots", "mta.sender.test", "client.test", SUBJECT, BODY]

REASONS = ["connection_limit", "pregreet", "protocol", "helo", "sender_syntax", "sender_forged",
           "dnsbl", "sender_domain", "sender_allowlist", "recipient_syntax", "relay", "greylist",
           "recipient_too_long", "no_such_user", "mailbox_full", "recipient_check_unavailable",
           "data_limits", "virus", "virus_scan_failed", "headers", "content", "dmarc",
           "queue_write"]



def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        h.check(r.status == 200, "GET /metrics: %d" % r.status)
        h.check(r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
                "content type %r" % r.headers.get("Content-Type"))
        return r.read().decode("utf-8")


def samples(text):
    """{"name{labels}": value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-z_]+(?:\{[^}]*\})?) (\S+)", line)
        h.check(m is not None, "not a sample line: %r" % line)
        out[m.group(1)] = float(m.group(2))
    return out


def status(edge):
    """The status body, as the edge's `nightjarctl status --config FILE` prints it."""
    rc, out = h.run([h.edge_ctl_bin(), "status", "--config", edge.config_path], check_rc=False)
    h.check(rc == 0, "nightjarctl status failed (%d):\n%s" % (rc, out))
    return out


def status_line(text, label):
    m = re.search(r"^%s:\s+(.*)$" % re.escape(label), text, re.M)
    h.check(m is not None, "status has no %r line:\n%s" % (label, text))
    return m.group(1)


def no_secrets(what, text):
    for s in SECRETS:
        h.check(s.lower() not in text.lower(), "%s holds %r:\n%s" % (what, s, text))


def counter(m, name, **labels):
    key = name + ("{%s}" % ",".join('%s="%s"' % kv for kv in labels.items()) if labels else "")
    h.check(key in m, "no series %s in the scrape" % key)
    return m[key]


def check_refusals(m, want):
    for r in REASONS:
        got = counter(m, "nightjar_edge_smtp_refusals_total", reason=r)
        h.check(got == want.get(r, 0), "refusals %s: %s, wanted %s" % (r, got, want.get(r, 0)))


def wait_sessions_gone(port):
    ih.wait_until(lambda: samples(scrape(port)).get("nightjar_edge_smtp_sessions") == 0, 20,
                  "every SMTP session to end")


def both_outputs(edge, port):
    text = scrape(port)
    st = status(edge)
    no_secrets("the scrape", text)
    no_secrets("the status", st)
    return samples(text), st


def refused_non_loopback(tdir, edge):
    """listen.metrics on a public address: --check-config and start-up both refuse it, naming
    the file, the line and the key."""
    bad = h.deep_update(copy.deepcopy(edge.config), {"listen": {"metrics": "0.0.0.0:9101"}})
    path = os.path.join(tdir.sub("badcfg"), "edge.yaml")
    text = h.to_yaml(bad) + "\n"
    with open(path, "w") as f:
        f.write(text)
    line = ih.yaml_line_of(text, "listen.metrics")
    for extra in (["--check-config"], []):
        rc, out = h.run([h.edge_bin(), "--config", path] + extra, check_rc=False, timeout=20)
        h.check(rc != 0, "a non-loopback listen.metrics was accepted:\n" + out)
        h.check("%s:%d: listen.metrics: \"0.0.0.0:9101\" is not a loopback address" % (path, line)
                in out, "no file:line: key: problem for listen.metrics:\n" + out)


def test():
    h.require_edge()
    ih.require_inner()
    zones = dict(h.sender_zones())
    zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    # Nothing listens on 127.0.0.5: delivery there fails for now, every time.
    zones["down.test"] = [("@", "MX", "10 mx.down.test."), ("mx", "A", "127.0.0.5")]
    with h.TestDir("t_77") as tdir, h.SmtpSink(tdir) as sink, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
        metrics_port = h.free_port()
        pair = lk.LinkedPair(
            tdir, ub,
            edge_overrides={
                "listen": {"metrics": "127.0.0.1:%d" % metrics_port},
                # one pass through greylisting allowlists the client network
                "checks": {"greylist": {"auto_allow_after": 1}},
                "outbound": {"smtp_port": sink.port, "allow_private_addresses": True,
                             "retry_initial": "1s", "retry_max": "2s"}},
            inner_overrides={"delay": {"default": "none"}})
        edge, inner = pair.edge, pair.inner
        inner.add_account(ALICE, PW)
        refused_non_loopback(tdir, edge)
        edge.start()
        try:
            run(edge, inner, sink, metrics_port)
        except BaseException:
            h.log("edge log:\n" + edge.output()[-6000:])
            h.log("inner log:\n" + inner.output()[-4000:])
            raise
        finally:
            inner.stop()
            h.check(edge.stop() == 0, "the edge did not exit 0 on SIGTERM")
        h.check(not os.path.exists(os.path.join(edge.data_dir, "control.sock")),
                "the control socket outlived the edge")


def run(edge, inner, sink, port):
    msg = h.message(SUBJECT, BODY)
    conns = 0  # SMTP connections this test opens that the edge admits

    # ---- the link is down: nothing has linked yet
    wait_sessions_gone(port)  # the harness's readiness probe
    m0, st = both_outputs(edge, port)
    base_conns = counter(m0, "nightjar_edge_smtp_connections_total", listener="mx")
    h.check(counter(m0, "nightjar_edge_link_up") == 0, "link up before any inner")
    h.check(counter(m0, "nightjar_edge_links_opened_total") == 0, "links opened before any")
    check_refusals(m0, {})
    h.check(status_line(st, "link").startswith("down since "), "status:\n" + st)
    h.check(status_line(st, "links opened") == "0", "status:\n" + st)
    h.check(status_line(st, "last link end") == "none yet", "status:\n" + st)
    h.check(status_line(st, "inbound queue") == "0 messages", "status:\n" + st)

    # greylisted once (450), then the retry reaches the recipient check, which needs the link
    first = h.pass_greylist(edge, "127.0.0.1", SENDER, "alice@example.test")
    conns += 1
    h.expect_reply(first, 450, "4.2.0", "first try")
    r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", SENDER,
                       ["alice@example.test"], None)
    conns += 1
    h.expect_reply(r["rcpt:alice@example.test"], 451, "4.4.3", "RCPT with the link down")

    # ---- the inner links
    inner.start()
    lk.wait_log(edge, " up queued=", timeout=30)
    m, st = both_outputs(edge, port)
    h.check(counter(m, "nightjar_edge_link_up") == 1, "link_up is not 1")
    h.check(counter(m, "nightjar_edge_links_opened_total") == 1, "links opened is not 1")
    h.check(counter(m, "nightjar_edge_link_rtt_seconds") >= 0, "negative round trip")
    h.check(re.fullmatch(r"up since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+s\), "
                         r"round trip \d+ ms", status_line(st, "link")), "status:\n" + st)
    h.check(status_line(st, "links opened") == "1", "status:\n" + st)

    # accepted: one message to a real user, while a relay and an unknown user are refused
    r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", SENDER,
                       ["alice@example.test", "zed@elsewhere.test", "nobody@example.test"], msg)
    conns += 1
    h.expect_reply(r["rcpt:zed@elsewhere.test"], 554, "5.7.1", "relay")
    h.expect_reply(r["rcpt:nobody@example.test"], 550, "5.1.1", "unknown user")
    h.expect_reply(r["."], 250, "2.0.0", "end of data")
    # accepted: one more, sent by swaks
    t = h.swaks_edge(edge, "--from", SENDER, "--to", "alice@example.test",
                     "--header", "Subject: " + SUBJECT, "--body", BODY)
    conns += 1
    t.expect(".", 250, "2.0.0")
    # refused: HELO without a dot, a DNSBL-listed client, a forged sender in our domain,
    # a client that talks first, a message over limits.max_message_size (1M)
    r = h.send_message(edge.port, "127.0.0.1", "nodots", SENDER, ["alice@example.test"], msg)
    conns += 1
    h.expect_reply(r["ehlo"], 504, None, "HELO nodots")
    r = h.send_message(edge.port, "127.0.0.2", "mta.sender.test", SENDER,
                       ["alice@example.test"], msg)
    conns += 1
    h.expect_reply(r["mail"], 550, "5.7.1", "DNSBL-listed client")
    r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", "mallory@example.test",
                       ["alice@example.test"], msg)
    conns += 1
    h.expect_reply(r["mail"], 550, "5.7.1", "sender in our domain")
    with h.RawSmtp(edge.port) as c:
        c.send("EHLO mta.sender.test\r\n")
        h.expect_reply(c.reply(), 554, "5.5.1", "pregreet")
    conns += 1
    big = h.message(SUBJECT, ("x" * 998 + "\n") * 1100)
    r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", SENDER,
                       ["alice@example.test"], big)
    conns += 1
    h.expect_reply(r["."], 552, "5.3.4", "message over the size limit")
    wait_sessions_gone(port)
    # five connections from one /24 are the most limits.max_connections_per_client lets in
    held = [h.RawSmtp(edge.port) for _ in range(5)]
    conns += 5
    for c in held:
        h.expect_reply(c.reply(), 220, None, "banner")
    with h.RawSmtp(edge.port) as c:
        h.expect_reply(c.reply(), 421, "4.7.0", "sixth connection from the network")
    for c in held:
        c.close()
    wait_sessions_gone(port)

    lk.wait_log(edge, "delivered to the inner", count=2, timeout=30)
    m, st = both_outputs(edge, port)
    refusals = {"greylist": 1, "recipient_check_unavailable": 1, "relay": 1, "no_such_user": 1,
                "helo": 1, "dnsbl": 1, "sender_forged": 1, "pregreet": 1, "data_limits": 1,
                "connection_limit": 1}
    check_refusals(m, refusals)
    h.check(counter(m, "nightjar_edge_smtp_connections_total", listener="mx") - base_conns ==
            conns, "connections: %s since the start, wanted %d" %
            (counter(m, "nightjar_edge_smtp_connections_total", listener="mx") - base_conns,
             conns))
    h.check(counter(m, "nightjar_edge_smtp_connections_total", listener="onion_mx") == 0,
            "onion connections without an onion listener")
    h.check(counter(m, "nightjar_edge_messages_accepted_total") == 2, "messages accepted")
    h.check(counter(m, "nightjar_edge_inbound_queue_messages") == 0, "inbound queue not empty")
    total_conns = int(counter(m, "nightjar_edge_smtp_connections_total", listener="mx"))
    h.check(status_line(st, "since start") ==
            "%d connections, 2 messages accepted, %d refusals" %
            (total_conns, sum(refusals.values())), "status:\n" + st)
    h.check(status_line(st, "inbound queue") == "0 messages", "status:\n" + st)

    # ---- the inner goes away: a message for a recipient the edge knows waits on the edge
    inner.stop()
    lk.wait_log(edge, "down (", timeout=30)
    r = h.send_message(edge.port, "127.0.0.1", "mta.sender.test", SENDER,
                       ["alice@example.test"], msg)
    conns += 1
    h.expect_reply(r["."], 250, "2.0.0", "held while the inner is away")
    time.sleep(2.2)
    m, st = both_outputs(edge, port)
    h.check(counter(m, "nightjar_edge_link_up") == 0, "link still up")
    h.check(counter(m, "nightjar_edge_link_rtt_seconds") == 0, "a round trip while down")
    h.check(counter(m, "nightjar_edge_inbound_queue_messages") == 1, "inbound queue length")
    age = counter(m, "nightjar_edge_inbound_queue_oldest_seconds")
    h.check(2 <= age <= 30, "inbound oldest age %s" % age)
    h.check(counter(m, "nightjar_edge_messages_accepted_total") == 3, "messages accepted")
    h.check(re.fullmatch(r"1 message, oldest \d+s", status_line(st, "inbound queue")),
            "status:\n" + st)
    h.check(status_line(st, "link").startswith("down since "), "status:\n" + st)
    h.check(status_line(st, "last link end") != "none yet", "status:\n" + st)

    # ---- the inner is back: the held message goes, and outbound mail comes
    inner.start()
    lk.wait_log(edge, " up queued=", count=2, timeout=30)
    lk.wait_log(edge, "delivered to the inner", count=3, timeout=30)
    out_msg = ("From: <%s>\r\nTo: <bob@dest.test>\r\nSubject: %s\r\n\r\n%s\r\n"
               % (ALICE, SUBJECT, BODY))
    inner.deliver(ALICE, PW, ["bob@dest.test"], out_msg)
    inner.deliver(ALICE, PW, ["carol@nullmx.test"], out_msg)
    inner.deliver(ALICE, PW, ["zed@down.test"], out_msg)
    sink.wait_messages(1, timeout=60)

    def settled():
        mm = samples(scrape(port))
        return (mm.get('nightjar_edge_deliveries_total{outcome="delivered"}') == 1 and
                mm.get('nightjar_edge_deliveries_total{outcome="failed"}') == 1 and
                mm.get('nightjar_edge_deliveries_total{outcome="deferred"}', 0) >= 2 and
                mm.get("nightjar_edge_outbound_queue_messages") == 1) and mm
    ih.wait_until(settled, 60, "delivered 1, failed 1, deferred twice, one message queued")
    m, st = both_outputs(edge, port)
    h.check(counter(m, "nightjar_edge_deliveries_total", outcome="expired") == 0, "expired")
    h.check(counter(m, "nightjar_edge_outbound_queue_recipients") == 1, "outbound recipients")
    out_age = counter(m, "nightjar_edge_outbound_queue_oldest_seconds")
    h.check(0 <= out_age <= 60, "outbound oldest age %s" % out_age)
    h.check(counter(m, "nightjar_edge_inbound_queue_messages") == 0, "inbound queue not empty")
    h.check(counter(m, "nightjar_edge_link_up") == 1, "link not up again")
    h.check(counter(m, "nightjar_edge_links_opened_total") == 2, "links opened is not 2")
    check_refusals(m, refusals)
    h.check(counter(m, "nightjar_edge_smtp_connections_total", listener="mx") - base_conns ==
            conns, "connections")
    deferred = int(counter(m, "nightjar_edge_deliveries_total", outcome="deferred"))
    h.check(re.fullmatch(r"1 message, 1 recipient pending, oldest \d+s",
                         status_line(st, "outbound queue")), "status:\n" + st)
    h.check(status_line(st, "links opened") == "2", "status:\n" + st)
    h.check(status_line(st, "link").startswith("up since "), "status:\n" + st)
    d = status_line(st, "deliveries")
    h.check(re.fullmatch(r"1 delivered, \d+ deferred, 1 failed, 0 expired \(per recipient\)", d)
            and int(d.split(", ")[1].split()[0]) >= deferred, "status:\n" + st)

    # the store's commits: every message, every removal, every outbound record in some batch
    count = counter(m, "nightjar_store_commit_batch_size_count")
    total = counter(m, "nightjar_store_commit_batch_size_sum")
    inf = counter(m, "nightjar_store_commit_batch_size_bucket", le="+Inf")
    h.check(inf == count and count >= 1 and total >= 3 + 3 + 3,
            "batch sizes: count %s sum %s +Inf %s" % (count, total, inf))
    h.check(counter(m, "nightjar_store_commits_total") == count, "commits_total is not _count")
    h.check(counter(m, "nightjar_store_failed_items_total") == 0, "failed store writes")
    prev = 0
    for le in ["1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "1024", "+Inf"]:
        v = counter(m, "nightjar_store_commit_batch_size_bucket", le=le)
        h.check(v >= prev, "buckets are not cumulative at le=%s" % le)
        prev = v
    h.log("status:\n" + st)


h.main(test)
