#!/usr/bin/env python3
"""A UDP sink for the test firmware's transmit benchmark (fw.net-bench=DEST_IP:PORT,MiB,SIZE).

Usage: udp-sink.py PORT [--bind ADDRESS] [--idle SECONDS] [--expect BYTES] [--wait SECONDS]

Counts the bytes (UDP payload) and datagrams received on PORT and prints them with the time
from the first datagram to the last:

  bytes 67108864 datagrams 47935 elapsed 0.912345 s rate 70.15 MiB/s lost 0

It stops when --expect bytes have arrived, when no datagram came for --idle seconds (default
2) after the first one, or when none came at all within --wait seconds (default 60; exit
status 1). `lost` counts the gaps in the datagrams' sequence numbers (the first 8 payload
bytes, little-endian, as the firmware sends them). Prints "listening on ..." once the socket
is bound (start the firmware after that). Uses only the standard library.
"""
import argparse
import socket
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--idle", type=float, default=2.0)
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--wait", type=float, default=60.0)
    args = parser.parse_args()

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((args.bind, args.port))
    print(f"listening on {args.bind}:{args.port}", flush=True)
    buffer = bytearray(65536)
    total = datagrams = 0
    first = last = None
    highest = -1
    s.settimeout(args.wait)
    while True:
        try:
            n = s.recv_into(buffer)
        except socket.timeout:
            break
        now = time.monotonic()
        if first is None:
            first = now
            s.settimeout(args.idle)
        last = now
        total += n
        datagrams += 1
        if n >= 8:
            highest = max(highest, int.from_bytes(buffer[:8], "little"))
        if args.expect and total >= args.expect:
            break
    if first is None:
        print(f"no datagram within {args.wait} s")
        return 1
    elapsed = last - first
    rate = total / elapsed / (1 << 20) if elapsed > 0 else 0.0
    lost = highest + 1 - datagrams if highest >= 0 else 0
    print(f"bytes {total} datagrams {datagrams} elapsed {elapsed:.6f} s rate {rate:.2f} MiB/s lost {lost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
