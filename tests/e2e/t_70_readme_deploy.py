#!/usr/bin/env python3
"""README.md's "Deploying the edge" and "Deploying the inner", followed as written.

The test plays a new operator with two machines. Each machine is a scratch directory standing for
`/` (its root) and a working directory standing for the checkout (symlinks to the source tree,
`build` to this build directory). Every shell block of the README's "Deploying" section is marked
with an HTML comment `<!-- nj-deploy: MACHINE STEP -->`, invisible on GitHub; the test runs each
one with /bin/sh -e in the order the README asks for (steps 1 and 2 on both machines, then the
rest), changing one thing only: every absolute path under /etc, /var and /usr gets the machine's
root in front (the same rewrite is applied to the configuration files the steps install and to
the commands of the systemd units they install). `nightjarctl` and the daemons are the copies the
steps installed, found through the root's /usr/bin on PATH.

Not run, and why, is the table NOT_RUN below: `useradd` (the daemons run as `nobody`, and the
test checks that the account the README creates is the one the example configuration and the
unit name) and `systemctl` (the test starts each installed unit's ExecStartPre and ExecStart
itself, as systemd would: see below).

What an operator copies between the machines (the other side's public key) the test copies into
the working directory where the README says to put it. Each machine's `nightjarctl` is the one its
step 1 installed, and must be that machine's tool (the edge's lists edge-queue and no account
command, the inner's the other way round). Edge step 6's `nightjarctl overlay tor --config
edge.yaml --name NAME --link-port PORT` runs on the edge and must print the edge's torrc part, its
MX record for the public domain, and no SRV record, since no tor has written the OnionMX onion's
name yet; inner step 4's `nightjarctl overlay tor --config inner.yaml` runs on the inner and must
print the inner's torrc part and, for the edge's entry, the very command line edge step 6 runs
(`--name NAME --link-port PORT`). (Their output is for tor: the test then pairs the two over the
`direct` transport, in the inner's `edges:` entry NAME; t_68 runs overlay tor's output against
real tors.) Between installing a configuration and
checking it, the test makes only the edits a test machine needs, listed with their reasons in
edge_edits() and inner_edits(): free loopback ports instead of 25 and the example's ports,
`nobody` as `user`, the test's DNS server, no greylisting wait, the test's MTA as the Internet,
no delay class, and the `direct` link instead of step 4's Tor. Paths, key files, the certificate,
domains and names stay as the README and the examples have them, so a step or an example that
disagrees with the others (a key path keygen never writes, a credential the unit does not hand
in, a user the README never creates, an internal domain the two examples spell differently, a
unit that cannot start the daemon) fails here.

The units are started as systemd would start them, from the directives of the installed unit
file: as its User= and Group= (`nobody`) from the start, with only its AmbientCapabilities=
(the edge's MX port is below 1024), within its CapabilityBoundingSet= and NoNewPrivileges=;
StateDirectory= makes data_dir (or gives it to the user, with all it holds, when it is not the
user's: the README's `install -d` leaves it root's) and sets its mode; LoadCredential= copies the
keys and the certificate into a directory that stands for /run/credentials/UNIT, mounted there in
a mount namespace of the daemon's own, with $CREDENTIALS_DIRECTORY naming it. The daemon must run
as nobody with exactly those capabilities, own all of its data_dir, and start again (a restart).
Not emulated: the rest of the sandbox (system call filter, namespaces, PrivateUsers= and the
like), which needs systemd. The README's table of paths and names is checked against what the
steps made on each machine.

Mail goes both ways: Internet -> user (SMTP with STARTTLS to the edge's MX port, presenting the
certificate of edge step 3; fetched by POP3 at the inner) and user -> Internet (submission at the
inner with AUTH, delivered by the edge to an smtp-sink found by MX, From rewritten to the public
domain)."""
import os
import poplib
import pwd
import random
import re
import shlex
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h  # noqa: E402
import inner as ih  # noqa: E402

README = os.path.join(h.SOURCE_DIR, "README.md")
MARKER = re.compile(r"^( *)<!-- nj-deploy: (edge|inner) ([0-9]+(?: check)?) -->$")

# The order the README asks for: steps 1 and 2 on both machines before step 3 on either.
ORDER = [("edge", "1"), ("edge", "2"), ("inner", "1"), ("inner", "2"),
         ("edge", "3"), ("edge", "4"), ("edge", "4 check"), ("edge", "5"), ("edge", "6"),
         ("inner", "3"), ("inner", "3 check"), ("inner", "4"), ("inner", "5"), ("inner", "6")]

