#!/usr/bin/env bash
# The README's first command: builds swiftvmm (release) and boots the built-in test firmware,
# which reports its vCPUs and powers off (exit status 0). Extra arguments go to `swiftvmm run`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Swift toolchain's libraries and git, the C modules' headers, gcc and binutils (the firmware).
scripts/host-packages.sh swift-toolchain libc6-dev linux-libc-dev libseccomp-dev liburing-dev libnftables-dev gcc binutils
swift build -c release --product swiftvmm >&2
exec .build/release/swiftvmm run --cpus 2 "$@"
