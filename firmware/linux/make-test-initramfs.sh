#!/usr/bin/env bash
# Builds the initramfs of SwiftVMM's Linux test guest from Debian packages only:
# busybox-static (+ its applet links), /init (init.sh beside this script) and the virtio-mmio,
# virtio-blk, virtio-net, ACPI power-button and evdev modules of the cached Debian cloud kernel
# (scripts/fetch-cloud-kernel-modules.sh), with /lib/modules/KVER/load-order in dependency order
# (from `modinfo -F depends`). Deterministic: fixed mtimes, uid/gid 0, sorted newc cpio, gzip -n.
# Usage: firmware/linux/make-test-initramfs.sh OUT        (OUT: gzip-compressed cpio)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
out=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
"$repo/scripts/host-packages.sh" busybox-static kmod cpio gzip
modules=$("$repo/scripts/fetch-cloud-kernel-modules.sh")
kver=$(basename "$modules")
busybox=/bin/busybox
if ldd "$busybox" >/dev/null 2>&1; then echo "make-test-initramfs: $busybox is not static" >&2; exit 1; fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,root,lib/modules/$kver}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"; done
install -m 0755 "$here/init.sh" "$root/init"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

# modules and their dependencies, depth first (dependencies before dependants)
wanted="virtio_ring virtio virtio_mmio virtio_blk virtio_net button evdev"
declare -A done_
order=()
path_of() { find "$modules/kernel" \( -name "$1.ko" -o -name "${1//_/-}.ko" \) | head -n 1; }
visit() {
  local m=$1 p d
  [ -n "${done_[$m]:-}" ] && return 0
  done_[$m]=1
  if grep -q "/$m.ko\$" "$modules/modules.builtin" 2>/dev/null; then return 0; fi
  p=$(path_of "$m")
  [ -n "$p" ] || { echo "make-test-initramfs: module $m not found" >&2; exit 1; }
  for d in $(modinfo -F depends "$p" | tr ',' ' '); do visit "$d"; done
  cp "$p" "$root/lib/modules/$kver/$m.ko"
  order+=("$m")
}
for m in $wanted; do visit "$m"; done
printf '%s\n' "${order[@]}" > "$root/lib/modules/$kver/load-order"

find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet) | gzip -9 -n > "$out.tmp"
mv "$out.tmp" "$out"
echo "make-test-initramfs: $out ($(stat -c %s "$out") bytes; kernel $kver; modules: ${order[*]})" >&2
