#!/usr/bin/env python3
"""The VM images, built and booted. image/build makes an edge root and an inner root from Debian
bookworm (mmdebstrap minbase, with ansible/site.yml's image part applied inside); site.yml then
provisions both roots through the community.general.chroot connection and pairs them (pair.yml),
and a second run must change nothing. Then, on the roots: the edge holds no inner program,
configuration or library, no compiler, no package lists or caches, no SSH host keys, no machine
id; each unit's `systemd-analyze security` exposure is measured. Each root becomes a BIOS disk
(ext4 by mkfs.ext4 -d, extlinux), and a copy of each boots under qemu (TCG, no network) with a
probe that reports on the serial console: the units are active (nightjar, tor, nftables, ssh),
nftables holds the tier's default-drop rules (edge: 25 in; inner: nothing in), no swap, the
journal only in memory, the sysctls, SSH host keys made at first boot, sshd refusing passwords
and root, tor confined by AppArmor, the daemons running as their own users.

Runs only with IMAGES=1 (`.ci/run` sets it). The roots come from the `images` fixture
(lib/images.py, built once per ctest run from Debian's mirror, with an admin key as an operator
would build them); run by hand, the test builds its own. About 3 GB, 10 minutes after the
fixture."""
# nj-e2e: timeout 1800
# nj-e2e: images
import os, re, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import images as im

DOMAINS = [{"public": "example.org", "internal": "example.i2p"}]

SYSCTLS = {
    "kernel.kptr_restrict": "2", "kernel.dmesg_restrict": "1", "kernel.yama.ptrace_scope": "2",
    "kernel.unprivileged_bpf_disabled": "1", "kernel.kexec_load_disabled": "1",
    "kernel.sysrq": "0", "fs.suid_dumpable": "0", "fs.protected_symlinks": "1",
    "net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0", "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv4.tcp_syncookies": "1", "net.ipv6.conf.all.accept_redirects": "0",
}

PROBE = r"""#!/bin/sh
# Waits for the boot to settle, reports, powers off.
timeout 300 systemctl is-system-running --wait >/dev/null 2>&1 || true
sleep 5
echo NJ-PROBE-BEGIN
for u in %(units)s; do echo "unit $u $(systemctl is-active $u)"; done
for u in $(systemctl list-units --state=failed --plain --no-legend | cut -d' ' -f1); do
  echo "failed $u"
  journalctl -b -u "$u" --no-pager -n 8 | sed 's/^/  | /'
done
echo "nft-begin"; nft list ruleset; echo "nft-end"
for u in debian-tor nightjar-edge nightjar-inner unbound i2pd systemd-timesync _apt; do
  id -u "$u" >/dev/null 2>&1 && echo "uid $u $(id -u "$u")"; done
echo "swaps $(tail -n +2 /proc/swaps | wc -l)"
[ -d /var/log/journal ] && echo "journal-persistent yes" || echo "journal-persistent no"
[ -d /run/log/journal ] && echo "journal-volatile yes" || echo "journal-volatile no"
for k in %(sysctls)s; do echo "sysctl $k $(sysctl -n $k)"; done
for f in /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_rsa_key; do
  [ -s "$f" ] && echo "hostkey $f yes" || echo "hostkey $f no"; done
sshd -T 2>/dev/null | grep -E '^(permitrootlogin|passwordauthentication|kbdinteractiveauthentication) ' | sed 's/^/sshd /'
echo "apparmor $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)"
pid=$(pidof tor | cut -d' ' -f1)
[ -n "$pid" ] && echo "tor-confinement $(cat /proc/$pid/attr/current)" || echo "tor-confinement no-tor"
for d in %(daemons)s; do echo "runs-as $d $(ps -o user= -C $d | head -n 1)"; done
echo "machine-id $(cat /etc/machine-id)"
echo "passwords $(passwd -S root | cut -d' ' -f2) $(passwd -S nightjar-admin 2>/dev/null | cut -d' ' -f2)"
echo "tmp $(findmnt -n -o FSTYPE /tmp)"
echo NJ-PROBE-END
systemctl poweroff
"""

TIERS = {
    "edge": {"units": "nightjar-edge tor@default nftables ssh unbound systemd-timesyncd",
             "daemons": "nightjar-edge tor unbound"},
    "inner": {"units": "nightjar-inner tor@default nftables ssh systemd-timesyncd",
              "daemons": "nightjar-inner tor"},
}


