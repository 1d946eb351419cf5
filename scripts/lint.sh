#!/usr/bin/env bash
# CI's first step (.ci/run runs it before scripts/test.sh); fails on any finding:
#  1. swift format lint --strict over the package's Swift sources (the rules: .swift-format);
#  2. unsafe pointer APIs only where they belong: the targets that own raw memory and system
#     calls (CKVM, KVM, GuestMemory, EventLoop, Threads), the C targets, Tests, Benchmarks and
#     Fuzz. A hit in any other file of Sources/ needs a line `path: reason` in scripts/unsafe-allowlist.txt.
# Usage: scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/host-packages.sh swift-toolchain
status=0

swift format lint --strict --recursive --parallel Package.swift Sources Tests Benchmarks Fuzz Plugins Examples || {
  echo "lint: swift format found the above (fix them with swift format format -i FILE...)" >&2
  status=1
}

# Unsafe*, withUnsafe*, _withUnsafeGuaranteedRef, unsafeBitCast, nonisolated(unsafe), Unmanaged,
# OpaquePointer in Swift code outside the allowed targets (lines that are only a comment do not
# count). The C targets have no Swift files.
allowlist=scripts/unsafe-allowlist.txt
allowed=$(sed -n 's/^\([^#[:space:]][^:]*\):.*/\1/p' "$allowlist")
hits=$(grep -rnE --include='*.swift' 'Unsafe|unsafe|Unmanaged|OpaquePointer' Sources \
  | grep -vE '^Sources/(CKVM|KVM|GuestMemory|EventLoop|Threads)/' \
  | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)
unlisted=$(while IFS= read -r hit; do
  [ -n "$hit" ] || continue
  grep -qxF "${hit%%:*}" <<<"$allowed" || echo "$hit"
done <<<"$hits")
if [ -n "$unlisted" ]; then
  echo "lint: unsafe pointer APIs outside CKVM, KVM, GuestMemory, EventLoop and Threads; move them there or" >&2
  echo "lint: justify the file in $allowlist (a line 'path: reason'):" >&2
  echo "$unlisted" >&2
  status=1
fi
while IFS= read -r path; do
  [ -z "$path" ] || [[ $'\n'"$hits" == *$'\n'"$path:"* ]] \
    || echo "lint: warning: $allowlist lists $path, which has no unsafe API hit" >&2
done <<<"$allowed"

[ "$status" -eq 0 ] && echo "lint: clean" >&2
exit "$status"
