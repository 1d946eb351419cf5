#!/bin/sh
# /init of the OUTER VM of the nested-SVM harness (busybox ash; see run-nested.sh).
# Loads irqbypass, kvm, kvm_amd, then runs the INNER VMM (/swiftvmm) against the outer /dev/kvm
# with the inner kernel (/bzImage) and the test initramfs (/initrd); swiftvmm's stdout (the inner
# serial console) and stderr go to the outer console. Then powers the outer VM off.
# Outer command-line knobs (all optional):
#   outer.cpus=N          inner vCPUs                                   [1]
#   outer.memory=MiB      inner memory                                  [256]
#   outer.timeout=S       seconds before the inner VMM is stopped        [60]
#   outer.cmdline64=B64   extra inner kernel command line (base64)      []
#   outer.args64=B64      extra swiftvmm run arguments (base64, sh words) []
#   outer.disk-mib=N      create a zeroed N MiB /tmp/disk.img for the inner VM's --disk and
#                         print its first 64 bytes (hex) after the run   []
#   outer.disk-image=1    copy the outer VM's /dev/vda (the host's image, QEMU virtio-blk) to
#                         /tmp/disk.img for the inner VM's --disk, and write it back after
#                         the run (then the host reads what the inner guest wrote)   []
#   outer.disk-options=O  more --disk options for that disk (e.g. queues=2)   []
#   outer.tap=ADDR/PFX    give the inner VM --net tap=tap0 and, once swiftvmm has created
#                         tap0, address it with ADDR/PFX and bring it up     []
# Console lines: "outer: kvm ready ...", "outer: run ...", ["outer: disk head <hex>"],
# "outer: swiftvmm exit <status> ...".
export PATH=/bin:/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# A heartbeat on the second serial port: run-nested.sh tells a frozen outer VM (an emulator stall)
# from a hung inner VMM by it.
(while :; do echo beat; sleep 5; done > /dev/ttyS1) 2>/dev/null &
mkdir -p /tmp /dev/shm && mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /dev/shm
up() { cut -d' ' -f1 /proc/uptime; }
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -n 1; }
for m in irqbypass kvm kvm-amd; do
  insmod "/lib/modules/$m.ko" || echo "outer: insmod $m failed"
done
if [ -c /dev/kvm ]; then
  echo "outer: kvm ready uptime=$(up) svm_cpus=$(grep -c -w svm /proc/cpuinfo) npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)"
else
  echo "outer: no /dev/kvm uptime=$(up)"; dmesg | grep -i -E 'kvm|svm' | tail -5
fi
CPUS=$(arg outer.cpus); CPUS=${CPUS:-1}
MEM=$(arg outer.memory); MEM=${MEM:-256}
TO=$(arg outer.timeout); TO=${TO:-60}
XCMD=$(arg outer.cmdline64); [ -n "$XCMD" ] && XCMD=$(echo "$XCMD" | base64 -d)
XARGS=$(arg outer.args64); [ -n "$XARGS" ] && XARGS=$(echo "$XARGS" | base64 -d)
TERM_ON=$(arg outer.term-on64); [ -n "$TERM_ON" ] && TERM_ON=$(echo "$TERM_ON" | base64 -d)
DISK_OPTIONS=$(arg outer.disk-options)
DISK_MIB=$(arg outer.disk-mib)
if [ -n "$DISK_MIB" ]; then
  dd if=/dev/zero of=/tmp/disk.img bs=1M count="$DISK_MIB" 2>/dev/null
  XARGS="--disk path=/tmp/disk.img${DISK_OPTIONS:+,$DISK_OPTIONS}${XARGS:+ $XARGS}"
fi
DISK_IMAGE=$(arg outer.disk-image)
if [ -n "$DISK_IMAGE" ]; then
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
    insmod "/lib/modules/$m.ko" || echo "outer: insmod $m failed"
  done
  i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  cat /dev/vda > /tmp/disk.img && echo "outer: disk image $(stat -c %s /tmp/disk.img) bytes"
  XARGS="--disk path=/tmp/disk.img${DISK_OPTIONS:+,$DISK_OPTIONS}${XARGS:+ $XARGS}"
fi
TAP=$(arg outer.tap)
if [ -n "$TAP" ]; then
  insmod /lib/modules/tun.ko || echo "outer: insmod tun failed"
  XARGS="--net tap=tap0${XARGS:+ $XARGS}"
  (
    i=0
    while ! ip link show tap0 >/dev/null 2>&1 && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    ip addr add "$TAP" dev tap0 && ip link set tap0 up && echo "outer: tap up $TAP"
  ) &
fi
# reboot=acpi: on a hardware-reduced ACPI platform Linux's default reboot method is EFI, which
# without EFI falls through to a triple fault (see docs/getting-started.md, "Linux guests and reboot").
ICMD="console=ttyS0 panic=-1 reboot=acpi${XCMD:+ $XCMD}"
echo "outer: run uptime=$(up) swiftvmm run --kernel /bzImage --initrd /initrd --cpus $CPUS --memory $MEM --cmdline \"$ICMD\" $XARGS"
T0=$(up)
# A watchdog for a VMM that outlives its SIGTERM (timeout) and the default 30 s grace period: it
# prints where each of swiftvmm's threads waits (state, wchan, kernel stack), then kills it, so
# that a hang ends with "outer: swiftvmm exit 137" and a trace instead of QEMU's time limit.
(
  sleep $((TO + 50))
  for pid in $(pidof swiftvmm); do
    echo "outer: watchdog: swiftvmm $pid still running $((TO + 50)) s after its start; its threads:"
    for task in /proc/"$pid"/task/*; do
      echo "outer: thread $(cat "$task/comm") state=$(cut -d' ' -f3 "$task/stat") wchan=$(cat "$task/wchan")"
      sed 's/^/outer:   /' "$task/stack" 2>/dev/null
    done
    kill -KILL "$pid"
  done
) &
WATCHDOG=$!
# With outer.term-on64, SIGTERM goes to swiftvmm as soon as its console shows that text (the
# guest is waiting for the button), however long the emulated boot took; the timeout stays the
# backstop.
if [ -n "$TERM_ON" ]; then
  (
    i=0
    while ! grep -qF "$TERM_ON" /tmp/inner-console 2>/dev/null && [ $i -lt $((TO * 5)) ]; do
      sleep 0.2
      i=$((i + 1))
    done
    sleep 1
    echo "outer: sending SIGTERM (the console showed '$TERM_ON')"
    kill -TERM $(pidof swiftvmm) 2>/dev/null
  ) &
fi
set -o pipefail
# shellcheck disable=SC2086
timeout "$TO" /swiftvmm run --kernel /bzImage --initrd /initrd --cpus "$CPUS" --memory "$MEM" \
  --cmdline "$ICMD" $XARGS </dev/null 2>&1 | tee /tmp/inner-console
RC=$?
set +o pipefail
kill "$WATCHDOG" 2>/dev/null
if [ -n "$DISK_IMAGE" ]; then
  cat /tmp/disk.img > /dev/vda && sync && echo "outer: disk image written back"
fi
[ -n "$DISK_MIB" ] && echo "outer: disk head $(head -c 64 /tmp/disk.img | od -An -tx1 -v | tr -d ' \n')"
echo "outer: swiftvmm exit $RC uptime=$(up) inner_wall=$(awk -v a="$T0" -v b="$(up)" 'BEGIN{printf "%.2f", b-a}')s"
poweroff -f
while :; do sleep 3600; done
