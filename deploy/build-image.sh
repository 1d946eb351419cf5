#!/usr/bin/env bash
# Builds the pod image of `swiftvmm launch`, offline (no base image, no registry): FROM scratch with
# the static-stdlib swiftvmm at /usr/bin/swiftvmm, exactly the shared libraries it needs (ldd), the
# libraries of libnftables.so.1 (swiftvmm dlopens it for the pod network, so ldd of swiftvmm does not
# list it), the dynamic loader, /tmp and an empty /etc (deploy/Containerfile says what is where).
# Then checks that the image runs: `launch --help`, the loader resolves every library inside the
# image, and a launch without /dev/kvm sets up the pod network (libnftables loaded and used) and
# ends with swiftvmm's own /dev/kvm error, not a loader error.
#
# Usage: deploy/build-image.sh [--binary PATH] [--tag localhost/swiftvmm:dev] [--no-strip] [--no-check]
#   --binary    a swiftvmm built with --static-swift-stdlib (default: scripts/build-static-swiftvmm.sh,
#               which builds under flock /tmp/swiftvmm-build.lock)
#   --no-strip  keep the binary's symbols (16 MB more; by default it is stripped --strip-unneeded)
#   --no-check  skip the checks
# Needs rootful podman (scripts/podman-host.sh). Cache: ${SWIFTVMM_CACHE:-~/.cache/swiftvmm}/pod
# holds the staged root; an image whose label io.swiftvmm.rootfs-digest matches the staged root is
# not rebuilt. Prints the image's name on stdout, progress and the size on stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/pod
binary='' tag=localhost/swiftvmm:dev strip=1 check=1
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --no-strip) strip=0; shift ;;
    --no-check) check=0; shift ;;
    *) echo "usage: $0 [--binary PATH] [--tag NAME:TAG] [--no-strip] [--no-check]" >&2; exit 2 ;;
  esac
done
say() { echo "build-image: $*" >&2; }
start=$(date +%s%N)
command -v podman >/dev/null || { say "podman is missing: run scripts/podman-host.sh"; exit 1; }
# libnftables1: the library swiftvmm dlopens, copied from the host with its dependencies.
"$repo/scripts/host-packages.sh" libnftables1 binutils
[ -n "$binary" ] || binary=$("$repo/scripts/build-static-swiftvmm.sh")
[ -x "$binary" ] || { say "no executable at $binary"; exit 1; }
nftables=$(/sbin/ldconfig -p | awk '$1 == "libnftables.so.1" && /x86-64/ {print $NF; exit}')
[ -n "$nftables" ] || nftables=/usr/lib/x86_64-linux-gnu/libnftables.so.1
[ -f "$nftables" ] || { say "libnftables.so.1 not found on the host (Debian package libnftables1)"; exit 1; }

# Stage the root file system (fast: well under a second).
context=$cache/context
root=$context/rootfs
rm -rf "$context"
mkdir -p "$root/usr/bin" "$root/usr/lib/x86_64-linux-gnu" "$root/usr/lib64" "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"
chmod 0755 "$root/etc"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
if [ "$strip" = 1 ]; then
  strip --strip-unneeded -o "$root/usr/bin/swiftvmm" "$binary"
else
  cp "$binary" "$root/usr/bin/swiftvmm"
