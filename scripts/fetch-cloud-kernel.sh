#!/usr/bin/env bash
# Downloads Debian's cloud kernel (linux-image-cloud-amd64's current kernel package) once and
# caches its bzImage outside the repository, with the uncompressed vmlinux (PVH ELF) beside it.
# Prints the path of the cached vmlinuz.
# Usage: scripts/fetch-cloud-kernel.sh   (cache: ${SWIFTVMM_CACHE:-~/.cache/swiftvmm}/kernels)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/kernels
mkdir -p "$cache"
existing=$(ls "$cache"/vmlinuz-*-cloud-amd64 2>/dev/null | head -n 1 || true)
if [ -n "$existing" ]; then
  vmlinux="$cache/vmlinux-${existing##*/vmlinuz-}"
  [ -f "$vmlinux" ] || { "$here/host-packages.sh" lz4 python3 && "$here/extract-vmlinux.py" "$existing" "$vmlinux.tmp" && mv "$vmlinux.tmp" "$vmlinux"; }
  echo "$existing"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cd "$work"
package=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$package" ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  package=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$package" ] || { echo "fetch-cloud-kernel: no linux-image-cloud-amd64 package found" >&2; exit 1; }
apt-get download -qq "$package" >/dev/null
dpkg-deb -x ./*.deb extracted
kernel=$(ls extracted/boot/vmlinuz-* | head -n 1)
cp "$kernel" "$cache/"
"$here/host-packages.sh" lz4 python3
name=$(basename "$kernel")
"$here/extract-vmlinux.py" "$cache/$name" "$cache/vmlinux-${name#vmlinuz-}.tmp"
mv "$cache/vmlinux-${name#vmlinuz-}.tmp" "$cache/vmlinux-${name#vmlinuz-}"
echo "$cache/$name"
