#!/usr/bin/env bash
# Derives a manifest that podman 4.3 can play (`podman kube play`) from deploy/pod.yaml (or
# deploy/deployment.yaml), changing only what podman 4.3 cannot play, so the tests exercise the
# real manifest (devices, capability, ports, resources, the emptyDir disk, the grace period):
#   1. the configMap volume (podman 4.3 ignores configMap volumes) becomes a hostPath directory
#      holding the ConfigMap's files;
#   2. downward-API env vars whose fieldRef podman 4.3 rejects ("fieldPath ... is either not valid
#      or not supported": it knows metadata.name, metadata.uid, metadata.labels/annotations only):
#      metadata.namespace becomes the literal "default" (podman has no namespaces); any other
#      (status.podIP: podman cannot know the IP before it creates the container) is left out,
#      with a comment; the launcher reads the pod's address from its interface anyway.
#   resourceFieldRef (SWIFTVMM_MEMORY_LIMIT) works in podman 4.3 and stays.
#
# Usage: deploy/podman-manifest.sh OUT.yaml CONFIG_JSON_DIR [MANIFEST]
#   OUT.yaml         the manifest to write (e.g. podman-play.yaml in a temporary directory; not
#                    kept in the tree: it holds a machine's path; deploy/.gitignore has it)
#   CONFIG_JSON_DIR  the directory mounted at /etc/swiftvmm instead of the ConfigMap. When it has
#                    no vm.json, each key of deploy/configmap.yaml's data is written into it as a
#                    file (what the kubelet does for a configMap volume); a vm.json already there
#                    is left alone (a test's own configuration).
#   MANIFEST         default deploy/pod.yaml
#
# How: text substitutions (Python re; no YAML round trip, so comments and layout stay):
#   <i>configMap:                  ->  <i>hostPath:
#   <i>  name: <the ConfigMap>          <i>  path: <CONFIG_JSON_DIR, absolute>
#                                       <i>  type: Directory
# (exactly once), and
#   <i>- name: VAR                 ->  <i>- name: VAR
#   <i>  valueFrom:                     <i>  value: default
#   <i>    fieldRef:               or  <i># VAR left out: ...
#   <i>      fieldPath: <unsupported>
# Then both files are parsed (PyYAML from the kubernetes-validate venv) and must be equal apart
# from exactly these changes; a comment on top of OUT lists them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
if [ $# -lt 2 ] || [ $# -gt 3 ]; then echo "usage: $0 OUT.yaml CONFIG_JSON_DIR [MANIFEST]" >&2; exit 2; fi
out=$1 manifest=${3:-$here/pod.yaml}
mkdir -p "$(dirname "$out")" "$2"
dir=$(cd "$2" && pwd)
kv=$("$repo/scripts/podman-host.sh" venv 2>/dev/null) || kv=$("$repo/scripts/podman-host.sh" venv)
"$(dirname "$kv")/python" - "$manifest" "$here/configmap.yaml" "$dir" "$out" "$repo" <<'PY'
import copy, os, re, sys, yaml

manifest_path, configmap_path, directory, out, repo = sys.argv[1:]
say = lambda text: print(f"podman-manifest: {text}", file=sys.stderr)
configmap = yaml.safe_load(open(configmap_path))
name = configmap["metadata"]["name"]

# The ConfigMap's files, as the kubelet would project them.
if not os.path.exists(os.path.join(directory, "vm.json")):
    for key, value in configmap["data"].items():
        with open(os.path.join(directory, key), "w") as f:
            f.write(value)
    say(f"wrote {', '.join(configmap['data'])} of {os.path.relpath(configmap_path, repo)} into {directory}")
else:
    say(f"{directory}/vm.json exists: left as it is")

text = open(manifest_path).read()
changes = []

# 1. The configMap volume.
volume = re.compile(rf"^(?P<i>[ ]*)configMap:\n(?P=i)  name: {re.escape(name)}[ ]*\n", re.MULTILINE)
if len(volume.findall(text)) != 1:
    say(f"{manifest_path}: expected one configMap volume named {name}, found {len(volume.findall(text))}")
    sys.exit(1)
text = volume.sub(lambda m: (f"{m['i']}hostPath:  # podman 4.3 ignores configMap volumes (was: configMap {name})\n"
                             f"{m['i']}  path: {directory}\n{m['i']}  type: Directory\n"), text)
changes.append(f"the configMap volume {name} is the hostPath directory {directory}")

# 2. Downward-API fieldRefs podman 4.3 cannot provide.
supported = re.compile(r"metadata\.(name|uid|labels\[.*\]|annotations\[.*\])")
literal = {"metadata.namespace": "default"}
env = re.compile(r"^(?P<i>[ ]*)- name: (?P<var>\S+)\n(?P=i)  valueFrom:\n(?P=i)    fieldRef:\n"
                 r"(?:(?P=i)      apiVersion: \S+\n)?(?P=i)      fieldPath: (?P<path>\S+)[ ]*\n", re.MULTILINE)
replaced, dropped = {}, []
def swap(m):
    path = m["path"]
    if supported.fullmatch(path):
        return m[0]
    if path in literal:
        replaced[m["var"]] = literal[path]
        changes.append(f"{m['var']} = \"{literal[path]}\" (podman 4.3 has no fieldRef {path})")
        return f"{m['i']}- name: {m['var']}\n{m['i']}  value: \"{literal[path]}\"  # podman 4.3: no fieldRef {path}\n"
    dropped.append(m["var"])
    changes.append(f"{m['var']} left out (podman 4.3 has no fieldRef {path})")
    return f"{m['i']}# {m['var']} left out: podman 4.3 has no fieldRef {path}\n"
text = env.sub(swap, text)

header = f"# Generated by deploy/podman-manifest.sh from {os.path.relpath(os.path.abspath(manifest_path), repo)} for podman 4.3; changed:\n"
header += "".join(f"# - {change}\n" for change in changes)
derived = header + text

# Parsed, the two must differ by exactly these changes.
original, played = yaml.safe_load(open(manifest_path)), yaml.safe_load(derived)
expected = copy.deepcopy(original)
spec = expected["spec"]["template"]["spec"] if expected["kind"] == "Deployment" else expected["spec"]
volumes = [v for v in spec["volumes"] if v.get("configMap", {}).get("name") == name]
assert len(volumes) == 1, volumes
del volumes[0]["configMap"]
volumes[0]["hostPath"] = {"path": directory, "type": "Directory"}
for container in (c for c in spec["containers"] if "env" in c):
    variables = []
    for variable in container.get("env", []):
        if variable["name"] in dropped:
            continue
        if variable["name"] in replaced:
            variable = {"name": variable["name"], "value": replaced[variable["name"]]}
        variables.append(variable)
    container["env"] = variables
if played != expected:
    say("the derived manifest differs from the original in more than the changes above")
    sys.exit(1)
with open(out, "w") as f:
    f.write(derived)
say(f"wrote {out}: " + "; ".join(changes))
PY
