"""A fleet: two edges and one inner that keeps a link to each (inner.yaml's `edges:` list), over
the `direct` transport or the private Tor network (each edge's link behind an onion service of
its own, the inner dialing through a client tor's SOCKS port), with DNS, a DNSBL and real MTAs as the Internet:

- the receiving MTA is a Postfix, final destination of dest.test (mailboxes bob and carol;
  carol+ANYTHING is carol's) that greylists every carol recipient with postgrey, so that edges
  hold those recipients for a few seconds and retry;
- the sending MTA is a Postfix that finds the public domain's MX records in DNS: mxa and mxb,
  preference 10 each, on 127.0.0.21 and 127.0.0.22 with one port.

Each edge has its own key pair and its own hostname (mxa.example.test, mxb.example.test), so the
Received line an edge adds tells which one carried a message. The inner serves metrics on
loopback.

Builds on harness.py, inner.py and faults.py; Python 3 standard library only.
"""

import contextlib
import copy
import os
import re
import shutil
import smtplib
import threading
import time
import urllib.request

import harness as h
import inner as ih
import faults
import tornet

NAMES = ("mxa", "mxb")


class Fleet:
    """tdir, dest (the receiving Postfix), grey (its postgrey), internet (the sending Postfix),
    ub, edges (name -> h.Edge), inner, metrics_port."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def hostname(self, name):
        return "%s.example.test" % name

    def edge_conn(self, name):
        e = self.edges[name]
        return smtplib.SMTP(e.mx_host, e.port,
                            local_hostname="mta.sender.test", timeout=60)

    def inner_conn(self):
        return smtplib.SMTP("127.0.0.1", self.inner.submission_port,
                            local_hostname="client.test", timeout=60)

    def carried_by(self, text):
        """The edge whose Received line is on a message (None: neither)."""
        for n in self.edges:
            if re.search(r"^Received: from \S+.*\s+by %s" % re.escape(self.hostname(n)), text,
                         re.M):
                return n
        return None

    def delivered(self):
        """Every message the receiving Postfix stored, as text."""
        return [m.decode("utf-8", "replace")
                for box in ("bob", "carol") for m in self.dest.delivered(box)]

    def ups(self, name):
        return len(re.findall(r"link up peer=\S+ edge=%s$" % name, self.inner.output(), re.M))

    def status(self):
        r = self.inner.ctl("status")
        return r.out

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                    timeout=10) as resp:
            h.check(resp.status == 200, "metrics: HTTP %d" % resp.status)
            return resp.read().decode("utf-8")

    def metric(self, text, name, labels=""):
        """The value of one sample, e.g. metric(t, "nightjar_inner_link_up", 'edge="mxa"')."""
        want = name + ("{%s}" % labels if labels else "")
        for line in text.splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        raise h.TestFailure("no sample %s in:\n%s" % (want, text))


ONION_LINK_PORT = 2600


def edges_entries(fl_dir, ports, failover_after, onions=None, socks=None):
    """inner.yaml's edges: each edge's link on loopback (`direct`), or behind its own onion
    service reached through the client tor's SOCKS port."""
    out = []
    for n in NAMES:
        e = {"name": n, "public_key": os.path.join(fl_dir, "%s.pub" % n),
             "failover_after": failover_after}
        if onions:
            e.update({"address": "%s:%d" % (onions[n], ONION_LINK_PORT), "transport": "tor",
                      "socks": "127.0.0.1:%d" % socks})
        else:
            e.update({"address": "127.0.0.1:%d" % ports[n], "transport": "direct"})
        out.append(e)
    return out


MX_IP = {"mxa": "127.0.0.21", "mxb": "127.0.0.22"}


