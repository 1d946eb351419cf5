#!/usr/bin/env bash
# Builds the stand-alone swiftvmm that the nested harness's outer VM and run-direct.sh run:
# `swift build -c release --static-swift-stdlib` (glibc, libstdc++, libgcc_s stay dynamic), under
# /tmp/swiftvmm-build.lock, with its scratch path in the cache so that it does not disturb .build/.
# Prints the binary's path on stdout (the build's output goes to stderr).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/nested-build
(cd "$repo" && flock /tmp/swiftvmm-build.lock swift build -c release --static-swift-stdlib \
   --product swiftvmm --scratch-path "$scratch" >&2)
echo "$scratch/release/swiftvmm"
