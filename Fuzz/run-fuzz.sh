#!/usr/bin/env bash
# Builds the virtio fuzz target with libFuzzer (and AddressSanitizer) and runs it.
# Usage: Fuzz/run-fuzz.sh [SECONDS] [extra libFuzzer flags]   (default 600 s)
# The corpus lives in ~/.cache/swiftvmm/fuzz-corpus; crashes are written to Fuzz/artifacts/
# (reproduce one with: Fuzz/run-fuzz.sh 0 Fuzz/artifacts/crash-...). Every crash found becomes
# a unit test in Tests/VirtioTests.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
corpus=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/fuzz-corpus
mkdir -p "$corpus" artifacts
rm -f .build/release.yaml .build/*/release/description.json
flags=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
flock /tmp/swiftvmm-build.lock swift build "${flags[@]}" --product VirtioFuzzer >&2
binary="$(swift build "${flags[@]}" --show-bin-path)/VirtioFuzzer"
if [ "$seconds" = 0 ]; then
  exec "$binary" "$@"
fi
exec "$binary" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=artifacts/ "$corpus" "$@"