@contextlib.contextmanager
def fleet(name, failover_after="5s", grey_delay=3, transport="direct"):
    h.require_edge()
    ih.require_inner()
    zones = dict(h.sender_zones())
    zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    zones["example.test"] = [("@", "MX", "10 mxa.example.test."),
                             ("@", "MX", "10 mxb.example.test."),
                             ("mxa", "A", MX_IP["mxa"]), ("mxb", "A", MX_IP["mxb"])]
    with contextlib.ExitStack() as stack:
        tdir = stack.enter_context(h.TestDir(name))
        grey = stack.enter_context(h.Postgrey(tdir, delay=grey_delay))
        dest = h.Postfix(tdir, name="dest", helo="mx.dest.test", domain="dest.test",
                         mailboxes=("bob", "carol"),
                         main={"recipient_delimiter": "+",
                               "smtpd_restriction_classes": "greylist",
                               "greylist": "check_policy_service " + grey.policy,
                               "smtpd_recipient_restrictions":
                                   "check_recipient_access inline:{ carol@dest.test=greylist }, "
                                   "permit"})
        stack.enter_context(dest)
        rbl = stack.enter_context(h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]))
        ub = stack.enter_context(h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port},
                                           resolver=True))
        mx_port = h.free_port()
        internet = h.Postfix(tdir, name="internet", helo="mta.sender.test",
                             resolver=ub.resolver_ip,
                             # a new MX choice for every message: no cached connection to one
                             main={"smtp_tcp_port": str(mx_port),
                                   "smtp_connection_cache_on_demand": "no"})
        stack.enter_context(internet)
        ports = {n: h.free_port() for n in NAMES}
        onions, socks = None, None
        if transport == "tor":
            net, _shared = tornet.shared_or_own(tdir)
            stack.enter_context(net)
            onions = {n: net.add_onion_service({ONION_LINK_PORT: ports[n]}) for n in NAMES}
            socks = net.add_client()
        edges = {}
        for n in NAMES:
            over = h.deep_update(
                {"hostname": "%s.example.test" % n,
                 "listen": {"link": ["127.0.0.1:%d" % ports[n]]},
                 "outbound": {"smtp_port": dest.port, "allow_private_addresses": True,
                              "retry_initial": "1s", "retry_max": "2s"}},
                copy.deepcopy(faults.EDGE_OVERRIDES))
            edges[n] = h.Edge(tdir, ub.addr, over, name="edge-" + n, mx_host=MX_IP[n])
            edges[n].port = mx_port
            edges[n].config["listen"]["mx"] = ["%s:%d" % (MX_IP[n], mx_port)]
        metrics_port = h.free_port()
        inner = ih.Inner(tdir, h.deep_update(copy.deepcopy(faults.INNER_OVERRIDES), {
            "listen": {"metrics": "127.0.0.1:%d" % metrics_port}}))
        inner.config["keys"].pop("edge_public")
        inner.config["edges"] = edges_entries(inner.key_dir, ports, failover_after, onions,
                                              socks)
        inner.keygen()
        for n, e in edges.items():
            e.keygen()
            shutil.copy(os.path.join(e.key_dir, "edge.pub"),
                        os.path.join(inner.key_dir, "%s.pub" % n))
            for ext in ("pub", "secret"):
                shutil.copy(os.path.join(inner.key_dir, "inner." + ext),
                            os.path.join(e.key_dir, "inner." + ext))
        inner.add_account(faults.ALICE, faults.PW)
        fl = Fleet(tdir=tdir, dest=dest, grey=grey, internet=internet, ub=ub, edges=edges,
                   inner=inner, metrics_port=metrics_port)
        for e in edges.values():
            e.start()
        inner.start()
        try:
            t0 = time.monotonic()
            for n in NAMES:
                faults.wait_for(lambda: fl.ups(n) >= 1, "the link to %s" % n, 300)
            h.log("both links up over %s after %.1f s" % (transport, time.monotonic() - t0))
            yield fl
        except BaseException:
            for n, e in edges.items():
                h.log("edge %s log:\n%s" % (n, e.output()[-5000:]))
            h.log("inner log:\n" + inner.output()[-8000:])
            h.log("dest postfix log:\n" + dest.log()[-3000:])
            h.log("internet postfix log:\n" + internet.log()[-3000:])
            raise
        finally:
            inner.stop()
            for e in edges.values():
                e.stop()


# ---------------------------------------------------------------------------------------------
# the phases (t_76 over direct, t_78 over Tor)

ALICE, PW = faults.ALICE, faults.PW


def n_messages(default):
    """Messages each way in phase_failover: $NJ_FLEET_MESSAGES if set, else `default`."""
    v = os.environ.get("NJ_FLEET_MESSAGES")
    return int(v) if v else default


def inbound_one(f, edge, marker):
    with f.edge_conn(edge) as c:
        c.ehlo()
        refused = c.sendmail("bob@sender.test", ["alice@example.test"],
                             "From: <bob@sender.test>\r\nTo: <alice@example.test>\r\n"
                             "Subject: fleet %s\r\n\r\n%s\r\n" % (marker, marker))
        h.check(not refused, "refused by %s: %r" % (edge, refused))


