#!/usr/bin/env python3
"""Harness self-test: the edge configuration generator writes the documented schema as block
YAML, overrides merge, and a stopped helper leaves no process of its group behind."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h

EXPECTED = """\
hostname: mx.nightjar.test
data_dir: /d
domains:
  - public: example.test
    internal: example.i2p
listen:
  mx: [127.0.0.1:2525]
  onion_mx: []
  link: []
dns:
  servers: [127.0.0.1:5353]
  timeout: 2s
  tries: 2
keys:
  edge_secret: /k/edge.secret
  inner_public: /k/inner.pub
checks:
  greet_wait: 1s
  sender:
    allow_loopback_dns: true
    allowlists:
      - domain: bank.test
        clients: [127.0.0.3/32]
  dnsbl:
    zones: []
    threshold: 1
  greylist:
    delay: 0s
    retry_window: 2d
    max_age: 35d
limits:
  max_message_size: 1M
  max_recipients: 50
  max_connections: 100
  max_connections_per_client: 5
log:
  level: "debug: x"
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split()[2] != "Z"


def test():
    c = h.edge_config("/d", 2525, "127.0.0.1:5353", "/k", {
        "checks": {"dnsbl": {"zones": []}, "greylist": {"delay": "0s"}},
        "log": {"level": "debug: x"}})
    got = h.to_yaml(c) + "\n"
    h.check(got == EXPECTED, "edge.yaml differs:\n" + got)

    with h.TestDir("t_04") as tdir:
        # a process that forks a grandchild: stop() must take the whole group
        p = h.Proc(["sh", "-c", "sleep 300 & echo $! > %s/gc; exec sleep 301" % tdir.path],
                   os.path.join(tdir.path, "p.log"))
        deadline = time.monotonic() + 5
        while not os.path.exists(os.path.join(tdir.path, "gc")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        with open(os.path.join(tdir.path, "gc")) as f:
            grandchild = int(f.read())
        h.check(alive(p.pid) and alive(grandchild), "processes did not start")
        p.stop()
        time.sleep(0.2)
        h.check(not alive(p.pid), "leader survived stop()")
        h.check(not alive(grandchild), "grandchild survived stop()")


h.main(test)
