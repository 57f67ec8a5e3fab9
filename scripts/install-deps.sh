#!/usr/bin/env bash
# Installs the Debian packages nightjar needs to build, test and demo. Idempotent: when every
# package is present it does nothing (no apt-get update, no network).
set -euo pipefail

PKGS=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libuv1-dev liblmdb-dev libsodium-dev libc-ares-dev libyaml-cpp-dev
  libboost-test-dev libssl-dev
  # content from the Internet: gumbo parses HTML as browsers do (edge/content); OpenDKIM's
  # library signs and verifies DKIM; the public suffix list finds a domain's organization (DMARC)
  libgumbo-dev libopendkim-dev publicsuffix
  # tests and demo: real peers and clients
  # swaks --tls needs Net::SSLeay (a Recommends of swaks, which --no-install-recommends skips)
  lmdb-utils swaks libnet-ssleay-perl unbound rbldnsd postfix tor torsocks python3 openssl dnsutils hashcash procps iproute2 dovecot-pop3d fetchmail netcat-openbsd i2pd
  # postgrey: the greylisting of the receiving MTA (Postfix) in the fleet tests
  postgrey
  # clamd, run by the content tests with their own signature database (no freshclam); DKIM
  # signers and verifiers from outside the project (dkimpy, OpenDKIM's tools)
  clamav-daemon python3-dkim opendkim-tools
)
# The VM images (tests/e2e/t_80, t_81; image/, ansible/): only with IMAGES=1, as `make check`
# runs them only then.
if [ "${IMAGES:-}" = 1 ]; then
  PKGS+=(mmdebstrap ansible ansible-lint qemu-system-x86 qemu-utils extlinux syslinux-common
         e2fsprogs fdisk lynis)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# postfix must not ask questions, and must not run as a system MTA for our tests.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" </dev/null
