#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test.
# Tests that need /dev/kvm are skipped (and say so) where it is not usable. CI (.ci/run) runs
# scripts/lint.sh first.
#
# usage: scripts/test.sh [--fast] [swift test options]
#   --fast  the inner loop: every test but the suites tagged nested, podman or slow
#           (scripts/tagged-suites.py; the fast kvm tests included), without the podman,
#           nested-harness, example and documentation steps. CI always runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
if [ "${1:-}" = "--fast" ]; then
  fast=1
  shift
fi
# What the build and the tests need beyond a minimal Debian 12 (debootstrap --variant=minbase)
# with the Swift toolchain: the toolchain's libraries and git (swift-toolchain), the C modules'
# headers (libc6-dev, linux-libc-dev, libseccomp-dev, liburing-dev, libnftables-dev), gcc and binutils (the firmware),
# libstdc++-12-dev (the static swiftvmm links -lstdc++) and the programs the tests run:
# qemu-system-x86, strace, iasl (acpica-tools), lz4 and python3 (the cloud kernel's vmlinux, the
# UDP tools), mkfs.ext4 and debugfs (e2fsprogs), ip (iproute2), ping (iputils-ping), curl and
# python3-prometheus-client (the metrics endpoint's tests: scripts/parse-metrics.py), busybox-static
# (udhcpc against the DHCP server). The initramfs scripts install kmod and cpio themselves. A test whose program is missing fails
# and names the package (Tests/SwiftVMMEndToEndTests/HostTool.swift).
scripts/host-packages.sh swift-toolchain libc6-dev linux-libc-dev libseccomp-dev liburing-dev libnftables-dev gcc binutils libstdc++-12-dev \
  qemu-system-x86 strace acpica-tools lz4 python3 e2fsprogs iproute2 iputils-ping curl python3-prometheus-client \
  busybox-static
if [ ! -w /dev/kvm ]; then
  echo "WARNING: /dev/kvm is not usable here: every test that boots a guest will be SKIPPED" >&2
fi
# Debian's cloud kernel (cached outside the repository) for the bzImage loader tests.
scripts/fetch-cloud-kernel.sh >/dev/null || echo "WARNING: could not fetch Debian's cloud kernel: its tests will be SKIPPED" >&2
# Rootful podman (packages, containers.conf, the manifest linter's venv, IPv4 forwarding) for the
# pod test (PodmanTests: deploy/podman-e2e.sh), which needs root, /dev/kvm and /dev/net/tun.
if [ "$fast" -eq 0 ]; then
  scripts/podman-host.sh \
    || echo "WARNING: could not set up podman (scripts/podman-host.sh): PodmanTests will FAIL (or be SKIPPED without root)" >&2
fi
# A Firecracker API client from PyPI (pyrecracker, in a cached venv) for FirecrackerServeTests.
scripts/firecracker-client.sh >/dev/null || echo "WARNING: could not install pyrecracker (scripts/firecracker-client.sh): its test will FAIL" >&2
swift build --build-tests
skip=()
if [ "$fast" -eq 1 ]; then
  slow_suites=$(scripts/tagged-suites.py nested podman slow | paste -sd'|')
  # An empty list would skip everything: fail instead. Anchored to whole suite names.
  [ -n "$slow_suites" ] || { echo "test.sh --fast: scripts/tagged-suites.py found no tagged suite" >&2; exit 1; }
  skip=(--skip "\.($slow_suites)/")
  echo "test.sh --fast: skipping the nested, podman and slow suites ($slow_suites)" >&2
else
  # The nested-SVM harness's outer initramfs: a static swiftvmm, Debian's cloud kernel and modules,
  # the Linux test guest (cached in ~/.cache/swiftvmm/nested; rebuilt incrementally).
  firmware/linux/nested/build-outer-initramfs.sh "${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/nested/outer-initramfs.cpio.gz" \
    || echo "WARNING: could not build the nested-SVM harness: the full Linux boot tests will be SKIPPED" >&2
fi
swift test --skip-build --skip SwiftVMMLibraryTests --skip ObservabilityTests ${skip[@]+"${skip[@]}"} "$@"
# The library tests (public API only) and the in-process endpoint tests run on their own: they
# await guests and serve HTTP through Swift concurrency, whose pool (one thread per core) the
# other suites' long blocking waits — the nested boots take minutes — would hold.
# Each on its own: the library's release tests count the process's threads and descriptors, which
# the endpoint tests' machines and servers would change meanwhile.
swift test --skip-build --filter SwiftVMMLibraryTests "$@"
swift test --skip-build --filter ObservabilityTests "$@"
[ "$fast" -eq 1 ] && exit 0
# The example embedder builds against this checkout, and the DocC catalog without warnings.
# SwiftPM keeps the cached build plan of a path dependency (this checkout) when only its file
# list changed and then misses a source file added since: plan again on every run (cheap).
rm -f Examples/ConsoleMarker/.build/debug.yaml
swift build --package-path Examples/ConsoleMarker
swift package generate-documentation --target VMM --warnings-as-errors >/dev/null
