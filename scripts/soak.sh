#!/usr/bin/env bash
# Soak: many in-place reboots in one process, then many process runs; prints thread, descriptor
# and resident-memory figures at the start and the end, and fails on growth.
# Usage: scripts/soak.sh [SWIFTVMM] [REBOOTS] [RUNS]   (default: the debug build, 200, 50)
# (RebootTests keeps a smaller version of the first part in the test suite.)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-.build/debug/swiftvmm}
reboots=${2:-200}
runs=${3:-50}
work=$(mktemp -d /var/tmp/swiftvmm-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo '{"memory_mib": 2, "raw_code": {"mode": "real16", "code": [176, 254, 230, 100, 244]}}' >"$work/reset.json"
truncate -s 1M "$work/disk.img"
counts() {  # threads fds rss_kib of PID
  local pid=$1
  echo "$(awk '/^Threads:/{print $2}' /proc/$pid/status) $(ls /proc/$pid/fd | wc -l) $(awk '/^VmRSS:/{print $2}' /proc/$pid/status)"
}
wait_for() {  # FILE TEXT SECONDS
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "soak: timed out waiting for '$2' in $1" >&2; return 1; }
    sleep 0.01
  done
}

# 1. In-place reboots: a guest that resets at once, with a locked disk and an entropy device.
"$binary" run --config "$work/reset.json" --disk "path=$work/disk.img" --rng --reboot-in-place \
  --grace-seconds 0.5 2>"$work/reboot.err" >/dev/null &
pid=$!
wait_for "$work/reboot.err" "(boot 5)" 60
early=$(counts $pid)
wait_for "$work/reboot.err" "(boot $reboots)" 600
late=$(counts $pid)
kill -TERM $pid
wait $pid || true
read -r et ef er <<<"$early"
read -r lt lf lr <<<"$late"
echo "soak: $reboots in-place reboots: threads $et -> $lt, fds $ef -> $lf, RSS $er -> $lr KiB"
status=0
[ "$lt" -le $((et + 2)) ] && [ "$lf" -le $((ef + 8)) ] && [ "$lr" -le $((er + 4096)) ] || status=1

# 2. Process runs: the firmware with a disk and an entropy device, waiting for the power button.
first="" last=""
for run in $(seq 1 "$runs"); do
  rm -f "$work/run.out"  # so that the wait below cannot see the previous run's line
  "$binary" run --cpus 2 --disk "path=$work/disk.img" --rng --cmdline "fw.wait=button" \
    >"$work/run.out" 2>"$work/run.err" &
  pid=$!
  wait_for "$work/run.out" "waiting for the power button" 60
  now=$(counts $pid)
  [ -n "$first" ] || first=$now
  last=$now
  kill -TERM $pid
  wait $pid || { echo "soak: run $run ended with status $?" >&2; status=1; }
done
read -r ft ff fr <<<"$first"
read -r lt lf lr <<<"$last"
echo "soak: $runs process runs (each measured while its guest waits): threads $ft -> $lt, fds $ff -> $lf, RSS $fr -> $lr KiB"
[ "$lt" -le "$ft" ] && [ "$lf" -le "$ff" ] && [ "$lr" -le $((fr + 2048)) ] || status=1
leftover=$(pgrep -f "$work" || true)
[ -z "$leftover" ] || { echo "soak: processes left behind: $leftover" >&2; status=1; }
exit $status
