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
    swiftNs[key] = $3; cNs[key] = $4; ratio[key] = $5; paired[key] = $6; exits = $7; reps = $8; guestMode[key] = $9
    next
  }
  FILENAME ~ /instructions.tsv$/ && FNR > 1 {
    key = $1 "\t" $2; swiftIr[key] = $3; cIr[key] = $4; swiftCalls[key] = $5; cCalls[key] = $6; next
  }
  FILENAME ~ /allocations.tsv$/ && FNR > 1 {
    key = $1 "\t" $2; mallocs[key] = $3 " / " $4; allocs[key] = $5; next
  }
  function verdict(ok) { return ok ? "met" : "**missed**" }
  END {
    print "| kind | mode | Swift ns/exit | C ns/exit | Swift/C | Swift instr/exit | C instr/exit | Swift allocs/exit | mallocs per run (N1 / N2) | guest mode | targets (ratio, instr, allocs) |"
    print "|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|"
    for (i = 1; i <= rows; i++) {
      key = order[i]; split(key, part, "\t")
      if (!(key in swiftIr) || !(key in allocs)) { print "print-table: no instruction or allocation result for " key > "/dev/stderr"; exit 1 }
      targets = verdict(ratio[key] <= 1.02) ", " verdict(swiftIr[key] <= 60) ", " verdict(allocs[key] + 0 == 0 && swiftCalls[key] + 0 == 0)
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", part[1], part[2], swiftNs[key], cNs[key], ratio[key], \
        swiftIr[key], cIr[key], allocs[key], mallocs[key], guestMode[key], targets
    }
    printf "\nns/exit: median of %s interleaved runs of N=%s each (Swift/C: ratio of the medians). instr/exit: callgrind, user space.\n", reps, exits
  }' "$work/timing.tsv" "$work/instructions.tsv" "$work/allocations.tsv"
