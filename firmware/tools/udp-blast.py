#!/usr/bin/env python3
"""A UDP source for the test firmware's receive benchmark (fw.net-sink=PORT): host → guest.

Usage: udp-blast.py GUEST_IP PORT [--mib N] [--size BYTES]

Sends N MiB (default 64) of SIZE-byte datagrams (default 1400) to GUEST_IP:PORT as fast as the
socket takes them, then asks the firmware for its counters (UDP port 9, "counters") every 10 ms
until the sink's byte count stops growing for 0.5 s, and prints

  sent 47935 received 47935 bytes 67109000 elapsed 0.912345 s rate 70.15 MiB/s lost 0

elapsed runs from the first datagram sent to the last counters answer that still showed the
count growing; rate is the bytes the guest took over it; lost is what never arrived (the tap's
queue overflowed while the guest was behind). Uses only the standard library.
"""
import argparse
import re
import socket
import time


def counters(control, guest):
    control.sendto(b"counters", (guest, 9))
    try:
        data, _ = control.recvfrom(2048)
    except socket.timeout:
        return None
    match = re.search(rb"sink (\d+) (\d+)", data)
    return (int(match.group(1)), int(match.group(2))) if match else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("guest")
    parser.add_argument("port", type=int)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--size", type=int, default=1400)
    args = parser.parse_args()
    control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    control.settimeout(0.2)
    before = counters(control, args.guest)
    if before is None:
        raise SystemExit("udp-blast: the firmware does not answer counters with a sink (fw.net-sink=PORT?)")
    stream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stream.connect((args.guest, args.port))
    payload = bytes(range(256)) * (args.size // 256 + 1)
    payload = payload[: args.size]
    count = (args.mib << 20) // args.size
    start = time.monotonic()
    for _ in range(count):
        while True:
            try:
                stream.send(payload)
                break
            except BlockingIOError:
                time.sleep(0)
    # A request can be lost while the tap's queue is full: only answers count, and the count is
    # final once answers have shown no growth for 0.5 s.
    last_growth, seen, answered_since = time.monotonic(), before, None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = counters(control, args.guest)
        if now is not None:
            if now[1] > seen[1]:
                seen, last_growth, answered_since = now, time.monotonic(), time.monotonic()
            elif answered_since is None:
                answered_since = time.monotonic()
            elif time.monotonic() - answered_since >= 0.5:
                break
        time.sleep(0.01)
    datagrams, received = seen[0] - before[0], seen[1] - before[1]
    elapsed = last_growth - start
    print(f"sent {count} received {datagrams} bytes {received} elapsed {elapsed:.6f} s "
          f"rate {received / elapsed / (1 << 20):.2f} MiB/s lost {count - datagrams}", flush=True)


if __name__ == "__main__":
    main()
