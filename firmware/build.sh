#!/bin/sh
# Builds SwiftVMM's test firmware: a PVH ELF64 loaded at 1 MiB (see README.md).
#
# Usage: firmware/build.sh OUTPUT_ELF
#
# Needs only gcc and binutils (ld, strip are not needed separately). Deterministic: the same
# sources and toolchain give the same bytes (no build id, no timestamps, no paths, symbols
# stripped). Set FW_KEEP_SYMBOLS=1 to keep the symbol table (for addr2line / objdump).
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTPUT_ELF" >&2
	exit 2
fi
output=$1
src=$(cd "$(dirname "$0")/src" && pwd)
CC=${CC:-gcc}
LD=${LD:-ld}

work=$(mktemp -d "${TMPDIR:-/tmp}/swiftvmm-fw.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# Freestanding 64-bit code: no libc, no SSE/x87 (CR4.OSFXSR stays 0), no red zone (CPL-0
# handlers share stacks), absolute addressing below 2 GiB, no stack protector / CET / unwind
# tables, and no loop-to-memcpy rewriting (lib.c implements memcpy itself).
cflags="-std=gnu11 -O2 -Wall -Wextra -ffreestanding -fno-pic -fno-pie -fno-stack-protector
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none -fno-common
	-fno-tree-loop-distribute-patterns -mno-red-zone -mno-sse -mno-mmx -mno-80387
	-mgeneral-regs-only -mcmodel=small -m64 -march=x86-64 -fno-ident -nostdlib -static"

objects=""
pids=""
for file in "$src"/*.c "$src"/*.S; do
	object="$work/$(basename "$file").o"
	"$CC" $cflags -I"$src" -c "$file" -o "$object" &
	pids="$pids $!"
	objects="$objects $object"
done
# Wait for every compiler job (they run in parallel); fail if any failed.
status=0
for pid in $pids; do
	wait "$pid" || status=1
done
[ "$status" -eq 0 ] || { echo "firmware: compilation failed" >&2; exit 1; }

strip_flag="-s"
[ "${FW_KEEP_SYMBOLS:-0}" = 1 ] && strip_flag=""
# Objects are linked in a fixed (sorted) order for reproducible output.
"$LD" -nostdlib -static -T "$src/fw.ld" --build-id=none -z max-page-size=0x1000 \
	-z common-page-size=0x1000 -z noexecstack $strip_flag -o "$work/fw.elf" $objects
mv "$work/fw.elf" "$output"
