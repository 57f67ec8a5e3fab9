#!/usr/bin/env python3
"""A seized edge replaced, timed. An edge image is made by image/build (reported on its own) from
the edge root the `images` fixture built with an admin key, as an operator would build it; the
inner root comes from the same fixture. The inner and
a first edge, mx1, are provisioned by site.yml through the chroot connection and run on this
machine from their roots, their daemons started as their units say (lib/images.start_unit); mail
from the Internet side (swaks) reaches the inner through mx1 and is fetched by POP3 (poplib).

Then mx1 is seized: its daemon killed and its root deleted. The clock starts. A new machine boots
from the edge image under qemu (TCG) with user networking: its SSH, port 25 and link port
forwarded from this machine's loopback. replace-edge.yml, given -e old_edge=mx1, provisions the
new edge, mx2, over SSH (new keys made on it), revokes mx1's key on the inner, pairs mx2 and
prints the DNS records to change. The inner is restarted as its unit's handler would restart it.
The clock stops when a message sent through mx2 has been fetched from the inner by POP3.

The link runs over the `direct` transport here (the private Tor network's relays are on this
machine's loopback, which the VM cannot use as its own); t_80 checks the Tor side of the images.
Runs only with IMAGES=1."""
# nj-e2e: timeout 2400
# nj-e2e: images
import os, poplib, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import images as im

DOMAINS = [{"public": "example.org", "internal": "example.i2p"}]
ALICE, PW = "alice@example.i2p", "alice pw 81"
EDGE_TEST_VARS = {"edge_sender_checks": False, "edge_greylist": False, "edge_resolver": False,
                  "edge_onion_mx": False, "edge_metrics": "", "edge_tls": False}


def send(port, marker):
    h.swaks("--server", "127.0.0.1:%d" % port, "--helo", "mta.sender.test",
            "--from", "bob@sender.test", "--to", "alice@example.org",
            "--header", "Subject: t81", "--body", marker)


