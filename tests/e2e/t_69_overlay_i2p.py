#!/usr/bin/env python3
"""What `nightjarctl overlay i2p` prints, the inner's half and each edge's, for a fleet of two I2P
edges is accepted by the real i2pd (Debian's), used as printed, and each edge's link tunnel admits
only the destination i2pd made for the inner's SOCKS proxy.

The test plays the operator on three machines (three directories): an inner whose `edges:` lists
two edges dialled over I2P, mx1 and mx2 (one SOCKS proxy for both), and the two edges, each
with a private i2pd: its own
data directory, everything on 127.0.0.1, no reseed (no reseed URLs, threshold 0), no address
book, no NTP, no UPnP, no web console, no HTTP proxy, no SAM. The printed `tunnels.conf`
sections go to each i2pd's tunnels.conf verbatim (comments included), and the inner's printed
`[socksproxy]` section is appended verbatim to its i2pd.conf after the test's own settings.
Each machine prints its own half with its own tool: the inner's nightjarctl from inner.yaml, the
edge's (nightjarctl-edge) from its edge.yaml with `--name NAME --link-port 2600`. The operator's
order: the inner's part first, its i2pd started so that it writes the SOCKS proxy's keys file;
then the inner's command again with `--inner-link-keys` naming that file, which prints that
destination's name; then each edge's part, printed with `--inner-link-b32` and that name; then
each edge's `address` in the inner's `edges:` set to its link destination. Checked:

- an edge's part is refused without --inner-link-b32 (exit 1, nothing printed, the message names
  the option), so an open link tunnel is never printed;
- the name the inner's command prints is the .b32.i2p name that the inner's i2pd logged for its
  SOCKS proxy's keys file (nightjar-inner-link.dat), i.e. the b32 nightjarctl computed from the
  keys file is i2pd's; and each link tunnel's `accesslist` is that name (without the suffix, as
  i2pd documents it);
- each edge's DNS part has its MX record at the default preference, and no SRV record (OnionMX
  is Tor's);
- each i2pd starts and stays up, and logs no complaint about the files (no `Clients:` warning or
  error except "Can't open file ... Creating new one", which is how i2pd announces a new keys
  file), and creates exactly as many server tunnels as were printed, and no client tunnels;
- each server tunnel's destination exists: its keys file is written where the printed text says
  (relative to i2pd's data directory, not to its working directory), its .b32.i2p name is
  logged, and that name is the SHA-256 of the destination in the keys file; the inner's
  submission and POP3 tunnels share one destination (one keys file), as printed;
- the inner's SOCKS proxy (the printed [socksproxy], the edges' socks) listens and speaks
  SOCKS5, with its own destination in nightjar-inner-link.dat;
- every part is the same once the edges' `address`es name their real link destinations (from
  their i2pds) and the port their link tunnels listen on in I2P.
A control run with one printed word changed (`type = srever`) must make the same checks fail,
so they can.

What this does not show: mail over I2P, or a stranger turned away by the accesslist. An I2P
network cannot be built offline from Debian's i2pd the way tornet.py builds a Tor network (no
testing-network mode: routers need a reseed or a floodfill netDb and enough peers for tunnels),
so these i2pds have no peers, build no tunnels and publish nothing; no connection crosses I2P
here. i2pd logs nothing about an accesslist it reads, so what shows it is right is that its
value is the name i2pd gave the inner's SOCKS destination. The link's I2P transport is exercised
only through its SOCKS client code, which is the same as for Tor."""
import base64, hashlib, os, re, socket, struct, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import inner as ih

I2PD = os.environ.get("NJ_I2PD_BIN", "i2pd")

INNER_PART = "# ---- i2pd on the inner's machine ----"
LINK_DEST = "# ---- the inner's link destination ----"
DNS_PART = "# ---- DNS: publish in each public domain's zone ----"
EDGES = ("mx1", "mx2")
LINK_VPORT = 2600


def edge_part(name):
    return "# ---- i2pd on edge %s's machine ----" % name

