#!/usr/bin/env python3
"""Sends UDP datagrams to the guest as frames the host kernel forwards, marked checksum-valid.

Usage (as root, inside a network namespace whose tap GUEST_TAP leads to the guest):
    forwarded-echo.py GUEST PORT [--count 5] [--timeout 3] [--ip /usr/sbin/ip]

Creates a second tap, `fwdtap0` (10.0.3.2/24), with IFF_NAPI and a virtio-net header, turns on
IPv4 forwarding in the namespace, and writes COUNT UDP datagrams from 10.0.3.5 to GUEST:PORT
into it, each with a correct UDP checksum and a zero virtio-net header. The tap's NAPI runs
them through GRO, which checks their checksums and marks them CHECKSUM_UNNECESSARY; the kernel
forwards them to the guest's tap, which hands them to the VMM with VIRTIO_NET_HDR_F_DATA_VALID
in the header (a frame forwarded from another namespace in a pod looks the same). A driver
that did not negotiate VIRTIO_NET_F_GUEST_CSUM must see flags 0 (virtio 1.2, 5.1.6.4.1); the
test firmware stops with `net0 FAIL received header flags 0x2` otherwise. The echoes come back
the same way and are read from the tap.

Prints `echoed N of COUNT` and exits 0 when every datagram came back with its bytes, 1 when
not, 2 on bad usage. Uses only the standard library.
"""
import argparse
import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, IFF_NAPI = 0x0002, 0x1000, 0x4000, 0x0010
TAP = "fwdtap0"
SENDER = "10.0.3.5"
SENDER_MAC = bytes.fromhex("020000000305")
VNET_HEADER = 10  # the tap's default header: struct virtio_net_hdr without num_buffers


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def datagram(tap_mac, guest, port, payload):
    """An Ethernet frame: SENDER:40000 -> guest:port, both checksums correct."""
    source, destination = socket.inet_aton(SENDER), socket.inet_aton(guest)
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
    pseudo = source + destination + struct.pack("!BBH", 0, 17, len(udp))
    udp = udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, source, destination)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return tap_mac + SENDER_MAC + b"\x08\x00" + ip + udp


def echoed_payload(frame, guest, port):
    """The UDP payload of an IPv4 frame from guest:port to SENDER:40000, else None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    header_length = (frame[14] & 0x0F) * 4
    if frame[26:30] != socket.inet_aton(guest) or frame[30:34] != socket.inet_aton(SENDER):
        return None
    udp = frame[14 + header_length :]
    source_port, destination_port, length = struct.unpack("!HHH", udp[:6])
    if source_port != port or destination_port != 40000:
        return None
    return bytes(udp[8:length])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("guest")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--ip", default="ip")
    arguments = parser.parse_args()

    tap = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", TAP.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_NAPI))
    for command in (
        ["addr", "add", "10.0.3.2/24", "dev", TAP],
        ["link", "set", TAP, "up"],
        ["neigh", "replace", SENDER, "lladdr", SENDER_MAC.hex(":"), "dev", TAP],
    ):
        subprocess.run([arguments.ip] + command, check=True)
    with open("/proc/sys/net/ipv4/ip_forward", "w") as forwarding:
        forwarding.write("1")
    with open(f"/sys/class/net/{TAP}/address") as address:
        tap_mac = bytes.fromhex(address.read().strip().replace(":", ""))

    expected = set()
    for number in range(arguments.count):
        payload = f"forwarded datagram {number}".encode()
        expected.add(payload)
        os.write(tap, bytes(VNET_HEADER) + datagram(tap_mac, arguments.guest, arguments.port, payload))
        time.sleep(0.02)

    received = set()
    deadline = time.monotonic() + arguments.timeout
    while received != expected:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([tap], [], [], left)[0]:
            break
        frame = os.read(tap, 65536)[VNET_HEADER:]
        payload = echoed_payload(frame, arguments.guest, arguments.port)
        if payload in expected:
            received.add(payload)
    print(f"echoed {len(received)} of {arguments.count}")
    return 0 if received == expected else 1


if __name__ == "__main__":
    sys.exit(main())
