#!/bin/sh
# End-to-end check of the firmware's virtio-net responder and transmit benchmark under QEMU,
# in a network namespace of its own (no traffic leaves it):
#
#   namespace fwnet-check-<pid>: tap0 10.0.2.2/24 <-> the guest 10.0.2.15/24
#   1. a UDP sink on 10.0.2.2:5001; QEMU boots the firmware with
#      fw.net=10.0.2.15/24 fw.net-bench=10.0.2.2:5001,<MiB>,<SIZE> (+ NET_CHECK_CMDLINE)
#   2. the benchmark's lines and the sink's count (bytes received, elapsed time)
#   3. ping -c 20 (no loss allowed)
#   4. tools/udp-echo-check.py (sizes 1, 2, 100, 1000, 1472, byte-exact) with --counters
#      (the firmware's udp counter must grow by exactly the echoes)
#   then QEMU is stopped (the firmware never ends by itself in fw.net mode) and the namespace
#   deleted.
#
# Usage (as root): firmware/tools/net-check.sh FIRMWARE_ELF
# Environment: NET_CHECK_MIB (default 64), NET_CHECK_SIZE (default 1400), NET_CHECK_CMDLINE
# (more switches, e.g. fw.virtio-features=plain), QEMU_NET_DEVICE_OPTIONS (qemu-run.sh), QEMU.
# Needs: ip (iproute2), ping (iputils-ping), python3, QEMU. Exit status 0 when every step passed.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 FIRMWARE_ELF" >&2
	exit 2
fi
firmware=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../scripts/host-packages.sh" iproute2 iputils-ping python3 qemu-system-x86
mib=${NET_CHECK_MIB:-64}
size=${NET_CHECK_SIZE:-1400}
ns=fwnet-check-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/fwnet-check.XXXXXX")
qemu_pid=""
sink_pid=""

cleanup() {
	set +e
	# Only the processes this script started, by PID.
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
	[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() {
	ip netns exec "$ns" "$@"
}

# Waits up to $2 seconds for a line matching the regular expression $1 in file $3.
wait_for() {
	i=0
	while [ "$i" -lt $(($2 * 10)) ]; do
		grep -Eq "$1" "$3" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

ip netns add "$ns"
in_ns ip link set lo up
in_ns ip tuntap add dev tap0 mode tap
in_ns ip addr add 10.0.2.2/24 dev tap0
in_ns ip link set tap0 up

bytes=$((mib * 1048576))
# Background jobs are simple commands (no shell function): $! is then the process itself
# (ip netns exec execs its command; qemu-run.sh execs timeout), which cleanup can stop.
ip netns exec "$ns" python3 "$here/udp-sink.py" 5001 --expect "$bytes" --idle 3 --wait 60 >"$work/sink" 2>&1 &
sink_pid=$!
wait_for '^listening' 10 "$work/sink" || { echo "FAIL the UDP sink did not start"; cat "$work/sink"; exit 1; }

cmdline="fw.net=10.0.2.15/24 fw.net-bench=10.0.2.2:5001,$mib,$size ${NET_CHECK_CMDLINE:-}"
QEMU_NET_TAP=tap0 QEMU_TIMEOUT=600 ip netns exec "$ns" "$here/../qemu-run.sh" "$firmware" 1 "$cmdline" \
	>"$work/console" 2>"$work/qemu.err" &
qemu_pid=$!

status=0
if ! wait_for '^fw~ net-bench end|FAIL|FATAL' 120 "$work/console" || grep -Eq 'FAIL|FATAL' "$work/console"; then
	echo "FAIL the benchmark did not end"
	cat "$work/console" "$work/qemu.err"
	exit 1
fi
wait "$sink_pid" || status=1
sink_pid=""
grep -E '^fw(:|~) (net|net0|net-bench)' "$work/console"
echo "sink: $(tail -n 1 "$work/sink")"

echo "ping:"
in_ns ping -c 20 -i 0.2 -W 2 10.0.2.15 >"$work/ping" 2>&1 || status=1
tail -n 2 "$work/ping"
grep -q ' 0% packet loss' "$work/ping" || { echo "FAIL ping lost packets"; status=1; }

echo "udp echo:"
in_ns python3 "$here/udp-echo-check.py" 10.0.2.15 7 --counters || status=1

if [ "$status" -eq 0 ]; then
	echo "net-check: 1 passed, 0 failed"
else
	echo "net-check: 0 passed, 1 failed"
fi
exit "$status"
