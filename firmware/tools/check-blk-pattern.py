#!/usr/bin/env python3
"""Checks the pattern the test firmware's fw.test=blk leaves on a raw disk image.

Usage: check-blk-pattern.py IMAGE DISK_INDEX [MiB] [--tail zeros|pattern|any] [--blk-size BYTES]

The firmware writes the tested area -- the first min(capacity, MiB MiB) of the disk, MiB being
fw.blk-mib (default 64), capacity the image size in 512-byte sectors (rounded down), the area
rounded down to whole blk_size blocks -- so that 512-byte sector s of disk DISK_INDEX (the
device's index among the virtio-blk devices, in command-line order, from 0) holds 64
little-endian u64 words, word w = (s << 16) | (DISK_INDEX << 8) | w. When the device offers
VIRTIO_BLK_F_WRITE_ZEROES it then zeroes the last 8 sectors of the area (max(8, blk_size / 512)
sectors, at most the area): --tail says what those must hold, zeros (the default), the
pattern, or either. Everything after the area is not looked at.

Exit status 0 when the image matches (one "ok: ..." line on stdout), 1 at the first mismatch
(a line naming the sector and word), 2 on a usage error.
"""
import argparse
import os
import sys

SECTOR = 512
WORDS = 64
TAIL_SECTORS = 8

# The 64 words of a sector as one little-endian integer: base * ONES + STEPS, where
# base = (s << 16) | (disk << 8) (its low byte is 0, so base | w == base + w for w < 64).
ONES = sum(1 << (64 * w) for w in range(WORDS))
STEPS = sum(w << (64 * w) for w in range(WORDS))
ZERO_SECTOR = bytes(SECTOR)


def expected_sector(sector, disk):
    base = (sector << 16) | (disk << 8)
    return (base * ONES + STEPS).to_bytes(SECTOR, "little")


def first_difference(got, want):
    for w in range(WORDS):
        a = got[8 * w:8 * w + 8]
        b = want[8 * w:8 * w + 8]
        if a != b:
            return w, int.from_bytes(a, "little"), int.from_bytes(b, "little")
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("disk_index", type=int)
    parser.add_argument("mib", type=int, nargs="?", default=64)
    parser.add_argument("--tail", choices=("zeros", "pattern", "any"), default="zeros")
    parser.add_argument("--blk-size", type=int, default=SECTOR)
    args = parser.parse_args()
    if not 0 <= args.disk_index < 256 or args.mib < 1 or args.blk_size < SECTOR or args.blk_size % SECTOR:
        parser.error("DISK_INDEX must be 0-255, MiB at least 1, --blk-size a multiple of 512")

    unit = args.blk_size // SECTOR
    capacity = os.path.getsize(args.image) // SECTOR
    area = min(capacity, args.mib * 1024 * 1024 // SECTOR)
    area -= area % unit
    tail = min(max(TAIL_SECTORS, unit), area)
    tail_start = area - tail

    with open(args.image, "rb") as image:
        for sector in range(area):
            got = image.read(SECTOR)
            if len(got) != SECTOR:
                print(f"FAIL: {args.image}: short read at sector {sector}")
                return 1
            want = expected_sector(sector, args.disk_index)
            if sector >= tail_start:
                if args.tail == "zeros" or (args.tail == "any" and got == ZERO_SECTOR):
                    want = ZERO_SECTOR
            if got != want:
                w, a, b = first_difference(got, want)
                what = "zeros" if want == ZERO_SECTOR else "pattern"
                print(f"FAIL: {args.image}: sector {sector} word {w}: 0x{a:016x}, expected 0x{b:016x} ({what})")
                return 1
    print(f"ok: {args.image}: {area} sectors of disk {args.disk_index}'s pattern"
          f" (last {tail} {args.tail if args.tail != 'any' else 'zeros or pattern'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