# Commands of the marked blocks that are not run, by their first words. Nothing else is skipped.
NOT_RUN = [
    ("useradd", "it would add an account to the test machine; the daemons run as nobody"),
    ("systemctl", "no systemd here; the test starts the installed unit's commands itself"),
]

# What the operator carries from one machine to the other before a step: (step, from machine,
# file there, name in the working directory).
CARRIED = {
    ("edge", "4"): ("inner", "/etc/nightjar/keys/inner.pub", "inner.pub"),
    ("inner", "3"): ("edge", "/etc/nightjar/keys/edge.pub", "edge.pub"),
}

# The parts each machine's `nightjarctl overlay tor` prints (edge step 6, inner step 4).
EDGE_PART = "# ---- torrc on edge %s's machine ----"
DNS_PART = "# ---- DNS: publish in each public domain's zone ----"
INNER_PART = "# ---- torrc on the inner's machine ----"
EACH_EDGE = "# ---- on each edge's machine ----"

# The commands each machine's operator tool lists, and those it must not (the other tier's).
TOOLS = {"edge": (["keygen", "status", "overlay", "edge-queue", "dkim"],
                  ["account", "queue", "edge"]),
         "inner": (["keygen", "account", "quota", "queue", "edge", "status", "overlay"],
                   ["edge-queue"])}

# Absolute paths the prefix goes in front of. Not after a word character, a dot, a slash or a
# colon, so relative paths and URLs (file:///usr/...) stay as they are.
ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:etc|var|usr)/")

PASSWORD = "correct horse t70"


def readme_blocks():
    """{(machine, step): script} for the marked blocks, and every sh block of the Deploying
    section that is not marked (there must be none)."""
    lines = open(README, encoding="utf-8").read().split("\n")
    blocks, unmarked, in_deploy, i = {}, [], False, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            in_deploy = line.startswith("## Deploying")
        m = MARKER.match(line)
        fence = line.strip().startswith("```")
        if m:
            indent, key = m.group(1), (m.group(2), m.group(3))
            h.check(key not in blocks, "README: %s %s is marked twice" % key)
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            h.check(j < len(lines) and lines[j] == indent + "```sh",
                    "README line %d: the marker is not followed by a ```sh block" % (i + 1))
            body, j = [], j + 1
            while j < len(lines) and lines[j] != indent + "```":
                h.check(lines[j].startswith(indent) or not lines[j].strip(),
                        "README line %d: not indented like its block" % (j + 1))
                body.append(lines[j][len(indent):])
                j += 1
            h.check(j < len(lines), "README: the block of %s %s does not end" % key)
            blocks[key] = "\n".join(body) + "\n"
            i = j + 1
            continue
        if fence and in_deploy:
            if line.strip().startswith("```sh"):
                unmarked.append(i + 1)
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            i = j + 1
            continue
        i += 1
    return blocks, unmarked


def readme_table():
    """The table of paths and names at the top of "Deploying": [(what, edge cell, inner cell)]."""
    rows, in_deploy = [], False
    for line in open(README, encoding="utf-8").read().split("\n"):
        if line.startswith("## ") or line.startswith("### "):
            in_deploy = line == "## Deploying"
        elif in_deploy and line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] != "what":
                h.check(len(cells) == 3, "README's table: not what | edge | inner: %r" % line)
                rows.append(tuple(cells))
    h.check(rows, "README's \"Deploying\" has no table of paths")
    return rows


def check_table(machines):
    """Every path the table names exists on its machine after the steps; its users are the ones
    the steps create. A bare file name is in the directory of the path before it."""
    for what, *cells in readme_table():
        for m, cell in zip((machines["edge"], machines["inner"]), cells):
            last_dir = None
            for token in re.findall(r"`([^`]+)`", cell):
                if what == "system user":
                    h.check(m.users_made() == [token], "README's table names the %s user %s, "
                            "step 2 creates %r" % (m.name, token, m.users_made()))
                    continue
                if token.startswith("/"):
                    path, last_dir = token, os.path.dirname(token)
                else:
                    h.check(last_dir and "/" not in token, "README's table, %s: %r is not a "
                            "path" % (what, token))
                    path = last_dir + "/" + token
                h.check(os.path.exists(m.path(path)), "README's table, %s: %s does not exist on "
                        "the %s after the steps" % (what, path, m.name))


