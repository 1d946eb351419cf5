#!/usr/bin/env python3
"""Extracts the uncompressed vmlinux (an ELF with a PVH note) from a Linux bzImage.

Usage: extract-vmlinux.py BZIMAGE OUTPUT

Reads payload_offset/payload_length from the setup header and decompresses the payload with
the tool its magic number names (lz4, xz, zstd or gzip; Debian's cloud kernels use lz4).
"""
import gzip
import lzma
import shutil
import struct
import subprocess
import sys


def main():
    source, output = sys.argv[1], sys.argv[2]
    data = open(source, "rb").read()
    setup_sectors = data[0x1F1] or 4
    offset, length = struct.unpack_from("<II", data, 0x248)
    payload = data[(setup_sectors + 1) * 512 + offset:][:length]
    if payload.startswith(b"\x02\x21\x4c\x18"):
        if not shutil.which("lz4"):
            sys.exit("extract-vmlinux: lz4 is not installed (apt-get install lz4)")
        result = subprocess.run(["lz4", "-d", "-c"], input=payload, capture_output=True)
        kernel = result.stdout
    elif payload.startswith(b"\xfd7zXZ"):
        kernel = lzma.decompress(payload)
    elif payload.startswith(b"\x28\xb5\x2f\xfd"):
        kernel = subprocess.run(["zstd", "-d", "-c"], input=payload, capture_output=True, check=True).stdout
    elif payload.startswith(b"\x1f\x8b"):
        kernel = gzip.decompress(payload)
    else:
        sys.exit(f"extract-vmlinux: unknown compression (magic {payload[:4].hex()})")
    if not kernel.startswith(b"\x7fELF"):
        sys.exit("extract-vmlinux: the decompressed payload is not an ELF")
    open(output, "wb").write(kernel)


if __name__ == "__main__":
    main()
