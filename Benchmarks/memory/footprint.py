#!/usr/bin/env python3
"""What the VMM itself costs in memory, SwiftVMM next to QEMU: the same firmware with a disk,
idle (`fw.test=blk fw.blk-mib=1 fw.wait=idle`), for a 128 MiB and a 1 GiB guest.

From /proc/PID/smaps, half a second after the firmware says it is idle: the process's Rss, Pss and Anonymous; the guest
RAM mapping (the one mapping as large as the guest's memory, up to 4 MiB of alignment more) is
found and its own Rss taken off: "overhead" = Rss - the guest mapping's Rss (what the VMM costs
beyond the guest memory the guest touched), "anon overhead" likewise for Anonymous. Medians of
RUNS interleaved runs.

Usage: footprint.py SWIFTVMM FIRMWARE_ELF [--runs 3] [--sizes 128,1024] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "firmware", "qemu-run.sh")
COMMAND_LINE = "fw.test=blk fw.blk-mib=1 fw.wait=idle"


def smaps(pid, guest_mib):
    """Rss, Pss, Anonymous of the process and of its guest RAM mapping, in KiB."""
    total = {"Rss": 0, "Pss": 0, "Anonymous": 0}
    guest = {"Rss": 0, "Anonymous": 0}
    low, high = guest_mib * 1024, guest_mib * 1024 + 4096
    in_guest = False
    with open(f"/proc/{pid}/smaps") as file:
        for line in file:
            fields = line.split()
            if not fields:
                continue
            if not fields[0].endswith(":"):  # a mapping's header line
                in_guest = False
                continue
            name = fields[0][:-1]
            if name == "Size":
                in_guest = low <= int(fields[1]) <= high and guest["Rss"] == 0
            if name in total:
                total[name] += int(fields[1])
            if in_guest and name in guest:
                guest[name] += int(fields[1])
    return total, guest


def measure(command, env, guest_mib, pid_of):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                               env=env)
    result = None
    try:
        for line in process.stdout:
            if line.startswith(b"fw: idle"):
                time.sleep(0.5)
                total, guest = smaps(pid_of(process.pid), guest_mib)
                result = {"rss_kib": total["Rss"], "pss_kib": total["Pss"], "anon_kib": total["Anonymous"],
                          "guest_rss_kib": guest["Rss"],
                          "overhead_kib": total["Rss"] - guest["Rss"],
                          "anon_overhead_kib": total["Anonymous"] - guest["Anonymous"]}
                break
    finally:
        process.terminate()
        process.wait()
    if result is None:
        raise SystemExit(f"no 'fw: idle' from {' '.join(command)}")
    return result


def qemu_pid(wrapper_pid):
    """qemu-run.sh execs timeout, which runs QEMU as its child."""
    for _ in range(50):
        children = open(f"/proc/{wrapper_pid}/task/{wrapper_pid}/children").read().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise SystemExit("QEMU's process not found")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("swiftvmm")
    parser.add_argument("firmware")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="128,1024")
    parser.add_argument("--json")
    arguments = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="swiftvmm-footprint-", dir="/var/tmp") as directory:
        image = os.path.join(directory, "disk.img")
        with open(image, "wb") as handle:
            handle.truncate(8 << 20)
        for mib in [int(size) for size in arguments.sizes.split(",")]:
            results = {"SwiftVMM": [], "QEMU": []}
            for _ in range(arguments.runs):
                results["SwiftVMM"].append(measure(
                    [arguments.swiftvmm, "run", "--memory", str(mib), "--disk", f"path={image}", "--cmdline",
                     COMMAND_LINE], None, mib, lambda pid: pid))
                env = dict(os.environ, QEMU_MEMORY_MIB=str(mib), QEMU_TIMEOUT="60", QEMU_EXTRA_ARGS=(
                    f"-drive file={image},format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0"))
                results["QEMU"].append(measure([QEMU_RUN, arguments.firmware, "1", COMMAND_LINE], env, mib, qemu_pid))
            for name, runs in results.items():
                row = {"vmm": name, "guest_mib": mib}
                for key in runs[0]:
                    row[key] = statistics.median(run[key] for run in runs)
                rows.append(row)
    print(f"memory, idle firmware with a disk, median of {arguments.runs} interleaved runs (MiB)")
    print(f"{'VMM':9} {'guest':>6} {'RSS':>7} {'PSS':>7} {'anon':>7} {'guest RSS':>9} {'overhead':>9} {'anon ovh':>9}")
    for row in rows:
        print(f"{row['vmm']:9} {row['guest_mib']:6} {row['rss_kib'] / 1024:7.1f} {row['pss_kib'] / 1024:7.1f} "
              f"{row['anon_kib'] / 1024:7.1f} {row['guest_rss_kib'] / 1024:9.1f} {row['overhead_kib'] / 1024:9.1f} "
              f"{row['anon_overhead_kib'] / 1024:9.1f}")
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump({"runs": arguments.runs, "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
