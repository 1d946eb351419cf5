#!/usr/bin/env bash
# Runs the Linux test guest directly under this host's KVM — for machines with VT-x or AMD-V
# (kvm_intel / kvm_amd), where the nested harness's outer VM is not needed. Takes the same
# arguments and environment knobs as nested/run-nested.sh (which hands over to this script on
# such machines) and prints the same "outer: ..." verdict lines, so the same tests pass or fail
# the same way. Needs root (it creates and deletes its own tap for INNER_TAP).
# Usage: firmware/linux/run-direct.sh [CPUS [EXTRA SWIFTVMM ARGS...]]
# Env: INNER_CMDLINE, INNER_MEMORY [256], INNER_TIMEOUT [60], INNER_DISK_MIB, INNER_DISK_IMAGE,
#      INNER_TAP (see nested/run-nested.sh), NESTED_NO_BUILD=1 (reuse the cached swiftvmm and
#      test initramfs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}
cpus=${1:-1}; [ $# -gt 0 ] && shift
"$repo/scripts/host-packages.sh" iproute2
kernel=$("$repo/scripts/fetch-cloud-kernel.sh")
initrd=$cache/nested/test-initramfs.cpio.gz
swiftvmm=$cache/nested-build/release/swiftvmm
if [ "${NESTED_NO_BUILD:-0}" != 1 ] || [ ! -f "$initrd" ] || [ ! -x "$swiftvmm" ]; then
  mkdir -p "$cache/nested"
  "$here/make-test-initramfs.sh" "$initrd"
  swiftvmm=$("$repo/scripts/build-static-swiftvmm.sh")
fi
work=$(mktemp -d)
tap=
cleanup() {
  [ -n "$tap" ] && ip link delete "$tap" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
args=()
if [ -n "${INNER_DISK_MIB:-}" ]; then
  dd if=/dev/zero of="$work/disk.img" bs=1M count="$INNER_DISK_MIB" 2>/dev/null
  args+=(--disk "path=$work/disk.img")
elif [ -n "${INNER_DISK_IMAGE:-}" ]; then
  cp "$INNER_DISK_IMAGE" "$work/disk.img" && echo "outer: disk image $(stat -c %s "$work/disk.img") bytes"
  args+=(--disk "path=$work/disk.img")
fi
if [ -n "${INNER_TAP:-}" ]; then
  tap=svmmd$$
  ip tuntap add dev "$tap" mode tap
  ip addr add "$INNER_TAP" dev "$tap" && ip link set "$tap" up && echo "outer: tap up $INNER_TAP"
  args+=(--net "tap=$tap")
fi
icmd="console=ttyS0 panic=-1 reboot=acpi${INNER_CMDLINE:+ $INNER_CMDLINE}"
echo "outer: direct run (no outer VM) swiftvmm run --kernel $kernel --initrd $initrd --cmdline \"$icmd\" ${args[*]} $*"
start=$(date +%s.%N)
set +e
timeout --foreground --preserve-status "${INNER_TIMEOUT:-60}" "$swiftvmm" run --kernel "$kernel" --initrd "$initrd" \
  --cpus "$cpus" --memory "${INNER_MEMORY:-256}" --cmdline "$icmd" "${args[@]}" "$@" </dev/null 2>&1
rc=$?
set -e
[ -n "${INNER_DISK_MIB:-}" ] && echo "outer: disk head $(head -c 64 "$work/disk.img" | od -An -tx1 -v | tr -d ' \n')"
if [ -n "${INNER_DISK_IMAGE:-}" ] && [ -z "${INNER_DISK_MIB:-}" ]; then
  cp "$work/disk.img" "$INNER_DISK_IMAGE" && sync && echo "outer: disk image written back"
fi
echo "outer: swiftvmm exit $rc inner_wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')s"
