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
#      INNER_TERM_ON  text that makes the outer init send swiftvmm SIGTERM once its console shows it []
#      INNER_DISK_MIB size of a zeroed disk image given to the inner VM (outer /tmp/disk.img) []
#      INNER_DISK_IMAGE  a host image file the inner VM gets as its disk (through the outer VM's
#                        virtio-blk); what the inner guest writes lands in this file     []
#      INNER_DISK_OPTIONS  more options for the inner VM's --disk (e.g. queues=2)   []
#      INNER_TAP      ADDR/PFX of the outer end of a tap given to the inner VM (tap0)   []
#      NESTED_TIMEOUT seconds before QEMU is stopped       [240]
#      NESTED_NO_BUILD=1  reuse the cached outer initramfs
#      NESTED_FORCE_OUTER=1  use the outer VM even on a host with VT-x/AMD-V
# Exit status: QEMU's (124 on timeout or on a second emulator stall, see run_outer). The
# verdict is the console line "outer: swiftvmm exit <status>".
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
[ -n "${INNER_TERM_ON:-}" ] && append+=" outer.term-on64=$(b64 "$INNER_TERM_ON")"
[ $# -gt 0 ] && append+=" outer.args64=$(b64 "$*")"
# The outer init writes a heartbeat line to its second serial port every 5 s ($beats). QEMU 7.2's
# TCG has been seen to spin at 100 % without progress with two inner vCPUs (its cpu_exec loop
# returning at once, 1 run in ~10 here): the outer kernel, its timers, the console and the init's
# watchdog all stop. A run whose heartbeat stops for 60 s is that emulator stall, not the inner
# VMM (a hung swiftvmm leaves the outer kernel beating): QEMU is stopped and the run made once more,
# saying so. Anything else — a time-out with a beating outer VM included — is the run's verdict.
beats=$(mktemp /tmp/run-nested-beats.XXXXXX)
trap 'rm -f "$beats"' EXIT
limit=${NESTED_TIMEOUT:-240}
# SIGTERM, then SIGKILL after 5 s (a stalled TCG never handles SIGTERM).
stop_qemu() {
  kill -TERM "$1" 2>/dev/null
  for _ in 1 2 3 4 5; do kill -0 "$1" 2>/dev/null || break; sleep 1; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
# One outer run: QEMU's status, 124 after $limit s, 200 after an emulator stall.
run_outer() {
  : > "$beats"
  qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot \
    -accel tcg,thread=single -cpu EPYC -smp 1 -m 1G -M q35 -serial stdio -serial "file:$beats" \
    -kernel "$kernel" -initrd "$initrd" -append "$append" "${drive[@]}" </dev/null &
  local qemu=$! started=$SECONDS last_size=0 last_change=$SECONDS size
  while kill -0 "$qemu" 2>/dev/null; do
    sleep 1
    size=$(stat -c %s "$beats")
    if [ "$size" != "$last_size" ]; then
      last_size=$size; last_change=$SECONDS
    elif [ $((SECONDS - last_change)) -ge 60 ]; then
      echo "run-nested: no heartbeat from the outer VM for 60 s: QEMU's TCG stopped making progress (an emulator stall, not the inner VMM)" >&2
      stop_qemu "$qemu"
      return 200
    fi
    if [ $((SECONDS - started)) -ge "$limit" ]; then
      echo "run-nested: QEMU still running after $limit s (NESTED_TIMEOUT): stopped" >&2
      stop_qemu "$qemu"
      return 124
    fi
  done
  wait "$qemu"
}
status=0
run_outer || status=$?
if [ "$status" = 200 ]; then
  echo "run-nested: running the outer VM once more after its emulator stall" >&2
  echo "run-nested: second run"  # on the console: what follows is the run that counts
  status=0
  run_outer || status=$?
  [ "$status" = 200 ] && status=124
fi
exit "$status"
