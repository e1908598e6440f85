#!/usr/bin/env bash
# Builds and installs the `maxk` wheel into a venv and runs the Python test suite (tests/python):
# the API, the verl / TRL / OpenRLHF adapters against the real frameworks, and docs/python.md.
#
#   scripts/test-python.sh [pytest args...]     e.g. scripts/test-python.sh -x test_verl.py
#
# Needs python3 (3.10+), cargo and PyPI. The venv is $MAXK_VENV (default .venv at the repository
# root); an existing one is reused and only topped up. Everything is pinned in
# tests/python/requirements.txt (made from requirements.in by `uv pip compile`).
#
# torch comes from PyPI, whose Linux wheel pulls the CUDA libraries (about 3.5 GB). uv downloads
# them in parallel and hard-links them from its cache: a cold install of everything takes about
# 30 s on a 2-core machine, a warm one a few seconds. The tests themselves run on the CPU.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${MAXK_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
UV_VERSION="0.13.9"
OPENRLHF_VERSION="0.11.2"

# uv (like pip here) must trust the machine's CA bundle when one is configured.
if [[ -z "${SSL_CERT_FILE:-}" && -n "${PIP_CERT:-}" ]]; then
    export SSL_CERT_FILE="$PIP_CERT"
fi
export UV_PYTHON="$PY"
# maturin (the build backend) and pytest run from the venv.
export PATH="$VENV/bin:$PATH"

t0=$(date +%s)
if [[ ! -x "$PY" ]]; then
    echo "== creating venv $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/uv" --version 2>/dev/null | grep -q " $UV_VERSION"; then
    "$PY" -m pip install --quiet "uv==$UV_VERSION"
fi
UV="$VENV/bin/uv"

echo "== installing test requirements (tests/python/requirements.txt)"
"$UV" pip install --quiet -r tests/python/requirements.txt
# OpenRLHF pins transformers/ray/deepspeed/flash-attn versions that conflict with verl and need
# CUDA to build; its tests import only the advantage step, so it is installed without deps.
"$UV" pip install --quiet --no-deps "openrlhf==$OPENRLHF_VERSION"
t1=$(date +%s)
echo "== dependencies ready in $((t1 - t0)) s"

echo "== building and installing the maxk wheel (pip install .)"
# Reinstall every time: the wheel's version does not change with the sources.
"$PY" -m pip install --quiet --no-build-isolation --force-reinstall --no-deps .
t2=$(date +%s)
echo "== wheel built and installed in $((t2 - t1)) s"

# The tests must see the installed wheel, not python/maxk from the source tree; a framework that
# failed to install fails its tests instead of skipping them.
export MAXK_REQUIRE_FRAMEWORKS=1
cd "$ROOT/tests/python"
status=0
# Arguments are pytest's; test files are relative to tests/python (e.g. test_verl.py -x).
args=("$@")
has_path=0
for arg in "$@"; do
    if [[ "$arg" != -* && -e "$arg" ]]; then has_path=1; fi
done
if [[ $has_path == 0 ]]; then args+=(.); fi
"$PY" -m pytest -p no:cacheprovider "${args[@]}" || status=$?
t3=$(date +%s)
echo "== tests ran in $((t3 - t2)) s (total $((t3 - t0)) s), exit status $status"
exit "$status"
