#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test.
# Tests that need /dev/kvm are skipped (and say so) where it is not usable.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/host-packages.sh libc6-dev linux-libc-dev gcc binutils qemu-system-x86 strace acpica-tools lz4 e2fsprogs
if [ ! -w /dev/kvm ]; then
  echo "WARNING: /dev/kvm is not usable here: every test that boots a guest will be SKIPPED" >&2
fi
# Debian's cloud kernel (cached outside the repository) for the bzImage loader tests.
scripts/fetch-cloud-kernel.sh >/dev/null || echo "WARNING: could not fetch Debian's cloud kernel: its tests will be SKIPPED" >&2
swift build --build-tests
# The nested-SVM harness's outer initramfs: a static swiftvmm, Debian's cloud kernel and modules,
# the Linux test guest (cached in ~/.cache/swiftvmm/nested; rebuilt incrementally).
firmware/linux/nested/build-outer-initramfs.sh "${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/nested/outer-initramfs.cpio.gz" \
  || echo "WARNING: could not build the nested-SVM harness: the full Linux boot tests will be SKIPPED" >&2
swift test --skip-build "$@"
