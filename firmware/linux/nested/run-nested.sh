#!/usr/bin/env bash
# Boots a Linux guest under swiftvmm with real hardware-virtualization semantics on a machine
# without VT-x/AMD-V: an OUTER VM run by QEMU under TCG with an AMD CPU model that has SVM
# (-accel tcg,thread=single -cpu EPYC -M q35 -m 1G, one vCPU), whose kernel is Debian's cloud
# kernel and whose /init (outer-init.sh) loads kvm_amd and runs swiftvmm against the outer
# /dev/kvm with the cloud kernel's bzImage and the test initramfs. Prints the whole outer console
# (which carries the inner console) on stdout.
# Usage: firmware/linux/nested/run-nested.sh [CPUS [EXTRA SWIFTVMM ARGS...]]
# Env: INNER_CMDLINE  extra inner kernel command line     []
#      INNER_MEMORY   inner memory, MiB                    [256]
#      INNER_TIMEOUT  seconds the outer init gives swiftvmm [60]
#      INNER_DISK_MIB size of a zeroed disk image given to the inner VM (outer /tmp/disk.img) []
#      INNER_DISK_IMAGE  a host image file the inner VM gets as its disk (through the outer VM's
#                        virtio-blk); what the inner guest writes lands in this file     []
#      INNER_DISK_OPTIONS  more options for the inner VM's --disk (e.g. queues=2)   []
#      INNER_TAP      ADDR/PFX of the outer end of a tap given to the inner VM (tap0)   []
#      NESTED_TIMEOUT seconds before QEMU is stopped       [240]
#      NESTED_NO_BUILD=1  reuse the cached outer initramfs
#      NESTED_FORCE_OUTER=1  use the outer VM even on a host with VT-x/AMD-V
# Exit status: QEMU's (124 on timeout). The verdict is the console line
# "outer: swiftvmm exit <status>".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}
# With hardware virtualization (kvm_intel / kvm_amd rather than this machine's kvm_pvm) the same
# runs need no outer VM: firmware/linux/run-direct.sh takes the same arguments and knobs.
if [ "${NESTED_FORCE_OUTER:-0}" != 1 ] && [ -d /sys/module/kvm_intel -o -d /sys/module/kvm_amd ] \
   && [ ! -d /sys/module/kvm_pvm ] && [ -c /dev/kvm ]; then
  exec "$here/../run-direct.sh" "$@"
fi
cpus=${1:-1}; [ $# -gt 0 ] && shift
"$repo/scripts/host-packages.sh" qemu-system-x86
initrd=$cache/nested/outer-initramfs.cpio.gz
[ "${NESTED_NO_BUILD:-0}" = 1 ] && [ -f "$initrd" ] || "$here/build-outer-initramfs.sh" "$initrd"
kernel=$("$repo/scripts/fetch-cloud-kernel.sh")
b64() { printf '%s' "$1" | base64 -w0; }
append="console=ttyS0 panic=-1 reboot=t outer.cpus=$cpus outer.memory=${INNER_MEMORY:-256} outer.timeout=${INNER_TIMEOUT:-60}"
drive=()
if [ -n "${INNER_DISK_IMAGE:-}" ]; then
  append+=" outer.disk-image=1"
  drive=(-drive "file=$INNER_DISK_IMAGE,format=raw,if=virtio,cache=unsafe")
fi
[ -n "${INNER_TAP:-}" ] && append+=" outer.tap=$INNER_TAP"
[ -n "${INNER_DISK_OPTIONS:-}" ] && append+=" outer.disk-options=$INNER_DISK_OPTIONS"
[ -n "${INNER_DISK_MIB:-}" ] && append+=" outer.disk-mib=$INNER_DISK_MIB"
[ -n "${INNER_CMDLINE:-}" ] && append+=" outer.cmdline64=$(b64 "$INNER_CMDLINE")"
[ $# -gt 0 ] && append+=" outer.args64=$(b64 "$*")"
exec timeout "${NESTED_TIMEOUT:-240}" qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot \
  -accel tcg,thread=single -cpu EPYC -smp 1 -m 1G -M q35 -serial stdio \
  -kernel "$kernel" -initrd "$initrd" -append "$append" "${drive[@]}" </dev/null