fi
chmod 0755 "$root/usr/bin/swiftvmm"
# Every library ldd lists (the loader included), under /usr (merged /usr: /lib and /lib64 are
# links), at the name the loader looks for (the soname), with the content of the real file.
libraries() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'; }
{ libraries "$binary"; echo "$nftables"; libraries "$nftables"; } | sort -u | while read -r library; do
  case $library in
    /usr/*) target=$library ;;
    /lib/* | /lib64/*) target=/usr$library ;;
    *) say "unexpected library path $library"; exit 1 ;;
  esac
  [ -e "$root$target" ] || cp -L "$library" "$root$target"
done
for object in "$binary" "$nftables"; do
  missing=$(ldd "$object" | grep "not found" || true)
  [ -z "$missing" ] || { say "ldd: $object needs libraries the host lacks: $missing"; exit 1; }
done
find "$root" -exec touch -h -d @0 {} +
# The image is rebuilt only when the staged root or the Containerfile changed.
digest=$( (tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf - . ; cat "$here/Containerfile") | sha256sum | cut -d' ' -f1)
old=$(podman image inspect "$tag" --format '{{.Id}} {{index .Labels "io.swiftvmm.rootfs-digest"}}' 2>/dev/null || true)
if [ "${old#* }" = "$digest" ]; then
  say "$tag is up to date (rootfs digest ${digest:0:12})"
else
  # --layers=false: one image, no intermediate ones; FROM scratch: nothing is pulled.
  podman build -q --layers=false --pull=never --network=none -f "$here/Containerfile" \
    --label "io.swiftvmm.rootfs-digest=$digest" --label "io.swiftvmm.binary-sha256=$(sha256sum "$binary" | cut -d' ' -f1)" \
    -t "$tag" "$context" >/dev/null
  # The image this tag named before, when nothing else uses it.
  if [ -n "$old" ] && [ "${old%% *}" != "$(podman image inspect "$tag" --format '{{.Id}}')" ]; then
    podman rmi "${old%% *}" >/dev/null 2>&1 || true
  fi
  say "built $tag (rootfs digest ${digest:0:12})"
fi
say "$tag: $(podman image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.1f MB", $1 / 1e6}') ($(du -sh --apparent-size "$root" | cut -f1) staged: swiftvmm $(stat -c %s "$root/usr/bin/swiftvmm" | awk '{printf "%.1f MB", $1 / 1e6}'), $(find "$root/usr/lib" "$root/usr/lib64" -type f | wc -l) libraries)"

if [ "$check" = 1 ]; then
  # 1. The entrypoint: `launch --help`.
  help=$(podman run --rm --network=none "$tag" --help 2>&1) || { say "FAILED: podman run $tag --help"; echo "$help" >&2; exit 1; }
  grep -q -- "--config" <<<"$help" || { say "FAILED: launch --help printed no --config"; echo "$help" >&2; exit 1; }
  say "check: podman run $tag --help (launch --help) works"
  # 2. The loader inside the image resolves swiftvmm's libraries and libnftables'.
  for object in /usr/bin/swiftvmm /usr/lib/x86_64-linux-gnu/libnftables.so.1; do
    if ! listing=$(podman run --rm --network=none --entrypoint /lib64/ld-linux-x86-64.so.2 "$tag" --list "$object" 2>&1) \
      || grep -q "not found" <<<"$listing"; then
      say "FAILED: in the image, ld.so --list $object:"
      echo "$listing" >&2
      exit 1
    fi
  done
  say "check: every library of swiftvmm and libnftables.so.1 resolves inside the image"
  # 3. A launch with a pod network but without /dev/kvm: the network set-up loads libnftables and
  #    installs its rules ("pod network ready"), then the machine fails on /dev/kvm with swiftvmm's
  #    own message. /dev/net/tun and NET_ADMIN as in deploy/pod.yaml; podman's default network.
  config=$(mktemp -d)
  trap 'rm -rf "$config"' EXIT
  printf '%s\n' '{"memory_mib": 16, "pod": {"grace_seconds": 1, "network": {"ports": [{"port": 7, "protocol": "UDP"}]}}}' > "$config/vm.json"
  status=0
  output=$(podman run --rm --device /dev/net/tun --cap-add NET_ADMIN -v "$config:/etc/swiftvmm:ro" "$tag" 2>&1) || status=$?
  if grep -qE "error while loading shared libraries|cannot load libnftables|libnftables.so.1 has no" <<<"$output" \
    || ! grep -q "pod network ready" <<<"$output" || ! grep -q "/dev/kvm" <<<"$output"; then
    say "FAILED: launch without /dev/kvm (status $status) did not set up the pod network and stop at /dev/kvm:"
    echo "$output" >&2
    grep -q "IPv4 forwarding is off" <<<"$output" && say "(the host's net.ipv4.ip_forward was 0 when the container's namespace was made: run scripts/podman-host.sh)"
    exit 1
  fi
  say "check: launch without /dev/kvm: pod network set up with libnftables, then (status $status): $(grep "/dev/kvm" <<<"$output" | tail -1 | cut -c1-200)"
fi
say "done in $(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}') s"
echo "$tag"
