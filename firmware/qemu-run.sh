#!/bin/sh
# Boots a firmware ELF under QEMU with the machine line that works on this project's KVM
# (kvm_pvm) and on ordinary KVM; used by the QEMU-vs-SwiftVMM parity test and by hand.
#
# Usage: firmware/qemu-run.sh FIRMWARE_ELF [VCPUS [COMMAND_LINE]]
#   VCPUS defaults to 1; COMMAND_LINE to empty.
# Environment:
#   QEMU            QEMU binary (default qemu-system-x86_64)
#   QEMU_TIMEOUT    seconds before the run is killed (default 60; timeout's status 124)
#   QEMU_MEMORY_MIB guest memory (default 128)
#   QEMU_EXTRA_ARGS more QEMU arguments, appended; split at white space (no quoting), e.g.
#                   QEMU_EXTRA_ARGS="-device virtio-rng-device" (microvm then adds the
#                   virtio_mmio.device= tokens to the command line itself)
#   QEMU_NET_TAP    if set, a virtio-net device on that existing tap interface is added
#                   (after QEMU_EXTRA_ARGS): -netdev tap,id=fwnet0,ifname=$QEMU_NET_TAP,
#                   script=no,downscript=no,vhost=off -device virtio-net-device,netdev=fwnet0
#                   plus QEMU_NET_DEVICE_OPTIONS (e.g. ",host_mtu=9000,mac=02:11:22:33:44:55")
#
# The guest's console (serial) goes to stdout, QEMU's own messages to stderr. The exit status
# is QEMU's: a guest debug-exit status V gives (V << 1) | 1 (so 1 for 0, 11 for 5, 127 for
# 0x3f); 124 means the timeout hit. Install QEMU on Debian with: apt-get install qemu-system-x86
set -eu

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
	echo "usage: $0 FIRMWARE_ELF [VCPUS [COMMAND_LINE]]" >&2
	exit 2
fi
firmware=$1
vcpus=${2:-1}
cmdline=${3:-}
qemu=${QEMU:-qemu-system-x86_64}

case $vcpus in
'' | *[!0-9]* | 0) echo "$0: VCPUS must be a positive integer, not '$vcpus'" >&2; exit 2 ;;
esac
[ -r "$firmware" ] || { echo "$0: cannot read $firmware" >&2; exit 2; }
command -v "$qemu" >/dev/null 2>&1 || {
	echo "$0: $qemu not found (apt-get install qemu-system-x86)" >&2
	exit 127
}

# -cpu host,-arch-capabilities: plain "host" aborts on MSR 0x10a under kvm_pvm.
# sockets=1,cores=N,threads=1: the firmware counts vCPUs with CPUID leaf 0xB subleaf 1 (cores).
# force-legacy=false: QEMU 7.2's virtio-mmio is legacy (version 1) unless told otherwise.
# QEMU_EXTRA_ARGS is split into words on purpose (unquoted), with globbing off.
set -f
net_args=""
if [ -n "${QEMU_NET_TAP:-}" ]; then
	net_args="-netdev tap,id=fwnet0,ifname=$QEMU_NET_TAP,script=no,downscript=no,vhost=off"
	net_args="$net_args -device virtio-net-device,netdev=fwnet0${QEMU_NET_DEVICE_OPTIONS:-}"
fi
# shellcheck disable=SC2086
exec timeout "${QEMU_TIMEOUT:-60}" "$qemu" \
	-M microvm,acpi=off -accel kvm -cpu host,-arch-capabilities \
	-nodefaults -no-user-config -nographic -no-reboot \
	-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
	-global virtio-mmio.force-legacy=false \
	-smp "$vcpus,sockets=1,cores=$vcpus,threads=1" -m "${QEMU_MEMORY_MIB:-128}" \
	-kernel "$firmware" -append "$cmdline" ${QEMU_EXTRA_ARGS:-} $net_args