def logical_lines(script):
    """Shell lines with backslash continuations joined."""
    out, cur = [], ""
    for line in script.split("\n"):
        if line.endswith("\\"):
            cur += line[:-1]
            continue
        cur += line
        if cur.strip():
            out.append(cur)
        cur = ""
    return out


def not_run_reason(line):
    words = line.split()
    for prefix, why in NOT_RUN:
        p = prefix.split()
        if words[:len(p)] == p:
            return why
    return None


class Machine:
    """A scratch root standing for / and a working directory standing for the checkout."""

    def __init__(self, tdir, name):
        self.name = name
        self.root = tdir.sub(name + "-root")
        for d in ("etc/systemd/system", "usr/bin", "usr/sbin", "var/lib", "usr/share"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        # What a Debian package the machine has (make deps installs it) puts under /usr and a
        # configuration names: the edge's DMARC check reads the public suffix list.
        for shared in ("publicsuffix",):
            os.symlink(os.path.join("/usr/share", shared),
                       os.path.join(self.root, "usr/share", shared))
        self.cwd = tdir.sub(name + "-checkout")
        for entry in os.listdir(h.SOURCE_DIR):
            if entry not in ("build", ".git"):
                os.symlink(os.path.join(h.SOURCE_DIR, entry), os.path.join(self.cwd, entry))
        os.symlink(h.BUILD_DIR, os.path.join(self.cwd, "build"))
        self.not_run = []  # (line, why)

    def users_made(self):
        """The accounts the README's (skipped) useradd lines create."""
        return [line.split()[-1] for line, _ in self.not_run if line.split()[0] == "useradd"]

    def rewrite(self, text):
        return ABSOLUTE.sub(lambda m: self.root + m.group(0), text)

    def path(self, absolute):
        return self.root + absolute

    def run_block(self, step, script, stdin=""):
        lines = []
        for line in logical_lines(script):
            why = not_run_reason(line)
            if why:
                h.log("%s %s: not run (%s): %s" % (self.name, step, why, line.strip()))
                self.not_run.append((line.strip(), why))
            else:
                lines.append(self.rewrite(line))
        if not lines:
            return ""
        env = dict(os.environ)
        env["PATH"] = "%s/usr/bin:%s/usr/sbin:%s" % (self.root, self.root, env.get("PATH", ""))
        r = subprocess.run(["/bin/sh", "-e", "-x", "-c", "\n".join(lines) + "\n"], cwd=self.cwd,
                           env=env, input=stdin.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out = r.stdout.decode("utf-8", "replace")
        h.log("%s %s:\n%s" % (self.name, step, out))
        h.check(r.returncode == 0, "README, %s step %s, failed (exit %d):\n%s"
                % (self.name, step, r.returncode, out))
        return out

    def read(self, absolute):
        with open(self.path(absolute), encoding="utf-8") as f:
            return f.read()

    def write(self, absolute, text):
        with open(self.path(absolute), "w", encoding="utf-8") as f:
            f.write(text)


# ---- editing the installed YAML the way an operator would: one key's value in place


def _key_line(lines, dotted):
    want, stack = dotted.split("."), []
    for n, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z0-9_]+):", line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        stack = stack[:depth] + [m.group(2)]
        if stack == want:
            return n, m.group(1)
    raise h.TestFailure("the example configuration has no key %s" % dotted)


def set_key(text, dotted, value):
    """The value of a key written on its own line; None removes the line."""
    lines = text.split("\n")
    n, indent = _key_line(lines, dotted)
    if value is None:
        del lines[n]
    else:
        if isinstance(value, list):
            v = "[%s]" % ", ".join('"%s"' % x for x in value)
        else:
            v = h._yaml_scalar(value)
        lines[n] = "%s%s: %s" % (indent, dotted.split(".")[-1], v)
    return "\n".join(lines)


def key_value(text, dotted):
    lines = text.split("\n")
    n, _ = _key_line(lines, dotted)
    return lines[n].split(":", 1)[1].strip()


