/*
 * net_responder.h — fw.net: a network responder (ARP, ICMP echo, UDP echo, a UDP counters
 * request) on the first virtio-net device, its address static or from DHCP, and fw.net-bench,
 * a UDP transmit benchmark. See net_responder.c, dhcp.c and README.md.
 */
#ifndef FW_NET_RESPONDER_H
#define FW_NET_RESPONDER_H

#include "cmdline.h"

/*
 * Brings the device up (virtio_net.h), prints the "fw~ net0 mac" and "fw: net0 link" lines,
 * with fw.net=dhcp takes a lease (DISCOVER ... ACK, the "fw: net0 dhcp lease" line and its
 * "fw~ net0 dhcp ..." lines; FW_STATUS_DHCP_FAILED without one), prints the "fw: net0 ip" and
 * "fw: net ready" lines, signals the boot timer again, runs fw.net-bench if asked for,
 * then answers the network (IF = 0, polling, `pause` when idle) until the power button is
 * pressed (never under QEMU, which has no power button). Then prints "fw: power button
 * pressed" and "fw: net counters ...", resets the device and returns (the caller ends the
 * run). Fails with FW_STATUS_NET_FAILED (or FW_STATUS_VIRTIO_FAILED from the driver core, or
 * FW_STATUS_DHCP_FAILED).
 */
void net_responder(const struct fw_options *options);

#endif
