#!/usr/bin/env python3
"""Sequential disk throughput: the test firmware's virtio-blk bench under SwiftVMM and under
QEMU on the same image and cache mode, next to the host's own reads and writes of that file.

For each guest run the firmware prints `fw~ blk-bench <op> qd<depth> start` / `... end <bytes>
bytes ...`; this script timestamps those lines as they arrive (time.monotonic) and reports MiB/s
per pass (queue depth 1 and the deepest the queue allows). The host figures come from dd with
O_DIRECT (cache=none) or through the page cache (cache=writeback), queue depth 1.
Runs are interleaved (SwiftVMM, QEMU, host) and the median of RUNS is reported.

Usage: disk-throughput.py SWIFTVMM_BINARY FIRMWARE_ELF [--mib 64] [--runs 3] [--cache none]
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "firmware", "qemu-run.sh")
LINE = re.compile(rb"fw~ blk-bench (read|write) qd(\d+) (start|end)")


def bench(command, env=None):
    """Returns {(op, depth): seconds} from one guest run."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                               env=env)
    starts, results = {}, {}
    for line in process.stdout:
        match = LINE.search(line)
        if not match:
            if b"FAIL" in line:
                raise SystemExit(f"{command[0]}: {line.decode().strip()}")
            continue
        key = (match.group(1).decode(), int(match.group(2)))
        if match.group(3) == b"start":
            starts[key] = time.monotonic()
        else:
            results[key] = time.monotonic() - starts[key]
    process.wait()
    if not results:
        raise SystemExit(f"no bench lines from {command}")
    return results


def host(image, op, request_bytes, mib, cache):
    flag = "direct" if cache == "none" else "fullblock"
    count = (mib << 20) // request_bytes
    if op == "read":
        command = ["dd", f"if={image}", "of=/dev/null", f"bs={request_bytes}", f"count={count}", f"iflag={flag}"]
    else:
        command = ["dd", "if=/dev/zero", f"of={image}", f"bs={request_bytes}", f"count={count}", "conv=notrunc,fdatasync"]
        if cache == "none":
            command.append("oflag=direct")
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("swiftvmm")
    parser.add_argument("firmware")
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", choices=["none", "writeback"], default="none")
    arguments = parser.parse_args()
    mib = arguments.mib
    with tempfile.TemporaryDirectory(prefix="swiftvmm-disk-") as directory:
        image = os.path.join(directory, "disk.img")
        with open(image, "wb") as handle:
            handle.truncate((mib + 8) << 20)
        rows = []
        for op in ["read", "write"]:
            for request_kib in [4, 1024]:
                switch = f"fw.blk-bench={op},{mib},{request_kib}"
                swift_runs, qemu_runs, host_runs = [], [], []
                for _ in range(arguments.runs):
                    swift_runs.append(bench([arguments.swiftvmm, "run", "--memory", "512", "--disk",
                                             f"path={image},cache={arguments.cache}", "--cmdline", switch]))
                    env = dict(os.environ, QEMU_MEMORY_MIB="512", QEMU_EXTRA_ARGS=(
                        f"-drive file={image},format=raw,if=none,id=d0,cache={arguments.cache}"
                        " -device virtio-blk-device,drive=d0"))
                    qemu_runs.append(bench([QEMU_RUN, arguments.firmware, "1", switch], env=env))
                    host_runs.append(host(image, op, request_kib * 1024, mib, arguments.cache))
                depths = sorted({key[1] for key in swift_runs[0]})
                for depth in depths:
                    swift = statistics.median(run[(op, depth)] for run in swift_runs)
                    qemu_depth = max(d for (o, d) in qemu_runs[0] if o == op) if depth > 1 else 1
                    qemu = statistics.median(run[(op, qemu_depth)] for run in qemu_runs)
                    row = [op, f"{request_kib} KiB", depth, mib / swift, mib / qemu]
                    row.append(mib / statistics.median(host_runs) if depth == 1 else None)
                    rows.append(row)
        print(f"sequential throughput, {mib} MiB, cache={arguments.cache}, median of {arguments.runs} interleaved runs (MiB/s)")
        print(f"{'op':6} {'request':>8} {'depth':>5} {'SwiftVMM':>9} {'QEMU':>9} {'ratio':>6} {'host dd':>8}")
        for op, request, depth, swift, qemu, hostrate in rows:
            hosttext = f"{hostrate:8.1f}" if hostrate else f"{'':>8}"
            print(f"{op:6} {request:>8} {depth:5} {swift:9.1f} {qemu:9.1f} {swift / qemu:6.2f} {hosttext}")


if __name__ == "__main__":
    main()
