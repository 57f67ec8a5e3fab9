#!/usr/bin/env python3
"""Inner: delay classes. Internet-bound mail of an account with delay=none is due at once; with
the default (defer, here 2s..3s) it is due a random 2 to 3 seconds after it was queued. The due
time shows in `nightjarctl queue list` and survives a restart. `account set delay=` takes only
none, defer or batch."""
import datetime, os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "bob@example.i2p", "bob secret 2"


def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def queue(inner):
    """id -> (queued, due) from `queue list`."""
    out = inner.ctl("queue", "list").out
    q = {}
    for line in out.splitlines():
        m = re.match(r"(\S+) (\S+Z) .* due=(\S+Z)", line)
        h.check(m is not None, "queue list line without a due time: %r" % line)
        q[m.group(1)] = (ts(m.group(2)), ts(m.group(3)))
    return q


def test():
    overrides = {"delay": {"default": "defer", "defer_min": "2s", "defer_max": "3s"}}
    with ih.inner_world("t_52", overrides, accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)]) as (
            tdir, inner):
        inner.ctl("account", "set", ALICE, "delay=soon", expect_rc="fail")
        inner.ctl("account", "set", ALICE, "delay=none")

        inner.deliver(ALICE, ALICE_PW, ["x@elsewhere.test"],
                      ih.message("now", "b", frm=ALICE, to="x@elsewhere.test"))
        q = queue(inner)
        h.check(len(q) == 1, "queue: %r" % q)
        (alice_id, (queued, due)), = q.items()
        h.check(due == queued, "delay=none: due %s, queued %s" % (due, queued))

        for i in range(3):
            inner.deliver(BOB, BOB_PW, ["y@elsewhere.test"],
                          ih.message("later-%d" % i, "b", frm=BOB, to="y@elsewhere.test"))
        q = queue(inner)
        h.check(len(q) == 4, "queue: %r" % q)
        for mid, (queued, due) in q.items():
            if mid == alice_id:
                continue
            h.check(2 <= due - queued <= 3, "defer 2s..3s: queued %s, due %s" % (queued, due))

        # Local mail is never held: it is in the mailbox at once.
        inner.ctl("account", "set", BOB, "delay=batch")
        inner.deliver(BOB, BOB_PW, [ALICE], ih.message("local-now", "b", frm=BOB, to=ALICE))
        h.check("local-now" in b"\n".join(inner.mailbox(ALICE, ALICE_PW)).decode(
            "utf-8", "replace"), "local mail was held")
        # batch: due at the next 00:00 or 12:00 UTC.
        inner.deliver(BOB, BOB_PW, ["z@elsewhere.test"],
                      ih.message("batch", "b", frm=BOB, to="z@elsewhere.test"))
        q2 = queue(inner)
        (bid, (queued, due)), = [(k, v) for k, v in q2.items() if k not in q]
        h.check(due % 43200 == 0 and 0 < due - queued <= 43200,
                "batch: queued %s, due %s" % (queued, due))
        q = q2

        inner.stop()
        inner.start()
        h.check(queue(inner) == q, "due times changed over a restart: %r, before %r"
                % (queue(inner), q))


h.main(test)
