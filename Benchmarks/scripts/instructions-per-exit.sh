#!/usr/bin/env bash
# User-space instructions per exit, counted by callgrind, for SwiftVMM and the C loop, for
# every exit kind and guest mode: two `--single` runs with N1 and N2 exits each, and
#   instructions per exit = (Ir(N2) - Ir(N1)) / (N2 - N1)
# which cancels process start, VM set-up and teardown. callgrind counts user space only (all
# threads), never the kernel or the guest. The same runs also give allocation calls per exit
# (calls to malloc & co., see allocation-calls.awk), a cross-check of package-benchmark.
#
# usage: instructions-per-exit.sh BINARY WORKDIR [N1 N2]
# writes WORKDIR/instructions.tsv (kind, mode, per-exit instructions and allocation calls for
# Swift and C) and WORKDIR/profile-KIND-MODE.txt (the Swift run's functions, per exit).
set -euo pipefail

binary=$1
work=$2
n1=${3:-2000}
n2=${4:-22000}
here=$(cd "$(dirname "$0")" && pwd)
kinds="pio_out pio_in mmio_write mmio_read ioeventfd_pio ioeventfd_mmio"
modes="long64_user real16"

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
mkdir -p "$work/callgrind"
# valgrind 3.19 cannot read the DWARF 5 the Swift toolchain emits; the symbol table is enough
# for function names, so profile a copy without debug sections (same code, same addresses).
profiled="$work/exit-loop-compare.nodebug"
objcopy --strip-debug "$binary" "$profiled"

# callgrind_out IMPL KIND MODE N: runs one verified measurement under callgrind, prints the file.
callgrind_out() {
  local out="$work/callgrind/$1-$2-$3-$4.out" log="$work/callgrind/$1-$2-$3-$4.log"
  # valgrind does not implement seccomp(2): SwiftVMM's vCPU filter is off in these runs (it
  # runs in the kernel, so user-space instruction counts are the same with it).
  if ! EXIT_LOOP_SECCOMP=off valgrind --tool=callgrind --callgrind-out-file="$out" "$profiled" --single "$1" "$2" "$3" "$4" >"$log" 2>&1 \
    || ! grep -q "(verified)" "$log"; then
    echo "instructions-per-exit: the callgrind run $1 $2 $3 N=$4 failed:" >&2
    grep -v '^==' "$log" >&2 || true
    exit 1
  fi
  echo "$out"
}

total_instructions() { sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$1"; }

# per_function FILE: "instructions<TAB>function" for every function callgrind saw.
per_function() {
  callgrind_annotate --threshold=100 "$1" 2>/dev/null | sed -n '/file:function/,$p' \
    | sed -nE 's/^ *([0-9,]+) \([ 0-9.]+%\)  (.*)$/\1\t\2/p' | tr -d ','
}

# demangle: Swift symbol names made readable (when the toolchain's swift-demangle is there).
demangle() { if command -v swift-demangle >/dev/null; then swift-demangle --simplified; else cat; fi; }

# profile FILE1 FILE2: functions whose instruction count grows with N, per exit, largest first
# (at least 0.5 per exit; the object file in brackets is dropped).
profile() {
  awk -F'\t' -v exits=$((n2 - n1)) '
    NR == FNR { before[$2] = $1; next }
    { after[$2] = $1 }
    END { for (f in after) { x = (after[f] - before[f]) / exits; if (x >= 0.5 || x <= -0.5) printf "%8.1f  %s\n", x, f } }' \
    <(per_function "$1") <(per_function "$2") | sort -rn | sed -E 's/ \[[^]]*\]$//; s/  \?\?\?:/  /' | demangle
}

# per_exit A B: (B - A) / (N2 - N1) with DIGITS decimals; |x| below half the last digit prints as 0.
per_exit() {
  awk -v a="$1" -v b="$2" -v d=$((n2 - n1)) -v digits="$3" \
    'BEGIN { x = (b - a) / d; if (x < 0.5 / 10 ^ digits && x > -0.5 / 10 ^ digits) x = 0; printf "%." digits "f", x }'
}

printf 'kind\tmode\tswift_instructions_per_exit\tc_instructions_per_exit\tswift_allocations_per_exit\tc_allocations_per_exit\n' \
  >"$work/instructions.tsv"
for mode in $modes; do
  for kind in $kinds; do
    row="$kind\t$mode"
    allocations=""
    for implementation in swift c; do
      first=$(callgrind_out "$implementation" "$kind" "$mode" "$n1")
      second=$(callgrind_out "$implementation" "$kind" "$mode" "$n2")
      row+="\t$(per_exit "$(total_instructions "$first")" "$(total_instructions "$second")" 1)"
      allocations+="\t$(per_exit "$(awk -f "$here/allocation-calls.awk" "$first")" \
        "$(awk -f "$here/allocation-calls.awk" "$second")" 3)"
      if [ "$implementation" = swift ]; then profile "$first" "$second" >"$work/profile-$kind-$mode.txt"; fi
    done
    printf "$row$allocations\n" >>"$work/instructions.tsv"
    echo "  callgrind $kind $mode: $(tail -1 "$work/instructions.tsv" | cut -f3-)" >&2
  done
done
