// CHostNetwork: the tun/tap and interface ioctls Swift cannot import (request macros, ifreq's
// unions), for the VMM's taps and the launcher's pod network. Nothing else.
#ifndef CHOSTNETWORK_H
#define CHOSTNETWORK_H

#include <stdint.h>

/// TUN_F_* offload bits for chostnetwork_tap_set_offload.
extern const unsigned CHOSTNETWORK_TUN_F_CSUM;
extern const unsigned CHOSTNETWORK_TUN_F_TSO4;
extern const unsigned CHOSTNETWORK_TUN_F_TSO6;
extern const unsigned CHOSTNETWORK_TUN_F_TSO_ECN;
extern const unsigned CHOSTNETWORK_TUN_F_UFO;

/// Opens /dev/net/tun and attaches to (or creates) tap `name` with IFF_TAP | IFF_NO_PI |
/// IFF_VNET_HDR, non-blocking. Returns the fd or -1 with errno (the step that failed in *step:
/// 1 open /dev/net/tun, 2 TUNSETIFF, 3 fcntl). *created is 1 when the interface did not exist.
int chostnetwork_tap_open(const char *name, int *created, int *step);

/// TUNSETVNETHDRSZ. 0 or -1.
int chostnetwork_tap_set_vnet_header_size(int fd, int size);

/// TUNSETOFFLOAD with TUN_F_* bits. 0 or -1.
int chostnetwork_tap_set_offload(int fd, unsigned flags);

/// Sets the interface up (IFF_UP | IFF_RUNNING) and, when mtu > 0, its MTU. 0 or -1.
int chostnetwork_interface_up(const char *name, int mtu);

/// Whether the interface exists (if_nametoindex). 1 or 0.
int chostnetwork_interface_exists(const char *name);

/// Creates tap `name` (IFF_TAP | IFF_NO_PI) and makes it persistent, so that it outlives this
/// call and a VMM attaches to it by name (chostnetwork_link_delete removes it). -1 with errno
/// (EBUSY: it exists and is in use).
int chostnetwork_tap_create_persistent(const char *name);

/// Sets `name`'s IPv4 address (host order) and prefix length, its MTU (when mtu > 0), and
/// brings it up. 0 or -1.
int chostnetwork_interface_configure(const char *name, uint32_t address, int prefix_length, int mtu);

/// Reads `name`'s IPv4 address and netmask (host order) and MTU. 0 or -1.
int chostnetwork_interface_read(const char *name, uint32_t *address, uint32_t *netmask, int *mtu);

/// Deletes interface `name` with an RTM_DELLINK netlink request (a tap is removed even while a
/// descriptor is still attached to it). 0 or -1 with errno.
int chostnetwork_link_delete(const char *name);

/// Sets the IPv6 address generation mode of link `name` to none (netlink: IFLA_INET6_ADDR_GEN_MODE),
/// so that it makes no link-local address when it goes up (a pod's /proc/sys is read-only; this
/// alone does not stop an address from a router advertisement). 0 also when the kernel has no
/// IPv6; -1 with errno otherwise.
int chostnetwork_link_ipv6_addresses_off(const char *name);

/// Takes interface `name` down (going down drops its IPv6 addresses). 0, or -1 with errno.
int chostnetwork_interface_down(const char *name);

/// The interface index of `name`, or 0 when there is none.
unsigned chostnetwork_interface_index(const char *name);

#endif