def edge_edits(mx, onion_mx, link, dns, sink_port):
    """(key, value, why): what the test changes in the installed edge.yaml."""
    return [
        ("user", "nobody", "useradd is not run"),
        ("listen.mx", ["127.0.0.1:%d" % mx], "port 25 may be taken on a test machine; another "
         "port below 1024, which the edge binds only with the unit's capability"),
        ("listen.onion_mx", ["127.0.0.1:%d" % onion_mx], "the example's port may be taken"),
        ("listen.link", ["127.0.0.1:%d" % link], "the example's port may be taken"),
        ("dns.servers", [dns], "the test's DNS server (unbound with the test's zones)"),
        ("checks.greylist.enabled", False, "the first delivery would wait 300 s"),
        ("outbound.smtp_port", sink_port, "the test's Internet MTA listens on a free port"),
        ("outbound.allow_private_addresses", True, "...on 127.0.0.1"),
    ]


def inner_edits(submission, pop3):
    return [
        ("user", "nobody", "useradd is not run"),
        ("listen.submission", ["127.0.0.1:%d" % submission], "the example's port may be taken"),
        ("listen.pop3", ["127.0.0.1:%d" % pop3], "the example's port may be taken"),
        ("delay.default", "none", "Internet mail would wait 2000 to 4000 s"),
    ]


def pairing_edits(link):
    """Step 4 pairs over Tor; the test sets the inner's `edges:` entry for `direct` instead."""
    return [
        ("address", "127.0.0.1:%d" % link, "the edge's link listener"),
        ("transport", "direct", "no Tor in this test"),
        ("socks", None, "direct uses no SOCKS proxy"),
    ]


def set_entry_key(text, list_key, name, key, value):
    """The value of `key` in the entry `- name: NAME` of the top-level list `list_key`, written
    on its own line; None removes the line."""
    lines = text.split("\n")
    start = next((n for n, line in enumerate(lines) if line == list_key + ":"), None)
    h.check(start is not None, "the configuration has no %s: list" % list_key)
    n, entry_indent = start + 1, None
    while n < len(lines) and (not lines[n].strip() or lines[n].startswith(" ")):
        m = re.match(r"^( *)- name: (\S+)$", lines[n])
        if m:
            entry_indent = len(m.group(1)) + 2 if m.group(2) == name else None
        elif entry_indent is not None:
            m = re.match(r"^( *)([A-Za-z0-9_]+):", lines[n])
            if m and len(m.group(1)) == entry_indent and m.group(2) == key:
                if value is None:
                    del lines[n]
                else:
                    lines[n] = "%s%s: %s" % (m.group(1), key, h._yaml_scalar(value))
                return "\n".join(lines)
        n += 1
    raise h.TestFailure("%s: no entry %s with a %s line" % (list_key, name, key))


def configure(machine, absolute, edits):
    """The installed configuration with the root in front of its paths, then the edits."""
    text = machine.rewrite(machine.read(absolute))
    for key, value, why in edits:
        h.log("%s: %s -> %r (%s)" % (absolute, key, value, why))
        text = set_key(text, key, value)
    machine.write(absolute, text)
    return text


# ---- the installed systemd units, started as systemd would start them

# The directory systemd puts units' credentials in (LoadCredential=). The daemons see the copies
# the test makes there through a mount namespace of their own, as under systemd, where the
# configuration names them without the machine's root in front.
CREDENTIALS = "/run/credentials"

# Capabilities by name, for what /proc/PID/status shows (CapEff is a bit mask).
CAP_BITS = {"cap_net_bind_service": 10}


def one(unit, u, key):
    h.check(len(u.get(key, [])) == 1, "%s: wanted one %s= line: %r" % (unit, key, u.get(key)))
    return u[key][0]


def state_directory(machine, unit, u, uid, gid):
    """StateDirectory= and StateDirectoryMode=: /var/lib/NAME made if missing, given to the
    unit's user (all of it, when the directory itself is not the user's yet) and set to the
    mode, as systemd does at every start. Returns its path."""
    path = machine.path("/var/lib/" + one(unit, u, "StateDirectory"))
    mode = int(one(unit, u, "StateDirectoryMode"), 8)
    os.makedirs(path, mode=mode, exist_ok=True)
    st = os.stat(path)
    if (st.st_uid, st.st_gid) != (uid, gid):
        for d, dirs, files in os.walk(path):
            for p in [d] + [os.path.join(d, x) for x in dirs + files]:
                os.lchown(p, uid, gid)
    os.chmod(path, mode)
    return path


