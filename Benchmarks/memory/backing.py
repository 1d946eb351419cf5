#!/usr/bin/env python3
"""Boot time and memory of each guest-memory backing, in one run.

For each memory size and each backing (anonymous, memfd, hugetlbfs), without and with
memory_prefault: the time from process spawn to the firmware's "fw: ready" line (median of N
runs, interleaved across the configurations), and, while the firmware waits for the power button,
the process's VmRSS, RssAnon, RssShmem and HugetlbPages (/proc/PID/status) and Pss
(/proc/PID/smaps_rollup). The host's 2 MiB huge-page pool is grown for the hugetlbfs runs and put
back afterwards (needs root).

Usage: backing.py SWIFTVMM_BINARY [--runs N] [--sizes 128,1024]
Needs only Python's standard library (Debian's /usr/bin/python3).
"""
import argparse
import statistics
import subprocess
import time

POOL = "/proc/sys/vm/nr_hugepages"


def read_pool():
    with open(POOL) as file:
        return int(file.read())


def write_pool(pages):
    with open(POOL, "w") as file:
        file.write(f"{pages}\n")


def status_fields(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssShmem", "HugetlbPages"):
                fields[name] = int(value.split()[0])
    with open(f"/proc/{pid}/smaps_rollup") as file:
        for line in file:
            if line.startswith("Pss:"):
                fields["Pss"] = int(line.split()[1])
    return fields


def boot(swiftvmm, mib, backing, prefault, measure_memory):
    command = [swiftvmm, "run", "--memory", str(mib), "--memory-backing", backing, "--cmdline", "fw.wait=button"]
    if prefault:
        command.append("--memory-prefault")
    start = time.monotonic_ns()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    ready = None
    memory = None
    for line in process.stdout:
        if ready is None and line.startswith(b"fw: ready"):
            ready = (time.monotonic_ns() - start) / 1e6
        if line.startswith(b"fw: waiting for the power button"):
            if measure_memory:
                time.sleep(0.2)
                memory = status_fields(process.pid)
            process.terminate()
    status = process.wait()
    if ready is None or status != 0:
        raise SystemExit(f"{' '.join(command)}: no ready line or status {status}")
    return ready, memory


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("swiftvmm")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="128,1024")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    configurations = [
        (mib, backing, prefault)
        for mib in sizes
        for backing in ("anonymous", "memfd", "hugetlbfs")
        for prefault in (False, True)
    ]
    original = read_pool()
    write_pool(original + max(sizes) // 2)
    try:
        times = {configuration: [] for configuration in configurations}
        memory = {}
        for run in range(arguments.runs):
            for configuration in configurations:
                ready, fields = boot(arguments.swiftvmm, *configuration, measure_memory=run == 0)
                times[configuration].append(ready)
                if fields is not None:
                    memory[configuration] = fields
    finally:
        write_pool(original)
    print(f"| guest | backing | prefault | boot to ready (median of {arguments.runs}) | VmRSS | RssAnon | RssShmem "
          "| HugetlbPages | Pss |")
    print("|---|---|---|---|---|---|---|---|---|")
    for configuration in configurations:
        mib, backing, prefault = configuration
        fields = memory[configuration]

        def mebibytes(name):
            return f"{fields.get(name, 0) / 1024:.1f} MiB"

        print(f"| {mib} MiB | {backing} | {'yes' if prefault else 'no'} | "
              f"{statistics.median(times[configuration]):.1f} ms | {mebibytes('VmRSS')} | {mebibytes('RssAnon')} | "
              f"{mebibytes('RssShmem')} | {mebibytes('HugetlbPages')} | {mebibytes('Pss')} |")


if __name__ == "__main__":
    main()
