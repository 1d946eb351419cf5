#!/usr/bin/env bash
# A Firecracker API client written by someone else, for the test that lets it drive
# `swiftvmm serve` (FirecrackerServeTests): pyrecracker from PyPI in a venv (Debian's
# python3-venv) cached outside the repository, ${SWIFTVMM_CACHE:-~/.cache/swiftvmm}/venv-fc-client.
# pyrecracker declares Python >= 3.12; its client needs only 3.11's enum.StrEnum and
# typing.Self, so it is installed with --ignore-requires-python on Debian 12's 3.11.
# Idempotent. Prints the venv's python on stdout (progress goes to stderr).
# Usage: scripts/firecracker-client.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
version=${PYRECRACKER_VERSION:-0.6.4}
venv="${SWIFTVMM_CACHE:-$HOME/.cache/swiftvmm}/venv-fc-client"
if ! "$venv/bin/python" -c "import pyrecracker.client" >/dev/null 2>&1 \
  || [ "$("$venv/bin/python" -m pip show pyrecracker 2>/dev/null | awk '/^Version:/{print $2}')" != "$version" ]; then
  "$repo/scripts/host-packages.sh" python3 python3-venv
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  /usr/bin/python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --ignore-requires-python \
    "pyrecracker==$version" >&2
  echo "firecracker-client: installed pyrecracker $version in $venv" >&2
fi
echo "$venv/bin/python"
