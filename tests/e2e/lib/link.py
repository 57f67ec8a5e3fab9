"""A paired edge and inner joined by the link over the `direct` transport, for end-to-end tests
of the link. Builds on harness.py (edge, DNS) and inner.py (inner, accounts, clients)."""
import os
import shutil
import time

import harness as h
import inner as ih


def pair_keys(edge, inner):
    """Each side gets the other's real public key; the edge's key directory also gets the inner's
    secret, only so that `nightjarctl edge-queue` can open the queue for the test to inspect."""
    if not edge._keys:
        edge.keygen()
    if not inner._keys:
        inner.keygen()
    shutil.copy(os.path.join(edge.key_dir, "edge.pub"), os.path.join(inner.key_dir, "edge.pub"))
    for ext in ("pub", "secret"):
        shutil.copy(os.path.join(inner.key_dir, "inner." + ext),
                    os.path.join(edge.key_dir, "inner." + ext))


def wait_log(proc_owner, needle, timeout=30, count=1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc_owner.output().count(needle) >= count:
            return
        time.sleep(0.1)
    raise h.TestFailure("%r not seen %d time(s) in the log within %ss:\n%s"
                        % (needle, count, timeout, proc_owner.output()[-4000:]))


class LinkedPair:
    """An edge (with DNS and DNSBL peers) and an inner whose link dials it directly."""

    def __init__(self, tdir, ub, edge_overrides=None, inner_overrides=None):
        self.link_port = h.free_port()
        eo = h.deep_update({"listen": {"link": ["127.0.0.1:%d" % self.link_port]}},
                           edge_overrides or {})
        self.edge = h.Edge(tdir, ub.addr, eo)
        io = h.deep_update({"edge": {"address": "127.0.0.1:%d" % self.link_port,
                                     "transport": "direct"}}, inner_overrides or {})
        self.inner = ih.Inner(tdir, io)
        pair_keys(self.edge, self.inner)