def rcpt_for(tag, i):
    """Even markers go to bob, odd ones to a greylisted carol+MARKER of their own."""
    m = "%s-%05d" % (tag, i)
    return m, ("bob@dest.test" if i % 2 == 0 else "carol+%s@dest.test" % m.lower())


def outbound(f, tag, n, greylisted=False):
    """n messages from alice, each acknowledged with 250; to bob, or half of them to greylisted
    carol+ recipients."""
    with f.inner_conn() as c:
        c.ehlo()
        c.login(ALICE, PW)
        for i in range(n):
            m, rcpt = rcpt_for(tag, i) if greylisted else ("%s-%05d" % (tag, i), "bob@dest.test")
            c.sendmail(ALICE, [rcpt], "From: <%s>\r\nTo: <%s>\r\nSubject: fleet %s\r\n\r\n%s\r\n"
                       % (ALICE, rcpt, m, m))
    return {"%s-%05d" % (tag, i) for i in range(n)}


def copies(f, tag):
    """marker -> [the edge that carried each copy the receiving Postfix stored]."""
    out = {}
    for text in f.delivered():
        for m in faults.markers_in([text], tag):
            out.setdefault(m, []).append(f.carried_by(text))
    return out


def mailbox(f, tag):
    """marker -> the edge that carried it, for alice's messages of `tag` (headers by TOP)."""
    p = f.inner.pop3_login(ALICE, PW)
    out = {}
    try:
        for i in range(1, p.stat()[0] + 1):
            text = "\n".join(l.decode("utf-8", "replace") for l in p.top(i, 3)[1])
            for m in faults.markers_in([text], tag):
                out[m] = f.carried_by(text)
    finally:
        p.quit()
    return out


def mailbox_has(f, tag, want, timeout=180):
    faults.wait_arrived("inbound " + tag, want, lambda: set(mailbox(f, tag)), timeout)
    return mailbox(f, tag)


def via_internet(f, tag, n, accepted=None):
    """n messages to alice@example.test handed to the sending Postfix, which finds the edges by
    MX; returns (or fills) the markers it accepted."""
    accepted = set() if accepted is None else accepted
    with smtplib.SMTP("127.0.0.1", f.internet.port, local_hostname="client.sender.test",
                      timeout=60) as c:
        for i in range(n):
            m = "%s-%05d" % (tag, i)
            c.sendmail("bob@sender.test", ["alice@example.test"],
                       "From: <bob@sender.test>\r\nTo: <alice@example.test>\r\n"
                       "Subject: fleet %s\r\n\r\n%s\r\n" % (m, m))
            accepted.add(m)
    return accepted


def no_leaks(what, text):
    for bad in ("127.0.0.1", "example.i2p", "example.test", "alice", "bob", "dest.test",
                "sender.test", "@"):
        h.check(bad not in text, "%s holds %r:\n%s" % (what, bad, text))


def count_by(values):
    by = {}
    for v in values:
        by[v] = by.get(v, 0) + 1
    return by


def phase_spread(f):
    inbound_one(f, "mxa", "DIRECT-00000")
    inbound_one(f, "mxb", "DIRECT-00001")
    got = mailbox_has(f, "DIRECT", {"DIRECT-00000", "DIRECT-00001"})
    h.check(got == {"DIRECT-00000": "mxa", "DIRECT-00001": "mxb"}, "carried by: %r" % got)
    # The sending Postfix: both edges are MX records of preference 10.
    got = mailbox_has(f, "MX", via_internet(f, "MX", 20))
    by = count_by(got.values())
    h.log("inbound from the sending Postfix: %r" % by)
    h.check(by.get("mxa", 0) >= 2 and by.get("mxb", 0) >= 2 and None not in by,
            "the sending Postfix did not use both MX: %r" % by)
    sent = outbound(f, "SPREAD", 40)
    faults.wait_arrived("spread outbound", sent, lambda: set(copies(f, "SPREAD")), 120)
    by = count_by(c for cs in copies(f, "SPREAD").values() for c in cs)
    h.log("outbound spread: %r" % by)
    h.check(by.get("mxa", 0) >= 8 and by.get("mxb", 0) >= 8 and None not in by,
            "outbound mail was not spread over both edges: %r" % by)


