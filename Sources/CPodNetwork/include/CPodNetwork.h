// CPodNetwork: what the pod network needs from C besides CHostNetwork's tap and interface
// ioctls — libnftables (loaded with dlopen, so `swiftvmm run` never needs it) and the DHCP
// server's UDP socket. Every function returns 0 (or a descriptor / length) on success and -1
// with errno on failure, unless it says otherwise.
#ifndef CPODNETWORK_H
#define CPODNETWORK_H

#include <stddef.h>
#include <stdint.h>

/// Runs `commands` (nft syntax, one or more lines) in one libnftables context: atomically, as
/// `nft -f` does. Returns 0, or -1 with libnftables' error text (or why the library could not
/// be loaded) copied into `error` (NUL-terminated, truncated to `error_size`). With `dry_run`
/// the commands are checked (parsed, evaluated, sent and aborted) but nothing changes.
int cpodnet_nft_run(const char *commands, int dry_run, char *error, size_t error_size);

/// Whether libnftables.so.1 can be loaded (1) or not (0, with the reason in `error`).
int cpodnet_nft_available(char *error, size_t error_size);

/// A non-blocking UDP socket bound to 0.0.0.0:`port` on interface `name` only
/// (SO_BINDTODEVICE), allowed to broadcast.
int cpodnet_udp_socket_on_interface(const char *name, uint16_t port);

/// Receives one datagram (non-blocking): its full length (more than `capacity` when it was
/// truncated), or -1 with errno (EAGAIN when none).
long cpodnet_udp_receive(int fd, uint8_t *buffer, size_t capacity);

/// Sends `length` bytes to `address`:`port` (host order; 255.255.255.255 for a broadcast).
long cpodnet_udp_send(int fd, const uint8_t *bytes, size_t length, uint32_t address, uint16_t port);

/// Waits up to `timeout_ms` for `fd` to be readable: 1 readable, 0 timeout, -1 error.
int cpodnet_wait_readable(int fd, int timeout_ms);

#endif
