#!/usr/bin/env bash
# The exit-loop benchmark, start to end: builds the Benchmarks package (release), then measures
# SwiftVMM's vCPU loop next to the plain C loop for every exit kind and guest mode, and prints
# one Markdown table: ns/exit (interleaved A/B medians) and their ratio, user-space
# instructions per exit (callgrind), allocations per exit (package-benchmark), guest mode.
#
# usage: Benchmarks/run-exit-loop.sh [WORKDIR]
# environment (defaults in brackets):
#   EXIT_LOOP_EXITS [10000]  N of each timed run      EXIT_LOOP_REPS [61]     interleaved repetitions
#   EXIT_LOOP_WARMUP [2000]  N of the warm-up runs    CALLGRIND_N1 [2000], CALLGRIND_N2 [22000]
# Needs /dev/kvm and valgrind (installed with apt-get when missing). About 8 minutes on 2 cores (build not counted).
set -euo pipefail
cd "$(dirname "$0")"
work=${1:-$(mktemp -d /tmp/exit-loop.XXXXXX)}
mkdir -p "$work"
lock=/tmp/swiftvmm-build.lock
exits=${EXIT_LOOP_EXITS:-10000}
reps=${EXIT_LOOP_REPS:-61}
warmup=${EXIT_LOOP_WARMUP:-2000}
n1=${CALLGRIND_N1:-2000}
n2=${CALLGRIND_N2:-22000}

[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "run-exit-loop: /dev/kvm is not usable here" >&2; exit 1; }
if ! command -v valgrind >/dev/null; then
  echo "run-exit-loop: installing valgrind" >&2
  apt-get install -y valgrind >&2 || { apt-get update >&2 && apt-get install -y valgrind >&2; }
fi

echo "== build (release)" >&2
# SwiftPM caches the plan of a path dependency: without this, a source file added to the main
# package since the last build is not compiled ("cannot find type ... in scope").
rm -f .build/release.yaml .build/*/release/description.json
flock "$lock" swift build -c release >&2
binary="$(flock "$lock" swift build -c release --show-bin-path)/exit-loop-compare"

echo "== ns/exit: N=$exits, $reps interleaved repetitions" >&2
# Holding the build lock keeps other Swift builds (which take the same lock) off the 2 cores
# while the loops are timed.
flock "$lock" "$binary" --exits "$exits" --reps "$reps" --warmup "$warmup" --tsv "$work/timing.tsv" \
  >"$work/timing.txt" 2>"$work/timing.log" || { tail -20 "$work/timing.log" >&2; exit 1; }

echo "== instructions/exit: callgrind, N=$n1 and N=$n2" >&2
scripts/instructions-per-exit.sh "$binary" "$work" "$n1" "$n2"

echo "== allocations/exit: package-benchmark" >&2
scripts/allocations-per-exit.sh "$work"

echo
scripts/print-table.sh "$work"
echo
echo "Where SwiftVMM's user-space instructions per exit go (callgrind, long64_user; real16 runs the same code):"
for kind in pio_out pio_in mmio_write mmio_read; do
  echo "  $kind:"
  sed 's/^/  /' "$work/profile-$kind-long64_user.txt"
done
echo
echo "Raw results: $work"
