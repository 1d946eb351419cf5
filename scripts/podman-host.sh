#!/usr/bin/env bash
# Host set-up for the pod tests: rootful podman (`podman kube play deploy/...`) and the offline
# manifest linter (kubernetes-validate). Idempotent; for this development machine and a fresh
# Debian 12. Prints one line per thing it does (or finds done) on stderr.
#
# Usage: scripts/podman-host.sh          everything below
#        scripts/podman-host.sh venv     only the kubernetes-validate venv; prints the path of its
#                                        kubernetes-validate on stdout (deploy/validate.sh uses it)
#        scripts/podman-host.sh conf     only containers.conf (CONTAINERS_CONF_PATH overrides the path)
#
# 1. Debian packages (scripts/host-packages.sh, --no-install-recommends, so what podman merely
#    recommends is named): podman 4.3, runc, netavark + aardvark-dns (kube play's network),
#    catatonit (podman 4.3 builds its infra "pause" image locally from it: no registry),
#    iptables (netavark's firewall driver: hostPort DNAT); for deploy/podman-e2e.sh: iproute2
#    (ip), iputils-ping (ping), curl and python3-prometheus-client (the endpoint checks), python3 and python3-venv (the venv below; its python runs the
#    test's helpers); for deploy/build-image.sh: libnftables1 (copied into the image) and
#    binutils (strip). On a bare Debian 12 (minbase) nothing else is needed: the rest the scripts
#    run (coreutils, grep, sed, mawk, tar, findutils, util-linux, libc-bin) is Priority required.
# 2. /etc/containers/containers.conf with what this machine needs (../shared/reference/pod/NOTES.md):
#      [containers] default_ulimits = ["nofile=H:H", "nproc=N:N"]
#          rootful podman asks the runtime for nofile=1048576; above the hard limit (20000 here)
#          and without CAP_SYS_RESOURCE that is EPERM. H = `ulimit -Hn`. podman lowers its own
#          RLIMIT_NPROC to 32768 before it execs the runtime, so N = min(32768, `ulimit -Hu`).
#      [engine] runtime = "runc"
#          crun 1.8.1 refuses hybrid cgroups ("drop all controllers from cgroupv2") here.
#      [engine] cgroup_manager = "cgroupfs", events_logger = "file"
#          PID 1 is not systemd and there is no journald.
#    A missing file is written. An existing file is merged: keys it lacks are added under their
#    section (a copy of the old file is kept as containers.conf.swiftvmm-backup); a key it sets to
#    another value is never overwritten: the script names it with the wanted value and exits 1.
# 3. ${SWIFTVMM_CACHE:-~/.cache/swiftvmm}/venv-kv: a venv (Debian's python3-venv) with
#    kubernetes-validate from PyPI (KUBERNETES_VALIDATE_VERSION, default below).
# 4. net.ipv4.ip_forward = 1 on the host (see below).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}
conf=${CONTAINERS_CONF_PATH:-/etc/containers/containers.conf}
kv_version=${KUBERNETES_VALIDATE_VERSION:-1.37.0}
say() { echo "podman-host: $*" >&2; }

# The kubernetes-validate venv; prints its kubernetes-validate's path on stdout.
kv_venv() {
  local venv=$cache/venv-kv
  if [ -x "$venv/bin/kubernetes-validate" ] && "$venv/bin/kubernetes-validate" --version >/dev/null 2>&1; then
    say "venv $venv: kubernetes-validate $("$venv/bin/python" -m pip show kubernetes-validate 2>/dev/null | awk '/^Version:/{print $2}') already there"
  else
    "$repo/scripts/host-packages.sh" python3-venv
    # Debian's interpreter, not whatever python3 comes first in PATH (pyenv shims here).
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "kubernetes-validate==$kv_version" >&2
    say "venv $venv: installed kubernetes-validate $kv_version from PyPI"
  fi
  echo "$venv/bin/kubernetes-validate"
}

