#!/bin/sh
# /init of SwiftVMM's Linux test guest (busybox-static ash), built by make-test-initramfs.sh.
# Mounts proc/sys/dev, loads the virtio-mmio, virtio-blk, virtio-net and power-button modules
# (order in /lib/modules/KVER/load-order), signals "ready" through the boot timer (a byte
# write of 123 to MMIO 0xd0000000), reports the vCPU count, runs a command when asked and powers
# off (or reboots).
# Kernel command-line knobs (all optional):
#   guest.ip=ADDR/PFX  bring eth0 up with this address; prints "guest: eth0 ADDR/PFX"
#   guest.mount=DIR    mount /dev/vda (ext4) on DIR before the command, unmount it at the end;
#                      prints "guest: mounted /dev/vda on DIR"
#   guest.cmd64=B64    a shell command (base64) run after "ready"; prints "guest: cmd exit N"
#   guest.wait=button  then wait for the ACPI power button (its evdev device) and power off
#   guest.wait=ignore-button  then wait forever, ignoring the power button
#   guest.end=reboot   reboot instead of powering off at the end
# Console lines: "guest: ready", "guest: cpus N", ["guest: cmd exit N"], ["guest: waiting for the
# power button (DEVICE, MODE)", "guest: power button pressed"], "guest: poweroff" or "guest: reboot"
# (and "guest: insmod M failed").
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
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -n 1; }
IP=$(arg guest.ip)
if [ -n "$IP" ]; then
  ip link set eth0 up && ip addr add "$IP" dev eth0 && echo "guest: eth0 $IP"
fi
MNT=$(arg guest.mount)
if [ -n "$MNT" ]; then
  mkdir -p "$MNT" && mount -t ext4 /dev/vda "$MNT" && echo "guest: mounted /dev/vda on $MNT"
fi
CMD=$(arg guest.cmd64)
if [ -n "$CMD" ]; then
  sh -c "$(echo "$CMD" | base64 -d)"
  echo "guest: cmd exit $?"
fi
[ -n "$MNT" ] && sync && umount "$MNT" && echo "guest: unmounted $MNT"
WAIT=$(arg guest.wait)
if [ -n "$WAIT" ]; then
  EV=
  for e in /sys/class/input/event*; do
    grep -q "Power Button" "$e/device/name" 2>/dev/null && EV=/dev/input/${e##*/}
  done
  echo "guest: waiting for the power button (${EV:-no device}, $WAIT)"
  if [ "$WAIT" = button ] && [ -n "$EV" ]; then
    dd if="$EV" bs=24 count=1 of=/dev/null 2>/dev/null   # one struct input_event: the press
    echo "guest: power button pressed"
  else
    while :; do sleep 3600; done
  fi
fi
if [ "$(arg guest.end)" = reboot ]; then
  echo "guest: reboot"
  reboot -f
else
  echo "guest: poweroff"
  poweroff -f
fi
while :; do sleep 3600; done
