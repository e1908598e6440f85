#!/usr/bin/env bash
# RL-step throughput of the maxk trainer (`maxk lm bench`) and of the same model and step in
# plain PyTorch eager (benches/torch/lm_rl_step.py), side by side on the same device, from the
# same resolved config, interleaved: REPS repetitions of (maxk, torch), then the median, min
# and max of each figure and of the per-repetition maxk / torch ratios.
#
#   scripts/lm-bench.sh [PRESET] [STEPS] [REPS]      (defaults: small 3 5 on the CPU, gpu 5 5 on CUDA)
#
#   DEVICE=cpu|cpu-burn|cuda   maxk device (default cpu; torch runs on cuda for cuda, else the CPU)
#   THREADS=2                  CPU threads on both sides (RAYON_NUM_THREADS, torch.set_num_threads)
#   MAXK=path                  the maxk binary (default target/release/maxk; built with
#                              `cargo build --release -p maxk-cli`, plus `--features cuda` and
#                              CUDARC_CUDA_VERSION=13000 for CUDA)
#   PYTHON=path                python with torch and the maxk wheel (scripts/test-python.sh builds .venv)
#   OUT=dir                    keep the per-run JSON files here (default a temporary directory)
set -euo pipefail
device="${DEVICE:-cpu}"
if [[ "$device" == cuda ]]; then torch_device=cuda; default_preset=gpu; default_steps=5; else
    torch_device=cpu; default_preset=small; default_steps=3; fi
preset="${1:-$default_preset}"
steps="${2:-$default_steps}"
reps="${3:-5}"
threads="${THREADS:-2}"
here="$(cd "$(dirname "$0")/.." && pwd)"
maxk="${MAXK:-$here/target/release/maxk}"
python="${PYTHON:-python3}"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"

echo "== $reps x (maxk lm bench --preset $preset --device $device --steps $steps, torch eager $torch_device), $threads threads"
for r in $(seq 1 "$reps"); do
    RAYON_NUM_THREADS="$threads" "$maxk" lm bench --preset "$preset" --device "$device" --steps "$steps" \
        --out "$out/maxk-$r"
    cp "$out/maxk-$r/bench.json" "$out/maxk-$r.json"
    "$python" "$here/benches/torch/lm_rl_step.py" --config "$out/maxk-$r/config.toml" --device "$torch_device" \
        --steps "$steps" --threads "$threads" --json "$out/torch-$r.json"
done
"$python" - "$out" "$reps" "$device" <<'PY'
import json, statistics, sys
out, reps, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = [(json.load(open(f"{out}/maxk-{r}.json")), json.load(open(f"{out}/torch-{r}.json"))) for r in range(1, reps + 1)]
def fmt(xs, spec):
    return f"{statistics.median(xs):{spec}} ({min(xs):{spec}}-{max(xs):{spec}})"
print(f"\nmedian (min-max) of {reps} interleaved repetitions; ratio = maxk / torch per repetition\n")
print(f"| | maxk ({device}) | torch eager | maxk / torch |\n|---|---|---|---|")
for key, name in [("sampled_tokens_per_s", "sampled tokens/s"), ("updates_per_s", "updates/s"), ("steps_per_s", "RL steps/s")]:
    m = [a[key] for a, _ in runs]
    t = [b[key] for _, b in runs]
    ratio = [x / y for x, y in zip(m, t)]
    print(f"| {name} | {fmt(m, '.4g')} | {fmt(t, '.4g')} | {fmt(ratio, '.2f')}x |")
PY
echo "(per-run JSON in $out)"