def credentials(machine, unit, u, uid, gid, tdir):
    """LoadCredential=ID:PATH: the file PATH as ID, or every file under the directory PATH as
    ID_NAME (symbolic links left out), copied afresh into a directory standing for
    /run/credentials/UNIT: files 0400 and the directory 0500, the unit's user's. Returns the
    directory that stands for /run/credentials."""
    root = os.path.join(tdir.path, "%s-credentials" % machine.name)
    shutil.rmtree(root, ignore_errors=True)
    ours = os.path.join(root, unit)
    os.makedirs(ours)
    os.chmod(root, 0o755)

    def load(cred_id, src):
        if os.path.islink(src):
            return
        if os.path.isdir(src):
            for name in sorted(os.listdir(src)):
                load(cred_id + "_" + name, os.path.join(src, name))
            return
        h.check(os.path.isfile(src), "%s: LoadCredential=%s: no file %s" % (unit, cred_id, src))
        dst = os.path.join(ours, cred_id)
        shutil.copyfile(src, dst)
        os.chown(dst, uid, gid)
        os.chmod(dst, 0o400)

    for line in u.get("LoadCredential", []):
        cred_id, _, src = line.partition(":")
        h.check(src.startswith("/"), "%s: LoadCredential=%s: not ID:/PATH" % (unit, line))
        load(cred_id, machine.path(src))
    os.chown(ours, uid, gid)
    os.chmod(ours, 0o500)
    return root


def capabilities(unit, u, key):
    """The capabilities a CapabilityBoundingSet= or AmbientCapabilities= line names."""
    caps = one(unit, u, key).lower().split()
    h.check(all(c.startswith("cap_") for c in caps), "%s: %s=%r" % (unit, key, caps))
    return caps


def start_unit(machine, unit, data_dir, ports, tdir):
    """ExecStartPre, then ExecStart as a child, the way systemd starts them from the installed
    unit file: as its User= and Group= (nobody here: useradd is not run) with the unit's
    AmbientCapabilities= only, within its CapabilityBoundingSet= and NoNewPrivileges=; after
    StateDirectory= has made and given data_dir; with LoadCredential='s copies in
    /run/credentials/UNIT and $CREDENTIALS_DIRECTORY naming it."""
    u = h.unit_settings(machine.read("/etc/systemd/system/" + unit))
    user = machine.users_made()
    h.check([one(unit, u, "User"), one(unit, u, "Group")] == user * 2,
            "%s: User=%s Group=%s, but README's useradd creates %r" % (
                unit, u.get("User"), u.get("Group"), user))
    nobody = pwd.getpwnam("nobody")
    uid, gid = nobody.pw_uid, nobody.pw_gid
    state = state_directory(machine, unit, u, uid, gid)
    h.check(state == data_dir, "%s: StateDirectory= makes %s, but data_dir is %s"
            % (unit, state, data_dir))
    creds = credentials(machine, unit, u, uid, gid, tdir)
    bounding = capabilities(unit, u, "CapabilityBoundingSet")
    ambient = capabilities(unit, u, "AmbientCapabilities")
    h.check(set(ambient) <= set(bounding), "%s: ambient %r outside the bounding set %r"
            % (unit, ambient, bounding))
    setpriv = ["setpriv", "--reuid", str(uid), "--regid", str(gid), "--init-groups",
               "--bounding-set", ",".join(["-all"] + ["+" + c[4:] for c in bounding])]
    if ambient:
        added = ",".join("+" + c[4:] for c in ambient)
        setpriv += ["--inh-caps", added, "--ambient-caps", added]
    if u.get("NoNewPrivileges") == ["yes"]:
        setpriv.append("--no-new-privs")
    # Its own mount namespace, in which /run/credentials is the directory made above.
    os.makedirs(CREDENTIALS, exist_ok=True)
    sandbox = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
               'mount --bind "$0" %s && exec "$@"' % CREDENTIALS, creds] + setpriv + ["--"]
    env = dict(os.environ, CREDENTIALS_DIRECTORY=CREDENTIALS + "/" + unit)
    h.run(sandbox + shlex.split(machine.rewrite(one(unit, u, "ExecStartPre"))), env=env)
    argv = sandbox + shlex.split(machine.rewrite(one(unit, u, "ExecStart")))
    n = 1
    while os.path.exists(os.path.join(tdir.path, "%s.%d.log" % (unit, n))):
        n += 1
    proc = h.Proc(argv, os.path.join(tdir.path, "%s.%d.log" % (unit, n)), env=env)
    for port in ports:
        h.wait_tcp(port, proc=proc)
    # The daemon was its user from the start and kept only the unit's ambient capabilities.
    with open("/proc/%d/status" % proc.pid) as f:
        status = f.read()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    h.check(all(int(x) == uid for x in uids), "%s runs as %r, not nobody" % (unit, uids))
    effective = int(re.search(r"^CapEff:\s+(\S+)$", status, re.M).group(1), 16)
    want = sum(1 << CAP_BITS[c] for c in ambient)
    h.check(effective == want, "%s has the capabilities %#x, not %#x (%s)"
            % (unit, effective, want, ambient))
    for d, dirs, files in os.walk(data_dir):
        for p in [d] + [os.path.join(d, x) for x in dirs + files]:
            h.check(os.lstat(p).st_uid == uid, "%s: %s is not the daemon user's" % (unit, p))
    return proc


