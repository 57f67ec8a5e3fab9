"""The VM images, for the tests and benchmarks that build, provision and boot them: image/build
for roots, provisioning (ansible/site.yml through the chroot connection) and disks, and a probe
that boots a copy of a disk under qemu (TCG, no network unless asked) and reads what the booted
machine reports on its serial console.

The probe is added to a copy of the disk only (a unit that runs after boot, prints a report
between markers on the serial console and powers the machine off); the image itself is left as
image/build made it."""
import json, os, re, shutil, subprocess, sys, tempfile, time

import harness as h

SOURCE_DIR = os.environ.get("NJ_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.dirname(os.path.abspath(__file__))))))
BUILD = os.path.join(SOURCE_DIR, "image", "build")
BEGIN, END = "NJ-PROBE-BEGIN", "NJ-PROBE-END"


def wanted():
    """Image tests run only with IMAGES=1 (they fetch from the package mirror, need ~3 GB and
    take minutes; `.ci/run` sets it), and only on the normal build: an image carries the
    programs as they ship, never the ASan+UBSan build's."""
    if os.environ.get("IMAGES") != "1":
        return False
    try:
        with open(os.path.join(h.BUILD_DIR, "CMakeCache.txt")) as f:
            return "NJ_SANITIZE:BOOL=ON" not in f.read()
    except OSError:
        return True


def workdir(name):
    """A fresh directory for one image test under the build directory; exits with the skip code
    when image tests are not wanted."""
    if not wanted():
        h.log("skipped: set IMAGES=1 to build and boot the images")
        sys.exit(77)
    work = os.path.join(h.BUILD_DIR, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    return work


def image_build(args, timeout, log_path):
    """image/build ARGS..., its output in log_path; returns the output."""
    env = dict(os.environ, NJ_BUILD_DIR=h.BUILD_DIR)
    h.log("image/build", " ".join(args), "(log: %s)" % log_path)
    with open(log_path, "wb") as f:
        r = subprocess.run([BUILD] + list(args), stdin=subprocess.DEVNULL, stdout=f,
                           stderr=subprocess.STDOUT, timeout=timeout, env=env)
    with open(log_path, "rb") as f:
        out = f.read().decode("utf-8", "replace")
    h.check(r.returncode == 0, "image/build %s exited %d:\n%s" % (" ".join(args), r.returncode,
                                                                    out[-6000:]))
    return out


def build_roots(tiers, workdir, timeout=1500):
    """Root file systems for each tier (edge, inner, stock) by image/build roots (one minbase,
    copied; the tiers' parts at the same time); returns {tier: (root dir, seconds for all)}."""
    for tier in tiers:
        shutil.rmtree(os.path.join(workdir, tier + ".root"), ignore_errors=True)
    t0 = time.monotonic()
    image_build(["roots", workdir] + list(tiers), timeout, os.path.join(workdir, "roots.log"))
    secs = time.monotonic() - t0
    h.log("roots %s built in %.0f s" % (" ".join(tiers), secs))
    return {tier: (os.path.join(workdir, tier + ".root"), secs) for tier in tiers}


def chroot_inventory(path, edges, inner=None, common=None):
    """An inventory. edges: {name: (root, {vars})}; inner: (root, {vars}) or None; common: vars
    for all hosts. A host with a root is reached through the chroot connection; with root None,
    its vars say how (SSH)."""
    def host(root, extra):
        v = {} if root is None else {"ansible_host": root,
                                     "ansible_connection": "community.general.chroot"}
        v.update(extra or {})
        return v

    inv = {"all": {"vars": common or {}, "children": {
        "edges": {"hosts": {n: host(r, v) for n, (r, v) in edges.items()}},
        "inner": {"hosts": {"inner": host(*inner)} if inner else {}}}}}
    with open(path, "w") as f:
        json.dump(inv, f, indent=1)  # JSON is YAML
    return path


RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                   r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)


def recap(output):
    """{host: {"ok": n, "changed": n, "failed": n, "unreachable": n}} from PLAY RECAP."""
    out = {}
    for m in RECAP.finditer(output):
        out[m.group(1)] = {"ok": int(m.group(2)), "changed": int(m.group(3)),
                           "unreachable": int(m.group(4)), "failed": int(m.group(5))}
    return out


def provision(inventory, log_path, timeout=900, extra=()):
    """image/build provision INVENTORY: site.yml into the roots; returns (recap, output)."""
    out = image_build(["provision", inventory] + list(extra), timeout, log_path)
    rc = recap(out)
    h.check(rc, "no PLAY RECAP in:\n" + out[-4000:])
    for host, r in rc.items():
        h.check(r["failed"] == 0 and r["unreachable"] == 0,
                "%s: failed or unreachable in site.yml:\n%s" % (host, out[-6000:]))
    return rc, out


PROBE_UNIT = """[Unit]
Description=nightjar test probe (added to a test copy of the disk only)
After=multi-user.target
[Service]
# simple, not oneshot: the boot is finished (and is-system-running --wait returns) once the
# probe has started.
Type=simple
ExecStart=/usr/local/sbin/nj-probe
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
[Install]
WantedBy=multi-user.target
"""


def add_probe(raw, script, extra_files=None):
    """Mount the disk's partition and add the probe (a shell script run once the machine is up,
    which must end by printing END and powering off) and extra_files {path in image: bytes}."""
    mnt = tempfile.mkdtemp(prefix="nj-probe-mnt.")
    h.run(["mount", "-o", "loop,offset=%d" % (2048 * 512), raw, mnt])
    try:
        def put(rel, data, mode=0o644):
            p = os.path.join(mnt, rel.lstrip("/"))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
            os.chmod(p, mode)
        put("/usr/local/sbin/nj-probe", script, 0o755)
        put("/etc/systemd/system/nj-probe.service", PROBE_UNIT)
        wants = os.path.join(mnt, "etc/systemd/system/multi-user.target.wants")
        os.makedirs(wants, exist_ok=True)
        link = os.path.join(wants, "nj-probe.service")
        if not os.path.islink(link):
            os.symlink("/etc/systemd/system/nj-probe.service", link)
        for rel, data in (extra_files or {}).items():
            put(rel, data, 0o755 if rel.endswith((".sh", "/lynis")) else 0o644)
    finally:
        h.run(["umount", mnt])
        os.rmdir(mnt)


def disk_file(raw, rel):
    """The bytes of file rel in the disk's partition, or None when it is not there."""
    mnt = tempfile.mkdtemp(prefix="nj-probe-mnt.")
    h.run(["mount", "-o", "loop,ro,offset=%d" % (2048 * 512), raw, mnt])
    try:
        with open(os.path.join(mnt, rel.lstrip("/")), "rb") as f:
            return f.read()
    except OSError:
        return None
    finally:
        h.run(["umount", mnt])
        os.rmdir(mnt)


def boot(raw, console_path, timeout=600, nic=("-nic", "none"), memory=1024):
    """Boot a disk under qemu (TCG) until it powers off; returns (seconds, console text). The
    serial console goes to console_path."""
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(memory), "-smp", "1",
            "-display", "none", "-no-reboot", "-serial", "file:" + console_path,
            "-drive", "file=%s,format=raw,if=virtio" % raw] + list(nic)
    h.log("boot:", " ".join(argv))
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    secs = time.monotonic() - t0
    with open(console_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    return secs, text


def report(console):
    """The probe's lines between BEGIN and END, or a failure showing the console's end."""
    h.check(BEGIN in console and END in console,
            "the probe did not report; the console ends with:\n" + console[-5000:])
    body = console.split(BEGIN, 1)[1].split(END, 1)[0]
    return [l.rstrip("\r") for l in body.splitlines()]


# ---------------------------------------------------------------------------------------------
# A provisioned root as a machine without booting it: its units' daemons run in a chroot on this
# machine's network, started as systemd would start them from the unit file the root holds.


def unit_directives(root, unit):
    """{directive: [values]} of /etc/systemd/system/UNIT in root."""
    with open(os.path.join(root, "etc/systemd/system", unit)) as f:
        return h.unit_settings(f.read())


class Mounts:
    """/proc and /dev in a root while its daemons run (and while ansible works in it)."""

    def __init__(self, root):
        self.root, self.done = root, []

    def __enter__(self):
        for kind, target in (("proc", "proc"), ("dev", "dev")):
            path = os.path.join(self.root, target)
            argv = ["mount", "-t", "proc", "proc", path] if kind == "proc" else \
                ["mount", "--bind", "/dev", path]
            h.run(argv)
            self.done.append(path)
        return self

    def __exit__(self, *a):
        for path in reversed(self.done):
            subprocess.run(["umount", "-l", path], check=False)


def as_unit_user(d):
    """The setpriv prefix (run inside the root) that makes a command the unit's User= with the
    unit's ambient capabilities; [] for a unit that runs as root. d: unit_directives."""
    user = (d.get("User") or [""])[-1]
    if not user:
        return []
    out = ["setpriv", "--reuid", user, "--regid", user, "--init-groups"]
    caps = " ".join(d.get("AmbientCapabilities", [])).split()
    if caps:
        names = ",".join("+" + c.lower().replace("cap_", "") for c in caps)
        out += ["--inh-caps", names, "--ambient-caps", names]
    return out + ["--"]


def start_unit(root, unit, log_path):
    """Start UNIT's daemon in root as its unit file says: its credentials (LoadCredential) copied
    where systemd puts them, its StateDirectory made for its User, ExecStartPre then ExecStart
    run as User with the unit's ambient capabilities (setpriv inside the root). Returns the
    Proc."""
    d = unit_directives(root, unit)
    user = (d.get("User") or [""])[-1]
    env_pw = None
    if user:
        with open(os.path.join(root, "etc/passwd")) as f:
            for line in f:
                parts = line.split(":")
                if parts[0] == user:
                    env_pw = (int(parts[2]), int(parts[3]))
        h.check(env_pw is not None, "%s: User=%s is not in the root's passwd" % (unit, user))
    cred_dir = os.path.join(root, "run/credentials", unit)
    shutil.rmtree(cred_dir, ignore_errors=True)
    for spec in d.get("LoadCredential", []):
        # NAME:FILE is one credential; NAME:DIRECTORY is one per file in it, NAME_FILENAME.
        name, src = spec.split(":", 1)
        src = os.path.join(root, src.lstrip("/"))
        items = [(name, src)] if not os.path.isdir(src) else \
            [(name + "_" + n, os.path.join(src, n)) for n in sorted(os.listdir(src))
             if os.path.isfile(os.path.join(src, n))]
        os.makedirs(cred_dir, exist_ok=True)
        for cred, path in items:
            dst = os.path.join(cred_dir, cred)
            shutil.copyfile(path, dst)
            os.chmod(dst, 0o400)
            if env_pw:
                os.chown(dst, *env_pw)
    for sd in d.get("StateDirectory", []):
        for name in sd.split():
            # systemd makes it and gives it, and what is in it, to the unit's user.
            path = os.path.join(root, "var/lib", name)
            os.makedirs(path, exist_ok=True)
            os.chmod(path, int((d.get("StateDirectoryMode") or ["0755"])[-1], 8))
            if env_pw:
                for dirpath, dirs, files in os.walk(path):
                    for n in [dirpath] + [os.path.join(dirpath, f) for f in dirs + files]:
                        os.lchown(n, *env_pw)
    prefix = ["chroot", root] + as_unit_user(d)
    # systemd tells the unit's processes where their credentials are.
    env = dict(os.environ)
    env.pop("CREDENTIALS_DIRECTORY", None)
    if d.get("LoadCredential"):
        env["CREDENTIALS_DIRECTORY"] = "/run/credentials/" + unit
    for pre in d.get("ExecStartPre", []):
        h.run(prefix + pre.lstrip("-+!").split(), timeout=60, env=env)
    main = d["ExecStart"][-1].lstrip("-+!").split()
    return h.Proc(prefix + main, log_path, env=env)


# ---------------------------------------------------------------------------------------------
# The roots the image tests share: built once per ctest run by the `images` fixture (like the
# private Tor network), copied by each test that needs them. An admin key is built into both (as
# an operator builds images that can be reached to provision them), so t_81 can log in over SSH.


def build_shared(dirpath):
    """The fixture's set-up: edge and inner roots in dirpath, with an admin key (dirpath/admin)."""
    os.makedirs(dirpath, exist_ok=True)
    key = os.path.join(dirpath, "admin")
    if not os.path.exists(key):
        h.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nightjar-test-admin",
               "-f", key])
    with open(key + ".pub") as f:
        pub = f.read().strip()
    image_vars = os.path.join(dirpath, "image-vars.json")
    with open(image_vars, "w") as f:
        # Reached through qemu's user network, whose forwarded connections come from 10.0.2.2.
        json.dump({"base_admin_keys": [pub], "base_ssh_from": ["10.0.2.2/32"]}, f)
    os.environ["NJ_IMAGE_VARS"] = image_vars
    return build_roots(["edge", "inner"], dirpath)


def shared_roots(workdir):
    """Fresh copies of the shared roots in workdir: {tier: root}, and the admin key's path. The
    roots come from the fixture's directory (NJ_IMAGES_DIR) when ctest runs the test; run by
    hand, the test builds its own."""
    src = os.environ.get("NJ_IMAGES_DIR")
    if not src or not os.path.isdir(os.path.join(src, "edge.root")):
        src = os.path.join(workdir, "shared")
        build_shared(src)
    out = {}
    for tier in ("edge", "inner"):
        dst = os.path.join(workdir, tier + ".copy")
        shutil.rmtree(dst, ignore_errors=True)
        h.run(["cp", "-a", os.path.join(src, tier + ".root"), dst], timeout=900)
        out[tier] = dst
    return out, os.path.join(src, "admin")


if __name__ == "__main__":
    # lib/images.py up|down DIR: the ctest fixture.
    what, dirpath = sys.argv[1], sys.argv[2]
    if what == "down":
        shutil.rmtree(dirpath, ignore_errors=True)
    elif wanted():
        build_shared(dirpath)
    else:
        h.log("images fixture: nothing to do without IMAGES=1")
