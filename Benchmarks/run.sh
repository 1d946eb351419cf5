#!/usr/bin/env bash
# Every benchmark of SwiftVMM against QEMU (and the host's ceiling) in one run, with one result:
# Benchmarks/results/latest.md and its charts (disk.png, network.png, memory.png), which
# docs/performance.md shows (Benchmarks/scripts/update-performance-doc.py copies the tables).
# Stages: the vCPU exit loop (run-exit-loop.sh), boot to ready, disk throughput at depth (fio as
# the ceiling), network both ways and round trip (a namespace and a tap of its own), memory
# (RSS/PSS/anonymous beyond the guest's memory for a 128 MiB and a 1 GiB guest), and boot time
# and memory for each guest-memory backing (with and without prefault). Installs what it needs
# from Debian (fio, QEMU, matplotlib, valgrind, iproute2, iputils-ping). Needs root and
# /dev/kvm. About 20 minutes on 2 cores from a fresh clone (the release builds included).
#
# usage: Benchmarks/run.sh            (BENCH_RUNS [3] interleaved runs per figure)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
runs=${BENCH_RUNS:-3}
cache=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/bench
work=$(mktemp -d /tmp/swiftvmm-bench.XXXXXX)
results=$repo/Benchmarks/results
[ "$(id -u)" -eq 0 ] || { echo "Benchmarks/run.sh: needs root (network namespaces, huge pages, QEMU on /dev/kvm)" >&2; exit 1; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "Benchmarks/run.sh: /dev/kvm is not usable here" >&2; exit 1; }

scripts/host-packages.sh swift-toolchain libc6-dev linux-libc-dev libseccomp-dev liburing-dev libnftables-dev gcc \
  binutils qemu-system-x86 fio python3 python3-matplotlib valgrind iproute2 iputils-ping
python=/usr/bin/python3  # Debian's, with matplotlib (a pyenv python3 earlier in PATH would lack it)
stage_start=$SECONDS
stage() {
  local now=$SECONDS
  [ -n "${stage_name:-}" ] && echo "$stage_name $((now - stage_start))" >>"$work/timings.txt"
  stage_name=$1
  stage_start=$now
  echo "== $1 ($(date +%T))" >&2
}

stage build
mkdir -p "$cache"
# The binary as it ships (the pod image, the nested harness): release, static Swift stdlib.
swiftvmm=$(scripts/build-static-swiftvmm.sh)
firmware=$cache/firmware.elf
firmware/build.sh "$firmware"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)')"
  echo "host: $(uname -r), $(nproc) CPUs ($(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kvm: $(ls /sys/module | grep '^kvm' | paste -sd, -)"
  echo "qemu: $(qemu-system-x86_64 --version | head -1)"
  echo "fio: $(fio --version)"
  echo "swift: $(swift --version 2>&1 | head -1)"
  echo "swiftvmm: release, --static-swift-stdlib ($(stat -c %s "$swiftvmm") bytes)"
} >"$work/machine.txt"

stage exit-loop
EXIT_LOOP_REPS=${EXIT_LOOP_REPS:-31} Benchmarks/run-exit-loop.sh "$work/exit-loop" >"$work/exit-loop.md"

stage boot
$python Benchmarks/boot/boot-time.py "$swiftvmm" "$firmware" --runs 10 --json "$work/boot.json" >&2

stage disk
$python Benchmarks/disk/disk-throughput.py "$swiftvmm" "$firmware" --mib 64 --runs "$runs" --cache none \
  --json "$work/disk.json" >&2

stage network
# 256 MiB each way: 1.5-2 s per stream; 64 MiB (0.3-0.5 s) measured mostly the start of a stream
# (the same guests gave 0.39 to 0.84 of QEMU's host -> guest rate between runs).
$python Benchmarks/net/net-compare.py "$swiftvmm" "$firmware" --runs "$runs" --mib 256 --json "$work/net.json" >&2

stage memory
$python Benchmarks/memory/footprint.py "$swiftvmm" "$firmware" --runs "$runs" --json "$work/memory.json" >&2

stage backing
# Boot to ready and memory for each guest-memory backing, with and without prefault.
$python Benchmarks/memory/backing.py "$swiftvmm" --runs "$runs" >"$work/backing.md"

stage report
$python Benchmarks/scripts/report.py "$work" "$results" "Benchmarks/run.sh (BENCH_RUNS=$runs)"
stage done
echo "Benchmarks/run.sh: $(cat "$results/latest.md" | wc -l) lines in $results/latest.md; raw results in $work" >&2
