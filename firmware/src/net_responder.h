/*
 * net_responder.h — fw.net: a network responder (ARP, ICMP echo, UDP echo, a UDP counters
 * request) on the first virtio-net device, and fw.net-bench, a UDP transmit benchmark. See
 * net_responder.c and README.md.
 */
#ifndef FW_NET_RESPONDER_H
#define FW_NET_RESPONDER_H

#include "cmdline.h"

/*
 * Brings the device up (virtio_net.h), prints the "fw~ net0 mac", "fw: net0 link", "fw: net0
 * ip" and "fw: net ready" lines, signals the boot timer again, runs fw.net-bench if asked for,
 * then answers the network (IF = 0, polling, `pause` when idle) until the power button is
 * pressed (never under QEMU, which has no power button). Then prints "fw: power button
 * pressed" and "fw: net counters ...", resets the device and returns (the caller ends the
 * run). Fails with FW_STATUS_NET_FAILED (or FW_STATUS_VIRTIO_FAILED from the driver core).
 */
void net_responder(const struct fw_options *options);

#endif
