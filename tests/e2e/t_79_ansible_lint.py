#!/usr/bin/env python3
"""The playbooks and roles under ansible/ pass ansible-lint at the production profile, and each
playbook passes ansible-playbook --syntax-check. Skipped where ansible-lint is not installed
(scripts/install-deps.sh installs it with IMAGES=1)."""
import os, shutil, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h
import images as im


def test():
    if not shutil.which("ansible-lint") or not shutil.which("ansible-playbook"):
        h.log("skipped: ansible-lint is not installed (IMAGES=1 make deps installs it)")
        sys.exit(77)
    adir = os.path.join(im.SOURCE_DIR, "ansible")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(adir, "ansible.cfg"), NO_COLOR="1")
    for pb in ("site.yml", "pair.yml", "replace-edge.yml"):
        h.run(["ansible-playbook", "--syntax-check", "-i", "localhost,", pb], cwd=adir, env=env)
    rc, out = h.run(["ansible-lint", "--profile", "production", "--nocolor"], cwd=adir, env=env,
                    check_rc=False, timeout=300)
    h.check(rc == 0 and "Passed with production profile" in out,
            "ansible-lint --profile production:\n" + out[-5000:])


if __name__ == "__main__":
    h.main(test)
