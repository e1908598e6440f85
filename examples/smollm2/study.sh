#!/usr/bin/env bash
# The SmolLM2 x TRL study of results/smollm2-trl: base model + grpo / pkpo-loo1 / maxpo, seeds run
# one after another inside one process per estimator (4 processes, one torch thread each).
#   bash examples/smollm2/study.sh [out-dir] [seeds]
set -euo pipefail
cd "$(dirname "$0")"
OUT="${1:-../../results/smollm2-trl/runs}"
SEEDS="${2:-0}"
PY="${PY:-python}"
COMMON=(--family add21 --n-test 12 --eval-n 64 --steps 6 --prompts-per-step 2 --num-generations 8
        --k 4 --lr 5e-5 --max-new-tokens 4 --train-layers 2 --threads 1 --out "$OUT")
mkdir -p "$OUT"
nice -n 10 "$PY" train.py --estimator base --seed 0 "${COMMON[@]}" > "$OUT/base.log" 2>&1 &
for est in grpo pkpo-loo1 maxpo; do
    scale=std; [[ $est == grpo ]] && scale=none   # grpo's advantages are already divided by the std
    ( for s in $SEEDS; do
        nice -n 10 "$PY" train.py --estimator "$est" --scale "$scale" --seed "$s" "${COMMON[@]}" \
            > "$OUT/$est-s$s.log" 2>&1
      done ) &
done
wait
