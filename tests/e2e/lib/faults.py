"""Faults on the link, for any transport: the body of t_64 (direct) and t_67 (Tor).

A `world(name, transport)` is an edge and an inner joined by the link, with DNS, a DNSBL and an
smtp-sink as the Internet. transport "direct": the inner dials the edge's link port on loopback;
"tor": the edge's link port is behind an onion service of the private Tor network (the shared
one of the ctest fixture, or a network of its own) and the inner dials it through a client
tor's SOCKS port, as t_61 does. Mail is submitted and received on loopback in both cases: the
link is what is under test.

The phases (each checks that nothing acknowledged with 250 is lost; duplicates are allowed, a
sender whose 250 was lost retries, as SMTP permits):
- kill_restart: N messages each way while the edge is SIGKILLed and restarted in the middle;
- link_down: the link is cut for a while (the edge's onion service stopped, or the edge itself
  over `direct`); mail submitted meanwhile waits in the inner's queue and on the edge, and both
  flow once it is back, with the inner reconnecting on its own (backoff + jitter);
- wrong_key: the edge pins a wrong inner key: every attempt of the inner is refused and logged,
  the link never comes up, no mail moves; with the right key back, the waiting mail flows;
- replace_edge: the edge is wiped and replaced with new keys while the user sends N messages:
  all of the inner's outbound mail reaches the Internet through the new edge.

Builds on harness.py, inner.py, link.py and tornet.py; Python 3 standard library only.
"""

import contextlib
import copy
import os
import re
import shutil
import smtplib
import threading
import time

import harness as h
import inner as ih
import link as lk
import tornet

ALICE, PW = "alice@example.i2p", "alice pw faults"
THREADS = 8
ONION_LINK_PORT = 2600
DOWN_SECONDS = 15  # how long link_down keeps the link cut, at least


def message_count(default=2000):
    """Messages each way in kill_restart and replace_edge: $NJ_FAULTS_MESSAGES if set, else
    `default`."""
    v = os.environ.get("NJ_FAULTS_MESSAGES")
    return int(v) if v else default


# ---------------------------------------------------------------------------------------------
# the world


