#!/usr/bin/env bash
# RL-step throughput of the maxk trainer (`maxk lm bench`) and of the same model and step in
# PyTorch (benches/torch/lm_rl_step.py), eager and `torch.compile`d, side by side on the same
# device, from the same resolved config, interleaved: REPS repetitions of (maxk, torch eager,
# torch compiled), then the median, min and max of each figure and of the per-repetition
# maxk / torch ratios.
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
#   COMPILE=default            torch.compile mode of the third column (default, reduce-overhead,
#                              max-autotune-no-cudagraphs), or none to skip it
#   PREFILL=shared             the twin's prefill: shared (each distinct prompt once, its KV cache
#                              copied to its group's rows, as maxk always does: like for like) or
#                              per-row (every row prefilled, HF generate's default)
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
compile="${COMPILE:-default}"
prefill="${PREFILL:-shared}"
mkdir -p "$out"

echo "== $reps x (maxk lm bench --preset $preset --device $device --steps $steps, torch eager and compile:$compile on $torch_device, twin prefill $prefill), $threads threads"
for r in $(seq 1 "$reps"); do
    RAYON_NUM_THREADS="$threads" "$maxk" lm bench --preset "$preset" --device "$device" --steps "$steps" \
        --out "$out/maxk-$r"
    cp "$out/maxk-$r/bench.json" "$out/maxk-$r.json"
    "$python" "$here/benches/torch/lm_rl_step.py" --config "$out/maxk-$r/config.toml" --device "$torch_device" \
        --steps "$steps" --threads "$threads" --prefill "$prefill" --json "$out/torch-$r.json"
    if [[ "$compile" != none ]]; then
        "$python" "$here/benches/torch/lm_rl_step.py" --config "$out/maxk-$r/config.toml" --device "$torch_device" \
            --steps "$steps" --threads "$threads" --prefill "$prefill" --compile "$compile" --json "$out/compiled-$r.json"
    fi
done
"$python" - "$out" "$reps" "$device" "$compile" <<'PY'
import json, statistics, sys
out, reps, device, compile_mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sides = ["maxk", "torch"] + (["compiled"] if compile_mode != "none" else [])
runs = [{s: json.load(open(f"{out}/{s}-{r}.json")) for s in sides} for r in range(1, reps + 1)]
def fmt(xs, spec):
    return f"{statistics.median(xs):{spec}} ({min(xs):{spec}}-{max(xs):{spec}})"
names = {"maxk": f"maxk ({device})", "torch": "torch eager", "compiled": f"torch.compile ({compile_mode})"}
base = [s for s in sides if s != "maxk"]
print(f"\nmedian (min-max) of {reps} interleaved repetitions; ratio = maxk / torch per repetition\n")
head = [names[s] for s in sides] + [f"maxk / {names[s]}" for s in base]
print("| | " + " | ".join(head) + " |\n|" + "---|" * (len(head) + 1))
for key, name in [("sampled_tokens_per_s", "sampled tokens/s"), ("updates_per_s", "updates/s"), ("steps_per_s", "RL steps/s")]:
    cols = {s: [run[s][key] for run in runs] for s in sides}
    ratios = [fmt([m / t for m, t in zip(cols["maxk"], cols[s])], ".2f") + "x" for s in base]
    print(f"| {name} | " + " | ".join(fmt(cols[s], ".4g") for s in sides) + " | " + " | ".join(ratios) + " |")
if "compiled" in sides:
    late = [run["compiled"].get("timed_compiles") for run in runs]
    print(f"\ngraphs torch.compile compiled inside the timed steps, per repetition: {late}")
PY
echo "(per-run JSON in $out)"
