#!/usr/bin/env python3
"""Faults on the link (`direct` transport), nothing lost:
- 2,000 messages each way (Internet -> edge -> user; user -> inner -> edge -> Internet) while the
  edge is killed with SIGKILL and restarted in the middle: every message that got its 250 arrives
  (duplicates are allowed: a sender whose 250 was lost retries, as SMTP permits);
- the edge is then wiped and replaced with new keys while the user keeps sending: the inner's
  outbound mail waits and all of it reaches the Internet through the new edge."""
# nj-e2e: timeout 600
import os, shutil, smtplib, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk

ALICE, PW = "alice@example.i2p", "alice pw 64"
N = 2000
THREADS = 8


def run_senders(make_conn, prologue, mail_from, rcpt, tag, acked):
    """THREADS threads, N messages in all, each on a reused connection; a broken connection is
    reopened and the message tried again. `acked` collects the markers that got 250."""
    lock = threading.Lock()

    def worker(w):
        todo = list(range(w, N, THREADS))
        conn = None
        deadline = time.monotonic() + 240
        while todo and time.monotonic() < deadline:
            i = todo[0]
            marker = "%s-%05d" % (tag, i)
            try:
                if conn is None:
                    conn = make_conn()
                    prologue(conn)
                msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: fault %s\r\n\r\n%s\r\n"
                       % (mail_from, rcpt, marker, marker))
                conn.sendmail(mail_from, [rcpt], msg)
                with lock:
                    acked.add(marker)
                todo.pop(0)
            except (smtplib.SMTPException, OSError):
                try:
                    if conn is not None:
                        conn.close()
                except OSError:
                    pass
                conn = None
                time.sleep(0.2)
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                pass

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(THREADS)]
    for t in ts:
        t.start()
    return ts


def markers_in(texts, tag):
    import re
    found = set()
    for t in texts:
        found.update(re.findall(r"%s-\d{5}" % tag, t))
    return found


def test():
    h.require_edge()
    ih.require_inner()
    zones = dict(h.sender_zones())
    zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    with h.TestDir("t_64") as tdir, h.SmtpSink(tdir) as sink, \
            h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
            h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
        edge_over = {"checks": {"greylist": {"enabled": False}, "greet_wait": "0s"},
                     "limits": {"max_connections_per_client": 50},
                     "outbound": {"smtp_port": sink.port, "allow_private_addresses": True,
                                  "retry_initial": "1s", "retry_max": "2s"}}
        pair = lk.LinkedPair(tdir, ub, edge_overrides=edge_over,
                             inner_overrides={"delay": {"default": "none"},
                                              "quota": {"daily": 100000},
                                              "mailbox": {"max_size": "1G"},
                                              "limits": {"max_connections": 100}})
        edge, inner = pair.edge, pair.inner
        inner.add_account(ALICE, PW)
        edge.start()
        inner.start()
        try:
            lk.wait_log(inner, "link up")
            inbound, outbound = set(), set()

            def edge_conn():
                return smtplib.SMTP("127.0.0.1", edge.port, local_hostname="mta.sender.test",
                                    timeout=30)

            def inner_conn():
                return smtplib.SMTP("127.0.0.1", inner.submission_port,
                                    local_hostname="client.test", timeout=30)

            ts = run_senders(edge_conn, lambda c: c.ehlo(), "bob@sender.test",
                             "alice@example.test", "IN", inbound)
            ts += run_senders(inner_conn, lambda c: (c.ehlo(), c.login(ALICE, PW)), ALICE,
                              "bob@dest.test", "OUT", outbound)
            time.sleep(2.0)
            edge.kill()
            h.log("edge killed with %d inbound and %d outbound acknowledged so far"
                  % (len(inbound), len(outbound)))
            time.sleep(1.0)
            edge.start()
            for t in ts:
                t.join()
            h.check(len(inbound) == N and len(outbound) == N,
                    "senders gave up: %d inbound, %d outbound acknowledged"
                    % (len(inbound), len(outbound)))

            # Every acknowledged message arrives.
            deadline = time.monotonic() + 180
            while True:
                got_out = markers_in(sink.messages(), "OUT")
                if outbound <= got_out or time.monotonic() > deadline:
                    break
                time.sleep(1)
            h.check(outbound <= got_out, "%d acknowledged outbound messages lost"
                    % len(outbound - got_out))
            deadline = time.monotonic() + 180
            while True:
                p = inner.pop3_login(ALICE, PW)
                try:
                    n = p.stat()[0]
                    texts = [b"\n".join(p.top(i, 3)[1]).decode("utf-8", "replace")
                             for i in range(1, n + 1)] if n >= N else []
                finally:
                    p.quit()
                got_in = markers_in(texts, "IN")
                if inbound <= got_in or time.monotonic() > deadline:
                    break
                time.sleep(1)
            h.check(inbound <= got_in, "%d acknowledged inbound messages lost"
                    % len(inbound - got_in))

            # The edge is wiped and replaced with new keys while the user keeps sending.
            edge.stop()
            shutil.rmtree(edge.data_dir)
            os.makedirs(edge.data_dir)
            for f in os.listdir(edge.key_dir):
                os.unlink(os.path.join(edge.key_dir, f))
            edge._keys = False
            lk.pair_keys(edge, inner)
            inner.stop()  # it loads the new edge key at start
            inner.start()
            later = set()
            ts = run_senders(inner_conn, lambda c: (c.ehlo(), c.login(ALICE, PW)), ALICE,
                             "bob@dest.test", "LATE", later)
            for t in ts:
                t.join()
            h.check(len(inner.queue_ids()) > 0, "nothing waited for the new edge")
            edge.start()
            deadline = time.monotonic() + 180
            while True:
                got = markers_in(sink.messages(), "LATE")
                if later <= got or time.monotonic() > deadline:
                    break
                time.sleep(1)
            h.check(later <= got, "%d messages lost across the edge replacement"
                    % len(later - got))
        except BaseException:
            h.log("edge log:\n" + edge.output()[-4000:])
            h.log("inner log:\n" + inner.output()[-4000:])
            raise
        finally:
            inner.stop()
            edge.stop()


h.main(test)
