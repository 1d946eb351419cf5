#!/usr/bin/env bash
# Joins the three measurements of run-exit-loop.sh into one Markdown table and checks each
# row against the targets (SwiftVMM/C ≤ 1.02, ≤ 60 user-space instructions and 0 allocations
# per exit for SwiftVMM).
#
# usage: print-table.sh WORKDIR
# reads WORKDIR/timing.tsv (exit-loop-compare --tsv), WORKDIR/instructions.tsv
# (instructions-per-exit.sh) and WORKDIR/allocations.tsv (allocations-per-exit.sh).
set -euo pipefail
work=$1
for file in timing instructions allocations; do
  [ -s "$work/$file.tsv" ] || { echo "print-table: $work/$file.tsv is missing" >&2; exit 1; }
done

awk -F'\t' '
  FILENAME ~ /timing.tsv$/ && FNR > 1 {
    key = $1 "\t" $2; order[++rows] = key
    swiftNs[key] = $3; cNs[key] = $4; ratio[key] = $5; low[key] = $6; high[key] = $7; coverage = $8
    exits = $10; reps = $11; guestMode[key] = $12
    next
  }
  FILENAME ~ /instructions.tsv$/ && FNR > 1 {
    key = $1 "\t" $2; swiftIr[key] = $3; cIr[key] = $4; swiftCalls[key] = $5; cCalls[key] = $6; next
  }
  FILENAME ~ /allocations.tsv$/ && FNR > 1 {
    key = $1 "\t" $2; mallocs[key] = $3 " / " $4; allocs[key] = $5; next
  }
  function verdict(ok) { return ok ? "met" : "**missed**" }
  # The ratio target is met only when the whole confidence interval is at or below 1.02.
  function ratioVerdict(key) {
    if (high[key] + 0 <= 1.02) return "met"
    if (low[key] + 0 > 1.02) return "**missed**"
    return "not resolved"
  }
  END {
    print "| kind | mode | Swift ns/exit | C ns/exit | Swift/C (interval) | Swift instr/exit | C instr/exit | Swift allocs/exit | mallocs per run (N1 / N2) | Swift allocs/exit (callgrind) | guest mode | targets (ratio, instr, allocs) |"
    print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|"
    for (i = 1; i <= rows; i++) {
      key = order[i]; split(key, part, "\t")
      if (!(key in swiftIr) || !(key in allocs)) { print "print-table: no instruction or allocation result for " key > "/dev/stderr"; exit 1 }
      targets = ratioVerdict(key) ", " verdict(swiftIr[key] <= 60) ", " verdict(allocs[key] + 0 == 0 && swiftCalls[key] + 0 == 0)
      printf "| %s | %s | %s | %s | %s (%s–%s) | %s | %s | %s | %s | %s | %s | %s |\n", part[1], part[2], swiftNs[key], cNs[key], \
        ratio[key], low[key], high[key], swiftIr[key], cIr[key], allocs[key], mallocs[key], swiftCalls[key], guestMode[key], targets
    }
    printf "\nns/exit: median of %s interleaved runs of N=%s each. Swift/C: median of the per-pair ratios, with its %.1f %% confidence\n", reps, exits, coverage * 100
    print "interval (order statistics); the ratio target counts as met only if the whole interval is at or below 1.02."
    print "instr/exit: callgrind (user space, all threads), (Ir(N2) - Ir(N1)) / (N2 - N1). allocs/exit: package-benchmark malloc"
    print "counters in machine.run(), (mallocs(N2) - mallocs(N1)) / (N2 - N1); (callgrind): calls to malloc & co. in the callgrind runs, same differential."
  }' "$work/timing.tsv" "$work/instructions.tsv" "$work/allocations.tsv"
