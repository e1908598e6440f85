#!/usr/bin/env bash
# RL-step throughput of the maxk trainer (burn, CUDA) and of the same model and step in plain
# PyTorch eager, side by side on the same GPU, from the same resolved config.
#
#   scripts/gpu-bench.sh [PRESET] [STEPS]          (defaults: gpu 5)
#
# Needs a `maxk` binary built with the cuda feature (MAXK=path overrides `target/release/maxk`):
#   CUDARC_CUDA_VERSION=13000 cargo build --release -p maxk-cli --features cuda
# and python3 with torch (PYTHON=path overrides). DEVICE=cpu runs both on the CPU instead.
set -euo pipefail
preset="${1:-gpu}"
steps="${2:-5}"
here="$(cd "$(dirname "$0")/.." && pwd)"
maxk="${MAXK:-$here/target/release/maxk}"
python="${PYTHON:-python3}"
device="${DEVICE:-cuda}"
out="${OUT:-$(mktemp -d)}"

echo "== maxk lm bench --preset $preset --device $device --steps $steps"
"$maxk" lm bench --preset "$preset" --device "$device" --steps "$steps" --out "$out/maxk"
echo "== torch eager, same config ($out/maxk/config.toml)"
"$python" "$here/benches/torch/lm_rl_step.py" --config "$out/maxk/config.toml" --device "$device" \
    --steps "$steps" --json "$out/torch.json"
"$python" - "$out/maxk/bench.json" "$out/torch.json" <<'PY'
import json, sys
m, t = (json.load(open(p)) for p in sys.argv[1:3])
print("\n| | maxk (burn) | torch eager | maxk / torch |\n|---|---|---|---|")
for key, name in [("sampled_tokens_per_s", "sampled tokens/s"), ("updates_per_s", "updates/s"), ("steps_per_s", "RL steps/s")]:
    print(f"| {name} | {m[key]:.4g} | {t[key]:.4g} | {m[key] / t[key]:.2f}x |")
PY
echo "(results in $out)"
