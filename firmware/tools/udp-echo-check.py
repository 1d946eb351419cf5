#!/usr/bin/env python3
"""Checks the test firmware's UDP echo (fw.net=..., fw.udp-echo=PORT) byte-exactly.

Usage: udp-echo-check.py HOST PORT [--sizes 1,2,100,1000,1472] [--timeout 2] [--counters]

Sends one datagram of each size (random bytes), waits for its echo and checks that it comes
from HOST:PORT with exactly the bytes sent. With --counters, it also asks the firmware for
its counters (a datagram "counters" to HOST port 9) before and after, prints both replies and
checks that the firmware's udp counter grew by exactly the number of echoes.

Exits 0 when everything matched, 1 on a mismatch, a timeout or a counter difference, 2 on bad
usage. Uses only the standard library.
"""
import argparse
import os
import socket
import sys

CONTROL_PORT = 9


def parse_counters(text):
    """'net counters rx 1 tx 2 ...' -> {'rx': 1, 'tx': 2, ...}"""
    words = text.split()
    if words[:2] != ["net", "counters"] or len(words) % 2 != 0:
        raise ValueError(f"not a counters reply: {text!r}")
    return {words[i]: int(words[i + 1]) for i in range(2, len(words), 2)}


def query_counters(host, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((host, CONTROL_PORT))
        s.send(b"counters")
        reply = s.recv(65535).decode("ascii", "replace").strip()
    return reply, parse_counters(reply)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--sizes", default="1,2,100,1000,1472",
                        help="comma-separated payload sizes (default: 1,2,100,1000,1472)")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each reply")
    parser.add_argument("--counters", action="store_true",
                        help="also check the firmware's udp counter through port 9")
    args = parser.parse_args()
    try:
        sizes = [int(x) for x in args.sizes.split(",") if x]
    except ValueError:
        parser.error(f"bad --sizes {args.sizes!r}")
    if not sizes or any(n < 0 or n > 65507 for n in sizes):
        parser.error("sizes must be 0..65507")

    before = None
    if args.counters:
        try:
            text, before = query_counters(args.host, args.timeout)
        except (OSError, ValueError) as e:
            print(f"FAIL counters request: {e}")
            return 1
        print(f"counters before: {text}")

    failures = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(args.timeout)
        s.connect((args.host, args.port))  # replies from anywhere else are filtered out
        for n in sizes:
            payload = os.urandom(n)
            s.send(payload)
            try:
                reply = s.recv(65535)
            except socket.timeout:
                print(f"FAIL size {n}: no reply within {args.timeout} s")
                failures += 1
                continue
            if reply != payload:
                where = next((i for i in range(min(len(reply), n)) if reply[i] != payload[i]),
                             min(len(reply), n))
                print(f"FAIL size {n}: reply of {len(reply)} bytes differs at byte {where}")
                failures += 1
            else:
                print(f"ok size {n}")

    if args.counters:
        try:
            text, after = query_counters(args.host, args.timeout)
        except (OSError, ValueError) as e:
            print(f"FAIL counters request: {e}")
            return 1
        print(f"counters after: {text}")
        grew = after.get("udp", 0) - before.get("udp", 0)
        expected = len(sizes) - failures
        if grew != expected:
            print(f"FAIL the firmware's udp counter grew by {grew}, expected {expected}")
            failures += 1
        else:
            print(f"ok udp counter grew by {grew}")

    print(f"{len(sizes) - min(failures, len(sizes))} of {len(sizes)} echoes matched")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