def static_checks(tier, root):
    """What the root itself shows, before any boot."""
    def exists(rel):
        return os.path.lexists(os.path.join(root, rel.lstrip("/")))

    for rel in ["/usr/bin/gcc", "/usr/bin/cc", "/usr/bin/c++", "/usr/bin/g++", "/usr/bin/clang",
                "/usr/bin/as", "/usr/bin/ld", "/usr/bin/make"]:
        h.check(not exists(rel), "%s image carries a compiler or build tool: %s" % (tier, rel))
    lists = [n for n in os.listdir(os.path.join(root, "var/lib/apt/lists"))
             if n not in ("partial", "lock", "auxfiles")]
    h.check(not lists, "%s image keeps package lists: %s" % (tier, lists[:5]))
    caches = []
    for d, _, files in os.walk(os.path.join(root, "var/cache/apt")):
        caches += [os.path.join(d, f) for f in files if f != "lock"]
    h.check(not caches, "%s image keeps apt caches: %s" % (tier, caches[:5]))
    keys = [n for n in os.listdir(os.path.join(root, "etc/ssh")) if n.startswith("ssh_host_")]
    h.check(not keys, "%s image carries SSH host keys: %s" % (tier, keys))
    with open(os.path.join(root, "etc/machine-id")) as f:
        h.check(f.read().strip() == "", "%s image carries a machine id" % tier)
    if tier == "edge":
        for rel in ["/usr/bin/nightjar-inner", "/etc/nightjar/inner.yaml",
                    "/usr/share/doc/nightjar/inner.example.yaml", "/var/lib/nightjar-inner",
                    "/etc/systemd/system/nightjar-inner.service", "/etc/nightjar/keys/inner.secret"]:
            h.check(not exists(rel), "the edge image holds inner code or configuration: " + rel)
        # The edge's nightjarctl is the edge's: none of the inner's commands.
        _, helptext = h.run(["chroot", root, "/usr/bin/nightjarctl", "--help"])
        for cmd in ("account", "quota", "queue "):
            h.check("  " + cmd not in helptext,
                    "the edge's nightjarctl offers the inner's '%s':\n%s" % (cmd, helptext))
        with open(os.path.join(root, "usr/bin/nightjarctl"), "rb") as f:
            blob = f.read()
        # Names and text only the inner's code has ("mailbox" alone is common/mail's word too).
        for sym in (b"nj5inner", b"InnerConfig", b"nightjar mailbox key v1",
                    b"message larger than the mailbox quota"):
            h.check(sym not in blob, "the edge's nightjarctl links inner code (%r)" % sym)
    else:
        h.check(exists("/usr/bin/nightjar-inner") and exists("/etc/nightjar/inner.yaml"),
                "the inner image lacks its program or configuration")
        h.check(not exists("/usr/bin/nightjar-edge"), "the inner image carries nightjar-edge")


def exposure(root, unit):
    """systemd-analyze security's overall exposure of a unit file in the root (offline)."""
    _, out = h.run(["systemd-analyze", "security", "--offline=true", "--root=" + root,
                    "--no-pager", unit], check_rc=False)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    h.check(m is not None, "no exposure figure for %s:\n%s" % (unit, out[-3000:]))
    return float(m.group(1))


def check_report(tier, lines):
    text = "\n".join(lines)
    kv = {}
    for l in lines:
        parts = l.split(" ", 2)
        if len(parts) >= 2 and parts[0] in ("unit", "sysctl", "hostkey", "runs-as", "sshd", "uid"):
            kv[(parts[0], parts[1])] = parts[2] if len(parts) > 2 else ""
        elif len(parts) >= 2:
            kv[(parts[0], None)] = " ".join(parts[1:])
    for u in TIERS[tier]["units"].split():
        h.check(kv.get(("unit", u)) == "active", "%s: %s is not active:\n%s" % (tier, u, text))
    # Booted without a network (-nic none), waiting for one fails, as it should; nothing else may.
    failed = [l for l in lines if l.startswith("failed ") and
              l != "failed systemd-networkd-wait-online.service"]
    h.check(not failed, "%s: failed units %s:\n%s" % (tier, failed, text))
    nft = text.split("nft-begin", 1)[1].split("nft-end", 1)[0]
    # nft shows a user's uid; name them again.
    for (key, user), uid in kv.items():
        if key == "uid":
            nft = nft.replace("meta skuid %s " % uid, 'meta skuid "%s" ' % user)
    for chain in ("input", "forward", "output"):
        h.check(re.search(r"chain %s \{\s*type filter hook %s priority filter; policy drop;"
                          % (chain, chain), nft), "%s: chain %s is not default-drop:\n%s"
                % (tier, chain, nft))
    inbound = re.findall(r"tcp dport (\d+) accept", nft.split("chain forward")[0])
    want = ["25"] if tier == "edge" else []
    h.check(inbound == want, "%s: ports open inbound %s, want %s:\n%s" % (tier, inbound, want, nft))
    h.check('meta skuid "debian-tor"' in nft, "%s: tor may not go out:\n%s" % (tier, nft))
    if tier == "edge":
        h.check(re.search(r'meta skuid "nightjar-edge" tcp dport 25 accept', nft),
                "edge: nightjar-edge may not deliver on port 25:\n" + nft)
    else:
        h.check("nightjar-inner" not in nft, "inner: the inner may reach the network:\n" + nft)
    h.check(kv.get(("swaps", None)) == "0", "%s: swap is on:\n%s" % (tier, text))
    h.check(kv.get(("journal-persistent", None)) == "no" and
            kv.get(("journal-volatile", None)) == "yes", "%s: the journal is on disk" % tier)
    for k, v in SYSCTLS.items():
        h.check(kv.get(("sysctl", k)) == v, "%s: sysctl %s is %r, want %s" % (
            tier, k, kv.get(("sysctl", k)), v))
    h.check(kv.get(("hostkey", "/etc/ssh/ssh_host_ed25519_key")) == "yes",
            "%s: no SSH host key made at first boot" % tier)
    h.check(kv.get(("sshd", "permitrootlogin")) == "no" and
            kv.get(("sshd", "passwordauthentication")) == "no" and
            kv.get(("sshd", "kbdinteractiveauthentication")) == "no",
            "%s: sshd takes passwords or root:\n%s" % (tier, text))
    h.check(kv.get(("apparmor", None)) == "Y", "%s: AppArmor is off" % tier)
    h.check(kv.get(("tor-confinement", None), "").startswith("system_tor (enforce)"),
            "%s: tor is not confined: %r" % (tier, kv.get(("tor-confinement", None))))
    for d in TIERS[tier]["daemons"].split():
        want = {"tor": "debian-+", "unbound": "unbound"}.get(d, d)
        got = kv.get(("runs-as", d), "")
        h.check(got == want or (want.endswith("+") and got.startswith(want[:-1])),
                "%s: %s runs as %r" % (tier, d, got))
    h.check(re.fullmatch(r"[0-9a-f]{32}", kv.get(("machine-id", None), "")),
            "%s: no machine id made at boot" % tier)
    h.check(kv.get(("tmp", None)) == "tmpfs", "%s: /tmp is not in memory" % tier)
    # No password anywhere: root's and the admin login's are locked (the images fixture builds
    # the admin login in, with an SSH key).
    h.check(kv.get(("passwords", None)) == "L L", "%s: a password is set (passwd -S: %r)"
            % (tier, kv.get(("passwords", None))))