def phase_observe(f):
    faults.wait_for(lambda: not f.inner.queue_ids(), "the outbound queue to empty", 60)
    st = f.status()
    h.log("status:\n" + st)
    for n in NAMES:
        h.check("  %s: up since" % n in st, "status does not show %s up:\n%s" % (n, st))
    h.check("edges: 2, 2 up" in st, "status: " + st)
    h.check("outbound queue: 0 messages" in st, "status: " + st)
    h.check("recipients delivered 40," in st, "status does not count 40 delivered:\n" + st)
    no_leaks("nightjarctl status", st)
    m = f.metrics()
    for n in NAMES:
        h.check(f.metric(m, "nightjar_inner_link_up", 'edge="%s"' % n) == 1, "link_up " + n)
        h.check(f.metric(m, "nightjar_inner_edge_in_flight", 'edge="%s"' % n) == 0,
                "in flight " + n)
    h.check(f.metric(m, "nightjar_inner_recipients_accepted_total", 'to="internet"') == 40,
            "recipients accepted for the Internet")
    h.check(f.metric(m, "nightjar_inner_outbound_results_total", 'outcome="delivered"') == 40,
            "delivered results")
    h.check(f.metric(m, "nightjar_inner_outbound_messages", 'state="at_edges"') == 0, "queue")
    h.check(f.metric(m, "nightjar_store_commits_total") > 0, "commits")
    h.check(f.metric(m, "nightjar_inner_refusals_total", 'reason="auth_failed"') == 0,
            "refusals present at 0")
    h.check(f.metric(m, "nightjar_inner_connections_total", 'listener="submission"') >= 1,
            "submission connections")
    no_leaks("the metrics", m)


def pending_inbound(edge, tag):
    """The markers of `tag` in the (dead) edge's sealed inbound queue, read with the inner's
    key."""
    found = set()
    for qid in edge.queue_ids():
        found |= faults.markers_in([edge.queue("show", qid)], tag)
    return found


