#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace and, at the same time, the Python package
# and framework adapters (which build the wheel into .venv). Usage: bash scripts/test.sh
#
# The two halves run side by side because neither keeps both cores busy alone: the Python
# half first downloads its dependencies (about 4 GB of wheels on a machine with an empty uv
# cache, most of it torch's CUDA libraries: network and disk), then its slowest tests wait on
# Ray and torchrun start-ups; the Rust half has long single-crate compiles and links. The
# wheel is built in its own target folder (target/python) so that the two cargo builds never
# wait on each other's lock. The Rust output is shown as it comes, the Python output after it
# (from its log, then live until it ends). The exit status is non-zero when either half fails.
set -euo pipefail
cd "$(dirname "$0")/.."

python_log="$(mktemp)"
echo "== Python: scripts/test-python.sh in the background (log $python_log)"
CARGO_TARGET_DIR="$PWD/target/python" bash scripts/test-python.sh >"$python_log" 2>&1 &
python=$!
# A failing or interrupted run must not leave the Python half running.
trap '[ -n "$python" ] && kill "$python" 2>/dev/null; rm -f "$python_log"' EXIT

echo "== Rust: cargo test --workspace"
rust_status=0
cargo test --workspace || rust_status=$?

echo "== Python: scripts/test-python.sh (started with the Rust tests; its output so far, then live)"
tail -n +1 -f --pid="$python" "$python_log"
python_status=0
wait "$python" || python_status=$?
python=""

if [ "$rust_status" -ne 0 ] || [ "$python_status" -ne 0 ]; then
  echo "tests failed: Rust exit status $rust_status, Python exit status $python_status" >&2
  exit 1
fi
echo "== all tests passed (Rust and Python)"
