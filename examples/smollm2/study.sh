#!/usr/bin/env bash
# The SmolLM2 x TRL study of results/smollm2-trl: base model + grpo / pkpo-loo1 / maxpo from the
# same base model, prompts and seeds; one process per estimator (4 processes, one torch thread
# each, nice 10), the seeds of an estimator one after another inside its process.
#   bash examples/smollm2/study.sh [out-dir] [seeds] [lrs]
# With one learning rate (the default) no validation evaluation is made; with several
# (e.g. "2e-5,5e-5,1e-4") every run is also evaluated on the validation prompts and report.py
# picks each estimator's learning rate on them (test prompts are disjoint).
# Re-running skips the runs whose result file exists.
set -euo pipefail
cd "$(dirname "$0")"
OUT="${1:-../../results/smollm2-trl/runs}"
SEEDS="${2:-0,1,2}"
LRS="${3:-5e-5}"
PY="${PY:-python}"
VAL=--no-eval-val; [[ $LRS == *,* ]] && VAL=--eval-val
COMMON=(--family add21 --n-train 200 --n-val 16 --n-test 12 --eval-n 64 --steps 12 --prompts-per-step 2
        --num-generations 8 --k 4 --max-new-tokens 4 --train-layers 2 --threads 1 "$VAL" --out "$OUT")
mkdir -p "$OUT"
nice -n 10 "$PY" train.py --estimator base --seeds 0 "${COMMON[@]}" > "$OUT/base.log" 2>&1 &
for est in grpo pkpo-loo1 maxpo; do
    # one advantage normalisation for all three: divided by the group's reward std (grpo does
    # it itself; maxk_scale=std for the others)
    scale=std; [[ $est == grpo ]] && scale=none
    nice -n 10 "$PY" train.py --estimator "$est" --scale "$scale" --seeds "$SEEDS" --lrs "$LRS" "${COMMON[@]}" \
        > "$OUT/$est.log" 2>&1 &
done
wait
