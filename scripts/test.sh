#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace, then the Python package and framework
# adapters (which build the wheel into .venv). Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust: cargo test --workspace"
cargo test --workspace

if [ -f scripts/test-python.sh ]; then
  echo "== Python: scripts/test-python.sh"
  bash scripts/test-python.sh
fi
