#!/usr/bin/env python3
"""What `nightjarctl overlay tor` prints works with the real daemons and a real (private) Tor
network, used as printed.

The test plays the operator on two machines (two directories): it runs `nightjarctl overlay tor`
with the inner's and the edge's configuration and gives each tor exactly the printed part for its
machine (`# ---- torrc on the inner's machine ----`, `... edge's machine ...`), verbatim,
comments included; the only lines added are the ones every node of the test network needs
(tornet.COMMON, DataDirectory, Nickname, Log, DirAuthority). The client authorization files are
made by running the printed `#   $ ` command lines with /bin/sh, as printed. Then:

- the edge's link onion service comes up and the inner's link comes up through the inner's tor
  (transport tor, the printed SocksPort) with the printed client authorization, that tor running
  with the printed `VanguardsLiteEnabled 1` (tor refuses to start on an option it does not know);
- a tor client without that authorization cannot reach the link onion: tor answers SOCKS reply
  0xF4 (missing client authorization: the descriptor cannot be decrypted) and never connects;
- the inner's onion service answers submission (smtplib with AUTH, through SOCKS: the message
  lands in the recipient's mailbox) and POP3 (curl --socks5-hostname retrieves it);
- the printed `_onion-mx._tcp` SRV record (none before `--edge-onion` names the OnionMX onion),
  served by unbound as printed, resolves to the edge's
  OnionMX onion (its hostname file) and port 25, and the edge's OnionMX listener answers SMTP
  there, dialed through the edge tor's printed SocksPort (outbound.socks) — the way another
  edge's OnionMX delivery dials it.

The edge's tor is first started once with `DisableNetwork 1` (and stopped) only to make the onion
keys, as the operator's first start would: the link onion's name must be known before the inner's
client key file can name it, and this way no descriptor without client authorization is ever
published. The operator's order is otherwise kept: the inner's configuration gets the link onion
as edge.address, `nightjarctl overlay tor` is run again, the key commands run, tor restarts.
Uses the shared network of the ctest fixture `tornet` when it runs."""
# nj-e2e: tornet
import os, re, smtplib, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih
import link as lk
import tornet

ALICE, APW = "alice@example.i2p", "alice pw 68"
BOB, BPW = "bob@example.i2p", "bob pw 68"
# The example configuration's placeholder: not a v3 onion name, so nightjarctl prints no key
# commands yet; its port (2600) is the link's virtual port.
PLACEHOLDER_ADDRESS = "replace-with-the-edges-link-service.onion:2600"
LINK_VPORT = 2600

INNER_PART = "# ---- torrc on the inner's machine ----"
EDGE_PART = "# ---- torrc on the edge's machine ----"
DNS_PART = "# ---- DNS: publish in each public domain's zone ----"


