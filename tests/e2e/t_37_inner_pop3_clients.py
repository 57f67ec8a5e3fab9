#!/usr/bin/env python3
"""Inner POP3 with real mail clients. curl (pop3://) lists and retrieves, by SASL PLAIN since CAPA
offers it, and fails on a wrong password; fetchmail (USER/PASS) fetches with
`keep` and `uidl` (a second run sees nothing new, so UIDs are stable), then fetches and deletes
(the mailbox is empty afterwards)."""
import glob, os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "bob@example.i2p", "bob secret 2"
MARKS = ["fetch-one", "fetch-two"]


def curl(inner, path, user, pw, *extra):
    argv = ["curl", "-sS", "-v", "--max-time", "30", "-u", "%s:%s" % (user, pw)] + list(extra) + [
        "pop3://127.0.0.1:%d/%s" % (inner.pop3_port, path)]
    h.log("run:", " ".join(a.replace(pw, "***") for a in argv))
    r = ih.subprocess.run(argv, stdin=ih.subprocess.DEVNULL, stdout=ih.subprocess.PIPE,
                          stderr=ih.subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def fetchmail(inner, tdir, server_options, options, name):
    home = tdir.sub("fetchmail")
    out_dir = os.path.join(home, "mail")
    os.makedirs(out_dir, exist_ok=True)
    rc_path = os.path.join(home, "fetchmailrc-" + name)
    with open(rc_path, "w") as f:
        f.write('set no bouncemail\n'
                'poll 127.0.0.1 proto pop3 port %d auth password timeout 30 %s\n'
                '  user "%s" there with password "%s" is root here\n'
                '  %s sslproto \'\'\n'
                '  mda "/bin/sh -c \'cat > $(mktemp %s/msg.XXXXXXXX)\'"\n'
                % (inner.pop3_port, server_options, BOB, BOB_PW, options, out_dir))
    os.chmod(rc_path, 0o600)
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    rc, out = h.run(["fetchmail", "--nosyslog", "-v", "-f", rc_path, "-i",
                     os.path.join(home, "fetchids")], timeout=120, check_rc=False, env=env)
    files = sorted(glob.glob(os.path.join(out_dir, "msg.*")))
    texts = []
    for p in files:
        with open(p, "rb") as f:
            texts.append(f.read().decode("utf-8", "replace"))
    return rc, out, texts


def test():
    with ih.inner_world("t_37", accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)]) as (tdir, inner):
        for mark in MARKS:
            inner.deliver(ALICE, ALICE_PW, [BOB], ih.message(
                "subject " + mark, "body " + mark, frm=ALICE, to=BOB))
        p = inner.pop3_login(BOB, BOB_PW)
        _, listing, _ = p.list()
        p.quit()

        # curl, default: SASL PLAIN since CAPA offers it
        rc, out, err = curl(inner, "", BOB, BOB_PW)
        h.check(rc == 0, "curl LIST exited %d:\n%s" % (rc, err))
        h.check(re.search(r"^> AUTH PLAIN", err, re.M), "curl did not use AUTH PLAIN:\n" + err)
        h.check(out.split("\r\n")[:-1] == [l.decode() for l in listing],
                "curl LIST %r, poplib LIST %r" % (out, listing))
        for i in (1, 2):
            rc, out, err = curl(inner, str(i), BOB, BOB_PW)
            h.check(rc == 0, "curl RETR %d exited %d:\n%s" % (i, rc, err))
            h.check("Subject: subject fetch-" in out and "Return-Path: <%s>" % ALICE in out,
                    "curl RETR %d:\n%s" % (i, out))
        rc, out, err = curl(inner, "1", BOB, "wrong password")
        h.check(rc == 67, "curl with a wrong password exited %d (wanted 67, login denied):\n%s"
                % (rc, err))

        # fetchmail: keep + uidl twice, then fetch and delete
        rc, out, texts = fetchmail(inner, tdir, "uidl", "keep", "keep")
        h.check(rc == 0, "fetchmail (keep) exited %d:\n%s" % (rc, out))
        h.check(len(texts) == 2 and all(any("body " + m in t for t in texts) for m in MARKS),
                "fetchmail delivered %d messages:\n%s\n%s" % (len(texts), out, texts))
        rc, out, texts = fetchmail(inner, tdir, "uidl", "keep", "keep")
        h.check(rc == 1 and len(texts) == 2,
                "second fetchmail with uidl: exit %d (wanted 1, no new mail), %d files:\n%s"
                % (rc, len(texts), out))
        rc, out, texts = fetchmail(inner, tdir, "", "no keep fetchall", "delete")
        h.check(rc == 0 and len(texts) == 4, "fetchmail (no keep) exited %d, %d files:\n%s"
                % (rc, len(texts), out))
        p = inner.pop3_login(BOB, BOB_PW)
        h.check(p.stat()[0] == 0, "after fetchmail without keep: STAT %r" % (p.stat(),))
        p.quit()


h.main(test)
