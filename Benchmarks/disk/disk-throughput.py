#!/usr/bin/env python3
"""Sequential disk throughput at depth: the test firmware's virtio-blk bench under SwiftVMM and
under QEMU on the same image and cache mode, next to fio on the same file (the host's ceiling).

Matrix: read and write x 4 KiB, 64 KiB and 1 MiB requests x queue depth 1, 8 and 64
(`fw.blk-bench` does the three depths in one guest run). Guests:
  SwiftVMM aio=auto (io_uring here) and aio=threads (the worker pool a pod falls back to);
  QEMU aio=io_uring and aio=threads (microvm, KVM, firmware/qemu-run.sh), same cache mode.
Ratios: SwiftVMM (auto) / the better QEMU of the two, per row; SwiftVMM / fio (O_DIRECT,
io_uring engine, same depth and block size) for the ceiling.

For each guest run the firmware prints `fw~ blk-bench <op> qd<depth> start` / `... end`; this
script timestamps those lines as they arrive (time.monotonic). The image is written once before
(allocated blocks: reads are of real data, not of holes). Runs are interleaved and the median of
RUNS is reported.

Usage: disk-throughput.py SWIFTVMM FIRMWARE_ELF [--mib 64] [--runs 3] [--cache none] [--json FILE]
                          [--sizes 4,64,1024] [--ops read,write]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "firmware", "qemu-run.sh")
LINE = re.compile(rb"fw~ blk-bench (read|write) qd(\d+) (start|end)")
DEPTHS = [1, 8, 64]


def bench(command, env=None):
    """Returns {depth: seconds} from one guest run."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               env=env)
    starts, results = {}, {}
    for line in process.stdout:
        match = LINE.search(line)
        if not match:
            if b"FAIL" in line:
                process.kill()
                raise SystemExit(f"{command[0]}: {line.decode().strip()}")
            continue
        depth = int(match.group(2))
        if match.group(3) == b"start":
            starts[depth] = time.monotonic()
        else:
            results[depth] = time.monotonic() - starts[depth]
    error = process.stderr.read().decode(errors="replace")
    process.wait()
    if sorted(results) != DEPTHS:
        raise SystemExit(f"no bench lines for depths {DEPTHS} from {' '.join(command)}: {sorted(results)}\n{error}")
    return results


def fio(image, op, request_kib, depth, mib):
    """MiB/s of fio on `image`: O_DIRECT, io_uring, sequential, `depth` in flight."""
    command = ["fio", "--name=ceiling", f"--filename={image}", f"--rw={op}", f"--bs={request_kib}k",
               f"--iodepth={depth}", "--ioengine=io_uring", "--direct=1", f"--size={mib}m", "--numjobs=1",
               "--output-format=json"]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    job = json.loads(result.stdout)["jobs"][0][op]
    return job["bw_bytes"] / (1 << 20)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("swiftvmm")
    parser.add_argument("firmware")
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", choices=["none", "writeback"], default="none")
    parser.add_argument("--sizes", default="4,64,1024", help="request sizes in KiB")
    parser.add_argument("--ops", default="read,write")
    parser.add_argument("--json", help="also write every median to this file (for Benchmarks/run.sh)")
    arguments = parser.parse_args()
    if not shutil.which("fio"):
        raise SystemExit("fio not found (apt-get install fio)")
    mib = arguments.mib
    sizes = [int(size) for size in arguments.sizes.split(",")]
    ops = arguments.ops.split(",")
    cache = arguments.cache
    guests = {
        "SwiftVMM auto": lambda image: ([arguments.swiftvmm, "run", "--memory", "512", "--disk",
                                         f"path={image},cache={cache},aio=auto"], None),
        "SwiftVMM threads": lambda image: ([arguments.swiftvmm, "run", "--memory", "512", "--disk",
                                            f"path={image},cache={cache},aio=threads"], None),
        "QEMU io_uring": lambda image: ([QEMU_RUN, arguments.firmware, "1"], "io_uring"),
        "QEMU threads": lambda image: ([QEMU_RUN, arguments.firmware, "1"], "threads"),
    }
    with tempfile.TemporaryDirectory(prefix="swiftvmm-disk-", dir="/var/tmp") as directory:
        image = os.path.join(directory, "disk.img")
        # Allocated, not sparse: reads must reach data blocks (holes read as zeros for free).
        subprocess.run(["dd", "if=/dev/zero", f"of={image}", "bs=1M", f"count={mib + 8}", "oflag=direct",
                        "status=none"], check=True)
        rows = []
        for op in ops:
            for request_kib in sizes:
                switch = f"fw.blk-bench={op},{mib},{request_kib}"
                runs = {name: [] for name in guests}
                ceiling = {depth: [] for depth in DEPTHS}
                for _ in range(arguments.runs):
                    for name, make in guests.items():
                        command, qemu_aio = make(image)
                        if qemu_aio is None:
                            runs[name].append(bench(command + ["--cmdline", switch]))
                        else:
                            env = dict(os.environ, QEMU_MEMORY_MIB="512", QEMU_EXTRA_ARGS=(
                                f"-drive file={image},format=raw,if=none,id=d0,cache={cache},aio={qemu_aio}"
                                " -device virtio-blk-device,drive=d0"))
                            runs[name].append(bench(command + [switch], env=env))
                    for depth in DEPTHS:
                        ceiling[depth].append(fio(image, op, request_kib, depth, mib))
                for depth in DEPTHS:
                    row = {"op": op, "request_kib": request_kib, "depth": depth,
                           "fio": statistics.median(ceiling[depth])}
                    for name in guests:
                        row[name] = mib / statistics.median(run[depth] for run in runs[name])
                    row["qemu_best"] = max(row["QEMU io_uring"], row["QEMU threads"])
                    row["ratio_qemu"] = row["SwiftVMM auto"] / row["qemu_best"]
                    row["ratio_threads_qemu"] = row["SwiftVMM threads"] / row["qemu_best"]
                    row["ratio_fio"] = row["SwiftVMM auto"] / row["fio"]
                    rows.append(row)
    print(f"sequential throughput, {mib} MiB per pass, cache={cache}, median of {arguments.runs} interleaved runs"
          " (MiB/s); ratio = SwiftVMM auto / the better QEMU")
    print(f"{'op':6} {'req':>6} {'qd':>3} {'Swift auto':>10} {'Swift thr':>10} {'QEMU uring':>10} {'QEMU thr':>9} "
          f"{'ratio':>6} {'fio':>8} {'/fio':>5}")
    for row in rows:
        print(f"{row['op']:6} {str(row['request_kib']) + 'K':>6} {row['depth']:3} {row['SwiftVMM auto']:10.1f} "
              f"{row['SwiftVMM threads']:10.1f} {row['QEMU io_uring']:10.1f} {row['QEMU threads']:9.1f} "
              f"{row['ratio_qemu']:6.2f} {row['fio']:8.1f} {row['ratio_fio']:5.2f}")
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump({"mib": mib, "runs": arguments.runs, "cache": cache, "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
