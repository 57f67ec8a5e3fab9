#!/usr/bin/env python3
"""Edge: the operator's switches and start-up duties. HELO and sender-domain checks can be relaxed
one rule at a time; the daemon drops root to `user:` after binding and keeps working; a bad
configuration stops start-up with `file:line: key: problem`, and --check-config says so too,
also for a limits.max_message_size larger than the link to the inner carries; with tls.cert and
tls.key it takes mail over STARTTLS (swaks --tls); a good configuration the edge cannot start on
(a queue that does not open, a certificate that does not load) stops it with the reason and exit
status 1, not a crash."""
import os, pwd, re, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

RELAXED = {
    "user": "nobody",
    "checks": {"helo": {"require_fqdn": False, "allow_address_literal": False},
               "sender": {"require_resolvable": False}},
}


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    raise h.TestFailure("no Uid line")


def test():
    with h.edge_world("t_19", RELAXED) as (tdir, ub, edge):
        nobody = pwd.getpwnam("nobody").pw_uid
        # Privileges go right after the listeners are bound, which is when the harness saw the port.
        deadline = time.monotonic() + 10
        while uid_of(edge.proc.pid) != [nobody] * 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        h.check(uid_of(edge.proc.pid) == [nobody] * 4,
                "edge did not drop to nobody: %r" % uid_of(edge.proc.pid))
        with h.RawSmtp(edge.port) as c:
            h.expect_reply(c.reply(), 220, what="banner")
            h.expect_reply(c.cmd("EHLO localhost"), 250, what="dotless HELO allowed")
            h.expect_reply(c.cmd("RSET"), 250, what="rset")
        with h.RawSmtp(edge.port) as c:
            h.expect_reply(c.reply(), 220, what="banner")
            h.expect_reply(c.cmd("EHLO [127.0.0.1]"), 550, "5.7.1", what="literal refused")
        t = h.swaks_edge(edge, "--from", "x@norecords.test", "--to", "alice@example.test")
        t.expect("MAIL FROM", 250)
        t = h.swaks_edge(edge, "--from", "x@privmx.test", "--to", "alice@example.test")
        t.expect("MAIL FROM", 550, "5.7.1")
        # After dropping root the store is still writable: a message is accepted durably.
        h.pass_greylist(edge, "127.0.0.1", "bob@sender.test", "alice@example.test")
        t = h.swaks_edge(edge, "--from", "bob@sender.test", "--to", "alice@example.test")
        t.expect(".", 250, "2.0.0")
        rc = edge.stop()
        h.check(rc == 0, "edge exit status %r" % rc)
        h.check(len(edge.queue_ids()) == 1, "queued message missing")

        # A bad configuration: the real binary names file, line and key, and exits non-zero.
        bad = os.path.join(tdir.path, "bad.yaml")
        with open(edge.config_path) as f:
            text = f.read()
        bad_text, n = re.subn(r"max_recipients: *\d+", "max_recipients: -3", text)
        h.check(n == 1, "no max_recipients line in the generated config")
        with open(bad, "w") as f:
            f.write(bad_text)
        for extra in ([], ["--check-config"]):
            r = subprocess.run([h.edge_bin(), "--config", bad] + extra, capture_output=True,
                               text=True, timeout=30)
            h.check(r.returncode != 0, "bad config accepted (%s)" % extra)
            h.check(re.search(re.escape(bad) + r":\d+: limits\.max_recipients: ", r.stderr),
                    "error does not name file, line and key: %r" % r.stderr)
        # A largest message the link cannot carry in one frame with limits.max_recipients.
        big = os.path.join(tdir.path, "too_big.yaml")
        big_text, n = re.subn(r"max_message_size: *\S+", "max_message_size: 1G", text)
        big_text, m = re.subn(r"max_recipients: *\d+", "max_recipients: 1000", big_text)
        h.check(n == 1 and m == 1, "no limits lines in the generated config")
        line = 1 + big_text[:big_text.index("max_message_size: 1G")].count("\n")
        with open(big, "w") as f:
            f.write(big_text)
        want = (re.escape(big) + ":%d: " % line + re.escape(
            "limits.max_message_size: 1G is more than the link between edge and inner carries "
            "(at most 65279K with limits.max_recipients 1000)"))
        for extra in ([], ["--check-config"]):
            r = subprocess.run([h.edge_bin(), "--config", big] + extra, capture_output=True,
                               text=True, timeout=30)
            h.check(r.returncode != 0, "oversized max_message_size accepted (%s)" % extra)
            h.check(re.search(want, r.stderr), "no line matching %r: %r" % (want, r.stderr))
        r = subprocess.run([h.edge_bin(), "--config", edge.config_path, "--check-config"],
                           capture_output=True, text=True, timeout=30)
        h.check(r.returncode == 0 and "hostname:" in r.stdout,
                "--check-config of a good file failed: %r %r" % (r.stdout, r.stderr))
        starttls_with_swaks(tdir, ub)
        startup_fails_cleanly(tdir, ub)


