#!/usr/bin/env bash
# Validates the manifests in deploy/ offline:
#   1. kubernetes-validate --strict (JSON schemas of the Kubernetes API: wrong types, missing
#      required fields, unknown fields; it does not check enum values) on configmap.yaml,
#      pod.yaml and deployment.yaml, plus any extra files given;
#   2. that they agree with each other: the ConfigMap's vm.json is JSON; its pod.network.ports plus
#      the launcher's endpoint port (pod.http_listen, 8080) are the container's ports; memory requests = limits = memory_mib + pod.memory_overhead_mib;
#      terminationGracePeriodSeconds > pod.grace_seconds; the Deployment's Pod spec is the Pod's
#      apart from restartPolicy and the ports' hostPort (pod.yaml publishes the echo port on the
#      node's 17007 for the podman test and single-node use; a Deployment uses a Service).
# Usage: deploy/validate.sh [-k KUBERNETES_VERSION] [EXTRA.yaml...]
# The venv with kubernetes-validate comes from scripts/podman-host.sh venv (installed on first
# use). Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
version=()
if [ "${1:-}" = -k ]; then version=(-k "$2"); shift 2; fi
kv=$("$repo/scripts/podman-host.sh" venv 2>/dev/null) || kv=$("$repo/scripts/podman-host.sh" venv)
status=0
"$kv" --strict "${version[@]}" "$here/configmap.yaml" "$here/pod.yaml" "$here/deployment.yaml" "$@" || status=1
"$(dirname "$kv")/python" - "$here" <<'PY' || status=1
import copy, json, sys, yaml

here = sys.argv[1]
load = lambda name: yaml.safe_load(open(f"{here}/{name}"))
configmap, pod, deployment = load("configmap.yaml"), load("pod.yaml"), load("deployment.yaml")
problems = []
vm = json.loads(configmap["data"]["vm.json"])
container = pod["spec"]["containers"][0]
wanted = sorted((p.get("name"), p["port"], p.get("protocol", "TCP")) for p in vm["pod"]["network"]["ports"])
# The launcher's own endpoint (pod.http_listen, default 0.0.0.0:8080) is a container port too,
# never one of the guest's.
listen = vm["pod"].get("http_listen", "0.0.0.0:8080")
endpoint = [("http", int(listen.rsplit(":", 1)[1]), "TCP")] if listen else []
declared = sorted((p.get("name"), p["containerPort"], p.get("protocol", "TCP")) for p in container["ports"])
if sorted(wanted + endpoint) != declared:
    problems.append(f"pod.network.ports {wanted} + the endpoint {endpoint} != the container's ports {declared}")
if any(port == e[1] and proto == "TCP" for _, port, proto in wanted for e in endpoint):
    problems.append("pod.network.ports must not list the launcher's endpoint port")
probe = container.get("readinessProbe", {}).get("httpGet", {})
if endpoint and probe and probe.get("path") != "/readyz":
    problems.append("the readinessProbe should ask the launcher's /readyz")
memory = f'{vm["memory_mib"] + vm["pod"].get("memory_overhead_mib", 64)}Mi'
for kind in ("requests", "limits"):
    if container["resources"][kind]["memory"] != memory:
        problems.append(f"resources.{kind}.memory is {container['resources'][kind]['memory']}, not memory_mib + overhead = {memory}")
if not pod["spec"]["terminationGracePeriodSeconds"] > vm["pod"].get("grace_seconds", 25):
    problems.append("terminationGracePeriodSeconds must exceed pod.grace_seconds")
def comparable(pod_spec):
    """A Pod spec without restartPolicy and without the ports' hostPort."""
    pod_spec = copy.deepcopy(pod_spec)
    pod_spec.pop("restartPolicy")
    for container in pod_spec["containers"]:
        for port in container.get("ports", []):
            port.pop("hostPort", None)
    return pod_spec
if comparable(deployment["spec"]["template"]["spec"]) != comparable(pod["spec"]):
    problems.append("deployment.yaml's Pod spec differs from pod.yaml's (apart from restartPolicy and hostPort)")
if deployment["spec"]["template"]["metadata"]["labels"] != deployment["spec"]["selector"]["matchLabels"]:
    problems.append("deployment.yaml: the selector does not match the template's labels")
for problem in problems:
    print(f"ERROR {problem}")
if not problems:
    print("INFO configmap.yaml, pod.yaml and deployment.yaml agree (ports, memory, grace period, Pod spec apart from restartPolicy and hostPort)")
sys.exit(1 if problems else 0)
PY
exit $status
