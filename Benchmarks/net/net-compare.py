#!/usr/bin/env python3
"""Network comparison: SwiftVMM vs QEMU with the same firmware file on the same kind of tap.

In a network namespace this script creates (and deletes): tap0 10.0.2.2/24, the guest
10.0.2.15/24 running the firmware's responder (fw.net). For each runner, interleaved RUNS times:
  - ping: `ping -c 100 -i 0.01` from the namespace, average round-trip time;
  - UDP stream guest → host: the firmware sends MiB MiB of 1400-byte datagrams (fw.net-bench) to
    a sink in the namespace (firmware/tools/udp-sink.py), which reports MiB/s and losses;
  - UDP stream host → guest: firmware/tools/udp-blast.py sends MiB MiB of 1400-byte datagrams to
    the firmware's sink (fw.net-sink) as fast as the socket takes them and reads the firmware's
    count back: MiB/s the guest took, and what the tap dropped while the guest was behind.
The guest is stopped by PID (SwiftVMM: SIGTERM presses its power button; QEMU: SIGTERM).
Medians are printed with the SwiftVMM/QEMU ratio.

Usage (root): net-compare.py SWIFTVMM_BINARY FIRMWARE_ELF [--runs 3] [--mib 64]
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIRMWARE = os.path.join(HERE, "..", "..", "firmware")
NAMESPACE = f"svmm-netcmp-{os.getpid()}"


def ns(*command, **kwargs):
    return subprocess.run(["ip", "netns", "exec", NAMESPACE, *command], **kwargs)


def one_run(guest_command, env, mib):
    sink = subprocess.Popen(["ip", "netns", "exec", NAMESPACE, "python3", os.path.join(FIRMWARE, "tools", "udp-sink.py"),
                             "5001", "--expect", str(mib << 20), "--wait", "30"], stdout=subprocess.PIPE, text=True)
    sink.stdout.readline()  # "listening on ..."
    guest = subprocess.Popen(["ip", "netns", "exec", NAMESPACE, *guest_command], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    for line in guest.stdout:
        if line.startswith(b"fw~ net-bench end"):
            break
        if b"FAIL" in line:
            raise SystemExit(line.decode().strip())
    sink_output, _ = sink.communicate(timeout=60)
    match = re.search(r"rate ([\d.]+) MiB/s lost (\d+)", sink_output)
    rate, lost = float(match.group(1)), int(match.group(2))
    ping = ns("ping", "-c", "100", "-i", "0.01", "-W", "1", "10.0.2.15", capture_output=True, text=True)
    rtt = float(re.search(r"= [\d.]+/([\d.]+)/", ping.stdout).group(1))
    received = int(re.search(r"(\d+) received", ping.stdout).group(1))
    blast = ns("/usr/bin/python3", os.path.join(FIRMWARE, "tools", "udp-blast.py"), "10.0.2.15", "5002", "--mib",
               str(mib), capture_output=True, text=True)
    match = re.search(r"rate ([\d.]+) MiB/s lost (\d+)", blast.stdout)
    if match is None:
        raise SystemExit(f"udp-blast: {blast.stdout} {blast.stderr}")
    rx_rate, rx_lost = float(match.group(1)), int(match.group(2))
    guest.send_signal(signal.SIGTERM)  # ip netns exec execs the runner: this PID is ours
    try:
        guest.wait(timeout=10)
    except subprocess.TimeoutExpired:
        guest.kill()
        guest.wait()
    return rtt, received, rate, lost, rx_rate, rx_lost


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("swiftvmm")
    parser.add_argument("firmware")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--json", help="also write the medians to this file (for Benchmarks/run.sh)")
    arguments = parser.parse_args()
    cmdline = f"fw.net=10.0.2.15/24 fw.net-bench=10.0.2.2:5001,{arguments.mib},1400 fw.net-sink=5002"
    subprocess.run(["ip", "netns", "add", NAMESPACE], check=True)
    try:
        ns("ip", "link", "set", "lo", "up", check=True)
        ns("ip", "tuntap", "add", "dev", "tap0", "mode", "tap", check=True)
        ns("ip", "addr", "add", "10.0.2.2/24", "dev", "tap0", check=True)
        ns("ip", "link", "set", "tap0", "up", check=True)
        runners = {
            "SwiftVMM": ([arguments.swiftvmm, "run", "--net", "tap=tap0", "--cmdline", cmdline], None),
            "QEMU": ([os.path.join(FIRMWARE, "qemu-run.sh"), arguments.firmware, "1", cmdline],
                     dict(os.environ, QEMU_NET_TAP="tap0")),
        }
        results = {name: [] for name in runners}
        for _ in range(arguments.runs):
            for name, (command, env) in runners.items():
                results[name].append(one_run(command, env, arguments.mib))
                time.sleep(0.5)
    finally:
        subprocess.run(["ip", "netns", "del", NAMESPACE])
    print(f"network, median of {arguments.runs} interleaved runs: ping -c 100 -i 0.01; UDP {arguments.mib} MiB of "
          "1400-byte datagrams each way")
    print(f"{'':10} {'ping avg ms':>12} {'received':>9} {'tx MiB/s':>9} {'lost':>6} {'rx MiB/s':>9} {'rx lost':>8}")
    medians = {}
    for name, values in results.items():
        medians[name] = (statistics.median(v[0] for v in values), min(v[1] for v in values),
                         statistics.median(v[2] for v in values), max(v[3] for v in values),
                         statistics.median(v[4] for v in values), max(v[5] for v in values))
        rtt, received, rate, lost, rx_rate, rx_lost = medians[name]
        print(f"{name:10} {rtt:12.3f} {received:9} {rate:9.1f} {lost:6} {rx_rate:9.1f} {rx_lost:8}")
    print(f"{'ratio':10} {medians['SwiftVMM'][0] / medians['QEMU'][0]:12.2f} {'':9} "
          f"{medians['SwiftVMM'][2] / medians['QEMU'][2]:9.2f} {'':6} "
          f"{medians['SwiftVMM'][4] / medians['QEMU'][4]:9.2f}   (SwiftVMM / QEMU; tx = guest → host, rx = host → guest)")
    if arguments.json:
        keys = ["ping_ms", "received", "tx_mib_s", "tx_lost", "rx_mib_s", "rx_lost"]
        with open(arguments.json, "w") as handle:
            json.dump({"runs": arguments.runs, "mib": arguments.mib,
                       "medians": {name: dict(zip(keys, values)) for name, values in medians.items()}}, handle, indent=1)


if __name__ == "__main__":
    main()
