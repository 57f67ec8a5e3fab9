#!/usr/bin/env python3
"""Inner POP3 sessions: a second concurrent session on the same mailbox gets -ERR [IN-USE] (and
another mailbox is not blocked); a session that ends without QUIT (the client closes the socket,
or the client process is SIGKILLed after DELE) keeps every message; the mailbox lock is released
when a session ends, however it ends."""
import os, signal, sys, textwrap, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

ALICE, ALICE_PW = "alice@example.i2p", "alice secret 1"
BOB, BOB_PW = "bob@example.i2p", "bob secret 2"
N = 3


def login_soon(inner, user, pw, timeout=10):
    """The lock goes when the server notices the end of the session; allow it a moment."""
    last = []

    def attempt():
        try:
            return inner.pop3_login(user, pw)
        except ih.poplib.error_proto as e:
            last[:] = [e]
            return None
    try:
        return ih.wait_until(attempt, timeout, "a login after the session ended")
    except h.TestFailure as e:
        raise h.TestFailure("%s; last refusal: %r" % (e, last))


def uids(inner):
    p = login_soon(inner, BOB, BOB_PW)
    try:
        return sorted(l.split()[1] for l in p.uidl()[1])
    finally:
        p.quit()


def test():
    with ih.inner_world("t_38", accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)]) as (tdir, inner):
        for i in range(N):
            inner.deliver(ALICE, ALICE_PW, [BOB], ih.message("s%d" % i, "b%d" % i, frm=ALICE,
                                                             to=BOB))
        before = uids(inner)
        h.check(len(before) == N, "UIDL %r" % before)

        # concurrent sessions
        first = inner.pop3_login(BOB, BOB_PW)
        second = inner.pop3()
        second.user(BOB)
        err = ih.pop3_err(second.pass_, BOB_PW)
        h.check(err.startswith("-ERR [IN-USE]"), "second session: %r" % err)
        second.close()
        other = inner.pop3_login(ALICE, ALICE_PW)  # another mailbox is not locked
        other.quit()
        h.check(first.stat()[0] == N, "the first session was disturbed: %r" % (first.stat(),))
        first.quit()
        login_soon(inner, BOB, BOB_PW).quit()

        # DELE everything, then close the socket without QUIT
        p = inner.pop3_login(BOB, BOB_PW)
        for i in range(1, N + 1):
            p.dele(i)
        p.sock.shutdown(ih.socket.SHUT_RDWR)
        p.close()
        h.check(uids(inner) == before, "closing without QUIT lost mail: %r, before %r"
                % (uids(inner), before))

        # a client process SIGKILLed after DELE
        script = textwrap.dedent("""
            import poplib, sys, time
            p = poplib.POP3("127.0.0.1", %d, timeout=30)
            p.user(%r); p.pass_(%r)
            for i in range(1, %d + 1):
                p.dele(i)
            print("deleted", flush=True)
            time.sleep(60)
        """ % (inner.pop3_port, BOB, BOB_PW, N))
        child = ih.subprocess.Popen([sys.executable, "-c", script], stdout=ih.subprocess.PIPE,
                                    preexec_fn=h._child_setup)
        line = child.stdout.readline()
        h.check(line.strip() == b"deleted", "the client did not get through DELE: %r" % line)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        h.check(uids(inner) == before, "a SIGKILLed client lost mail: %r, before %r"
                % (uids(inner), before))

        # the inner itself going down mid-session after DELE keeps the mail too
        p = inner.pop3_login(BOB, BOB_PW)
        p.dele(1)
        rc = inner.stop()
        h.check(rc == 0, "the inner exited %r on SIGTERM with a session open" % rc)
        p.close()
        inner.start()
        h.check(uids(inner) == before, "a restart mid-session lost mail: %r, before %r"
                % (uids(inner), before))


h.main(test)