def free_privileged_port():
    """A port below 1024 free on 127.0.0.1 right now: the edge binds it only with the unit's
    capability."""
    for port in random.sample(range(600, 1024), 424):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise h.TestFailure("no free port below 1024")


def wait_log(proc, needle, timeout=30):
    ih.wait_until(lambda: needle in proc.output(), timeout,
                  "%r in %s" % (needle, proc.log_path))


def pop3_messages(port, user, password):
    p = poplib.POP3("127.0.0.1", port, timeout=30)
    try:
        p.user(user)
        p.pass_(password)
        n, _ = p.stat()
        return [b"\r\n".join(p.retr(i)[1]).decode("utf-8", "replace") for i in range(1, n + 1)]
    finally:
        p.quit()


def test():
    h.require_edge()
    ih.require_inner()
    blocks, unmarked = readme_blocks()
    h.check(not unmarked, "README lines %s: shell blocks in \"Deploying\" that this test does "
            "not run (mark them <!-- nj-deploy: MACHINE STEP --> and add them to ORDER)"
            % unmarked)
    h.check(sorted(blocks) == sorted(ORDER), "README's marked blocks %s are not the steps this "
            "test runs %s" % (sorted(blocks), sorted(ORDER)))
    h.check(re.search(r"account add (\S+)", blocks[("inner", "6")]),
            "README, inner step 6, adds no account")
    made_credentials = not os.path.exists(CREDENTIALS)
    try:
        run_deploy(blocks)
    finally:
        if made_credentials and os.path.isdir(CREDENTIALS):
            os.rmdir(CREDENTIALS)