def phase_failover(f, n):
    inbound, outbound_acked = set(), set()
    lock = threading.Lock()

    def outbound_sender(w):
        # THREADS senders, each with its own connection; a refused message is tried again.
        todo = list(range(w, n, faults.THREADS))
        while todo:
            try:
                with f.inner_conn() as c:
                    c.ehlo()
                    c.login(ALICE, PW)
                    while todo:
                        m, rcpt = rcpt_for("FOUT", todo[0])
                        c.sendmail(ALICE, [rcpt], "From: <%s>\r\nTo: <%s>\r\nSubject: fleet %s"
                                   "\r\n\r\n%s\r\n" % (ALICE, rcpt, m, m))
                        with lock:
                            outbound_acked.add(m)
                        todo.pop(0)
            except (smtplib.SMTPException, OSError):
                time.sleep(0.2)

    ts = [threading.Thread(target=outbound_sender, args=(w,)) for w in range(faults.THREADS)]
    ts.append(threading.Thread(target=via_internet, args=(f, "FIN", n, inbound)))
    for t in ts:
        t.start()
    t0 = time.monotonic()
    # The sending Postfix takes its n at once and hands them to the edges over the next
    # seconds; the inner's users are slower: mxa goes when half of theirs have their 250.
    faults.wait_for(lambda: len(outbound_acked) >= n // 2 or
                    not any(t.is_alive() for t in ts), "half of the messages acknowledged", 600)
    # The failover is the point: mxa must hold something when it goes (greylisted recipients
    # keep it holding for seconds; over Tor the hand-over itself may lag the 250s).
    faults.wait_for(lambda: held_counts(f.status()).get("mxa", 0) > 0,
                    "mxa to hold some of the outbound mail", 120, step=0.2)
    a = f.edges["mxa"]
    a.kill()
    lost_with_a = pending_inbound(a, "FIN")
    shutil.rmtree(a.data_dir)
    os.makedirs(a.data_dir)
    # Its link is down: the status says why, and names no address.
    faults.wait_for(lambda: "  mxa: waiting" in f.status(), "the status to show mxa down", 60)
    st = f.status()
    h.check("last error:" in st, "no last error for mxa:\n" + st)
    no_leaks("nightjarctl status with mxa down", st)
    h.log("mxa killed and wiped after %.1f s with %d inbound and %d outbound acknowledged; %d "
          "inbound were on its disk" % (time.monotonic() - t0, len(inbound),
                                        len(outbound_acked), len(lost_with_a)))
    for t in ts:
        t.join()
    h.check(len(inbound) == n and len(outbound_acked) == n,
            "senders gave up: %d inbound, %d outbound" % (len(inbound), len(outbound_acked)))
    faults.wait_arrived("failover outbound", outbound_acked, lambda: set(copies(f, "FOUT")), 300)
    got = faults.wait_arrived("failover inbound", inbound - lost_with_a,
                              lambda: set(mailbox(f, "FIN")), 300)
    log = f.inner.output()
    downs = [int(x) for x in re.findall(r"link edge=mxa down for (\d+)s \(failover_after\)", log)]
    moved = sum(int(x) for x in re.findall(
        r"link edge=mxa down for \d+s \(failover_after\): its (\d+) unfinished messages", log))
    h.check(downs and all(s >= 5 for s in downs) and moved > 0,
            "the inner did not hand mxa's mail on after failover_after:\n" + log[-3000:])
    cs = copies(f, "FOUT")
    dups = sum(len(c) - 1 for c in cs.values())
    h.log("failover: %d each way; mxa's %d unfinished messages handed on after %r s; %d "
          "duplicate copies at the receiving MTA; %d recipients greylisted; %d inbound lost "
          "with mxa's disk" % (n, moved, downs, dups, f.grey.greylisted(), len(lost_with_a)))
    h.check(dups <= moved, "%d duplicates but only %d messages were handed on" % (dups, moved))
    h.check(f.grey.greylisted() >= n // 2, "postgrey greylisted only %d" % f.grey.greylisted())
    # mxa comes back empty, with the same keys: the link is up again and it carries mail.
    ups = f.ups("mxa")
    a.start()
    faults.wait_for(lambda: f.ups("mxa") > ups, "the link to the new mxa", 120)
    inbound_one(f, "mxa", "BACKIN-00000")
    mailbox_has(f, "BACKIN", {"BACKIN-00000"})
    sent = outbound(f, "BACK", 10)
    faults.wait_arrived("outbound after mxa came back", sent, lambda: set(copies(f, "BACK")), 120)
    carriers = [c for cs in copies(f, "BACK").values() for c in cs]
    h.check("mxa" in carriers, "the new mxa carried none of %r" % carriers)


def held_counts(st):
    """{edge: messages it holds} from `nightjarctl status`."""
    out = {}
    for name, held in re.findall(r"^  (\S+): .*\n    in flight \d+, holds (\d+) messages", st,
                                 re.M):
        out[name] = int(held)
    return out


def phase_remove(f):
    f.dest.stop()
    sent = outbound(f, "HELD", 10)
    faults.wait_for(lambda: all(v > 0 for v in held_counts(f.status()).values()),
                    "both edges to hold some of the mail", 60)
    r = f.inner.ctl("edge", "remove", "mxa")
    h.log("edge remove:\n" + r.out)
    h.check("edge mxa revoked" in r.out, "edge remove said:\n" + r.out)
    h.check("the running inner applied it" in r.out, "the inner was not told:\n" + r.out)
    # inner.yaml still names it: the running fleet leaves it out, and says why.
    h.check("edge mxa (inner.yaml edges[0]) is left out: its key was revoked" in r.out,
            "no reason given for leaving mxa out:\n" + r.out)
    log = f.inner.output()
    h.check("fleet: edge mxa revoked" in log, "the inner did not log the revocation")
    h.check("link edge=mxa revoked: its " in log, "mxa's mail was not handed on at once")
    ups = f.ups("mxa")
    f.dest.start()
    faults.wait_arrived("outbound held at removal", sent, lambda: set(copies(f, "HELD")), 180)
    carriers = [c for cs in copies(f, "HELD").values() for c in cs]
    h.check(set(carriers) == {"mxb"}, "after the removal mail left through %r" % carriers)
    time.sleep(3)
    h.check(f.ups("mxa") == ups, "the revoked edge's link came up again")
    lst = f.inner.ctl("edge", "list").out
    h.check("revoked keys:" in lst and "mxa" in lst.split("revoked keys:")[1], "list: " + lst)
    again = f.inner.ctl("edge", "add", "mxa2", "--address", "127.0.0.1:9", "--transport",
                        "direct", "--public-key", os.path.join(f.inner.key_dir, "mxa.pub"),
                        expect_rc="fail")
    h.check("revoked" in again.err, "re-adding the revoked key: %r" % again)
    st = f.status()
    h.check("edges: 1, 1 up" in st and "mxa" not in st, "status after the removal:\n" + st)