def fetched(pop3_port, marker, timeout=120):
    """Waits until alice's mailbox on the inner holds a message with marker."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            p = poplib.POP3("127.0.0.1", pop3_port, timeout=20)
            p.user(ALICE)
            p.pass_(PW)
            n = len(p.list()[1])
            found = any(marker.encode() in b"\n".join(p.retr(i + 1)[1]) for i in range(n))
            p.quit()
            if found:
                return
        except (OSError, poplib.error_proto):
            pass
        h.check(time.monotonic() < deadline, "no message with %s reached the inner" % marker)
        time.sleep(2)


def ssh_ready(port, key, timeout=400):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(["ssh", "-i", key, "-p", str(port), "-o", "BatchMode=yes",
                            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "ConnectTimeout=10", "nightjar-admin@127.0.0.1", "true"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        if r.returncode == 0:
            return
        time.sleep(5)
    raise h.TestFailure("the new edge's SSH did not answer in %d s" % timeout)


def test():
    work = im.workdir("images-t81")

    # --- the images, as the operator builds them (timed on their own) --------------------------
    # The roots come from the `images` fixture (built with an admin key and SSH open to qemu's
    # user network, as an operator builds an image that can be reached to provision it).
    t_img = time.monotonic()
    roots, key = im.shared_roots(work)
    edge_root, inner_root = roots["edge"], roots["inner"]
    mx1_root = os.path.join(work, "mx1.root")
    h.run(["cp", "-a", edge_root, mx1_root], timeout=900)
    image = os.path.join(work, "nightjar-edge")
    im.image_build(["clean", edge_root], 120, os.path.join(work, "clean.log"))
    im.image_build(["disk", edge_root, image], 600, os.path.join(work, "disk.log"))
    shutil.rmtree(edge_root)
    t_img = time.monotonic() - t_img
    h.log("the edge's disk made in %.0f s (its root: the images fixture)" % t_img)

    # --- the inner and mx1, running from their roots -----------------------------------------
    mx1_smtp, mx1_link, sub, pop3 = (h.free_port() for _ in range(4))
    common = {"nightjar_domains": DOMAINS, "nightjar_link_transport": "direct"}
    inner_vars = {"inner_submission_listen": "127.0.0.1:%d" % sub,
                  "inner_pop3_listen": "127.0.0.1:%d" % pop3, "inner_metrics": ""}
    mx1_vars = dict(EDGE_TEST_VARS, edge_hostname="mx1.example.org",
                    edge_mx_listen=["127.0.0.1:%d" % mx1_smtp],
                    edge_link_listen="127.0.0.1:%d" % mx1_link,
                    edge_link_address="127.0.0.1:%d" % mx1_link)
    inv1 = im.chroot_inventory(os.path.join(work, "inventory-1.json"),
                               edges={"mx1": (mx1_root, mx1_vars)},
                               inner=(inner_root, inner_vars), common=common)
    im.provision(inv1, os.path.join(work, "site.log"))
    with im.Mounts(inner_root), im.Mounts(mx1_root):
        # The account is made as the inner's user, so its files are that user's.
        as_user = im.as_unit_user(im.unit_directives(inner_root, "nightjar-inner.service"))
        inner = im.start_unit(inner_root, "nightjar-inner.service", os.path.join(work, "inner.log"))
        h.wait_tcp(pop3, proc=inner)
        subprocess.run(["chroot", inner_root] + as_user +
                       ["nightjarctl", "--config", "/etc/nightjar/inner.yaml", "account", "add",
                        ALICE], input=(PW + "\n").encode(), check=True, timeout=60)
        mx1 = im.start_unit(mx1_root, "nightjar-edge.service", os.path.join(work, "mx1.log"))
        h.wait_tcp(mx1_smtp, proc=mx1)
        send(mx1_smtp, "t81-through-mx1")
        fetched(pop3, "t81-through-mx1")
        h.log("mail reaches the inner through mx1")

        # --- mx1 is seized ---------------------------------------------------------------------
        t0 = time.monotonic()
        mx1.kill()
    shutil.rmtree(mx1_root)
    with im.Mounts(inner_root):
        ssh_port, smtp_port, link_port = (h.free_port() for _ in range(3))
        disk = os.path.join(work, "mx2.raw")
        shutil.copyfile(image + ".raw", disk)
        fwd = ",".join("hostfwd=tcp:127.0.0.1:%d-:%d" % (a, b)
                       for a, b in ((ssh_port, 22), (smtp_port, 25), (link_port, 7000)))
        vm = h.Proc(["qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-smp", "1",
                     "-display", "none", "-serial", "file:" + os.path.join(work, "mx2-console.log"),
                     "-drive", "file=%s,format=raw,if=virtio" % disk, "-nic", "user," + fwd],
                    os.path.join(work, "qemu.log"))
        ssh_ready(ssh_port, key)
        t_boot = time.monotonic() - t0
        h.log("the new edge's machine answers SSH %.0f s after the seizure" % t_boot)

        mx2_vars = dict(EDGE_TEST_VARS, edge_hostname="mx2.example.org",
                        edge_mx_listen=["0.0.0.0:25"], edge_link_listen="0.0.0.0:7000",
                        edge_link_address="127.0.0.1:%d" % link_port,
                        base_tcp_in=[25, 7000], base_ssh_from=["10.0.2.2/32"],
                        ansible_host="127.0.0.1", ansible_port=ssh_port,
                        ansible_user="nightjar-admin", ansible_ssh_private_key_file=key,
                        ansible_ssh_common_args="-o StrictHostKeyChecking=no "
                                                "-o UserKnownHostsFile=/dev/null")
        inv2 = im.chroot_inventory(os.path.join(work, "inventory-2.json"),
                                   edges={"mx2": (None, mx2_vars)},
                                   inner=(inner_root, inner_vars), common=common)
        rc, out = im.provision(inv2, os.path.join(work, "replace.log"), timeout=1200,
                               extra=["--playbook", "replace-edge.yml", "-e", "old_edge=mx1",
                                      "-e", "old_edge_hostname=mx1.example.org"])
        t_play = time.monotonic() - t0
        h.check("mx2.example.org" in out and "IN MX" in out,
                "replace-edge.yml printed no MX record for mx2:\n" + out[-3000:])
        h.check("mx1.example.org" in out, "replace-edge.yml did not name the old MX to remove")
        # The inner's configuration changed: what its unit's restart handler does on a machine.
        inner.stop()
        inner = im.start_unit(inner_root, "nightjar-inner.service",
                              os.path.join(work, "inner-2.log"))
        h.wait_tcp(pop3, proc=inner)
        send(smtp_port, "t81-through-mx2")
        fetched(pop3, "t81-through-mx2", timeout=300)
        t_total = time.monotonic() - t0

        # As the operator runs it: root, beside the unit (the keys are read where it loads them).
        _, listing = h.run(["chroot", inner_root, "nightjarctl", "--config",
                            "/etc/nightjar/inner.yaml", "edge", "list"])
        h.check("revoked keys:" in listing and "  mx1 " in listing.split("revoked keys:")[1],
                "mx1's key is not revoked:\n" + listing)
        h.check("  mx2 " in listing.split("revoked keys:")[0], "mx2 is not in the fleet:\n" + listing)
        h.check(not os.path.exists(os.path.join(inner_root, "etc/nightjar/keys/mx1.pub")),
                "the old edge's key file is still on the inner")
        inner.stop()
        vm.kill()
    h.log("figures: edge disk from its root %.0f s (not counted); from the seizure: SSH on the new machine "
          "%.0f s, replace-edge.yml done %.0f s, mail through the new edge fetched %.0f s"
          % (t_img, t_boot, t_play, t_total))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    h.main(test)