def run_deploy(blocks):
    """Both machines' steps, the daemons started from their units, mail both ways, a restart."""
    account = re.search(r"account add (\S+)", blocks[("inner", "6")]).group(1)
    zones = dict(h.sender_zones())
    zones["dest.test"] = [("@", "MX", "10 mx.dest.test."), ("mx", "A", "127.0.0.1")]
    with h.TestDir("t_70") as tdir, h.SmtpSink(tdir) as sink, \
            h.Unbound(tdir, zones) as ub:
        edge, inner = Machine(tdir, "edge"), Machine(tdir, "inner")
        machines = {"edge": edge, "inner": inner}
        mx, onion_mx, link = free_privileged_port(), h.free_port(), h.free_port()
        submission, pop3 = h.free_port(), h.free_port()
        procs = []
        try:
            for who, step in ORDER:
                m = machines[who]
                if (who, step) in CARRIED:
                    src, path, name = CARRIED[(who, step)]
                    with open(os.path.join(m.cwd, name), "w") as f:
                        f.write(machines[src].read(path))
                out = m.run_block(step, blocks[(who, step)],
                                  stdin=PASSWORD + "\n" if (who, step) == ("inner", "6") else "")
                if step == "1":
                    check_tool(m)
                elif (who, step) == ("edge", "6"):
                    check_edge_overlay(out, blocks[(who, step)], edge_cfg)
                elif (who, step) == ("inner", "4"):
                    check_inner_overlay(out, blocks[("edge", "6")])

                if (who, step) == ("edge", "4"):
                    text = edge.read("/etc/nightjar/edge.yaml")
                    check_user(edge, text)
                    edge_cfg = configure(edge, "/etc/nightjar/edge.yaml",
                                         edge_edits(mx, onion_mx, link, ub.addr, sink.port))
                elif (who, step) == ("edge", "5"):
                    procs.append(start_unit(edge, "nightjar-edge.service",
                                            key_value(edge_cfg, "data_dir"), [mx, link], tdir))
                elif (who, step) == ("inner", "3"):
                    text = inner.read("/etc/nightjar/inner.yaml")
                    check_user(inner, text)
                    configure(inner, "/etc/nightjar/inner.yaml", inner_edits(submission, pop3))
                elif (who, step) == ("inner", "4"):
                    inner_cfg = inner.read("/etc/nightjar/inner.yaml")
                    name = edge_overlay_options(blocks[("edge", "6")])[0]
                    for key, value, why in pairing_edits(link):
                        h.log("inner.yaml: edges %s %s -> %r (%s)" % (name, key, value, why))
                        inner_cfg = set_entry_key(inner_cfg, "edges", name, key, value)
                    inner.write("/etc/nightjar/inner.yaml", inner_cfg)
                elif (who, step) == ("inner", "5"):
                    procs.append(start_unit(inner, "nightjar-inner.service",
                                            key_value(inner_cfg, "data_dir"),
                                            [submission, pop3], tdir))
            check_table(machines)
            skipped = {why for m in machines.values() for _, why in m.not_run}
            h.check(skipped == {why for _, why in NOT_RUN},
                    "not every NOT_RUN entry matched a README line (stale table?): %r" % skipped)

            wait_log(procs[1], "link up")
            wait_log(procs[0], " up queued=")
            mail_both_ways(edge, edge_cfg, account, mx, submission, pop3, sink)

            # A restart (a reboot, `systemctl restart`): data_dir is the user's already, with
            # what the daemons and `nightjarctl account` (as root) wrote there, and the
            # credentials are copied afresh.
            for p in reversed(procs):
                rc = p.stop(timeout=15)
                h.check(rc == 0, "%s exited %r on SIGTERM" % (p.argv, rc))
            procs[0] = start_unit(edge, "nightjar-edge.service", key_value(edge_cfg, "data_dir"),
                                  [mx, link], tdir)
            procs[1] = start_unit(inner, "nightjar-inner.service",
                                  key_value(inner_cfg, "data_dir"), [submission, pop3], tdir)
            wait_log(procs[1], "link up")
            h.check(len(pop3_messages(pop3, account, PASSWORD)) == 1,
                    "the mailbox after the restart")
            for p in reversed(procs):
                rc = p.stop(timeout=15)
                h.check(rc == 0, "%s exited %r on SIGTERM" % (p.argv, rc))
        except BaseException:
            for p in procs:
                h.log("%s:\n%s" % (p.log_path, p.output()[-5000:]))
            raise
        finally:
            for p in procs:
                p.stop()


def check_tool(machine):
    """The machine's installed nightjarctl (step 1) is its own tier's."""
    r = subprocess.run([machine.path("/usr/bin/nightjarctl"), "--help"], capture_output=True,
                       text=True, timeout=30)
    h.check(r.returncode == 0, "%s: nightjarctl --help failed: %r" % (machine.name, r))
    listed = re.findall(r"^  (\S+) ", r.stdout.split("\ncommands:\n", 1)[-1], re.M)
    want, never = TOOLS[machine.name]
    h.check(listed == want and not set(never) & set(listed),
            "README, %s step 1 installs a nightjarctl with the commands %r, not the %s's %r"
            % (machine.name, listed, machine.name, want))


def edge_overlay_options(block):
    """(NAME, PORT) of edge step 6's `nightjarctl overlay tor ... --name NAME --link-port PORT`."""
    m = re.search(r"nightjarctl overlay tor --config \S+ --name ([a-z0-9-]+) "
                  r"--link-port ([0-9]+)\b", block)
    h.check(m, "README, edge step 6, gives no overlay tor --name NAME --link-port PORT:\n"
            + block)
    return m.group(1), int(m.group(2))


def check_edge_overlay(out, block, edge_cfg):
    """Edge step 6 printed the edge's torrc part, its MX record for the public domain (its
    hostname), and a note in place of the SRV records, whose OnionMX onion name no tor has
    written yet."""
    name, _ = edge_overlay_options(block)
    for header in (EDGE_PART % name, DNS_PART):
        h.check(header in out, "README, edge step 6: no %r in:\n%s" % (header, out))
    dns = out.split(DNS_PART, 1)[1]
    public_domain = re.search(r"^\s*- public: (\S+)$", edge_cfg, re.M).group(1)
    mx = "%s. IN MX 10 %s." % (public_domain, key_value(edge_cfg, "hostname").strip("\"'"))
    h.check(mx in dns.split("\n"), "README, edge step 6: no %r in the DNS part:\n%s" % (mx, dns))
    h.check("IN SRV" not in dns and "--onion ONION" in dns.replace("\n# ", " "),
            "README, edge step 6: the DNS part without the OnionMX onion:\n" + dns)


