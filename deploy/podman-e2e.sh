#!/usr/bin/env bash
# shellcheck disable=SC2015 # `check && ok ... || bad ...`: ok always succeeds
# Plays deploy/pod.yaml (or deployment.yaml) with podman as a cluster would run it, end to end.
# One run, five pods, one after the other (each stopped, its exit code and logs read, then removed
# with `podman kube down` before the next):
#   1. the VM as deployed: image (deploy/build-image.sh) -> manifest for podman 4.3
#      (deploy/podman-manifest.sh) -> `podman kube play` -> the console on `podman logs` with the
#      firmware's DHCP lease -> from the host: ping and UDP echo (port 7) through the pod's IP and
#      the hostPort (127.0.0.1 and the host's address) -> the firmware's counters (UDP 9) prove
#      they reached the guest -> memory of the launcher -> `podman pod stop -t 40` (SIGTERM, power
#      button) -> exit code 0 -> the pattern fw.test=blk wrote is in the emptyDir volume's file;
#   2. a guest that ignores the power button (fw.ignore-button, pod.grace_seconds 3): forced stop
#      after the grace, exit code 7;
#   3. and 4. a bad vm.json (an unknown key in the pod section; "memory_mib": "lots"): exit code 10
#      and one stderr line naming the key;
#   5. no /dev/kvm in the pod (the manifest without the kvm volume): exit code 2, "cannot open
#      /dev/kvm".
# Prints PASS/FAIL lines (SKIP for what the manifest does not have, e.g. no hostPort in
# deployment.yaml), FIGURE lines (name, value, how it was measured) and "N passed, N failed";
# exits non-zero on a failure. Removes what it created (pods, the emptyDir volume, kube play's
# network if the run created it, temporary files) but keeps the image. About 20 s when the image
# exists.
#
# Usage: deploy/podman-e2e.sh [--binary PATH] [--manifest deploy/deployment.yaml] [--keep-logs DIR]
#   --binary     a swiftvmm built with --static-swift-stdlib (default: build-image.sh builds one)
#   --manifest   the Pod or Deployment to play (default deploy/pod.yaml); the VM configuration is
#                deploy/configmap.yaml's vm.json
#   --keep-logs  copy each pod's logs and manifest there
# Needs scripts/podman-host.sh once (rootful podman, runc, containers.conf, the venv with PyYAML),
# /dev/kvm and /dev/net/tun.
#
# podman 4.3 quirks handled here (../shared/reference/pod/NOTES.md):
# - terminationGracePeriodSeconds is ignored (StopTimeout stays 10): stop with -t 40 explicitly.
# - `podman kube down` SIGKILLs at once and deletes the containers and the emptyDir volume: stop
#   the pod first, read the exit code, the logs and the disk, then `kube down`.
# - containerPort without hostPort publishes nothing: the test talks to the pod's IP (and to the
#   hostPort where the manifest has one).
# - restartPolicy Always (a Deployment) restarts a failing container at once, again and again
#   (no back-off): the failure scenarios play a variant with restartPolicy Never.
# - the emptyDir volume is a volume named after the manifest's volume ("disks"), which `kube down`
#   removes; but a volume of that name that already exists is used as it is (old disk.img and all)
#   and kept: the run refuses to start then.
# - one `podman logs` takes 60-110 ms here: the figures also take the per-line timestamps of
#   `podman logs -t` (conmon's, when the line left the container) and the launcher's own JSON ones.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
binary=() manifest=$here/pod.yaml keep=
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=(--binary "$2"); shift 2 ;;
    --manifest) manifest=$2; shift 2 ;;
    --keep-logs) keep=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--manifest FILE] [--keep-logs DIR]" >&2; exit 2 ;;
  esac
