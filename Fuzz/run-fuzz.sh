#!/usr/bin/env bash
# Builds SwiftVMM's fuzz targets with libFuzzer and AddressSanitizer and runs a campaign.
# Usage: Fuzz/run-fuzz.sh [SECONDS-PER-TARGET] [TARGET...]   (default 600 s, every target)
#        Fuzz/run-fuzz.sh 0 TARGET CRASH-FILE                  (reproduce one input)
# Targets: transport blk blkaio net rng legacy exits pvh bzimage config threads dhcp firecracker.
# Each run is bounded: -rss_limit_mb, -malloc_limit_mb and -timeout make a leak, a memory blow-up
# or a hang a finding like a crash. Corpora live in ~/.cache/swiftvmm/fuzz/TARGET (the loader
# targets are seeded with the headers of Debian's cloud kernel when it is cached); findings are
# written to Fuzz/artifacts/TARGET-*, and every one found becomes a unit test.
# The summary (executions, coverage, findings per target) goes to Fuzz/artifacts/summary.txt, and
# every run's executions are appended to ~/.cache/swiftvmm/fuzz/ledger.tsv (date, target,
# executions, result): `Fuzz/run-fuzz.sh totals` sums them per target — a campaign on a corpus
# is the sum of its runs.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
cache=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}
ledger="$cache/fuzz/ledger.tsv"
if [ "$seconds" = totals ]; then
  [ -f "$ledger" ] || { echo "run-fuzz: no runs recorded yet ($ledger)" >&2; exit 0; }
  awk -F'\t' '{ sum[$2] += $3 } END { for (t in sum) printf "%s\t%d\n", t, sum[t] }' "$ledger" | sort
  exit 0
fi
all=(transport blk blkaio net rng legacy exits pvh bzimage config threads dhcp firecracker)
mkdir -p artifacts
# The build lives in the cache (like the nested harness's), so a fresh clone does not rebuild it.
flags=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing
  --scratch-path "${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/fuzz-build")
# SwiftPM keeps the cached build plan of a path dependency (the main package here) when only its
# file list changed, and then misses a source file added since: plan again on every run (cheap).
rm -f "${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/fuzz-build/release.yaml"
flock /tmp/swiftvmm-build.lock swift build "${flags[@]}" --product SwiftVMMFuzzer >&2
binary="$(swift build "${flags[@]}" --show-bin-path)/SwiftVMMFuzzer"
limits=(-rss_limit_mb=3072 -malloc_limit_mb=512 -timeout=10)
if [ "$seconds" = 0 ]; then
  FUZZ_TARGET=$1 exec "$binary" "${limits[@]}" "${@:2}"
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
seed() {  # Fuzz/seeds/TARGET/*, and the first 64 KiB of Debian's cloud kernel (bzImage) and of its vmlinux (ELF with the PVH note)
  local corpus=$1 kind=$2 kernels="$cache/kernels"
  [ -d "seeds/$kind" ] && cp seeds/"$kind"/* "$corpus"/
  case $kind in
    bzimage) for f in "$kernels"/vmlinuz-*; do [ -f "$f" ] && head -c 65536 "$f" >"$corpus/seed-$(basename "$f")"; done ;;
    pvh) for f in "$kernels"/vmlinux-*; do [ -f "$f" ] && head -c 65536 "$f" >"$corpus/seed-$(basename "$f")"; done ;;
  esac
  return 0
}
summary=${FUZZ_SUMMARY:-artifacts/summary.txt}
: >"$summary"
status=0
for target in "${targets[@]}"; do
  corpus="$cache/fuzz/$target"
  mkdir -p "$corpus"
  seed "$corpus" "$target"
  log="artifacts/$target.log"
  # A campaign may run one target in several processes at once (same corpus): the first holds
  # artifacts/TARGET.lock and writes TARGET.log, the others TARGET.PID.log.
  exec {lockfd}>"artifacts/$target.lock"
  flock -n "$lockfd" || log="artifacts/$target.$$.log"
  echo "fuzz: $target for $seconds s" >&2
  if FUZZ_TARGET=$target "$binary" "${limits[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="artifacts/$target-" "$corpus" >"$log" 2>&1; then
    result=ok
  else
    result=FINDING
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  line="$target: $result, ${runs:-?} executions (${rate:-?}/s), ${edges:-?} coverage edges, corpus $(ls "$corpus" | wc -l)"
  echo "$line" | tee -a "$summary" >&2
  printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "${runs:-0}" "$result" >>"$ledger"
  exec {lockfd}>&-
  [ "$result" = ok ] || grep -m5 -E 'ERROR|Fatal error|precondition|SUMMARY' "$log" >&2 || true
done
exit "$status"
