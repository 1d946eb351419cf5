#!/bin/sh
# /init of SwiftVMM's Linux test guest (busybox-static ash), built by make-test-initramfs.sh.
# Mounts proc/sys/dev, loads the virtio-mmio, virtio-blk, virtio-net and power-button modules
# (order in /lib/modules/KVER/load-order), signals "ready" through the boot timer (a byte
# write of 123 to MMIO 0xd0000000), reports the vCPU count and powers off.
# Console lines: "guest: ready", "guest: cpus N", "guest: poweroff" (and "guest: insmod M failed").
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
KVER=$(uname -r)
if [ -f "/lib/modules/$KVER/load-order" ]; then
  for m in $(cat "/lib/modules/$KVER/load-order"); do
    insmod "/lib/modules/$KVER/$m.ko" || echo "guest: insmod $m failed"
  done
else
  echo "guest: no modules for $KVER"
fi
echo "guest: ready"
devmem 0xd0000000 8 123
echo "guest: cpus $(grep -c '^processor' /proc/cpuinfo)"
echo "guest: poweroff"
poweroff -f
while :; do sleep 3600; done
