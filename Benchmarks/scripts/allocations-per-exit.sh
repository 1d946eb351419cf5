#!/usr/bin/env bash
# Allocations per exit of SwiftVMM's loop, from package-benchmark's malloc counters (the
# MallocInterposer trait: every malloc, calloc, realloc, posix_memalign of every thread of the
# process, counted only inside the measured region, which is `machine.run()`).
# The ExitLoop benchmark target measures each kind and mode at two N's (see ExitLoop.swift);
#   allocations per exit = (mallocs(N2) - mallocs(N1)) / (N2 - N1)   (medians over iterations)
#
# usage: allocations-per-exit.sh WORKDIR
# writes WORKDIR/allocations.tsv and WORKDIR/package-benchmark.md (the full benchmark output).
# Run from anywhere; takes the build lock for the `swift package` invocation.
set -euo pipefail
work=$1
cd "$(dirname "$0")/.."
mkdir -p "$work"

flock /tmp/swiftvmm-build.lock swift package benchmark --target ExitLoop --no-progress --format markdown \
  >"$work/package-benchmark.md" 2>"$work/package-benchmark.log" || {
  echo "allocations-per-exit: swift package benchmark failed:" >&2
  tail -30 "$work/package-benchmark.log" "$work/package-benchmark.md" >&2
  exit 1
}
if grep -q "failed with" "$work/package-benchmark.md" "$work/package-benchmark.log"; then
  echo "allocations-per-exit: a benchmark failed:" >&2
  grep -h "failed with" "$work/package-benchmark.md" "$work/package-benchmark.log" >&2
  exit 1
fi

# "### KIND MODE N=COUNT" starts a benchmark; its "| Malloc (total) [(K)|(M)] * | p0 | p25 | p50 |
# ... |" row holds the counts (package-benchmark scales large counts: (K) = thousands).
awk '
  /^### / { split(substr($0, 5), name, " "); kind = name[1]; mode = name[2]; sub(/^N=/, "", name[3]); n = name[3]; next }
  /^\| Malloc \(total\)/ {
    split($0, cell, "|")
    scale = 1
    if (cell[2] ~ /\(K\)/) scale = 1000
    if (cell[2] ~ /\(M\)/) scale = 1000000
    median = cell[5] * scale; low = cell[3] * scale; high = cell[9] * scale
    key = kind "\t" mode
    if (!(key in first)) { order[++rows] = key; first[key] = n; firstMedian[key] = median }
    else { second[key] = n; secondMedian[key] = median }
    if (low != high) spread[key] = spread[key] " N=" n ":" low "-" high
  }
  END {
    print "kind\tmode\tmallocs_per_run_n1\tmallocs_per_run_n2\tallocations_per_exit\tn1\tn2\tspread"
    for (i = 1; i <= rows; i++) {
      key = order[i]
      if (!(key in second)) { print "allocations-per-exit: only one N for " key > "/dev/stderr"; exit 1 }
      printf "%s\t%d\t%d\t%.4f\t%s\t%s\t%s\n", key, firstMedian[key], secondMedian[key], \
        (secondMedian[key] - firstMedian[key]) / (second[key] - first[key]), first[key], second[key], spread[key]
    }
  }' "$work/package-benchmark.md" >"$work/allocations.tsv"
[ "$(wc -l <"$work/allocations.tsv")" -gt 1 ] || { echo "allocations-per-exit: no Malloc (total) rows found" >&2; exit 1; }
