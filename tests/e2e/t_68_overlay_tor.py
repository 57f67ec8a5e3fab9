#!/usr/bin/env python3
"""What `nightjarctl overlay tor` prints, the inner's half and each edge's, for a fleet of two
edges works with the real daemons and a real (private) Tor network, used as printed.

The test plays the operator on three machines (three directories): an inner whose `edges:` lists
two Tor edges, mx1 and mx2, each a nightjar-edge with its own key pair, link service and OnionMX
service. Each machine prints its own half with its own tool, from its own configuration only:
the inner's `nightjarctl overlay tor --config inner.yaml` (the inner's build) and, on each edge,
the edge's `nightjarctl overlay tor --config edge.yaml --name mx1 --link-port 2600` (the edge's
build, nightjarctl-edge) — the command line the inner's output names for that edge. Each tor
gets exactly the printed part for its machine (`# ---- torrc on the inner's machine ----`,
`# ---- torrc on edge mx1's machine ----`), verbatim, comments included; the only lines added are
the ones every node of the test network needs (tornet.COMMON, DataDirectory, Nickname, Log,
DirAuthority). The client authorization files are made by running the printed `#   $ ` command
lines with /bin/sh, as printed: on the inner one key pair per edge, each in its own
`<name>.auth_private`, the public halves carried to their edges (the only file that travels).
Then:

- both edges' link onion services come up and the inner's links to both come up through the
  inner's tor (transport tor, the one printed SocksPort they share) with the printed client
  authorization, that tor running with the printed `VanguardsLiteEnabled 1` (tor refuses to start
  on an option it does not know);
- a tor client without that authorization cannot reach either link onion: tor answers SOCKS
  reply 0xF4 (missing client authorization: the descriptor cannot be decrypted) and never
  connects;
- the inner's onion service answers submission (smtplib with AUTH, through SOCKS: the message
  lands in the recipient's mailbox) and POP3 (curl --socks5-hostname retrieves it);
- each edge's DNS part has its MX record at the default preference (10, the same for both), and
  an `_onion-mx._tcp` SRV record once its OnionMX onion is known (none before; mx1's tool reads
  it from the hostname file its tor wrote, mx2's is given `--onion`); served by unbound as
  printed, they resolve to the edges' OnionMX onions and port 25, and mx1's OnionMX listener
  answers SMTP there, dialed through its tor's printed SocksPort (outbound.socks) — the way
  another edge's OnionMX delivery dials it.

Each edge's tor is first started once with `DisableNetwork 1` (and stopped) only to make the
onion keys, as the operator's first start would: the link onion's name must be known before the
inner's client key file can name it, and this way no descriptor without client authorization is
ever published. The operator's order is otherwise kept: the inner's configuration gets each link
onion as its entry's address, the inner's `nightjarctl overlay tor` is run again, the key
commands run, then each edge's again with its key, tor restarts. Uses the shared network of the
ctest fixture `tornet` when it runs."""
# nj-e2e: tornet
import os, re, shutil, smtplib, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import tornet


ALICE, APW = "alice@example.i2p", "alice pw 68"
BOB, BPW = "bob@example.i2p", "bob pw 68"
# The edges of the inner's fleet, in its `edges:` order.
EDGES = ("mx1", "mx2")
# Placeholders like the example configuration's: not v3 onion names, so nightjarctl prints no key
# commands yet; their port (2600) is the link's virtual port.
PLACEHOLDER = "replace-with-%s-link-service.onion:2600"
LINK_VPORT = 2600

INNER_PART = "# ---- torrc on the inner's machine ----"
EACH_EDGE = "# ---- on each edge's machine ----"
DNS_PART = "# ---- DNS: publish in each public domain's zone ----"


def edge_part(name):
    return "# ---- torrc on edge %s's machine ----" % name