# i2pd.conf settings of the private test router (top-level options, then sections). Boolean
# options cannot be given on i2pd's command line as `--opt=false`, so they are here.
BASE_CONF = """\
log = file
loglevel = info
host = 127.0.0.1
address4 = 127.0.0.1
port = {port}
nat = false
ipv4 = true
ipv6 = false
daemon = false
service = false
[ntcp2]
enabled = true
published = false
[ssu2]
enabled = false
[reseed]
urls =
yggurls =
threshold = 0
[addressbook]
enabled = false
[http]
enabled = false
[httpproxy]
enabled = false
[sam]
enabled = false
[bob]
enabled = false
[i2cp]
enabled = false
[i2pcontrol]
enabled = false
[upnp]
enabled = false
[nettime]
enabled = false
"""


def run_overlay_inner(inner, link_keys=None):
    """The inner's nightjarctl overlay i2p, on the inner's machine."""
    argv = [h.ctl_bin(), "overlay", "i2p", "--config", inner.config_path]
    if link_keys is not None:
        argv += ["--inner-link-keys", link_keys]
    return argv, subprocess.run(argv, capture_output=True, text=True, timeout=60)


def run_overlay_edge(name, edge, link_b32=None):
    """The edge's nightjarctl overlay i2p (nightjarctl-edge), on edge `name`'s machine."""
    argv = [h.edge_ctl_bin(), "overlay", "i2p", "--config", edge.config_path, "--name", name,
            "--link-port", str(LINK_VPORT)]
    if link_b32 is not None:
        argv += ["--inner-link-b32", link_b32]
    return argv, subprocess.run(argv, capture_output=True, text=True, timeout=60)