done
script_start=$(date +%s%N)
pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
skip() { echo "SKIP: $*"; }
figure() { echo "FIGURE $1 $2${3:+  ($3)}"; }
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
work=$(mktemp -d /tmp/swiftvmm-e2e.XXXXXX)
played=()  # manifests played and not yet taken down
# kube play creates this network when it is missing; the run removes it again then.
kube_network=podman-default-kube-network
podman network exists "$kube_network" && had_network=1 || had_network=0
cleanup() {
  for file in "${played[@]}"; do podman kube down "$file" >/dev/null 2>&1; done
  [ "$had_network" = 1 ] || podman network rm "$kube_network" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
# The last line; its status is the script's. Early ends: `summary; exit 1`.
summary() {
  figure script_ms "$(ms "$script_start")" "the whole run"
  echo "$pass passed, $fail failed ($(ms "$script_start") ms)"
  [ "$fail" = 0 ]
}

python=$(dirname "$("$repo/scripts/podman-host.sh" venv 2>/dev/null)")/python  # has PyYAML
[ -x "$python" ] || { bad "no venv python (run scripts/podman-host.sh)"; summary; exit 1; }
# The helpers in Python: names from the manifest, variants of vm.json and of the manifest, the
# figures. helper COMMAND ARGS...
cat >"$work/helper.py" <<'PY'
import calendar, json, re, sys, time
import yaml

def pod_spec(document):
    return document["spec"]["template"]["spec"] if document["kind"] == "Deployment" else document["spec"]

def names(manifest, configmap):
    """pod container host_port disk memory_mib volume: the names podman gives (a Pod keeps its
    name, a Deployment's pod is NAME-pod-0), the hostPort of UDP 7 ("-" for none), vm.json's first
    disk and memory_mib, and the volume mounted where that disk is (podman names it so)."""
    document = yaml.safe_load(open(manifest))
    container = pod_spec(document)["containers"][0]
    pod = document["metadata"]["name"] + ("-pod-0" if document["kind"] == "Deployment" else "")
    host_port = next((str(p["hostPort"]) for p in container.get("ports", [])
                      if p["containerPort"] == 7 and p.get("protocol") == "UDP" and "hostPort" in p), "-")
    vm = json.loads(yaml.safe_load(open(configmap))["data"]["vm.json"])
    disk = vm["disks"][0]["path"]
    volume = next(m["name"] for m in container["volumeMounts"] if disk.startswith(m["mountPath"].rstrip("/") + "/"))
    print(pod, f"{pod}-{container['name']}", host_port, disk, vm["memory_mib"], volume)

def config_variant(configmap, directory, *edits):
    """DIRECTORY/vm.json: the ConfigMap's vm.json with EDITS: KEY=JSON (KEY dotted: pod.grace_seconds)
    or KEY+=TEXT (appended to a string)."""
    vm = json.loads(yaml.safe_load(open(configmap))["data"]["vm.json"])
    for edit in edits:
        key, append, value = re.fullmatch(r"([\w.]+)(\+?)=(.*)", edit).groups()
        *parents, last = key.split(".")
        target = vm
        for parent in parents:
            target = target[parent]
        target[last] = target[last] + value if append else json.loads(value)
    with open(f"{directory}/vm.json", "w") as f:
        json.dump(vm, f, indent=2)

def manifest_variant(source, out, *changes):
    """OUT: manifest SOURCE with CHANGES: no-kvm (without the kvm volume and its mount),
    restart-never (restartPolicy Never)."""
    document = yaml.safe_load(open(source))
    spec = pod_spec(document)
    if "no-kvm" in changes:
        spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "kvm"]
        for container in spec["containers"]:
            container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "kvm"]
    if "restart-never" in changes:
        spec["restartPolicy"] = "Never"
    with open(out, "w") as f:
        f.write(f"# {source} with: {', '.join(changes)}\n")
        yaml.safe_dump(document, f, sort_keys=False)