def run_tool(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    h.check(r.returncode == 0 and r.stderr == "",
            "%s -> %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r.stdout


def overlay_inner(inner, tor_dir):
    """The inner's half, printed on the inner's machine by the inner's nightjarctl."""
    return run_tool([h.ctl_bin(), "overlay", "tor", "--config", inner.config_path,
                     "--tor-dir", tor_dir])


def overlay_edge(m, onion=None):
    """Edge m's half and its DNS records, printed on its machine by the edge's nightjarctl with
    the name and link port the inner's output names for it."""
    argv = [h.edge_ctl_bin(), "overlay", "tor", "--config", m.edge.config_path,
            "--name", m.name, "--link-port", str(LINK_VPORT), "--tor-dir", m.tor_dir]
    if onion:
        argv += ["--onion", onion]
    return run_tool(argv)


def part(text, header):
    """The lines of one part of the output, from its header to the next one."""
    h.check(header in text, "no %r in:\n%s" % (header, text))
    rest = text.split(header + "\n", 1)[1]
    return rest.split("\n# ---- ", 1)[0]


def config_lines(section):
    return [ln for ln in section.splitlines() if ln.strip() and not ln.startswith("#")]


def run_printed_commands(section, cwd):
    """The `#   $ ` lines of a part, run with /bin/sh in cwd exactly as printed."""
    cmds = [ln[len("#   $ "):] for ln in section.splitlines() if ln.startswith("#   $ ")]
    h.check(cmds, "no commands in:\n" + section)
    script = os.path.join(cwd, "commands.sh")
    with open(script, "w") as f:
        f.write("set -e\n" + "\n".join(cmds) + "\n")
    r = subprocess.run(["/bin/sh", script], cwd=cwd, capture_output=True, text=True, timeout=60)
    h.check(r.returncode == 0, "the printed commands failed (%d):\n%s\n%s%s"
            % (r.returncode, "\n".join(cmds), r.stdout, r.stderr))
    return cmds


def mkdir700(path):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def tor_node(net, name, torrc_lines):
    """A tor of the test network whose torrc is the network's lines plus `torrc_lines`."""
    n = tornet.Node(net, net._nick(name), "service")
    n.extra = torrc_lines
    net.services.append(n)  # stopped with the network object
    return n


def wait_file(path, proc=None, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc is not None and not proc.alive():
            raise h.TestFailure("tor exited before writing %s:\n%s" % (path, proc.output()[-3000:]))
        h.check(time.monotonic() < deadline, "no %s after %ds" % (path, timeout))
        time.sleep(0.1)
    with open(path) as f:
        return f.read().strip()


class OnionSMTP(smtplib.SMTP):
    """smtplib over a SOCKS5 CONNECT by name (the .onion name goes to tor, never a resolver)."""
    socks_port = None

    def _get_socket(self, host, port, timeout):
        code, sock = tornet.socks5_connect(self.socks_port, host, port, timeout=120)
        h.check(code == 0, "SOCKS CONNECT to %s:%d: reply %#x (%s)"
                % (host, port, code, tornet.SOCKS_REPLIES.get(code, "?")))
        return sock


class EdgeMachine:
    """One edge of the fleet: its nightjar-edge, its machine's directories, its tor."""

    def __init__(self, tdir, name):
        self.name = name
        self.machine = tdir.sub("%s-machine" % name)
        # --tor-dir: the parent of the HiddenServiceDirs (/var/lib/tor on a real machine).
        self.tor_dir = mkdir700(os.path.join(self.machine, "tor"))
        self.work = mkdir700(os.path.join(self.machine, "work"))
        self.link_port, self.mx_port, self.socks = h.free_port(), h.free_port(), h.free_port()
        # The DNS server is started once the SRV records are known; its address is set then.
        self.edge = h.Edge(tdir, "127.0.0.1:53", {
            "hostname": "%s.nightjar.test" % name,
            "listen": {"link": ["127.0.0.1:%d" % self.link_port],
                       "onion_mx": ["127.0.0.1:%d" % self.mx_port]},
            "outbound": {"socks": "127.0.0.1:%d" % self.socks},
            "checks": {"greylist": {"enabled": False}}}, name=name)
        self.edge.keygen()
        self.tor = None
        self.link_onion = self.mx_onion = None


def link_up(inner, name):
    return re.search(r"link up peer=\S+ edge=%s\b" % re.escape(name), inner.output())


def test():
    h.require_edge()
    ih.require_inner()
    t_start = time.monotonic()
    with h.TestDir("t_68") as tdir:
        net, shared = tornet.shared_or_own(tdir)
        with net:
            inner_machine = tdir.sub("inner-machine")
            inner_tor_dir = mkdir700(os.path.join(inner_machine, "tor"))
            inner_work = mkdir700(os.path.join(inner_machine, "work"))
            inner_socks, probe_socks = h.free_port(), h.free_port()

            machines = {name: EdgeMachine(tdir, name) for name in EDGES}
            edges = {name: m.edge for name, m in machines.items()}
            # The inner's fleet in the list form; both edges dialled through one SocksPort.
            inner = ih.Inner(tdir, {"edges": [
                {"name": name, "address": PLACEHOLDER % name, "transport": "tor",
                 "socks": "127.0.0.1:%d" % inner_socks}
                for name in EDGES]})
            del inner.config["keys"]["edge_public"]
            inner.keygen()
            for name, m in machines.items():
                # Each edge's public key on the inner, named after it; the inner's on each edge
                # (its secret too, only so that `nightjarctl edge-queue` can open the queue).
                key = os.path.join(inner.key_dir, "%s.pub" % name)
                shutil.copy(os.path.join(m.edge.key_dir, "edge.pub"), key)
                for ext in ("pub", "secret"):
                    shutil.copy(os.path.join(inner.key_dir, "inner." + ext),
                                os.path.join(m.edge.key_dir, "inner." + ext))
                next(e for e in inner.config["edges"] if e["name"] == name)["public_key"] = key
                with open(m.edge.config_path, "w") as f:
                    f.write(h.to_yaml(m.edge.config) + "\n")
            inner.write_config()

            # A tor client with no client authorization at all: the outsider. Started now so
            # that it bootstraps while the rest is set up.
            probe = tor_node(net, "probe", "SocksPort 127.0.0.1:%d ExtendedErrors\n" % probe_socks)
            probe.start()

            # --- the inner's machine, first pass: what each edge runs -------------------------
            first = overlay_inner(inner, inner_tor_dir)
            h.check("#   $ " not in part(first, INNER_PART),
                    "key commands printed before the edges' addresses name their link onions:\n"
                    + first)
            for name in EDGES:
                named = "#   %s: nightjarctl overlay tor --config EDGE.yaml --name %s " \
                        "--link-port %d" % (name, name, LINK_VPORT)
                h.check(named in part(first, EACH_EDGE).split("\n"),
                        "the inner's output does not name %r:\n%s" % (named, first))
            h.check(DNS_PART not in first, "the inner printed DNS records:\n" + first)

            # --- each edge's machine, first pass: the onion keys and names ------------------
            for name, m in machines.items():
                first = overlay_edge(m)
                edge_torrc = part(first, edge_part(name))
                # Its MX record at the default preference; no SRV record before its OnionMX
                # onion is known: only where it will be.
                dns = part(first, DNS_PART)
                h.check(config_lines(dns) == ["%s. IN MX 10 %s." % (h.PUBLIC_DOMAIN,
                                                                    edges[name].config["hostname"])]
                        and "%s/nightjar-edge-mx/hostname" % m.tor_dir in dns.replace("\n# ", " "),
                        "edge %s's DNS part before its onion is known:\n%s" % (name, dns))
                h.check("SocksPort 127.0.0.1:%d ExtendedErrors" % m.socks
                        in config_lines(edge_torrc),
                        "edge %s's torrc has no SocksPort for outbound.socks:\n%s"
                        % (name, edge_torrc))
                m.tor = tor_node(net, name, edge_torrc + "DisableNetwork 1\n")
                m.tor.start()
                m.link_onion = wait_file(os.path.join(m.tor_dir, "nightjar-edge-link", "hostname"),
                                         m.tor.proc)
                m.mx_onion = wait_file(os.path.join(m.tor_dir, "nightjar-edge-mx", "hostname"),
                                       m.tor.proc)
                m.tor.stop()
                print("%s: link onion %s, OnionMX onion %s" % (name, m.link_onion, m.mx_onion))

            # --- the inner's machine: the addresses, the printed torrc and key commands ------
            for e in inner.config["edges"]:
                e["address"] = "%s:%d" % (machines[e["name"]].link_onion, LINK_VPORT)
            inner.write_config()
            inner_torrc = part(overlay_inner(inner, inner_tor_dir), INNER_PART)
            cmds = run_printed_commands(inner_torrc, inner_work)
            pubs = {}
            for name, m in machines.items():
                auth_private = os.path.join(inner_tor_dir, "nightjar-onion-auth",
                                            "%s.auth_private" % name)
                with open(auth_private) as f:
                    h.check(re.fullmatch(r"%s:descriptor:x25519:[A-Z2-7]{52}\n"
                                         % re.escape(m.link_onion[:-len(".onion")]), f.read()),
                            "the printed commands wrote a bad %s" % auth_private)
                h.check(not os.path.exists(os.path.join(inner_work, "link-client-%s.pem" % name)),
                        "the private key file was left behind: %r" % cmds)
                with open(os.path.join(inner_work, "link-client-%s.pub" % name)) as f:
                    pubs[name] = f.read()
            h.check(len(set(pubs.values())) == len(EDGES), "the edges share a client key")
            h.check(config_lines(inner_torrc) == [
                "VanguardsLiteEnabled 1",
                "HiddenServiceDir %s/nightjar-inner" % inner_tor_dir,
                "HiddenServicePort 587 127.0.0.1:%d" % inner.submission_port,
                "HiddenServicePort 110 127.0.0.1:%d" % inner.pop3_port,
                "SocksPort 127.0.0.1:%d ExtendedErrors" % inner_socks,
                "ClientOnionAuthDir %s/nightjar-onion-auth" % inner_tor_dir],
                "the inner's torrc lines:\n" + inner_torrc)

            # --- each edge's machine, second pass: its client key, its SRV record ------------
            # (each edge gets the public half of its own key; nothing else travels). mx1's tool
            # finds its OnionMX onion in the hostname file its tor wrote; mx2's is told it.
            dns_lines = []
            for name, m in machines.items():
                with open(os.path.join(m.work, "link-client-%s.pub" % name), "w") as f:
                    f.write(pubs[name])
                second = overlay_edge(m, onion=m.mx_onion if name == "mx2" else None)
                edge_torrc = part(second, edge_part(name))
                run_printed_commands(edge_torrc, m.work)
                h.check(config_lines(edge_torrc) == [
                    "SocksPort 127.0.0.1:%d ExtendedErrors" % m.socks,
                    "HiddenServiceDir %s/nightjar-edge-link" % m.tor_dir,
                    "HiddenServicePort %d 127.0.0.1:%d" % (LINK_VPORT, m.link_port),
                    "HiddenServiceDir %s/nightjar-edge-mx" % m.tor_dir,
                    "HiddenServicePort 25 127.0.0.1:%d" % m.mx_port],
                    "edge %s's torrc lines:\n%s" % (name, edge_torrc))
                with open(os.path.join(m.tor_dir, "nightjar-edge-link", "authorized_clients",
                                       "inner.auth")) as f:
                    h.check(f.read() == "descriptor:x25519:" + pubs[name],
                            "edge %s authorizes another key than its own" % name)
                m.tor.extra = edge_torrc
                dns_lines.append(config_lines(part(second, DNS_PART)))

            # --- all tors, as printed ----------------------------------------------------------
            for m in machines.values():
                m.tor.start()
            inner_tor = tor_node(net, "inner", inner_torrc)
            inner_tor.start()
            net.wait_bootstrapped([probe, inner_tor] + [m.tor for m in machines.values()])
            for name, m in machines.items():
                h.check(wait_file(os.path.join(m.tor_dir, "nightjar-edge-link", "hostname"))
                        == m.link_onion, "%s's link onion changed on restart" % name)
            user_onion = wait_file(os.path.join(inner_tor_dir, "nightjar-inner", "hostname"),
                                   inner_tor.proc)
            print("tors up after %.1f s; the inner's onion %s"
                  % (time.monotonic() - t_start, user_onion))

            # --- DNS: the printed records, as printed -------------------------------------------
            # Each edge's part: its MX record, then its SRV record.
            for name, lines in zip(EDGES, dns_lines):
                h.check(len(lines) == 2 and lines[0] == "%s. IN MX 10 %s."
                        % (h.PUBLIC_DOMAIN, edges[name].config["hostname"]),
                        "edge %s's DNS lines: %r" % (name, lines))
            srv_lines = [lines[1] for lines in dns_lines]
            zones = dict(h.sender_zones())
            zones.setdefault(h.PUBLIC_DOMAIN, [])
            records = list(zones[h.PUBLIC_DOMAIN])
            for line in srv_lines:
                m = re.fullmatch(r"(_onion-mx\._tcp\.(\S+)\.) IN SRV (\d+) (\d+) (\d+) (\S+\.)",
                                 line)
                h.check(m and m.group(2) == h.PUBLIC_DOMAIN,
                        "not an SRV record for %s: %r" % (h.PUBLIC_DOMAIN, line))
                records.append((m.group(1), "SRV", " ".join(m.group(i) for i in (3, 4, 5, 6))))
            zones[h.PUBLIC_DOMAIN] = records
            with h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
                    h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
                rcode, answers = h.dns_query(ub.port, "_onion-mx._tcp." + h.PUBLIC_DOMAIN, "SRV")
                srv = sorted(a for t, a in answers if t == 33)
                want = sorted("0 0 25 %s." % m.mx_onion for m in machines.values())
                h.check(rcode == 0 and srv == want,
                        "SRV answer rcode=%d %r, want the OnionMX onions %r"
                        % (rcode, answers, want))
                target = machines["mx1"].mx_onion
                h.check("0 0 25 %s." % target in srv, "no SRV record for mx1's OnionMX onion")

                for m in machines.values():
                    m.edge.config["dns"]["servers"] = [ub.addr]
                inner.add_account(ALICE, APW)
                inner.add_account(BOB, BPW)
                for m in machines.values():
                    m.edge.start()
                inner.start()
                try:
                    # --- both links over Tor with the printed client authorization ----------
                    t0 = time.monotonic()
                    for name in EDGES:
                        ih.wait_until(lambda: link_up(inner, name), 150,
                                      "the inner's link to %s" % name)
                    h.check(all("link dialing the edge transport=tor edge=%s" % name
                                in inner.output() for name in EDGES),
                            "the inner did not dial both over Tor:\n" + inner.output()[-2000:])
                    print("both links up over Tor after %.1f s" % (time.monotonic() - t0))

                    # --- an outsider cannot even read a link's descriptor -------------------
                    for name, m in machines.items():
                        deadline = time.monotonic() + 90
                        codes = []
                        while True:
                            code, sock = tornet.socks5_connect(probe_socks, m.link_onion,
                                                               LINK_VPORT, timeout=60)
                            if sock is not None:
                                sock.close()
                            h.check(code != 0, "a client without the key reached %s's link "
                                    "service" % name)
                            codes.append(code)
                            if code == tornet.SOCKS_MISSING_CLIENT_AUTH:
                                break
                            h.check(time.monotonic() < deadline,
                                    "never 'missing client authorization' from %s's link "
                                    "onion: %s" % (name, ["%#x" % c for c in codes]))
                            time.sleep(1)
                        print("%s without the key: SOCKS replies %s"
                              % (name, ", ".join("%#x (%s)"
                                                 % (c, tornet.SOCKS_REPLIES.get(c, "?"))
                                                 for c in codes)))

                    # --- submission over the inner's onion service --------------------------
                    tornet.wait_reachable(user_onion, 587, probe_socks, timeout=120)
                    OnionSMTP.socks_port = probe_socks
                    msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: t68\r\n\r\noverlay-t68-marker\r\n"
                           % (ALICE, BOB))
                    with OnionSMTP(user_onion, 587, local_hostname="client.test",
                                   timeout=120) as smtp:
                        smtp.login(ALICE, APW)
                        refused = smtp.sendmail(ALICE, [BOB], msg)
                        h.check(not refused, "refused: %r" % refused)

                    # --- POP3 over the inner's onion service ---------------------------------
                    r = subprocess.run(["curl", "-s", "--max-time", "120", "--socks5-hostname",
                                        "127.0.0.1:%d" % probe_socks, "-u", "%s:%s" % (BOB, BPW),
                                        "pop3://%s:110/1" % user_onion],
                                       capture_output=True, text=True, timeout=180)
                    h.check(r.returncode == 0 and "overlay-t68-marker" in r.stdout,
                            "POP3 over Tor: rc=%d out=%r err=%r"
                            % (r.returncode, r.stdout[-500:], r.stderr[-500:]))

                    # --- mx1's SRV target answers SMTP, dialed through its SocksPort ---------
                    mx1 = machines["mx1"]
                    OnionSMTP.socks_port = mx1.socks
                    tornet.wait_reachable(target, 25, mx1.socks, timeout=120)
                    with OnionSMTP(target, 25, local_hostname="mx.sender.test",
                                   timeout=120) as s:
                        code, _ = s.ehlo()
                        h.check(code == 250, "EHLO at the SRV target: %d" % code)
                        h.check(s.mail("peer@sender.test")[0] == 250, "MAIL refused")
                        code, text = s.rcpt("alice@" + h.PUBLIC_DOMAIN)
                        h.check(code == 250, "RCPT at the SRV target: %d %r" % (code, text))
                    h.check("listener=onion_mx" in mx1.edge.output(),
                            "the SRV target is not mx1's OnionMX listener:\n"
                            + mx1.edge.output()[-2000:])
                except BaseException:
                    for m in machines.values():
                        h.log("edge %s log:\n%s" % (m.name, m.edge.output()[-5000:]))
                    h.log("inner log:\n" + inner.output()[-5000:])
                    raise
                finally:
                    inner.stop()
                    for m in machines.values():
                        m.edge.stop()
    print("t_68 took %.1f s" % (time.monotonic() - t_start))


h.main(test)