# Writes or merges containers.conf (see 2. above); exits 1 on a conflicting key.
containers_conf() {
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
  mkdir -p "$(dirname "$conf")"
  /usr/bin/python3 - "$conf" "$nofile" "$nproc" <<'PY'
import os, re, shutil, sys, tomllib

path, nofile, nproc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ulimits = [f"nofile={nofile}:{nofile}", f"nproc={nproc}:{nproc}"]
wanted = {  # section -> key -> (value, TOML text, why)
    "containers": {
        "default_ulimits": (ulimits, "[" + ", ".join(f'"{u}"' for u in ulimits) + "]",
                            "rootful podman asks for nofile=1048576 (above the hard limit, no CAP_SYS_RESOURCE); podman lowers its own nproc to 32768"),
    },
    "engine": {
        "cgroup_manager": ("cgroupfs", '"cgroupfs"', "no systemd as PID 1"),
        "events_logger": ("file", '"file"', "no journald"),
        "runtime": ("runc", '"runc"', "crun 1.8.1 refuses hybrid cgroup v1/v2 hosts"),
    },
}
say = lambda text: print(f"podman-host: {text}", file=sys.stderr)

def ulimit_ok(entries):
    """default_ulimits is fine when nofile and nproc are set, at most the wanted values."""
    if not isinstance(entries, list):
        return False
    found = {}
    for entry in entries:
        m = re.fullmatch(r"(\w+)=(-?\d+)(?::(-?\d+))?", str(entry))
        if m:
            found[m.group(1)] = max(int(m.group(2)), int(m.group(3) or m.group(2)))
    return 0 <= found.get("nofile", -1) <= nofile and 0 <= found.get("nproc", -1) <= nproc

if not os.path.exists(path):
    text = "# Written by SwiftVMM's scripts/podman-host.sh (rootful podman on hosts like its development machine).\n"
    for section, keys in wanted.items():
        text += f"[{section}]\n"
        for key, (_, toml, why) in keys.items():
            text += f"# {why}\n{key} = {toml}\n"
    with open(path, "w") as f:
        f.write(text)
    say(f"wrote {path}")
    sys.exit(0)

with open(path, "rb") as f:
    raw = f.read()
try:
    current = tomllib.loads(raw.decode())
except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
    say(f"{path} is not valid TOML ({error}); fix it, then run this again")
    sys.exit(1)

missing, conflicts = [], []
for section, keys in wanted.items():
    have = current.get(section, {})
    for key, (value, toml, why) in keys.items():
        if key not in have:
            missing.append((section, key, toml, why))
        elif key == "default_ulimits":
            if not ulimit_ok(have[key]):
                conflicts.append(f"[{section}] {key} = {have[key]!r}: needs nofile ≤ {nofile} and nproc ≤ {nproc}, e.g. {key} = {toml} ({why})")
        elif have[key] != value:
            conflicts.append(f"[{section}] {key} = {have[key]!r}: needs {key} = {toml} ({why})")
if conflicts:
    say(f"{path} sets values podman needs otherwise here; not changed. Edit these keys:")
    for line in conflicts:
        print(f"  {line}", file=sys.stderr)
    sys.exit(1)
if not missing:
    say(f"{path} already has what is needed")
    sys.exit(0)

# Add each missing key right after its section's header (TOML: a key belongs to the last header
# above it), or append the section when the file has none.
lines = raw.decode().splitlines(keepends=True)
if lines and not lines[-1].endswith("\n"):
    lines[-1] += "\n"
for section in wanted:
    additions = [f"# added by SwiftVMM's scripts/podman-host.sh: {why}\n{key} = {toml}\n"
                 for s, key, toml, why in missing if s == section]
    if not additions:
        continue
    header = next((i for i, line in enumerate(lines) if re.fullmatch(rf"\s*\[\s*{section}\s*\]\s*(#.*)?", line.rstrip("\n"))), None)
    if header is None:
        lines += [f"[{section}]\n"] + additions
    else:
        lines[header + 1:header + 1] = additions
merged = "".join(lines)
try:
    check = tomllib.loads(merged)
    ok = all(check.get(s, {}).get(k) is not None for s, k, _, _ in missing)
except tomllib.TOMLDecodeError:
    ok = False
if not ok:  # e.g. keys set through dotted names: leave such a file to its owner
    say(f"cannot merge into {path} safely; not changed. Add these keys yourself:")
    for s, key, toml, why in missing:
        print(f"  [{s}] {key} = {toml}  ({why})", file=sys.stderr)
    sys.exit(1)
shutil.copy2(path, path + ".swiftvmm-backup")
with open(path, "w") as f:
    f.write(merged)
say(f"merged into {path} (old file: {path}.swiftvmm-backup): " + ", ".join(f"[{s}] {k}" for s, k, _, _ in missing))
PY
}

case ${1:-all} in
  venv) kv_venv; exit 0 ;;
  conf) containers_conf; exit 0 ;;
  all) ;;
  *) echo "usage: $0 [venv|conf]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  say "rootful podman: run this as root"
  exit 1
fi
packages=(podman runc netavark aardvark-dns catatonit iptables iproute2 iputils-ping python3 python3-venv libnftables1 binutils curl python3-prometheus-client)
before=$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -c "install ok installed" || true)
"$repo/scripts/host-packages.sh" "${packages[@]}"
if [ "$before" -eq ${#packages[@]} ]; then
  say "Debian packages ${packages[*]}: already installed"
else
  say "Debian packages ${packages[*]}: installed"
fi
containers_conf
# IPv4 forwarding on the node: the pod network (masquerade) needs it and a pod cannot set it. A
# new network namespace copies the host's value when it is created; netavark turns it on only
# while it sets up a container's network, after that container's namespace exists, so without
# this the first container after a reboot sees 0 (swiftvmm launch then stops with status 18).
if [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ]; then
  say "net.ipv4.ip_forward is already 1"
else
  echo 1 > /proc/sys/net/ipv4/ip_forward
  say "set net.ipv4.ip_forward = 1 (not persistent: run this again after a reboot)"
fi
kv_venv >/dev/null
say "$(podman info --format 'podman {{.Version.Version}}, runtime {{.Host.OCIRuntime.Name}}, cgroups {{.Host.CgroupManager}}/{{.Host.CgroupsVersion}}, storage {{.Store.GraphDriverName}}, network {{.Host.NetworkBackend}}')"