def test():
    work = im.workdir("images-t80")

    t0 = time.monotonic()
    roots, _ = im.shared_roots(work)
    edge_root, inner_root = roots["edge"], roots["inner"]
    t_roots = time.monotonic() - t0

    inv = im.chroot_inventory(
        os.path.join(work, "inventory.json"),
        edges={"mx1": (edge_root, {"edge_hostname": "mx1.example.org"})},
        inner=(inner_root, {}), common={"nightjar_domains": DOMAINS})
    t1 = time.monotonic()
    first, _ = im.provision(inv, os.path.join(work, "provision-1.log"))
    t_prov = time.monotonic() - t1
    h.check(all(r["changed"] > 0 for r in first.values()), "the first run changed nothing: %s"
            % first)
    second, out2 = im.provision(inv, os.path.join(work, "provision-2.log"))
    changed = {host: r["changed"] for host, r in second.items() if r["changed"]}
    h.check(not changed, "the second run of site.yml changed %s:\n%s" % (
        changed, "\n".join(l for l in out2.splitlines() if l.startswith("changed:"))))
    h.log("site.yml: first run %.0f s, second run changed nothing" % t_prov)

    figures = {}
    for tier, root in (("edge", edge_root), ("inner", inner_root)):
        im.image_build(["clean", root], 120, os.path.join(work, "clean-%s.log" % tier))
        static_checks(tier, root)
        figures[tier] = exposure(root, "nightjar-%s.service" % tier)
        h.log("%s unit exposure (systemd-analyze security --offline): %.1f"
              % (tier, figures[tier]))

    disks = {}
    for tier, root in (("edge", edge_root), ("inner", inner_root)):
        out = os.path.join(work, "nightjar-" + tier)
        im.image_build(["disk", root, out], 600, os.path.join(work, "disk-%s.log" % tier))
        h.check(os.path.getsize(out + ".qcow2") > 0, "no qcow2 made")
        probe_copy = out + "-probe.raw"
        shutil.copyfile(out + ".raw", probe_copy)
        im.add_probe(probe_copy, PROBE % {"units": TIERS[tier]["units"],
                                          "daemons": TIERS[tier]["daemons"],
                                          "sysctls": " ".join(SYSCTLS)})
        disks[tier] = probe_copy

    # Both machines boot at once (one core each).
    import threading
    results = {}

    def run(tier):
        results[tier] = im.boot(disks[tier], os.path.join(work, "console-%s.log" % tier))

    threads = [threading.Thread(target=run, args=(t,)) for t in disks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tier in disks:
        secs, console = results[tier]
        lines = im.report(console)
        h.log("%s booted, reported and powered off in %.0f s" % (tier, secs))
        check_report(tier, lines)
    h.log("figures: roots (copied, or built when run by hand) %.0f s, provisioning %.0f s, exposure edge %.1f inner %.1f"
          % (t_roots, t_prov, figures["edge"], figures["inner"]))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    h.main(test)
