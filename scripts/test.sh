#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace, then the Python package and framework
# adapters (which build the wheel into .venv). Usage: bash scripts/test.sh
#
# The Python suite's dependencies (about 4 GB of wheels on a machine with an empty uv cache,
# most of it torch's CUDA libraries) are downloaded and installed in the background while the
# Rust tests build and run: the one waits on the network and the disk, the other on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

deps_log="$(mktemp)"
MAXK_DEPS_ONLY=1 bash scripts/test-python.sh >"$deps_log" 2>&1 &
deps=$!
# A failing Rust build must not leave the installer running.
trap '[ -n "$deps" ] && kill "$deps" 2>/dev/null; rm -f "$deps_log"' EXIT

echo "== Rust: cargo test --workspace"
cargo test --workspace

echo "== Python dependencies (installed in the background since the start)"
deps_status=0
wait "$deps" || deps_status=$?
deps=""
cat "$deps_log"
if [ "$deps_status" -ne 0 ]; then
  echo "installing the Python test dependencies failed (exit status $deps_status)" >&2
  exit "$deps_status"
fi
echo "== Python: scripts/test-python.sh"
bash scripts/test-python.sh