def printed(run):
    argv, r = run
    h.check(r.returncode == 0 and r.stderr == "",
            "%s -> %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r.stdout


def part(text, header):
    h.check(header in text, "no %r in:\n%s" % (header, text))
    rest = text.split(header + "\n", 1)[1]
    return rest.split("\n# ---- ", 1)[0]


def sections(text):
    """{name: {key: value}} of the uncommented ini sections in text."""
    out, cur = {}, None
    for ln in text.splitlines():
        if not ln.strip() or ln.startswith("#"):
            continue
        m = re.fullmatch(r"\[(.+)\]", ln)
        if m:
            cur = out.setdefault(m.group(1), {})
            continue
        k, sep, v = ln.partition("=")
        h.check(sep and cur is not None, "not an ini line: %r" % ln)
        cur[k.strip()] = v.strip()
    return out


def b32_of_keys_file(path):
    """The .b32.i2p name of the destination in an i2pd keys file: SHA-256 of the destination
    (the 387-byte identity whose last 2 bytes are the certificate's length, then the
    certificate's payload), base32, lower case, no padding."""
    with open(path, "rb") as f:
        b = f.read()
    h.check(len(b) > 387, "%s is too short for a keys file (%d bytes)" % (path, len(b)))
    cert_len = struct.unpack(">H", b[385:387])[0]
    digest = hashlib.sha256(b[:387 + cert_len]).digest()
    return base64.b32encode(digest).decode().lower().rstrip("=")


class I2pd:
    """A private i2pd: own data directory, tunnels.conf and i2pd.conf; its log in i2pd.log."""

    def __init__(self, dir_, tunnels_text, conf_extra):
        self.dir = dir_
        self.data = os.path.join(dir_, "data")
        self.cwd = os.path.join(dir_, "cwd")  # relative keys paths must not land here
        for d in (self.data, self.cwd, os.path.join(dir_, "tunnels.d")):
            os.makedirs(d, exist_ok=True)
        self.conf = os.path.join(dir_, "i2pd.conf")
        self.tunconf = os.path.join(dir_, "tunnels.conf")
        self.logfile = os.path.join(dir_, "i2pd.log")
        with open(self.conf, "w") as f:
            f.write(BASE_CONF.format(port=h.free_port()) + conf_extra)
        with open(self.tunconf, "w") as f:
            f.write(tunnels_text)
        self.proc = None

    def start(self):
        self.proc = h.Proc([I2PD, "--datadir", self.data, "--conf", self.conf,
                            "--tunconf", self.tunconf,
                            "--tunnelsdir", os.path.join(self.dir, "tunnels.d"),
                            "--pidfile", os.path.join(self.dir, "i2pd.pid"),
                            "--logfile", self.logfile],
                           os.path.join(self.dir, "stdout.log"), cwd=self.cwd)
        deadline = time.monotonic() + 30
        while "I2P server tunnels created" not in self.log():
            h.check(self.proc.alive(), "i2pd exited (%s):\n%s\n%s" % (
                self.proc.p.returncode, self.proc.output()[-2000:], self.log()[-3000:]))
            h.check(time.monotonic() < deadline, "i2pd made no tunnels in 30 s:\n" + self.log())
            time.sleep(0.1)
        return self

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is not None:
            self.proc.stop()


def complaints(log):
    """i2pd's warnings and errors about its tunnels configuration (Clients:), without the one
    error line i2pd logs for every keys file it creates."""
    return [ln for ln in log.splitlines()
            if re.search(r"/(warn|error) - Clients: ", ln)
            and not re.search(r"Clients: Can't open file \S+ Creating new one", ln)]


def check_i2pd(i2pd, printed, name):
    """The checks every i2pd must pass for the printed server sections `printed` ({name: keys});
    returns {keys file: b32}."""
    log = i2pd.log()
    h.check(i2pd.proc.alive(), "%s: i2pd exited:\n%s" % (name, log[-3000:]))
    bad = complaints(log)
    h.check(not bad, "%s: i2pd complained about the printed configuration:\n%s"
            % (name, "\n".join(bad)))
    m = re.search(r"Clients: (\d+) I2P server tunnels created", log)
    h.check(m and int(m.group(1)) == len(printed),
            "%s: %s server tunnels created, %d printed" % (name, m and m.group(1), len(printed)))
    h.check("Clients: 0 I2P client tunnels created" in log, "%s: client tunnels made" % name)
    dests = {}
    for section, keys in printed.items():
        h.check(not os.path.isabs(keys), "%s: keys of %s is not relative: %s" % (name, section,
                                                                                  keys))
        path = os.path.join(i2pd.data, keys)
        h.check(os.path.isfile(path), "%s: no keys file %s for [%s] in i2pd's data directory"
                % (name, path, section))
        h.check(not os.path.exists(os.path.join(i2pd.cwd, keys)),
                "%s: keys file in i2pd's working directory" % name)
        b32 = b32_of_keys_file(path)
        h.check("New private keys file %s for %s.b32.i2p created" % (path, b32) in log,
                "%s: [%s]: no log line naming %s.b32.i2p for %s" % (name, section, b32, path))
        dests[keys] = b32
    return dests


def socks5_greeting(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"\x05\x01\x00")
        return s.recv(2)


def test():
    ih.require_inner()
    h.check(subprocess.run(["sh", "-c", "command -v " + I2PD], capture_output=True).returncode
            == 0, "%s is not installed (Debian package i2pd)" % I2PD)
    t_start = time.monotonic()
    with h.TestDir("t_69") as tdir:
        inner_socks = h.free_port()
        edges, ports = {}, {}
        for name in EDGES:
            ports[name] = (h.free_port(), h.free_port())  # link, OnionMX
            edges[name] = h.Edge(tdir, "127.0.0.1:53", {
                "hostname": "%s.nightjar.test" % name,
                "listen": {"link": ["127.0.0.1:%d" % ports[name][0]],
                           "onion_mx": ["127.0.0.1:%d" % ports[name][1]]}}, name=name)
            edges[name].keygen()
            with open(edges[name].config_path, "w") as f:
                f.write(h.to_yaml(edges[name].config) + "\n")
        # The edges' link destinations are not known yet: any I2P names with the link's port.
        inner = ih.Inner(tdir, {"edges": [
            {"name": name, "address": "%s-link-to-come.i2p:%d" % (name, LINK_VPORT),
             "transport": "i2p", "socks": "127.0.0.1:%d" % inner_socks,
             "public_key": os.path.join(edges[name].key_dir, "edge.pub")}
            for name in EDGES]})
        del inner.config["keys"]["edge_public"]
        inner.keygen()
        inner.write_config()

        # --- the inner's machine first: its i2pd writes the SOCKS proxy's keys ---------------
        text = printed(run_overlay_inner(inner))
        h.check("# ---- i2pd on edge" not in text and DNS_PART not in text
                and LINK_DEST not in text,
                "an edge's part, DNS records or a link destination:\n" + text)
        inner_text = part(text, INNER_PART)
        h.check("\n# i2pd.conf:" in inner_text, "no i2pd.conf part:\n" + inner_text)
        tunnels_text, conf_text = inner_text.split("\n# i2pd.conf:", 1)
        conf_text = "# i2pd.conf:" + conf_text
        inner_secs = sections(tunnels_text)
        h.check(set(inner_secs) == {"nightjar-inner-submission", "nightjar-inner-pop3"},
                "inner sections: %r" % inner_secs)
        h.check(inner_secs["nightjar-inner-submission"].get("port") == str(inner.submission_port)
                and inner_secs["nightjar-inner-submission"].get("inport") == "587"
                and inner_secs["nightjar-inner-pop3"].get("port") == str(inner.pop3_port)
                and inner_secs["nightjar-inner-pop3"].get("inport") == "110",
                "inner tunnels do not map the inner's listeners: %r" % inner_secs)
        socks = sections(conf_text).get("socksproxy", {})
        h.check(socks.get("address") == "127.0.0.1" and socks.get("port") == str(inner_socks),
                "the [socksproxy] section is not the I2P edges' socks: %r" % socks)

        inner_i2pd = I2pd(tdir.sub("inner-machine"), tunnels_text, conf_text)
        h._register(inner_i2pd)
        inner_i2pd.start()
        inner_dests = check_i2pd(inner_i2pd, {s: v["keys"] for s, v in inner_secs.items()},
                                 "inner")
        h.check(len(set(inner_dests.values())) == 1
                and "Destination: Local address %s created" % next(iter(inner_dests.values()))
                in inner_i2pd.log(),
                "submission and POP3 are not one destination: %r" % inner_dests)
        # The SOCKS proxy: listening where the inner dials, speaking SOCKS5, own destination.
        deadline = time.monotonic() + 20
        while "Clients: Starting SOCKS Proxy at 127.0.0.1:%d" % inner_socks not in inner_i2pd.log():
            h.check(time.monotonic() < deadline, "no SOCKS proxy in:\n" + inner_i2pd.log())
            time.sleep(0.1)
        h.check(socks5_greeting(inner_socks) == b"\x05\x00",
                "i2pd's SOCKS proxy at the edges' socks does not speak SOCKS5")
        link_keys = os.path.join(inner_i2pd.data, socks["keys"])
        h.check(os.path.isfile(link_keys), "no SOCKS proxy keys file %s" % link_keys)
        m = re.search(r"New private keys file %s for ([a-z2-7]{52})\.b32\.i2p created"
                      % re.escape(link_keys), inner_i2pd.log())
        h.check(m, "i2pd logged no name for the SOCKS proxy's keys %s" % link_keys)
        socks_b32 = m.group(1)
        h.check(b32_of_keys_file(link_keys) == socks_b32,
                "the SOCKS proxy's logged name is not its keys file's")
        print("inner: mail %s.b32.i2p, link client %s.b32.i2p"
              % (next(iter(inner_dests.values())), socks_b32))

        # --- the edges' parts: refused until the inner's link destination is known ---------
        for name in EDGES:
            argv, r = run_overlay_edge(name, edges[name])
            h.check(r.returncode == 1 and r.stdout == ""
                    and "pass --inner-link-b32 NAME.b32.i2p" in r.stderr,
                    "edge %s's part without --inner-link-b32: %s -> %d\n%s%s"
                    % (name, " ".join(argv), r.returncode, r.stdout, r.stderr))
        text = printed(run_overlay_inner(inner, link_keys))
        h.check(part(text, INNER_PART).rstrip("\n") == inner_text.rstrip("\n"),
                "the inner's part changed:\n" + text)
        # The name the inner prints for its link destination is the one its i2pd logged.
        dest = [ln[len("#   "):] for ln in part(text, LINK_DEST).splitlines()
                if ln.startswith("#   ")]
        h.check(dest == ["%s.b32.i2p" % socks_b32],
                "the inner's link destination %r is not i2pd's %s.b32.i2p" % (dest, socks_b32))
        inner_with_keys = text
        edge_texts, edge_i2pds, link_b32s = {}, {}, {}
        for name in EDGES:
            text = printed(run_overlay_edge(name, edges[name], dest[0]))
            # The DNS part: its MX record, default preference; no SRV record (Tor's).
            dns = [ln for ln in part(text, DNS_PART).splitlines()
                   if ln and not ln.startswith("#")]
            h.check(dns == ["%s. IN MX 10 %s." % (h.PUBLIC_DOMAIN, edges[name].config["hostname"])],
                    "edge %s's DNS part: %r" % (name, dns))
            edge_text = edge_texts[name] = part(text, edge_part(name))
            edge_secs = sections(edge_text)
            h.check(set(edge_secs) == {"nightjar-edge-link", "nightjar-edge-mx"},
                    "edge %s sections: %r" % (name, edge_secs))
            link_port, mx_port = ports[name]
            h.check(edge_secs["nightjar-edge-link"].get("port") == str(link_port)
                    and edge_secs["nightjar-edge-link"].get("inport") == str(LINK_VPORT)
                    and edge_secs["nightjar-edge-mx"].get("port") == str(mx_port)
                    and edge_secs["nightjar-edge-mx"].get("inport") == "25",
                    "edge %s's tunnels do not map its listeners: %r" % (name, edge_secs))
            # The b32 nightjarctl computed from the keys file is the one i2pd logged for it.
            h.check(edge_secs["nightjar-edge-link"].get("accesslist") == socks_b32,
                    "edge %s's link tunnel's accesslist %r is not the inner's link destination %s"
                    % (name, edge_secs["nightjar-edge-link"].get("accesslist"), socks_b32))
            h.check("accesslist" not in edge_secs["nightjar-edge-mx"],
                    "edge %s's MX tunnel is restricted" % name)
            edge_i2pd = edge_i2pds[name] = I2pd(tdir.sub("%s-machine" % name), edge_text,
                                                "[socksproxy]\nenabled = false\n")
            h._register(edge_i2pd)
            edge_i2pd.start()
            edge_dests = check_i2pd(edge_i2pd, {s: v["keys"] for s, v in edge_secs.items()},
                                    "edge " + name)
            link_b32 = link_b32s[name] = edge_dests[edge_secs["nightjar-edge-link"]["keys"]]
            mx_b32 = edge_dests[edge_secs["nightjar-edge-mx"]["keys"]]
            h.check(link_b32 != mx_b32, "edge %s's link and MX tunnels share a destination" % name)
            h.check(socks_b32 not in (link_b32, mx_b32),
                    "edge %s reuses the inner's destination" % name)
            print("edge %s: link %s.b32.i2p (accesslist %s), MX %s.b32.i2p"
                  % (name, link_b32, socks_b32, mx_b32))
        h.check(len(set(link_b32s.values())) == len(EDGES), "the edges share a link destination")

        # --- each edge's address is its link destination -------------------------------------
        for e in inner.config["edges"]:
            e["address"] = "%s.b32.i2p:%d" % (link_b32s[e["name"]], LINK_VPORT)
        inner.write_config()
        # No part changes: each link's I2P port is the one the inner dials, as before.
        text = printed(run_overlay_inner(inner, link_keys))
        h.check(text == inner_with_keys, "the inner's output changed with the edges' addresses:\n"
                + text)
        for name in EDGES:
            text = printed(run_overlay_edge(name, edges[name], dest[0]))
            h.check(part(text, edge_part(name)) == edge_texts[name],
                    "edge %s's part changed:\n%s" % (name, text))

        # --- control: the same checks fail on a broken copy --------------------------------
        broken = tunnels_text.replace("type = server", "type = srever", 1)
        h.check(broken != tunnels_text, "nothing to break")
        control = I2pd(tdir.sub("control"), broken, "[socksproxy]\nenabled = false\n")
        h._register(control)
        control.start()
        try:
            check_i2pd(control, {s: v["keys"] for s, v in inner_secs.items()}, "control")
        except h.TestFailure as e:
            print("control run fails as it must: %s" % str(e).splitlines()[0])
        else:
            raise h.TestFailure("the checks passed on a broken tunnels.conf:\n" + control.log())
        for d in [control, inner_i2pd] + list(edge_i2pds.values()):
            d.stop()
            h._unregister(d)
    print("t_69 took %.1f s" % (time.monotonic() - t_start))


h.main(test)
