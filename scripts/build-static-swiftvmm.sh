#!/usr/bin/env bash
# Builds the stand-alone swiftvmm that the nested harness's outer VM and run-direct.sh run:
# `swift build -c release --static-swift-stdlib` (glibc, libstdc++, libgcc_s stay dynamic), under
# /tmp/swiftvmm-build.lock, with its scratch path in the cache so that it does not disturb .build/.
# Prints the binary's path on stdout (the build's output goes to stderr).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/nested-build
# The Swift toolchain's libraries and git, the C modules' headers, gcc and binutils (the firmware),
# and libstdc++-12-dev: --static-swift-stdlib links -lstdc++.
"$repo/scripts/host-packages.sh" swift-toolchain libc6-dev linux-libc-dev libseccomp-dev liburing-dev libnftables-dev gcc binutils libstdc++-12-dev
(cd "$repo" && flock /tmp/swiftvmm-build.lock swift build -c release --static-swift-stdlib \
   --product swiftvmm --scratch-path "$scratch" >&2)
echo "$scratch/release/swiftvmm"