def overlay(inner, edge, tor_dir, edge_onion=None):
    argv = [h.ctl_bin(), "overlay", "tor", "--inner-config", inner.config_path,
            "--edge-config", edge.config_path, "--tor-dir", tor_dir]
    if edge_onion:
        argv += ["--edge-onion", edge_onion]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    h.check(r.returncode == 0 and r.stderr == "",
            "%s -> %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r.stdout


def part(text, header):
    """The lines of one part of the output, from its header to the next one."""
    heads = [INNER_PART, EDGE_PART, DNS_PART]
    h.check(header in text, "no %r in:\n%s" % (header, text))
    rest = text.split(header + "\n", 1)[1]
    ends = [rest.index(x) for x in heads if x in rest]
    return rest[:min(ends)] if ends else rest


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


def test():
    h.require_edge()
    ih.require_inner()
    t_start = time.monotonic()
    with h.TestDir("t_68") as tdir:
        net, shared = tornet.shared_or_own(tdir)
        with net:
            inner_machine = tdir.sub("inner-machine")
            edge_machine = tdir.sub("edge-machine")
            # --tor-dir: the parent of the HiddenServiceDirs (/var/lib/tor on a real machine).
            inner_tor_dir = mkdir700(os.path.join(inner_machine, "tor"))
            edge_tor_dir = mkdir700(os.path.join(edge_machine, "tor"))
            inner_work = mkdir700(os.path.join(inner_machine, "work"))
            edge_work = mkdir700(os.path.join(edge_machine, "work"))

            link_port, mx_port = h.free_port(), h.free_port()
            edge_socks, inner_socks, probe_socks = h.free_port(), h.free_port(), h.free_port()
            # The DNS server is started once the SRV record is known; its address is set then.
            edge = h.Edge(tdir, "127.0.0.1:53", {
                "listen": {"link": ["127.0.0.1:%d" % link_port],
                           "onion_mx": ["127.0.0.1:%d" % mx_port]},
                "outbound": {"socks": "127.0.0.1:%d" % edge_socks},
                "checks": {"greylist": {"enabled": False}}})
            inner = ih.Inner(tdir, {"edge": {"address": PLACEHOLDER_ADDRESS, "transport": "tor",
                                             "socks": "127.0.0.1:%d" % inner_socks}})
            lk.pair_keys(edge, inner)  # the configurations name the key files
            with open(edge.config_path, "w") as f:
                f.write(h.to_yaml(edge.config) + "\n")
            inner.write_config()

            # A tor client with no client authorization at all: the outsider. Started now so
            # that it bootstraps while the rest is set up.
            probe = tor_node(net, "probe", "SocksPort 127.0.0.1:%d ExtendedErrors\n" % probe_socks)
            probe.start()

            # --- the edge's machine, first pass: the onion keys and names --------------------
            first = overlay(inner, edge, edge_tor_dir)
            edge_torrc = part(first, EDGE_PART)
            h.check("#   $ " not in part(first, INNER_PART),
                    "key commands printed before edge.address names the link onion:\n" + first)
            # Nor an SRV record before --edge-onion names the OnionMX onion: only where it is.
            h.check(config_lines(part(first, DNS_PART)) == [] and
                    "%s/nightjar-edge-mx/hostname" % edge_tor_dir in part(first, DNS_PART),
                    "the DNS part without --edge-onion:\n" + part(first, DNS_PART))
            h.check("SocksPort 127.0.0.1:%d ExtendedErrors" % edge_socks
                    in config_lines(edge_torrc),
                    "the edge's torrc has no SocksPort for outbound.socks:\n" + edge_torrc)
            edge_tor = tor_node(net, "edge", edge_torrc + "DisableNetwork 1\n")
            edge_tor.start()
            link_onion = wait_file(os.path.join(edge_tor_dir, "nightjar-edge-link", "hostname"),
                                   edge_tor.proc)
            mx_onion = wait_file(os.path.join(edge_tor_dir, "nightjar-edge-mx", "hostname"),
                                 edge_tor.proc)
            edge_tor.stop()
            print("link onion %s, OnionMX onion %s" % (link_onion, mx_onion))

            # --- the inner's machine: edge.address, the printed torrc and key commands -------
            inner.config["edge"]["address"] = "%s:%d" % (link_onion, LINK_VPORT)
            inner.write_config()
            inner_torrc = part(overlay(inner, edge, inner_tor_dir), INNER_PART)
            cmds = run_printed_commands(inner_torrc, inner_work)
            auth_private = os.path.join(inner_tor_dir, "nightjar-onion-auth",
                                        "edge-link.auth_private")
            with open(auth_private) as f:
                h.check(re.fullmatch(r"%s:descriptor:x25519:[A-Z2-7]{52}\n"
                                     % re.escape(link_onion[:-len(".onion")]), f.read()),
                        "the printed commands wrote a bad %s" % auth_private)
            h.check(not os.path.exists(os.path.join(inner_work, "link-client.pem")),
                    "the private key file was left behind: %r" % cmds)
            h.check(config_lines(inner_torrc) == [
                "VanguardsLiteEnabled 1",
                "HiddenServiceDir %s/nightjar-inner" % inner_tor_dir,
                "HiddenServicePort 587 127.0.0.1:%d" % inner.submission_port,
                "HiddenServicePort 110 127.0.0.1:%d" % inner.pop3_port,
                "SocksPort 127.0.0.1:%d ExtendedErrors" % inner_socks,
                "ClientOnionAuthDir %s/nightjar-onion-auth" % inner_tor_dir],
                "the inner's torrc lines:\n" + inner_torrc)

            # --- the edge's machine, second pass: the client's public key, the SRV record ----
            # (the public half travels to the edge's machine; nothing else does)
            with open(os.path.join(inner_work, "link-client.pub")) as f:
                pub = f.read()
            with open(os.path.join(edge_work, "link-client.pub"), "w") as f:
                f.write(pub)
            second = overlay(inner, edge, edge_tor_dir, edge_onion=mx_onion)
            edge_torrc = part(second, EDGE_PART)
            run_printed_commands(edge_torrc, edge_work)
            h.check(config_lines(edge_torrc) == [
                "SocksPort 127.0.0.1:%d ExtendedErrors" % edge_socks,
                "HiddenServiceDir %s/nightjar-edge-link" % edge_tor_dir,
                "HiddenServicePort %d 127.0.0.1:%d" % (LINK_VPORT, link_port),
                "HiddenServiceDir %s/nightjar-edge-mx" % edge_tor_dir,
                "HiddenServicePort 25 127.0.0.1:%d" % mx_port],
                "the edge's torrc lines:\n" + edge_torrc)
            srv_lines = config_lines(part(second, DNS_PART))

            # --- both tors, as printed -------------------------------------------------------
            edge_tor.extra = edge_torrc
            edge_tor.start()
            inner_tor = tor_node(net, "inner", inner_torrc)
            inner_tor.start()
            net.wait_bootstrapped([probe, edge_tor, inner_tor])
            h.check(wait_file(os.path.join(edge_tor_dir, "nightjar-edge-link", "hostname"))
                    == link_onion, "the link onion changed on restart")
            user_onion = wait_file(os.path.join(inner_tor_dir, "nightjar-inner", "hostname"),
                                   inner_tor.proc)
            print("tors up after %.1f s; the inner's onion %s"
                  % (time.monotonic() - t_start, user_onion))

            # --- DNS: the printed SRV record, as printed ---------------------------------------
            h.check(len(srv_lines) == 1, "SRV lines: %r" % srv_lines)
            m = re.fullmatch(r"(_onion-mx\._tcp\.(\S+)\.) IN SRV (\d+) (\d+) (\d+) (\S+\.)",
                             srv_lines[0])
            h.check(m and m.group(2) == h.PUBLIC_DOMAIN,
                    "not an SRV record for %s: %r" % (h.PUBLIC_DOMAIN, srv_lines[0]))
            zones = dict(h.sender_zones())
            zones.setdefault(h.PUBLIC_DOMAIN, [])
            zones[h.PUBLIC_DOMAIN] = list(zones[h.PUBLIC_DOMAIN]) + [
                (m.group(1), "SRV", " ".join(m.group(i) for i in (3, 4, 5, 6)))]
            with h.Rbldnsd(tdir, "dnsbl.test", ["127.0.0.2"]) as rbl, \
                    h.Unbound(tdir, zones, stubs={"dnsbl.test": rbl.port}) as ub:
                rcode, answers = h.dns_query(ub.port, "_onion-mx._tcp." + h.PUBLIC_DOMAIN, "SRV")
                srv = [a for t, a in answers if t == 33]
                h.check(rcode == 0 and srv == ["0 0 25 %s." % mx_onion],
                        "SRV answer rcode=%d %r, want the OnionMX onion %s port 25"
                        % (rcode, answers, mx_onion))
                target_port = int(srv[0].split()[2])
                target = srv[0].split()[3].rstrip(".")

                edge.config["dns"]["servers"] = [ub.addr]
                inner.add_account(ALICE, APW)
                inner.add_account(BOB, BPW)
                edge.start()
                inner.start()
                try:
                    # --- the link over Tor with the printed client authorization -------------
                    t0 = time.monotonic()
                    lk.wait_log(inner, "link up", timeout=150)
                    h.check("link dialing the edge transport=tor" in inner.output(),
                            "the inner did not dial over Tor:\n" + inner.output()[-2000:])
                    print("link up over Tor after %.1f s" % (time.monotonic() - t0))

                    # --- an outsider cannot even read the link's descriptor ----------------
                    deadline = time.monotonic() + 90
                    codes = []
                    while True:
                        code, sock = tornet.socks5_connect(probe_socks, link_onion, LINK_VPORT,
                                                           timeout=60)
                        if sock is not None:
                            sock.close()
                        h.check(code != 0, "a client without the key reached the link service")
                        codes.append(code)
                        if code == tornet.SOCKS_MISSING_CLIENT_AUTH:
                            break
                        h.check(time.monotonic() < deadline,
                                "never 'missing client authorization' from the link onion: %s"
                                % ["%#x" % c for c in codes])
                        time.sleep(1)
                    print("without the key: SOCKS replies %s"
                          % ", ".join("%#x (%s)" % (c, tornet.SOCKS_REPLIES.get(c, "?"))
                                      for c in codes))

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

                    # --- the SRV target answers SMTP, dialed through the edge's SocksPort ----
                    OnionSMTP.socks_port = edge_socks
                    tornet.wait_reachable(target, target_port, edge_socks, timeout=120)
                    with OnionSMTP(target, target_port, local_hostname="mx.sender.test",
                                   timeout=120) as s:
                        code, _ = s.ehlo()
                        h.check(code == 250, "EHLO at the SRV target: %d" % code)
                        h.check(s.mail("peer@sender.test")[0] == 250, "MAIL refused")
                        code, text = s.rcpt("alice@" + h.PUBLIC_DOMAIN)
                        h.check(code == 250, "RCPT at the SRV target: %d %r" % (code, text))
                    h.check("listener=onion_mx" in edge.output(),
                            "the SRV target is not the OnionMX listener:\n"
                            + edge.output()[-2000:])
                except BaseException:
                    h.log("edge log:\n" + edge.output()[-5000:])
                    h.log("inner log:\n" + inner.output()[-5000:])
                    raise
                finally:
                    inner.stop()
                    edge.stop()
    print("t_68 took %.1f s" % (time.monotonic() - t_start))


h.main(test)