def starttls_with_swaks(tdir, ub):
    """tls.cert and tls.key: the edge offers STARTTLS and takes mail over it, from swaks (which
    needs Net::SSLeay for --tls: scripts/install-deps.sh installs libnet-ssleay-perl)."""
    e = h.Edge(tdir, ub.addr, h.deep_update({"checks": {"greylist": {"enabled": False}}},
                                            RELAXED), name="edge-tls")
    cert, key = os.path.join(e.dir, "cert.pem"), os.path.join(e.dir, "key.pem")
    h.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "1", "-nodes",
           "-subj", "/CN=mx.nightjar.test", "-keyout", key, "-out", cert])
    e.config["tls"] = {"cert": cert, "key": key}
    with e:
        t = h.swaks_edge(e, "--tls", "--from", "bob@sender.test", "--to", "alice@example.test")
        t.expect("STARTTLS", 220, "2.0.0")
        t.expect(".", 250, "2.0.0")
        h.check(t.rc == 0, "swaks --tls failed (%d):\n%s" % (t.rc, t.text))


def startup_fails_cleanly(tdir, ub):
    """A configuration that passes its checks but cannot be started on: the edge says why and
    exits 1. The server is half built by then, and tearing it down must not crash: a data_dir
    whose queue cannot be opened (the keys are loaded), and a certificate file that is not one
    (also the store, the link listener's server and its outbound delivery are made)."""
    queue_blocked = h.Edge(tdir, ub.addr, RELAXED, name="edge-no-queue")
    with open(os.path.join(queue_blocked.data_dir, "queue"), "w") as f:
        f.write("a file where the queue's directory goes\n")
    bad_cert = h.Edge(tdir, ub.addr, RELAXED, name="edge-bad-cert")
    not_pem = os.path.join(bad_cert.dir, "not-a-cert.pem")
    with open(not_pem, "w") as f:
        f.write("not a certificate\n")
    bad_cert.config["tls"] = {"cert": not_pem, "key": not_pem}
    bad_cert.config["listen"]["link"] = ["127.0.0.1:%d" % h.free_port()]
    for e, why in ((queue_blocked, "start-up failed: %s/queue: " % queue_blocked.data_dir),
                   (bad_cert, "start-up failed: tls: ")):
        e.keygen()
        with open(e.config_path, "w") as f:
            f.write(h.to_yaml(e.config) + "\n")
        r = subprocess.run([h.edge_bin(), "--config", e.config_path, "--check-config"],
                           capture_output=True, text=True, timeout=30)
        h.check(r.returncode == 0, "%s: the checks refuse it, so start-up is not reached: %r"
                % (e.config_path, r.stderr))
        r = subprocess.run([h.edge_bin(), "--config", e.config_path], capture_output=True,
                           text=True, timeout=30)
        h.check(r.returncode == 1 and why in r.stderr,
                "%s: wanted exit status 1 and %r, got %d (a negative status is the signal that "
                "ended it):\n%s%s" % (e.config_path, why, r.returncode, r.stdout, r.stderr))


h.main(test)
