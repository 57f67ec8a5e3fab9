#!/usr/bin/env python3
"""Inner: its listeners bind loopback only (the overlay daemon forwards to them). A non-loopback
listen address stops start-up with a non-zero exit and one line `file:line: key: problem` naming
the configuration file, the line and the key; a loopback configuration starts and stops cleanly
(exit 0 on SIGTERM)."""
import os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

BAD = [
    ("submission", "0.0.0.0"),
    ("pop3", "0.0.0.0"),
    ("submission", "192.0.2.10"),
    ("pop3", "[::]"),
]


def test():
    ih.require_inner()
    with h.TestDir("t_30") as tdir:
        for i, (which, host) in enumerate(BAD):
            inner = ih.Inner(tdir, name="bad%d" % i)
            inner.keygen()
            port = inner.submission_port if which == "submission" else inner.pop3_port
            inner.config["listen"][which] = ["%s:%d" % (host, port)]
            inner.write_config()
            with open(inner.config_path) as f:
                text = f.read()
            line = ih.yaml_line_of(text, "listen." + which)
            proc = h.Proc([ih.inner_bin(), "--config", inner.config_path],
                          os.path.join(inner.dir, "inner.log"))
            rc = proc.wait(15)
            if rc is None:
                proc.stop()
            out = proc.output()
            proc.stop()
            h.check(rc is not None and rc != 0, "listen.%s %s: the inner started (exit %r):\n%s"
                    % (which, host, rc, out))
            want = r"%s:%d: listen\.%s(\[0\])?: " % (re.escape(inner.config_path), line, which)
            h.check(re.search(want, out), "listen.%s %s: no line matching %r:\n%s"
                    % (which, host, want, out))
        good = ih.Inner(tdir, name="good")
        good.start()
        r = good.swaks("--quit-after", "EHLO")
        r.expect("EHLO", 250)
        p = good.pop3()
        h.check(p.getwelcome().startswith(b"+OK"), "POP3 greeting %r" % p.getwelcome())
        p.quit()
        rc = good.stop()
        h.check(rc == 0, "the inner exited %r on SIGTERM:\n%s" % (rc, good.output()[-3000:]))


h.main(test)
