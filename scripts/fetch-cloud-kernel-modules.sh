#!/usr/bin/env bash
# Caches the module tree (/lib/modules/KVER) of the Debian cloud kernel that
# scripts/fetch-cloud-kernel.sh cached, outside the repository, and prints its path
# (${SWIFTVMM_CACHE:-~/.cache/swiftvmm}/kernels/modules/KVER). The same linux-image-KVER .deb
# as the cached vmlinuz, fetched with apt-get download (no install).
# Usage: scripts/fetch-cloud-kernel-modules.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/kernels
vmlinuz=$("$here/fetch-cloud-kernel.sh")
kver=${vmlinuz##*/vmlinuz-}
dest="$cache/modules/$kver"
if [ -d "$dest/kernel" ]; then echo "$dest"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cd "$work"
apt-get download -qq "linux-image-$kver" >/dev/null 2>&1 || {
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download -qq "linux-image-$kver" >/dev/null
}
dpkg-deb -x ./*.deb extracted
[ -d "extracted/lib/modules/$kver/kernel" ] || { echo "fetch-cloud-kernel-modules: no modules in linux-image-$kver" >&2; exit 1; }
mkdir -p "$cache/modules"
rm -rf "$dest.tmp"
mv "extracted/lib/modules/$kver" "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "$dest"
