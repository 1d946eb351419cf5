#!/usr/bin/env python3
"""The Firecracker-compatible API's costs, in one run, against `swiftvmm run` on the same file.

Interleaved runs of (a) `swiftvmm run --firmware FW` and (b) `swiftvmm serve` configured and
started through its socket (PUT /machine-config, PUT /boot-source, PUT /actions InstanceStart),
each timed from process spawn to the firmware's "fw: ready" line; medians and their ratio.
Then, on one served machine: GET / round trips on one keep-alive connection, and PATCH /vm
Paused + Resumed pairs (each answered once the vCPUs are parked or running again).

Usage: api-latency.py SWIFTVMM_BINARY FIRMWARE_ELF [--runs N] [--requests N]
Needs only Python's standard library (Debian's /usr/bin/python3).
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def request(connection, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status not in (200, 204):
        raise SystemExit(f"{method} {path}: {response.status} {data!r}")
    return data


def wait_for_socket(path, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.connect(path)
            probe.close()
            return
        except OSError:
            time.sleep(0.001)
    raise SystemExit(f"no socket at {path}")


def wait_for_ready(process):
    for line in process.stdout:
        if line.startswith(b"fw: ready"):
            return
    raise SystemExit("no 'fw: ready' line")


def boot_run(swiftvmm, firmware):
    start = time.monotonic_ns()
    process = subprocess.Popen(
        [swiftvmm, "run", "--firmware", firmware, "--memory", "64", "--cmdline", "console=ttyS0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    wait_for_ready(process)
    ready = time.monotonic_ns()
    process.wait()
    return (ready - start) / 1e6


def start_served(swiftvmm, firmware, sock, boot_args="console=ttyS0"):
    start = time.monotonic_ns()
    process = subprocess.Popen(
        [swiftvmm, "serve", "--api-sock", sock, "--level", "Off"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    wait_for_socket(sock)
    connection = UnixHTTPConnection(sock)
    request(connection, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    request(connection, "PUT", "/boot-source", {"kernel_image_path": firmware, "boot_args": boot_args})
    request(connection, "PUT", "/actions", {"action_type": "InstanceStart"})
    return start, process, connection


def boot_served(swiftvmm, firmware, sock):
    start, process, connection = start_served(swiftvmm, firmware, sock)
    wait_for_ready(process)
    ready = time.monotonic_ns()
    process.wait()
    connection.close()
    return (ready - start) / 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("swiftvmm")
    parser.add_argument("firmware")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    arguments = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="swiftvmm-api-bench-")
    sock = os.path.join(directory, "api.sock")

    runs, served = [], []
    for _ in range(arguments.runs):
        runs.append(boot_run(arguments.swiftvmm, arguments.firmware))
        served.append(boot_served(arguments.swiftvmm, arguments.firmware, sock))
    run_median, served_median = statistics.median(runs), statistics.median(served)

    _, process, connection = start_served(
        arguments.swiftvmm, arguments.firmware, sock, "console=ttyS0 fw.wait=ticks")
    latencies = []
    for _ in range(arguments.requests):
        begin = time.monotonic_ns()
        request(connection, "GET", "/")
        latencies.append((time.monotonic_ns() - begin) / 1e3)
    pauses = []
    for _ in range(50):
        begin = time.monotonic_ns()
        request(connection, "PATCH", "/vm", {"state": "Paused"})
        request(connection, "PATCH", "/vm", {"state": "Resumed"})
        pauses.append((time.monotonic_ns() - begin) / 1e3)
    request(connection, "PUT", "/actions", {"action_type": "SendCtrlAltDel"})
    process.wait(timeout=30)
    latencies.sort()
    pauses.sort()

    print(f"boot to 'fw: ready', median of {arguments.runs} interleaved runs:")
    print(f"  swiftvmm run                         {run_median:8.1f} ms")
    print(f"  swiftvmm serve + 3 API calls         {served_median:8.1f} ms   ratio {served_median / run_median:.2f}")
    print(f"GET / on one keep-alive connection ({arguments.requests} requests):")
    print(f"  median {statistics.median(latencies):.0f} us, p99 {latencies[int(len(latencies) * 0.99)]:.0f} us")
    print(f"PATCH /vm Paused + Resumed (50 pairs): median {statistics.median(pauses):.0f} us, "
          f"p99 {pauses[int(len(pauses) * 0.99)]:.0f} us")


if __name__ == "__main__":
    main()