def instant(text):
    """Seconds since the epoch of an RFC 3339 UTC time (nanoseconds kept)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", text)
    whole = calendar.timegm(time.strptime(m[1], "%Y-%m-%dT%H:%M:%S"))
    return whole + int((m[2] or "0").ljust(9, "0")[:9]) / 1e9

def timings(start_ns, log):
    """FIGURE lines: ms from START_NS (kube play's start) to the boot's log lines, from LOG
    (`podman logs -t`: conmon's timestamp, then the line) and the launcher's JSON timestamps."""
    start = int(start_ns) / 1e9
    events = (("lease", lambda line: line.startswith("fw: net0 dhcp lease ")),
              ("net_ready", lambda line: line == "fw: net ready"),
              ("guest_ready_log", lambda line: '"message":"guest ready"' in line),
              ("lease_log", lambda line: '"message":"guest leased its address"' in line))
    found = {}
    for entry in open(log):
        stamp, _, line = entry.rstrip("\n").partition(" ")
        for name, matches in events:
            if name not in found and matches(line):
                found[name] = (instant(stamp), line)
    for name, _ in events:
        if name not in found:
            print(f"FIGURE play_to_{name}_conmon_ms -  (no such line)")
            continue
        stamp, line = found[name]
        print(f"FIGURE play_to_{name}_conmon_ms {(stamp - start) * 1000:.0f}  (podman logs -t timestamp)")
        json_stamp = re.search(r'"timestamp":"([^"]+)"', line)
        if json_stamp:
            print(f"FIGURE play_to_{name}_json_ms {(instant(json_stamp[1]) - start) * 1000:.0f}"
                  "  (the launcher's JSON timestamp, ms resolution)")

def memory(pid, memory_mib):
    """FIGURE lines: the launcher's (PID's) memory, the guest RAM it has touched, its cgroup's."""
    status = dict(re.findall(r"^(\w+):\s+(\d+) kB", open(f"/proc/{pid}/status").read(), re.MULTILINE))
    kib = int(memory_mib) * 1024
    # The guest's RAM: an anonymous private mapping of memory_mib (MAP_NORESERVE: a page costs
    # memory once the guest or the VMM touched it). The kernel may merge it with an adjacent
    # anonymous mapping (a malloc arena, a stack): the smallest anonymous rw-p VMA of at least
    # memory_mib holds it; its Rss is what the guest touched, plus the neighbour's (if merged).
    vmas, current = [], None
    for line in open(f"/proc/{pid}/smaps"):
        fields = line.split()
        if re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", fields[0]):
            current = {"anonymous": len(fields) == 5 and fields[1] == "rw-p"}
            vmas.append(current)
        elif fields[0] in ("Size:", "Rss:"):
            current[fields[0]] = int(fields[1])
    guest = min((v for v in vmas if v["anonymous"] and v["Size:"] >= kib), key=lambda v: v["Size:"])
    touched = guest["Rss:"]
    merged = f", merged with {guest['Size:'] - kib} KiB of a neighbour" if guest["Size:"] > kib else ""
    mib = lambda k: f"{k / 1024:.1f}"
    rss, anon, file = int(status["VmRSS"]), int(status["RssAnon"]), int(status["RssFile"])
    print(f"FIGURE guest_memory_mib {memory_mib}  (vm.json memory_mib)")
    print(f"FIGURE guest_touched_mib {mib(touched)}  (/proc/PID/smaps Rss of the guest RAM's mapping: {guest['Size:']} KiB{merged})")
    print(f"FIGURE launcher_vmrss_mib {mib(rss)}  (/proc/PID/status VmRSS of the container's PID 1)")
    print(f"FIGURE launcher_vmhwm_mib {mib(int(status['VmHWM']))}  (VmHWM: the peak RSS so far)")
    print(f"FIGURE launcher_rssanon_mib {mib(anon)}  (RssAnon; RssFile {mib(file)}: the binary and libraries)")
    print(f"FIGURE launcher_overhead_rss_mib {mib(rss - touched)}  (VmRSS - guest touched; the budget pod.memory_overhead_mib is 64)")
    print(f"FIGURE launcher_overhead_anon_mib {mib(anon - touched)}  (RssAnon - guest touched: the launcher's own heap, stacks, buffers)")
    cgroup = next(l.split(":", 2)[2].strip() for l in open(f"/proc/{pid}/cgroup") if l.split(":")[1] == "memory")
    directory = f"/sys/fs/cgroup/memory{cgroup}"
    read = lambda name: int(open(f"{directory}/{name}").read())
    stat = dict(l.split() for l in open(f"{directory}/memory.stat"))
    print(f"FIGURE cgroup_usage_mib {mib(read('memory.usage_in_bytes') // 1024)}"
          f"  (v1 memory.usage_in_bytes of the container's cgroup; limit {mib(read('memory.limit_in_bytes') // 1024)} MiB)")
    print(f"FIGURE cgroup_max_usage_mib {mib(read('memory.max_usage_in_bytes') // 1024)}  (memory.max_usage_in_bytes: the peak)")
    print(f"FIGURE cgroup_rss_mib {mib(int(stat['total_rss']) // 1024)}  (memory.stat total_rss: anonymous memory, guest RAM included)")
    print(f"FIGURE cgroup_cache_mib {mib(int(stat['total_cache']) // 1024)}"
          "  (memory.stat total_cache: page cache charged to the pod, mostly the disk image fw.test=blk wrote; reclaimable)")
    print(f"FIGURE cgroup_kmem_mib {mib(read('memory.kmem.usage_in_bytes') // 1024)}  (memory.kmem.usage_in_bytes: kernel memory, KVM's included)")

def counters(text):
    """Prints ICMP UDP, the counts in a text "net counters ... icmp ICMP udp UDP ..." ("- -": none)."""
    m = re.search(r"net counters .*\bicmp (\d+) udp (\d+)", text)
    print(*(m.groups() if m else ("-", "-")))

def udp(host, port, message):
    """Sends MESSAGE to HOST:PORT and prints the reply (3 tries, 1 s each); exit 1 without one."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        for _ in range(3):
            s.sendto(message.encode(), (host, int(port)))
            try:
                print(s.recv(2048).decode().strip())
                return
            except TimeoutError:
                pass
    sys.exit(1)

globals()[sys.argv[1].replace("-", "_")](*sys.argv[2:])
PY
helper() { "$python" "$work/helper.py" "$@"; }

# --- The image, the manifest, the names -------------------------------------------------------
tag=$("$here/build-image.sh" "${binary[@]}" --no-check 2>"$work/build.err") && ok "image $tag" \
  || { bad "image build: $(tail -5 "$work/build.err")"; summary; exit 1; }
"$here/podman-manifest.sh" "$work/pod.yaml" "$work/config" "$manifest" 2>"$work/manifest.err" \
  && ok "podman manifest from $(basename "$manifest")" || { bad "podman-manifest.sh: $(cat "$work/manifest.err")"; summary; exit 1; }
read -r pod container host_port disk memory_mib volume < <(helper names "$manifest" "$here/configmap.yaml")
volume_dir=$(dirname "$disk")
# Left over from an interrupted run of this script (same names): take it down.
podman kube down "$work/pod.yaml" >/dev/null 2>&1
if podman volume exists "$volume"; then
  bad "a volume named '$volume' already exists (the manifest's emptyDir would reuse it): podman volume rm $volume"
  summary; exit 1
fi

# --- Each scenario plays a manifest, stops the pod, reads the exit code and the logs, kube down --
# play SCENARIO MANIFEST: `podman kube play`; play_start is its start (ns).
play() {
  played+=("$2")
  play_start=$(date +%s%N)
  if podman kube play "$2" >/dev/null 2>"$work/play.err"; then
    ok "$1: kube play ($(ms "$play_start") ms)"
  else
    bad "$1: kube play: $(grep -v syslog "$work/play.err")"
    return 1
  fi
}
# wait_log PATTERN SECONDS: polls `podman logs` (stdout and stderr) into $log until an extended
# regex matches a line; false after SECONDS.
log=$work/log
wait_log() {
  local deadline=$(($(date +%s) + $2))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    podman logs "$container" >"$log" 2>&1
    grep -qE "$1" "$log" && return 0
    sleep 0.05
  done
  return 1
}
# wait_exited SECONDS: until the container has exited by itself.
wait_exited() {
  local deadline=$(($(date +%s) + $1))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(podman inspect "$container" --format '{{.State.Status}}')" = exited ] && return 0
    sleep 0.1
  done
  return 1
}
# stop SCENARIO: `podman pod stop -t 40`; then status (the exit code), stop_ms, and the logs in
# $work/SCENARIO.out (console), .err (the launcher's log), .log (both, in order, timestamped).
stop() {
  local start
  start=$(date +%s%N)
  podman pod stop -t 40 "$pod" >/dev/null 2>&1
  stop_ms=$(ms "$start")
  status=$(podman inspect "$container" --format '{{.State.ExitCode}}')
  podman logs "$container" >"$work/$1.out" 2>"$work/$1.err"
  podman logs -t "$container" >"$work/$1.log" 2>&1
  [ -z "$keep" ] || { mkdir -p "$keep" && cp "$work/$1".* "$keep/"; }
}
# down SCENARIO MANIFEST: `podman kube down` (removes the pod and the emptyDir volume).
down() {
  [ -z "$keep" ] || cp "$2" "$keep/$1.yaml"
  if podman kube down "$2" >/dev/null 2>&1 && ! podman pod exists "$pod" && ! podman volume exists "$volume"; then
    ok "$1: kube down removed the pod and its volume"
  else
    bad "$1: kube down left the pod or the volume '$volume'"
  fi
  local file remaining=()
  for file in "${played[@]}"; do [ "$file" = "$2" ] || remaining+=("$file"); done
  played=("${remaining[@]}")
}

# --- 1. The VM as deployed ---------------------------------------------------------------------
s=deployed
play $s "$work/pod.yaml" || { summary; exit 1; }
# Poll `podman logs` until the firmware's net is up, noting when each line was first seen.
declare -A seen=()
polls=0 poll_start=$(date +%s%N)
deadline=$(($(date +%s) + 30))
while [ -z "${seen[net_ready]:-}" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  podman logs "$container" >"$log" 2>&1
  now=$(ms "$play_start") polls=$((polls + 1))
  for event in "guest_ready_log:\"message\":\"guest ready\"" "lease:^fw: net0 dhcp lease " "net_ready:^fw: net ready"; do
    [ -z "${seen[${event%%:*}]:-}" ] && grep -qE "${event#*:}" "$log" && seen[${event%%:*}]=$now
  done
  sleep 0.01
done
poll_ms=$(($(ms "$poll_start") / (polls > 0 ? polls : 1)))
grep -q '"message":"pod network ready"' "$log" && ok "$s: launcher: pod network ready" || bad "$s: no 'pod network ready'"
grep -q "^fw: blk OK" "$log" && ok "$s: guest: fw.test=blk OK" || bad "$s: no 'fw: blk OK'"
# The disk's engine: io_uring, or worker threads where the runtime's seccomp profile refuses it.
engine=$(grep -o 'disks\[0\]: aio [a-z_]*[^"]*' "$log" | head -1)
[ -n "$engine" ] && ok "$s: launcher: $engine" || bad "$s: no 'disks[0]: aio' log line"
lease=$(grep -m1 "^fw: net0 dhcp lease " "$log")
[[ $lease == "fw: net0 dhcp lease 10.0.2.2/24 router 10.0.2.1 "* ]] \
  && ok "$s: podman logs shows the console with the lease: $lease" || bad "$s: no DHCP lease of 10.0.2.2 on the console: '$lease'"
[ -n "${seen[net_ready]:-}" ] && ok "$s: guest: net ready ${seen[net_ready]} ms after kube play" || bad "$s: no 'fw: net ready' within 30 s"
for event in guest_ready_log lease net_ready; do
  figure "play_to_${event}_poll_ms" "${seen[$event]:--}" "first seen by polling podman logs, one poll every ${poll_ms} ms"
done

ip=$(podman inspect "$container" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
# ICMP echo to the pod's IP: the launcher DNATs it to the guest (TTL 63: one routed hop, the pod).
if pinged=$(ping -c 5 -i 0.2 -W 2 "$ip" 2>&1) && grep -q " 5 received" <<<"$pinged"; then
  ok "$s: ping -c 5 $ip: 5 answered (ttl $(grep -o 'ttl=[0-9]*' <<<"$pinged" | sort -u | cut -d= -f2 | paste -sd,))"
else
  bad "$s: ping -c 5 $ip: $(tail -2 <<<"$pinged" | head -1)"
fi
# UDP echo (port 7) through the pod's IP and the hostPort (netavark DNATs both 127.0.0.1 and the
# host's own address for UDP too).
echoes=0
targets=("$ip:7")
if [ "$host_port" = - ]; then
  skip "$s: UDP echo through a hostPort: $(basename "$manifest") declares none for UDP 7"
else
  host_ip=$(ip -4 route get 1.1.1.1 2>/dev/null | grep -o 'src [0-9.]*' | cut -d' ' -f2)
  targets+=("127.0.0.1:$host_port" ${host_ip:+"$host_ip:$host_port"})
fi
for target in "${targets[@]}"; do
  if reply=$(helper udp "${target%:*}" "${target#*:}" "swiftvmm-e2e $target") && [ "$reply" = "swiftvmm-e2e $target" ]; then
    ok "$s: UDP echo through $target"
    echoes=$((echoes + 1))
  else
    bad "$s: UDP echo through $target: '$reply'"
  fi
done
# They reached the guest, not the pod's namespace: the firmware counted them.
reply=$(helper udp "$ip" 9 counters) || reply=
read -r icmp udp < <(helper counters "$reply")
[ "$icmp" != - ] && [ "$icmp" -ge 5 ] && [ "$udp" -ge "$echoes" ] \
  && ok "$s: the guest counted them (icmp $icmp >= 5, udp $udp >= $echoes): $reply" \
  || bad "$s: the guest's counters (want icmp >= 5, udp >= $echoes): '$reply'"
# The launcher's endpoint through the pod's IP (port 8080, never forwarded to the guest), the
# page parsed by prometheus_client, and the exec probe inside the container.
readyz=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$ip:8080/readyz") || readyz=
[ "$readyz" = 200 ] && ok "$s: /readyz through the pod IP: 200" || bad "$s: /readyz through $ip:8080: '$readyz'"
if curl -s -m 5 "http://$ip:8080/metrics" >"$work/metrics.txt" \
  && /usr/bin/python3 "$here/../scripts/parse-metrics.py" <"$work/metrics.txt" >"$work/metrics.json"; then
  read -r writes tx_packets state < <(/usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(int(m.get("swiftvmm_disk_requests_total{disk=disk0,op=write}", 0)),
      int(m.get("swiftvmm_net_packets_total{direction=tx,nic=tap0}", 0)),
      int(m.get("swiftvmm_guest_state{state=running}", 0)))' "$work/metrics.json")
  [ "$writes" -gt 0 ] && [ "$tx_packets" -ge 5 ] && [ "$state" = 1 ] \
    && ok "$s: /metrics through the pod IP parses: disk writes $writes, NIC tx packets $tx_packets, running" \
    || bad "$s: /metrics values: writes '$writes' tx '$tx_packets' running '$state'"
else
  bad "$s: /metrics through $ip:8080 does not parse: $(head -c 300 "$work/metrics.txt")"
fi
probe=$(podman exec "$container" /usr/bin/swiftvmm probe ready 2>&1) && ok "$s: podman exec swiftvmm probe ready: 0 ($probe)" \
  || bad "$s: swiftvmm probe ready: '$probe'"
# The launcher's memory while the guest runs.
pid=$(podman inspect "$container" --format '{{.State.Pid}}')
helper memory "$pid" "$memory_mib" || bad "$s: could not read the memory of PID $pid"

stop $s
[ "$status" = 0 ] && ok "$s: pod stop -t 40: SIGTERM -> power button -> exit code 0 ($stop_ms ms)" || bad "$s: exit code $status after pod stop"
figure pod_stop_poweroff_ms "$stop_ms" "podman pod stop -t 40 until it returned: SIGTERM, power button, guest power-off, exit"
grep -q '"message":"power button pressed"' "$work/$s.err" && ok "$s: the launcher pressed the power button" || bad "$s: no power button in the log"
final=$(grep -m1 "^fw: net counters" "$work/$s.out")
read -r final_icmp final_udp < <(helper counters "$final")
[ "$final_icmp" = "$icmp" ] && [ "$final_udp" = "$udp" ] \
  && ok "$s: the counters at power-off agree: $final" || bad "$s: the counters at power-off ('$final') differ from icmp $icmp udp $udp"
helper timings "$play_start" "$work/$s.log"
# The disk: the emptyDir volume's file on the host, while the volume still exists.
mounted=$(podman inspect "$container" --format "{{range .Mounts}}{{if eq .Destination \"$volume_dir\"}}{{.Name}}{{end}}{{end}}")
image=$(podman volume inspect "$mounted" --format '{{.Mountpoint}}' 2>/dev/null)/$(basename "$disk")
if checked=$("$python" "$repo/firmware/tools/check-blk-pattern.py" "$image" 0 2>&1); then
  ok "$s: the volume '$mounted' holds what the guest wrote: $checked"
else
  bad "$s: the disk in volume '$mounted' ($image): $checked"
fi
down $s "$work/pod.yaml"

# --- 2. A guest that ignores the power button: forced stop after pod.grace_seconds ---------------
s=ignores-button
mkdir -p "$work/config-$s"
helper config-variant "$here/configmap.yaml" "$work/config-$s" 'cmdline+= fw.ignore-button' 'pod.grace_seconds=3'
"$here/podman-manifest.sh" "$work/$s.yaml" "$work/config-$s" "$manifest" 2>/dev/null || bad "$s: podman-manifest.sh"
if play $s "$work/$s.yaml"; then
  wait_log "^fw: net ready" 30 || bad "$s: no 'fw: net ready' within 30 s"
  stop $s
  [ "$status" = 7 ] && ok "$s: pod stop -t 40: forced stop after the 3 s grace, exit code 7 ($stop_ms ms)" \
    || bad "$s: exit code $status after pod stop ($stop_ms ms), not 7"
  figure pod_stop_forced_ms "$stop_ms" "podman pod stop -t 40 until it returned, pod.grace_seconds 3"
  forced=$(grep -m1 "forcing a stop" "$work/$s.err")
  [ -n "$forced" ] && ok "$s: the log says so: $(grep -o '"message":"[^"]*"' <<<"$forced")" || bad "$s: no 'forcing a stop' in the log"
  down $s "$work/$s.yaml"
fi

# --- 3., 4. A bad vm.json: exit code 10, one line naming the key ---------------------------------
# bad_config SCENARIO KEY EDIT: vm.json with EDIT; the one stderr line must name KEY.
bad_config() {
  local s=$1 lines
  mkdir -p "$work/config-$s"
  helper config-variant "$here/configmap.yaml" "$work/config-$s" "$3"
  "$here/podman-manifest.sh" "$work/$s.tmp.yaml" "$work/config-$s" "$manifest" 2>/dev/null || bad "$s: podman-manifest.sh"
  helper manifest-variant "$work/$s.tmp.yaml" "$work/$s.yaml" restart-never
  play "$s" "$work/$s.yaml" || return
  wait_exited 20 || bad "$s: the container did not exit by itself within 20 s"
  stop "$s"
  lines=$(grep -c . "$work/$s.err")
  [ "$status" = 10 ] && ok "$s: exit code 10" || bad "$s: exit code $status, not 10"
  [ "$lines" = 1 ] && grep -qF "$2" "$work/$s.err" && ok "$s: one stderr line, naming $2: $(cat "$work/$s.err")" \
    || bad "$s: $lines stderr lines, wanted one naming $2: $(head -3 "$work/$s.err")"
  down "$s" "$work/$s.yaml"
}
bad_config unknown-key pod.grace_period 'pod.grace_period=30'
bad_config bad-value memory_mib 'memory_mib="lots"'

# --- 5. No /dev/kvm in the pod: exit code 2 -------------------------------------------------------
s=no-kvm
helper manifest-variant "$work/pod.yaml" "$work/$s.yaml" no-kvm restart-never
if play $s "$work/$s.yaml"; then
  wait_exited 20 || bad "$s: the container did not exit by itself within 20 s"
  stop $s
  [ "$status" = 2 ] && ok "$s: exit code 2" || bad "$s: exit code $status, not 2"
  kvm=$(grep -m1 "cannot open /dev/kvm" "$work/$s.err")
  [ -n "$kvm" ] && ok "$s: the log says: $kvm" || bad "$s: no 'cannot open /dev/kvm': $(tail -2 "$work/$s.err")"
  down $s "$work/$s.yaml"
fi
summary
