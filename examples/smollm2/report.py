"""Aggregate results/smollm2-trl/runs/*.json into the pass@k CSV, summary, config, figure and tables.

    python examples/smollm2/report.py results/smollm2-trl

pass@k of a run = mean over test prompts of the unbiased estimator 1 - C(n-c,k)/C(n,k)
(maxk.pass_at_k) from c correct out of n samples per prompt.

- Learning rate: where an estimator was run at several learning rates, the one with the highest
  validation score (pass@k on the validation prompts, averaged over k = 1, 2, 4, ..., n and over
  seeds) is kept, and only its test results are reported; the test prompts are disjoint from the
  validation prompts. With one learning rate there is nothing to choose.
- Intervals: mean +- t(0.975, seeds - 1) * s / sqrt(seeds) over the seeds' pass@k (seed-level);
  the estimator-minus-grpo differences are paired by seed (same seed: same first batch, same
  evaluation sampling seed). With one seed, the interval is over test prompts and says so.
- Per-step max@K diagnostics (runs/*.steps.jsonl, computed in the reward function from each
  group's rewards with maxk.max_at_k) are printed per estimator, averaged over seeds.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

import maxk

ORDER = ["base", "grpo", "pkpo-loo1", "maxpo"]
T975 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571}


def pass_curve(counts: list[int], n: int, ks: list[int]) -> np.ndarray:
    """[prompts, len(ks)] unbiased pass@k per prompt."""
    return np.array([[maxk.pass_at_k(n, int(c), k) for k in ks] for c in counts])


def interval(per_seed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and 95% t half-width over the first axis (seeds)."""
    mean = per_seed.mean(axis=0)
    s = len(per_seed)
    if s < 2:
        return mean, np.full_like(mean, np.nan)
    return mean, T975.get(s, 2.0) * per_seed.std(axis=0, ddof=1) / np.sqrt(s)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/smollm2-trl")
    runs = [json.loads(p.read_text()) for p in sorted((root / "runs").glob("*.json"))]
    if not runs:
        raise SystemExit(f"no run results in {root / 'runs'}")
    n = min(r["eval_n"] for r in runs)
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= n]

    # learning-rate choice on validation prompts
    by_est_lr: dict[str, dict[float | None, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        by_est_lr[r["estimator"]][r["lr"]].append(r)
    chosen: dict[str, list[dict]] = {}
    selection: dict[str, dict] = {}
    for est in ORDER:
        lrs = by_est_lr.get(est)
        if not lrs:
            continue
        if len(lrs) == 1:
            (lr, rs), = lrs.items()
            selection[est] = {"lr": lr, "grid": [lr], "rule": "single learning rate: nothing chosen"}
        else:
            scores = {lr: float(np.mean([pass_curve(r["val_counts"], r["eval_n"], ks).mean() for r in rs]))
                      for lr, rs in lrs.items()}
            lr = max(scores, key=lambda x: scores[x])
            selection[est] = {"lr": lr, "grid": sorted(scores), "val_score": scores,
                              "rule": "max over the grid of validation pass@k averaged over k and seeds"}
        chosen[est] = sorted(lrs[selection[est]["lr"]], key=lambda r: r["seed"])

    with open(root / "passk.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["estimator", "lr", "seed", "k", "pass_at_k", "n_samples", "n_prompts"])
        for est in ORDER:
            for lr, rs in sorted(by_est_lr.get(est, {}).items(), key=lambda x: x[0] or 0):
                for r in sorted(rs, key=lambda r: r["seed"]):
                    curve = pass_curve(r["counts"], r["eval_n"], ks).mean(axis=0)
                    for k, v in zip(ks, curve):
                        w.writerow([est, "" if lr is None else f"{lr:g}", r["seed"], k, f"{v:.6f}", r["eval_n"],
                                    len(r["counts"])])

    summary: dict[str, dict] = {}
    curves: dict[str, np.ndarray] = {}
    for est, rs in chosen.items():
        per_seed = np.array([pass_curve(r["counts"], r["eval_n"], ks).mean(axis=0) for r in rs])
        curves[est] = per_seed
        mean, half = interval(per_seed)
        if len(rs) >= 2:
            kind = f"seed-level 95% t-interval over {len(rs)} seeds"
        else:
            per_prompt = pass_curve(rs[0]["counts"], rs[0]["eval_n"], ks)
            half = 2 * per_prompt.std(axis=0, ddof=1) / np.sqrt(len(per_prompt))
            kind = "one run: +-2 s.e. over test prompts (not seed-level)"
        summary[est] = {"lr": selection[est]["lr"], "seeds": [r["seed"] for r in rs], "mean": mean.tolist(),
                        "half": half.tolist(), "interval": kind, "per_seed": per_seed.tolist(),
                        "correct_per_prompt": [r["counts"] for r in rs],
                        "train_seconds": [r["train_seconds"] for r in rs],
                        "eval_seconds": [r["eval_seconds"] for r in rs]}
    diffs = {}
    if "grpo" in curves:
        for est in ("pkpo-loo1", "maxpo"):
            if est in curves and len(curves[est]) == len(curves["grpo"]) >= 2:
                mean, half = interval(curves[est] - curves["grpo"])
                diffs[f"{est} - grpo"] = {"mean": mean.tolist(), "half": half.tolist()}
    (root / "summary.json").write_text(json.dumps(
        {"ks": ks, "selection": selection, "by_estimator": summary, "paired_differences": diffs}, indent=1))
    config = {r["name"]: {"args": r["args"], "lr": r["lr"], "seed": r["seed"], "trainable_params": r["trainable_params"],
                          "torch": r["torch"], "device": r.get("device", "cpu")} for r in runs}
    (root / "config.json").write_text(json.dumps(config, indent=1))

    print("| estimator | lr | seeds | " + " | ".join(f"pass@{k}" for k in ks) + " |")
    print("|---|---|---|" + "---|" * len(ks))
    for est in summary:
        s = summary[est]
        cells = " | ".join(f"{m:.3f}" + ("" if np.isnan(h) else f" ± {h:.3f}") for m, h in zip(s["mean"], s["half"]))
        print(f"| {est} | {'-' if s['lr'] is None else format(s['lr'], 'g')} | {len(s['seeds'])} | {cells} |")
    for est in summary:
        print(f"{est}: {summary[est]['interval']}; lr: {selection[est]['rule']}")
    if diffs:
        print("\npaired by seed, 95% t-interval over seeds:")
        print("| difference | " + " | ".join(f"pass@{k}" for k in ks) + " |")
        print("|---|" + "---|" * len(ks))
        for name, d in diffs.items():
            print(f"| {name} | " + " | ".join(f"{m:+.3f} ± {h:.3f}" for m, h in zip(d["mean"], d["half"])) + " |")
    print("\ncorrect samples (of n) per test prompt:")
    for est in summary:
        for seed, c in zip(summary[est]["seeds"], summary[est]["correct_per_prompt"]):
            print(f"  {est:>9} seed {seed}: {c}")

    # per-step max@K diagnostics, averaged over the seeds of the chosen learning rate
    for est in ORDER[1:]:
        if est not in chosen:
            continue
        logs = [[json.loads(line) for line in open(root / "runs" / f"{r['name']}.steps.jsonl")] for r in chosen[est]]
        print(f"\n{est} (lr {selection[est]['lr']:g}, mean over {len(logs)} seeds): step, rho_1, rho_4, rho_8, "
              "share of groups with mixed rewards, TRL maxk/no_signal_share, grad norm")
        for i in range(min(len(log) for log in logs)):
            row = [np.mean([log[i].get(key, np.nan) for log in logs]) for key in
                   ("rho_1", "rho_4", "rho_8", "frac_groups_mixed", "trl_maxk/no_signal_share", "trl_grad_norm")]
            print(f"  {i + 1:>3} " + " ".join(f"{v:.3f}" for v in row))
        mixed = [sum(s["frac_groups_mixed"] for s in log) * r["args"]["prompts_per_step"] for log, r in zip(logs, chosen[est])]
        print(f"  groups with a learning signal (0 < correct < N) per seed: {[round(m) for m in mixed]}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no figure")
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for est, s in summary.items():
        m, h = np.array(s["mean"]), np.nan_to_num(np.array(s["half"]))
        label = (f"{est} ({len(s['seeds'])} seed{'s' if len(s['seeds']) > 1 else ''})" if est != "base"
                 else "base model (band: +-2 s.e. over prompts)")
        ax.plot(ks, m, marker="o", label=label)
        ax.fill_between(ks, np.clip(m - h, 0, 1), np.clip(m + h, 0, 1), alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k on held-out test prompts")
    trained = [e for e in summary if e != "base"]
    ax.set_title("SmolLM2-135M-Instruct + TRL + maxk, add21 (CPU scale)\n"
                 f"trained: {summary[trained[-1]]['interval'] if trained else ''}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(root / "passk.png", dpi=120)
    print(f"\nwrote {root / 'passk.png'}")


if __name__ == "__main__":
    main()
