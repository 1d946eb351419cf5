#!/usr/bin/env bash
# Builds the OUTER VM's initramfs for the nested-SVM harness (run-nested.sh), from Debian
# packages and the repository only:
#   /bin/busybox (busybox-static) + applet links, /init (outer-init.sh),
#   /lib/modules/{irqbypass,kvm,kvm-amd,tun,virtio*,virtio_blk}.ko of the cached Debian cloud kernel,
#   /swiftvmm (scripts/build-static-swiftvmm.sh: swift build -c release --static-swift-stdlib, under flock
#   /tmp/swiftvmm-build.lock, scratch path in the cache) + every library ldd lists,
#   /bzImage (the cached cloud kernel: the inner kernel) and /initrd (the test initramfs).
# Usage: firmware/linux/nested/build-outer-initramfs.sh [OUT]
#   OUT default: ${SWIFTVMM_CACHE:-~/.cache/swiftvmm}/nested/outer-initramfs.cpio.gz
# Env: INNER_KERNEL (default: the cached cloud bzImage), INNER_INITRD (default: built by
#      ../make-test-initramfs.sh), SWIFTVMM (a prebuilt binary: skip the build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}
mkdir -p "$cache/nested"
out=${1:-$cache/nested/outer-initramfs.cpio.gz}
"$repo/scripts/host-packages.sh" busybox-static kmod cpio gzip
kernel=$("$repo/scripts/fetch-cloud-kernel.sh")
modules=$("$repo/scripts/fetch-cloud-kernel-modules.sh")
inner_kernel=${INNER_KERNEL:-$kernel}
inner_initrd=${INNER_INITRD:-$cache/nested/test-initramfs.cpio.gz}
[ -n "${INNER_INITRD:-}" ] || "$here/../make-test-initramfs.sh" "$inner_initrd"
[ -n "${SWIFTVMM:-}" ] || SWIFTVMM=$("$repo/scripts/build-static-swiftvmm.sh")

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"; done
install -m 0755 "$here/outer-init.sh" "$root/init"
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
for m in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd drivers/net/tun \
  drivers/virtio/{virtio,virtio_ring,virtio_pci_modern_dev,virtio_pci_legacy_dev,virtio_pci} drivers/block/virtio_blk; do
  cp "$modules/kernel/$m.ko" "$root/lib/modules/"
done
install -m 0755 "$SWIFTVMM" "$root/swiftvmm"
strip --strip-unneeded "$root/swiftvmm" 2>/dev/null || true
# every library ldd lists, at the path the dynamic loader looks for it
ldd "$SWIFTVMM" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
  while read -r lib; do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
cp "$inner_kernel" "$root/bzImage"
cp "$inner_initrd" "$root/initrd"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 -n > "$out.tmp"
mv "$out.tmp" "$out"
echo "build-outer-initramfs: $out ($(stat -c %s "$out") bytes; swiftvmm $(stat -c %s "$SWIFTVMM") bytes; inner kernel $inner_kernel)" >&2