class World:
    """What a fault phase needs: tdir, sink, ub, edge, inner, transport; over Tor also net, the
    onion name, the tor serving it (`service`) and the client's SOCKS port."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def edge_conn(self):
        return smtplib.SMTP("127.0.0.1", self.edge.port, local_hostname="mta.sender.test",
                            timeout=60)

    def inner_conn(self):
        return smtplib.SMTP("127.0.0.1", self.inner.submission_port,
                            local_hostname="client.test", timeout=60)

    def link_ups(self):
        return self.inner.output().count("link up")


EDGE_OVERRIDES = {"checks": {"greylist": {"enabled": False}, "greet_wait": "0s"},
                  "limits": {"max_connections_per_client": 50}}
INNER_OVERRIDES = {"delay": {"default": "none"}, "quota": {"daily": 100000},
                   "mailbox": {"max_size": "1G"}, "limits": {"max_connections": 100}}


@contextlib.contextmanager
def world(name, transport):
    h.require_edge()
    ih.require_inner()
    h.check(transport in ("direct", "tor"), "unknown transport %r" % transport)
    zones = dict(h.sender_zones())
    zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    with contextlib.ExitStack() as stack:
        tdir = stack.enter_context(h.TestDir(name))
        sink = stack.enter_context(h.SmtpSink(tdir))
        rbl = stack.enter_context(h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]))
        ub = stack.enter_context(h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}))
        edge_over = h.deep_update(
            {"outbound": {"smtp_port": sink.port, "allow_private_addresses": True,
                          "retry_initial": "1s", "retry_max": "2s"}},
            copy.deepcopy(EDGE_OVERRIDES))
        w = World(tdir=tdir, sink=sink, ub=ub, transport=transport, net=None, onion=None,
                  service=None, socks=None)
        if transport == "direct":
            pair = lk.LinkedPair(tdir, ub, edge_overrides=edge_over,
                                 inner_overrides=copy.deepcopy(INNER_OVERRIDES))
            w.edge, w.inner = pair.edge, pair.inner
        else:
            net, _shared = tornet.shared_or_own(tdir)
            stack.enter_context(net)
            link_port = h.free_port()
            w.net = net
            w.onion = net.add_onion_service({ONION_LINK_PORT: link_port})
            w.service = net.services[-1]  # the tor serving the edge's onion service
            w.socks = net.add_client()
            w.edge = h.Edge(tdir, ub.addr, h.deep_update(
                {"listen": {"link": ["127.0.0.1:%d" % link_port]}}, edge_over))
            w.inner = ih.Inner(tdir, h.deep_update(
                {"edge": {"transport": "tor", "address": "%s:%d" % (w.onion, ONION_LINK_PORT),
                          "socks": "127.0.0.1:%d" % w.socks}},
                copy.deepcopy(INNER_OVERRIDES)))
            lk.pair_keys(w.edge, w.inner)
        w.inner.add_account(ALICE, PW)
        w.edge.start()
        w.inner.start()
        try:
            t0 = time.monotonic()
            lk.wait_log(w.inner, "link up", timeout=300)
            h.log("link up over %s after %.1f s" % (transport, time.monotonic() - t0))
            yield w
        except BaseException:
            h.log("edge log:\n" + w.edge.output()[-6000:])
            h.log("inner log:\n" + w.inner.output()[-6000:])
            raise
        finally:
            w.inner.stop()
            w.edge.stop()


# ---------------------------------------------------------------------------------------------
# senders and receivers


def run_senders(make_conn, prologue, mail_from, rcpt, tag, acked, n, deadline_s):
    """THREADS threads, n messages in all, each on a reused connection; a broken connection or
    a refused message is reopened and tried again. `acked` collects the markers that got 250."""
    lock = threading.Lock()

    def worker(w):
        todo = list(range(w, n, THREADS))
        conn = None
        deadline = time.monotonic() + deadline_s
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


def inbound_senders(w, tag, acked, n, deadline_s):
    return run_senders(w.edge_conn, lambda c: c.ehlo(), "bob@sender.test", "alice@example.test",
                       tag, acked, n, deadline_s)


def outbound_senders(w, tag, acked, n, deadline_s):
    return run_senders(w.inner_conn, lambda c: (c.ehlo(), c.login(ALICE, PW)), ALICE,
                       "bob@dest.test", tag, acked, n, deadline_s)


def markers_in(texts, tag):
    found = set()
    for t in texts:
        found.update(re.findall(r"%s-\d{5}" % tag, t))
    return found


def sink_markers(w, tag):
    return markers_in(w.sink.messages(), tag)


def mailbox_markers(w, tag, at_least=0):
    """Markers of `tag` in alice's mailbox (headers only, by TOP); reads nothing while the
    mailbox holds fewer than `at_least` messages."""
    p = w.inner.pop3_login(ALICE, PW)
    try:
        n = p.stat()[0]
        texts = [b"\n".join(p.top(i, 3)[1]).decode("utf-8", "replace")
                 for i in range(1, n + 1)] if n >= at_least else []
    finally:
        p.quit()
    return markers_in(texts, tag)


def wait_arrived(what, want, got_fn, timeout):
    """Waits until every marker of `want` is in got_fn(); fails naming how many are lost."""
    t0 = time.monotonic()
    while True:
        got = got_fn()
        if want <= got:
            h.log("%s: all %d arrived %.1f s after the wait began"
                  % (what, len(want), time.monotonic() - t0))
            return got
        if time.monotonic() - t0 > timeout:
            missing = sorted(want - got)
            raise h.TestFailure("%s: %d acknowledged messages lost after %ds (e.g. %s)"
                                % (what, len(missing), timeout, ", ".join(missing[:5])))
        time.sleep(1)


def wait_for(cond, what, timeout, step=0.5):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise h.TestFailure("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(step)
    return time.monotonic() - t0


def send_one_inbound(w, marker):
    """One Internet message to alice that must be accepted with 250 now."""
    with w.edge_conn() as c:
        c.ehlo()
        refused = c.sendmail("bob@sender.test", ["alice@example.test"],
                             "From: <bob@sender.test>\r\nTo: <alice@example.test>\r\n"
                             "Subject: fault %s\r\n\r\n%s\r\n" % (marker, marker))
        h.check(not refused, "refused: %r" % refused)


def attempts_failed(w):
    return w.inner.output().count("link attempt failed")


# ---------------------------------------------------------------------------------------------
# the phases


def kill_restart(w, n, timeout):
    """n messages each way; the edge is SIGKILLed once half of all 2n have their 250, and
    restarted a second later. Every acknowledged message arrives."""
    inbound, outbound = set(), set()
    ts = inbound_senders(w, "IN", inbound, n, timeout)
    ts += outbound_senders(w, "OUT", outbound, n, timeout)
    t0 = time.monotonic()
    wait_for(lambda: len(inbound) + len(outbound) >= n or not any(t.is_alive() for t in ts),
             "half of the messages to be acknowledged", timeout)
    ups = w.link_ups()
    w.edge.kill()
    h.log("edge killed after %.1f s with %d inbound and %d outbound acknowledged"
          % (time.monotonic() - t0, len(inbound), len(outbound)))
    time.sleep(1.0)  # the outage itself, not a synchronisation
    w.edge.start()
    dt = wait_for(lambda: w.link_ups() > ups, "the inner to reconnect on its own", timeout)
    h.log("link up again %.1f s after the edge restarted" % dt)
    for t in ts:
        t.join()
    h.log("senders done after %.1f s" % (time.monotonic() - t0))
    h.check(len(inbound) == n and len(outbound) == n,
            "senders gave up: %d inbound, %d outbound acknowledged"
            % (len(inbound), len(outbound)))
    wait_arrived("kill_restart outbound", outbound, lambda: sink_markers(w, "OUT"), timeout)
    wait_arrived("kill_restart inbound", inbound, lambda: mailbox_markers(w, "IN", n), timeout)
    h.log("kill_restart: %d each way in %.1f s" % (n, time.monotonic() - t0))


def _cut_link(w):
    """Cuts the link from the edge's side: over Tor the onion service's tor stops (the edge
    itself stays up, with its cached recipient answers); over `direct` the edge stops."""
    if w.transport == "tor":
        w.service.stop()
    else:
        w.edge.stop()


def _restore_link(w):
    if w.transport == "tor":
        w.service.start()  # same HiddenServiceDir, so the same onion name
    else:
        w.edge.start()


def link_down(w, n, timeout):
    """The link is down while n messages go each way. Outbound mail waits in the inner's queue
    and inbound mail (alice is a cached known recipient) waits on the edge; once the link is
    back, the inner reconnects by itself and both flow."""
    send_one_inbound(w, "PRIME-00000")  # a fresh cached answer for alice on the edge
    wait_arrived("link_down prime", {"PRIME-00000"}, lambda: mailbox_markers(w, "PRIME"),
                 timeout)
    ups, fails = w.link_ups(), attempts_failed(w)
    downs = w.inner.output().count("link down")
    _cut_link(w)
    t0 = time.monotonic()
    # The senders start at once: over Tor the inner may not know yet that the link is gone, so
    # its first SUBMITs go into a dead stream and must be sent again on the next connection.
    inbound, outbound = set(), set()
    ts = outbound_senders(w, "DOUT", outbound, n, timeout)
    if w.transport == "tor":  # over direct, the edge itself is down
        ts += inbound_senders(w, "DIN", inbound, n, timeout)
    for t in ts:
        t.join()
    wait_for(lambda: w.inner.output().count("link down") > downs, "the inner to see the link go",
             timeout)
    why = [ln for ln in w.inner.output().splitlines() if "link down" in ln][downs]
    h.log("the inner saw the link go after %.1f s: %s" % (time.monotonic() - t0, why))
    h.check(len(outbound) == n, "only %d of %d submissions accepted while the link was down"
            % (len(outbound), n))
    # "A while": DOWN_SECONDS of outage, and the inner has dialled again on its own since it saw
    # the link go. (Over Tor an attempt against a stopped onion service ends in 0.1 s to 120 s:
    # the client tor answers "introduction failed" or "descriptor not found", or keeps the SOCKS
    # request until its SocksTimeout; not waiting for that end keeps the test's time steady.)
    def dialled_since_down():
        out = w.inner.output()
        at = -1
        for _ in range(downs + 1):
            at = out.index("link down", at + 1)
        return "link dialing" in out[at:]
    wait_for(lambda: dialled_since_down() and time.monotonic() - t0 >= DOWN_SECONDS,
             "the inner to dial again", timeout)
    failed = [ln.split("link attempt failed: ", 1)[1] for ln in w.inner.output().splitlines()
              if "link attempt failed: " in ln][fails:]
    h.log("link down for %.1f s, %d failed attempts so far (%s)" % (
        time.monotonic() - t0, len(failed), "; ".join(sorted(set(failed)))))
    h.check(w.link_ups() == ups, "the link came up while it was cut")
    h.check(not (sink_markers(w, "DOUT") & outbound), "outbound mail left while the link was down")
    queued = len(w.inner.queue_ids())
    h.check(queued >= n, "only %d messages wait in the inner's queue, %d were submitted"
            % (queued, n))
    if w.transport == "tor":
        h.check(len(inbound) == n, "only %d of %d inbound messages accepted while the link was "
                "down" % (len(inbound), n))
        h.check(not (mailbox_markers(w, "DIN") & inbound), "inbound mail arrived over a cut link")
        h.check(len(w.edge.queue_ids()) >= n, "inbound mail does not wait on the edge")
    _restore_link(w)
    t1 = time.monotonic()
    dt = wait_for(lambda: w.link_ups() > ups, "the inner to reconnect on its own", timeout)
    h.log("link up again %.1f s after it was restored" % dt)
    wait_arrived("link_down outbound", outbound, lambda: sink_markers(w, "DOUT"), timeout)
    if inbound:
        wait_arrived("link_down inbound", inbound, lambda: mailbox_markers(w, "DIN"), timeout)
    h.log("link_down: all mail through %.1f s after the link was restored"
          % (time.monotonic() - t1))


def wrong_key(w, n, timeout):
    """The edge is restarted pinning a wrong inner key: the inner's attempts are refused by the
    edge (logged), the link never comes up, the inner keeps its n submitted messages, nothing
    reaches the Internet and the edge takes no mail for alice (451 4.4.3: it cannot ask the
    inner). Then the right key is back and the waiting mail flows."""
    wrong_dir = w.tdir.sub("wrong-key")
    h.run([h.ctl_bin(), "keygen", "--out", os.path.join(wrong_dir, "inner")])
    right_pub = w.edge.config["keys"]["inner_public"]
    ups = w.link_ups()
    w.edge.stop()
    refusals = w.edge.output().count("refused:")
    w.edge.config["keys"]["inner_public"] = os.path.join(wrong_dir, "inner.pub")
    w.edge.start()
    fails = attempts_failed(w)
    t0 = time.monotonic()
    try:
        outbound = set()
        for t in outbound_senders(w, "WOUT", outbound, n, timeout):
            t.join()
        h.check(len(outbound) == n, "only %d of %d submissions accepted" % (len(outbound), n))
        wait_for(lambda: w.edge.output().count("refused:") >= refusals + 2
                 and attempts_failed(w) >= fails + 2,
                 "two refused attempts", timeout)
        h.log("two attempts refused in %.1f s" % (time.monotonic() - t0))
        edge_log = w.edge.output()
        h.check("refused: handshake message 1 does not authenticate" in edge_log,
                "the edge does not say why it refused:\n" + edge_log[-3000:])
        with w.edge_conn() as c:
            c.ehlo()
            code, text = c.mail("bob@sender.test")
            h.check(code == 250, "MAIL FROM: %d %r" % (code, text))
            code, text = c.rcpt("alice@example.test")
            h.check(code == 451 and text.startswith(b"4.4.3"),
                    "RCPT with the link refused: wanted 451 4.4.3, got %d %r" % (code, text))
        h.check(w.link_ups() == ups, "the link came up with a wrong pinned key")
        h.check(not (sink_markers(w, "WOUT") & outbound), "mail moved over a refused link")
        h.check(w.edge.queue_ids() == [], "the edge holds mail: %r" % w.edge.queue_ids())
        h.check(len(w.inner.queue_ids()) >= n, "the inner's queue lost mail")
    finally:
        w.edge.stop()
        w.edge.config["keys"]["inner_public"] = right_pub
    w.edge.start()
    dt = wait_for(lambda: w.link_ups() > ups, "the inner to reconnect on its own", timeout)
    h.log("link up %.1f s after the right key was back" % dt)
    wait_arrived("wrong_key outbound", outbound, lambda: sink_markers(w, "WOUT"), timeout)


def replace_edge(w, n, timeout):
    """The edge is wiped and replaced with new keys (over Tor behind the same onion service)
    while the user sends n messages: they wait in the inner's queue and all of them reach the
    Internet through the new edge."""
    edge, inner = w.edge, w.inner
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
    t0 = time.monotonic()
    for t in outbound_senders(w, "LATE", later, n, timeout):
        t.join()
    h.check(len(later) == n, "only %d of %d submissions accepted" % (len(later), n))
    h.check(len(inner.queue_ids()) > 0, "nothing waited for the new edge")
    edge.start()
    wait_arrived("replace_edge outbound", later, lambda: sink_markers(w, "LATE"), timeout)
    h.log("replace_edge: %d messages through the new edge %.1f s after the first submission"
          % (n, time.monotonic() - t0))
