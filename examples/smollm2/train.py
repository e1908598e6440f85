"""Post-training runs of SmolLM2-135M-Instruct with maxk's MaxKGRPOTrainer (TRL), then pass@k.

    python examples/smollm2/train.py --estimator maxpo --seeds 0,1,2 --lrs 3e-5,1e-4 --out results/smollm2-trl/runs

One run per (learning rate, seed), one after another in this process (the model is reloaded from
the converted checkpoint for each run). Every run is evaluated on the validation prompts (used
only to choose the learning rate, by report.py) and on the disjoint test prompts (reported).

Trains only the last ``--train-layers`` transformer blocks and the final norm (the embeddings,
tied to the output matrix, stay frozen), with TRL's GRPO machinery (generation, loss, Adam) and
maxk's advantages. Per-step max@K diagnostics of the sampled groups (rho_K = unbiased pass@K of
each group, via maxk.max_at_k; the fraction of groups with a non-zero advantage) are computed in
the reward function, which sees every completion of the batch, and written to ``<run>.steps.jsonl``
(they are the same for every estimator and need no change to the adapter).
After training, ``--eval-n`` samples per test prompt give the correct counts that the report
turns into unbiased pass@k (maxk.pass_at_k).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import maxk  # noqa: E402
from maxk.models.gguf import load_smollm2  # noqa: E402
from sampling import count_correct  # noqa: E402
from task import reward, split  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--estimator", required=True, help="maxk estimator id, or base (no training)")
    ap.add_argument("--k", type=int, default=4, help="K of max@K for the K-aware estimators")
    ap.add_argument("--scale", default="std")
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds")
    ap.add_argument("--lrs", default="2e-5", help="comma-separated learning rates (the tuning grid)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--family", default="add3")
    ap.add_argument("--task-seed", type=int, default=1234)
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--n-val", type=int, default=16)
    ap.add_argument("--n-test", type=int, default=24)
    ap.add_argument("--num-generations", type=int, default=8)
    ap.add_argument("--prompts-per-step", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=12)
    ap.add_argument("--train-layers", type=int, default=2)
    ap.add_argument("--eval-n", type=int, default=64)
    ap.add_argument("--eval-val", action=argparse.BooleanOptionalAction, default=True,
                    help="also evaluate on the validation prompts (needed only to choose among --lrs)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU run")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for lr in [float(x) for x in args.lrs.split(",")]:
        for seed in [int(x) for x in args.seeds.split(",")]:
            run(args, lr, seed)
        if args.estimator == "base":
            break  # the base model has no learning rate


def run(args: argparse.Namespace, lr: float, seed: int) -> None:
    """One training run (none for ``--estimator base``) and its validation and test counts."""

    from datasets import Dataset
    from transformers import TrainerCallback
    from maxk.integrations.trl import MaxKGRPOConfig, MaxKGRPOTrainer

    t0 = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "base" if args.estimator == "base" else f"{args.estimator}-lr{lr:g}-s{seed}"
    if (out / f"{name}.json").exists():
        print(f"skip {name}: {out / f'{name}.json'} exists", flush=True)
        return
    model, tok = load_smollm2()
    for p in model.parameters():
        p.requires_grad_(False)
    n_layers = model.config.num_hidden_layers
    for block in model.model.layers[n_layers - args.train_layers :]:
        for p in block.parameters():
            p.requires_grad_(True)
    for p in model.model.norm.parameters():
        p.requires_grad_(True)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    model.to(args.device)

    train, val, test = split(args.family, args.task_seed, args.n_train, args.n_val, args.n_test)
    ds = Dataset.from_list([{"prompt": p.prompt(), "answer": p.answer} for p in train])
    g = args.num_generations
    steps: list[dict] = []

    def correct(completions, answer, **_):  # type: ignore[no-untyped-def]
        r = np.array([reward(c, a) for c, a in zip(completions, answer)])
        groups = r.reshape(-1, g)
        c = groups.sum(axis=1)
        steps.append({
            "step": len(steps) + 1,
            "reward_mean": float(r.mean()),
            **{f"rho_{k}": float(np.mean([maxk.max_at_k(grp, k) for grp in groups])) for k in (1, 4, g)},
            "frac_groups_mixed": float(np.mean((c > 0) & (c < g))),
        })
        return r.tolist()

    est = "grpo" if args.estimator == "base" else args.estimator
    cfg = MaxKGRPOConfig(
        output_dir=str(out / f"{name}.trl"), use_cpu=args.device == "cpu", seed=seed, data_seed=seed,
        learning_rate=lr, max_steps=args.steps, lr_scheduler_type="constant", warmup_steps=0,
        per_device_train_batch_size=g * args.prompts_per_step, num_generations=g,
        max_completion_length=args.max_new_tokens, bf16=False, temperature=1.0, top_p=1.0, top_k=0, beta=0.0,
        logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
        maxk_estimator=est, maxk_k=args.k, maxk_scale=args.scale,
    )

    class Log(TrainerCallback):
        def on_log(self, _a, state, _c, logs=None, **__):  # type: ignore[no-untyped-def]
            if logs and steps and "loss" in logs:
                steps[-1].update({"trl_" + k: v for k, v in logs.items() if isinstance(v, (int, float))})
                steps[-1]["seconds"] = time.time() - t0
                print(json.dumps(steps[-1]), flush=True)

    if args.estimator != "base":  # "base": evaluate the untrained model only
        trainer = MaxKGRPOTrainer(model=model, reward_funcs=[correct], args=cfg, train_dataset=ds,
                                  processing_class=tok, callbacks=[Log()])
        trainer.train()
        model = trainer.model
    t_train = time.time() - t0
    val_counts = (count_correct(model, tok, val, args.eval_n, args.max_new_tokens, seed=20_000 + seed)
                  if args.eval_val else np.zeros(0, dtype=np.int64))
    counts = count_correct(model, tok, test, args.eval_n, args.max_new_tokens, seed=10_000 + seed)
    result = {
        "name": name, "estimator": args.estimator, "lr": None if args.estimator == "base" else lr,
        "seed": seed, "args": vars(args), "trainable_params": trainable, "train_seconds": t_train,
        "eval_seconds": time.time() - t0 - t_train, "eval_n": args.eval_n,
        "counts": counts.tolist(), "questions": [p.question for p in test],
        "val_counts": val_counts.tolist() if args.eval_val else None,
        "val_questions": [p.question for p in val] if args.eval_val else None,
        "torch": torch.__version__, "threads": args.threads, "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
    }
    with open(out / f"{name}.steps.jsonl", "w") as f:
        for s in steps:
            f.write(json.dumps(s) + "\n")
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))  # last: marks the run done
    print(f"done {name}: train {t_train:.0f}s, eval {result['eval_seconds']:.0f}s, "
          f"test pass@1 {counts.mean() / args.eval_n:.3f}", flush=True)


if __name__ == "__main__":
    main()
