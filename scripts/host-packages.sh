#!/usr/bin/env bash
# Installs the Debian packages SwiftVMM's build and tests need, when they are missing.
# Usage: scripts/host-packages.sh PACKAGE...   (idempotent; uses apt-get as root)
# The name swift-toolchain stands for what swift.org's toolchain (e.g. in /opt/swift) needs beyond
# a minimal Debian 12 (debootstrap --variant=minbase) to run swift build, swift test and
# swift format: swift, swift-build and swift-package link libncurses, libsqlite3, libcurl and
# libxml2, and SwiftPM clones the package's dependencies with git over https.
set -euo pipefail
packages=()
for package in "$@"; do
  if [ "$package" = swift-toolchain ]; then
    packages+=(libncurses6 libsqlite3-0 libcurl4 libxml2 git ca-certificates)
  else
    packages+=("$package")
  fi
done
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "error: ${missing[*]} missing and this user is not root; install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
