#!/usr/bin/env python3
"""Boot-time comparison: SwiftVMM vs QEMU on the same test-firmware file.

For each run, measures from process spawn to the firmware's "fw: ready" console line (printed
just before its boot-timer write) and to process exit. Runs are interleaved (SwiftVMM, QEMU,
SwiftVMM, ...) and the medians are reported, with their ratio.

Usage: boot-time.py SWIFTVMM_BINARY FIRMWARE_ELF [--runs N] [--cpus N]
"""
import argparse
import json
import os
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "firmware", "qemu-run.sh")


def measure(command):
    """Returns (ms to the ready line, ms to exit, exit status) for one run."""
    start = time.monotonic_ns()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    ready = None
    for line in process.stdout:
        if ready is None and line.startswith(b"fw: ready"):
            ready = time.monotonic_ns()
    status = process.wait()
    end = time.monotonic_ns()
    if ready is None:
        raise SystemExit(f"no 'fw: ready' line from {command} (status {status})")
    return (ready - start) / 1e6, (end - start) / 1e6, status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("swiftvmm")
    parser.add_argument("firmware")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cpus", type=int, default=1)
    parser.add_argument("--json", help="also write the medians to this file (for Benchmarks/run.sh)")
    arguments = parser.parse_args()
    commands = {
        "SwiftVMM": [arguments.swiftvmm, "run", "--firmware", arguments.firmware, "--cpus", str(arguments.cpus)],
        "QEMU": [QEMU_RUN, arguments.firmware, str(arguments.cpus), ""],
    }
    expected_status = {"SwiftVMM": 0, "QEMU": 1}  # QEMU: power-off fallback to debug-exit 0
    results = {name: [] for name in commands}
    for _ in range(arguments.runs):
        for name, command in commands.items():
            ready, total, status = measure(command)
            if status != expected_status[name]:
                raise SystemExit(f"{name} exited with {status}, expected {expected_status[name]}")
            results[name].append((ready, total))
    print(f"boot time, {arguments.cpus} vCPU(s), median of {arguments.runs} interleaved runs (ms from spawn)")
    print(f"{'':10} {'to fw: ready':>14} {'to exit':>10}")
    medians = {}
    for name, values in results.items():
        medians[name] = (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
        print(f"{name:10} {medians[name][0]:14.1f} {medians[name][1]:10.1f}")
    ratio_ready = medians["SwiftVMM"][0] / medians["QEMU"][0]
    ratio_exit = medians["SwiftVMM"][1] / medians["QEMU"][1]
    print(f"{'ratio':10} {ratio_ready:14.2f} {ratio_exit:10.2f}   (SwiftVMM / QEMU)")
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump({"runs": arguments.runs, "cpus": arguments.cpus,
                       "medians": {name: {"ready_ms": v[0], "exit_ms": v[1]} for name, v in medians.items()}},
                      handle, indent=1)


if __name__ == "__main__":
    main()