def check_inner_overlay(out, edge_block):
    """Inner step 4 printed the inner's torrc part and, for the edge, the command edge step 6
    runs (the same name and link port), and no part of the edge's."""
    name, port = edge_overlay_options(edge_block)
    h.check(INNER_PART in out and EACH_EDGE in out and DNS_PART not in out,
            "README, inner step 4: not the inner's part alone:\n" + out)
    line = "#   %s: nightjarctl overlay tor --config EDGE.yaml --name %s --link-port %d" % (
        name, name, port)
    h.check(line in out.split(EACH_EDGE, 1)[1].split("\n"),
            "README, inner step 4 names another command for edge %s than edge step 6 runs:\n%s"
            % (name, out))


def check_user(machine, config_text):
    """The account the README's useradd makes is the one the example names as `user`."""
    made = machine.users_made()
    h.check(len(made) == 1, "README, %s: wanted one useradd, got %r" % (machine.name, made))
    named = key_value(config_text, "user")
    h.check(named == made[0], "README creates the account %s but the %s example runs as %s"
            % (made[0], machine.name, named))


def mail_both_ways(edge, edge_cfg, account, mx, submission, pop3, sink):
    public_domain = re.search(r"^\s*- public: (\S+)$", edge_cfg, re.M).group(1)
    internal_domain = re.search(r"^\s*internal: (\S+)$", edge_cfg, re.M).group(1)
    local, domain = account.split("@")
    h.check(domain == internal_domain, "README's account %s is not in the domain the edge "
            "maps %s to (%s)" % (account, public_domain, internal_domain))
    public = local + "@" + public_domain

    # Internet -> user: over STARTTLS, with the certificate edge step 3 made (unchecked, as
    # senders do on port 25), then POP3 at the inner.
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", mx, local_hostname="mta.sender.test", timeout=60) as s:
        s.ehlo()
        h.check(s.has_extn("starttls"), "the edge offers no STARTTLS: %r" % s.esmtp_features)
        ih.expect_smtp(s.starttls(context=tls), 220, "2.0.0", "STARTTLS")
        with open(edge.path("/etc/nightjar/tls/cert.pem")) as f:
            made = ssl.PEM_cert_to_DER_cert(f.read())
        h.check(s.sock.getpeercert(binary_form=True) == made,
                "the edge presents another certificate than the one edge step 3 made")
        s.ehlo()
        ih.expect_smtp(s.mail("bob@sender.test"), 250, "2.1.0", "MAIL FROM")
        ih.expect_smtp(s.rcpt(public), 250, "2.1.5", "RCPT TO:<%s>" % public)
        ih.expect_smtp(s.data(h.message("t70 inbound", "t70-inbound-marker", to=public)), 250,
                       "2.0.0", "end of DATA")
    got = ih.wait_until(lambda: [m for m in pop3_messages(pop3, account, PASSWORD)
                                 if "t70-inbound-marker" in m], 60,
                        "the message in %s's mailbox" % account)
    h.check(len(got) == 1, "the inbound message arrived %d times" % len(got))

    # user -> Internet: submission with AUTH; the edge delivers to the sink found by MX.
    msg = ("From: <%s>\r\nTo: <bob@dest.test>\r\nSubject: t70 outbound\r\n\r\n"
           "t70-outbound-marker\r\n" % account)
    with smtplib.SMTP("127.0.0.1", submission, local_hostname="client.test", timeout=30) as s:
        s.login(account, PASSWORD)
        refused = s.sendmail(account, ["bob@dest.test"], msg)
        h.check(not refused, "submission refused: %r" % refused)
    out = sink.wait_messages(1, timeout=90)
    h.check(len(out) == 1 and "t70-outbound-marker" in out[0],
            "the sink did not get the message once:\n%s" % out)
    # What the edge sent starts at its Received line (smtp-sink adds its own above it).
    at = out[0].find("Received: from %s by " % public_domain)
    h.check(at >= 0, "no Received line from the edge:\n" + out[0])
    h.check("From: <%s>" % public in out[0][at:], "From is not the public address:\n" + out[0])
    h.check(internal_domain not in out[0][at:],
            "the delivered copy names the internal domain:\n" + out[0])


h.main(test)
