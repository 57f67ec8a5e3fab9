#!/usr/bin/env python3
"""Edge: sender checks at MAIL FROM: the domain must resolve, no null MX, no MX/NS in private
ranges, the client must not be on the DNSBL, allowlisted domains only from their clients; the
null sender passes. A sender in one of our own domains (public or internal, any case,
postmaster@ too) is forged, on the MX and on the OnionMX listener alike."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

CASES = [
    # (client, sender, code, enhanced)
    ("127.0.0.1", "bob@sender.test", 250, None),
    ("127.0.0.1", "bob@norecords.test", 550, "5.1.8"),
    ("127.0.0.1", "bob@nothere.sender.test", 550, "5.1.8"),
    ("127.0.0.1", "bob@nullmx.test", 550, "5.7.27"),
    ("127.0.0.1", "bob@privmx.test", 550, "5.7.1"),
    ("127.0.0.1", "bob@privns.test", 550, "5.7.1"),
    ("127.0.0.2", "bob@sender.test", 550, "5.7.1"),  # listed in dnsbl.test
    ("127.0.0.1", "alerts@bank.test", 550, "5.7.1"),  # bank.test only from 127.0.0.3
    ("127.0.0.3", "alerts@bank.test", 250, None),
    ("127.0.0.1", "", 250, None),
]

# Our users' mail never arrives from the Internet: these senders are forged.
OURS = ["bob@" + h.PUBLIC_DOMAIN, "postmaster@" + h.PUBLIC_DOMAIN.upper(),
        "alice@" + h.INTERNAL_DOMAIN, "Postmaster@" + h.INTERNAL_DOMAIN,
        "bob@mx." + h.PUBLIC_DOMAIN]  # not ours: a name below our domain is someone else's
OUR_TEXT = "never arrives from the Internet"


def our_domains(edge, onion_port):
    for port, listener in ((edge.port, "mx"), (onion_port, "onion_mx")):
        for sender in OURS:
            r = h.send_message(port, "127.0.0.1", "mta.sender.test", sender,
                               ["alice@example.test"], None)
            what = "MAIL FROM:<%s> on %s" % (sender, listener)
            if sender.startswith("bob@mx."):
                # Passes this check (and then fails the sender domain's: no such name).
                h.expect_reply(r.get("mail"), 550, "5.1.8", what=what)
                continue
            h.expect_reply(r.get("mail"), 550, "5.7.1", what=what)
            h.check(OUR_TEXT in r["mail"][-1], "%s: not refused as ours: %r" % (what, r["mail"]))
    t = h.swaks_edge(edge, "--quit-after", "MAIL", "--from", "postmaster@" + h.PUBLIC_DOMAIN,
                     "--to", "alice@example.test")
    t.expect("MAIL FROM", 550, "5.7.1")
    log = edge.output()
    refusals = log.count("reject stage=mail code=550 5.7.1 reason=sender in our domain")
    h.check(refusals == 2 * (len(OURS) - 1) + 1,
            "wanted %d logged refusals, got %d" % (2 * (len(OURS) - 1) + 1, refusals))
    for sender in OURS:
        h.check(sender.lower() not in log.lower(), "the log names %s" % sender)
    # Still fine: a bounce (null sender) to one of our users, on both listeners.
    for port in (edge.port, onion_port):
        r = h.send_message(port, "127.0.0.1", "mta.sender.test", "", ["alice@example.test"], None)
        h.expect_reply(r.get("mail"), 250, what="MAIL FROM:<> on port %d" % port)


def test():
    onion_port = h.free_port()
    with h.edge_world("t_12", {"listen": {"onion_mx": ["127.0.0.1:%d" % onion_port]}}) \
            as (tdir, ub, edge):
        our_domains(edge, onion_port)
        for client, sender, code, enhanced in CASES:
            r = h.send_message(edge.port, client, "mta.sender.test", sender,
                               ["alice@example.test"], None)
            h.expect_reply(r.get("mail"), code, enhanced, what="MAIL FROM:<%s> from %s"
                           % (sender, client))
        # the same through swaks
        t = h.swaks_edge(edge, "--quit-after", "MAIL", "--from", "bob@nullmx.test",
                         "--to", "alice@example.test")
        t.expect("MAIL FROM", 550, "5.7.27")


h.main(test)
