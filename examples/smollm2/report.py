"""Aggregate results/smollm2-trl/runs/*.json into pass@k CSV, figure and tables.

    python examples/smollm2/report.py results/smollm2-trl

pass@k of a run = mean over test prompts of the unbiased estimator 1 - C(n-c,k)/C(n,k)
(maxk.pass_at_k) from c correct out of n samples per prompt. With several seeds, the interval is
mean +- t * s / sqrt(seeds) over seeds (seed-level); with one seed, the interval shown is over
test prompts (mean +- 2 standard errors across prompts) and is NOT a seed-level interval.
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
T975 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776}


def pass_curve(counts: list[int], n: int, ks: list[int]) -> np.ndarray:
    """[prompts, len(ks)] unbiased pass@k per prompt."""
    return np.array([[maxk.pass_at_k(n, int(c), k) for k in ks] for c in counts])


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/smollm2-trl")
    runs = [json.loads(p.read_text()) for p in sorted((root / "runs").glob("*.json"))]
    if not runs:
        raise SystemExit(f"no run results in {root / 'runs'}")
    n = min(r["eval_n"] for r in runs)
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= n]
    by_est: dict[str, list[dict]] = defaultdict(list)
    for r in runs:
        by_est[r["args"]["estimator"]].append(r)
    rows = []
    with open(root / "passk.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["estimator", "seed", "k", "pass_at_k", "n_samples", "n_prompts"])
        for est in ORDER:
            for r in by_est.get(est, []):
                curve = pass_curve(r["counts"], r["eval_n"], ks).mean(axis=0)
                for k, v in zip(ks, curve):
                    w.writerow([est, r["args"]["seed"], k, f"{v:.6f}", r["eval_n"], len(r["counts"])])
    summary = {}
    for est in ORDER:
        rs = by_est.get(est, [])
        if not rs:
            continue
        per_seed = np.array([pass_curve(r["counts"], r["eval_n"], ks).mean(axis=0) for r in rs])
        mean = per_seed.mean(axis=0)
        if len(rs) >= 2:
            half = T975.get(len(rs), 2.0) * per_seed.std(axis=0, ddof=1) / np.sqrt(len(rs))
            kind = f"seed-level 95% t-interval over {len(rs)} seeds"
        else:
            per_prompt = pass_curve(rs[0]["counts"], rs[0]["eval_n"], ks)
            half = 2 * per_prompt.std(axis=0, ddof=1) / np.sqrt(len(per_prompt))
            kind = "one seed: +-2 s.e. over test prompts (not seed-level)"
        summary[est] = {"mean": mean.tolist(), "half": half.tolist(), "seeds": len(rs), "interval": kind,
                        "train_seconds": [r["train_seconds"] for r in rs],
                        "eval_seconds": [r["eval_seconds"] for r in rs]}
        rows.append(est)
    (root / "summary.json").write_text(json.dumps({"ks": ks, "by_estimator": summary}, indent=1))
    print("| estimator | seeds | " + " | ".join(f"pass@{k}" for k in ks) + " |")
    print("|---|---|" + "---|" * len(ks))
    for est in rows:
        s = summary[est]
        cells = " | ".join(f"{m:.3f} ± {h:.3f}" for m, h in zip(s["mean"], s["half"]))
        print(f"| {est} | {s['seeds']} | {cells} |")
    for est in rows:
        print(f"{est}: {summary[est]['interval']}")
    # per-step diagnostics
    for est in ORDER[1:]:
        for r in by_est.get(est, []):
            steps = [json.loads(line) for line in open(root / "runs" / f"{r['name']}.steps.jsonl")]
            print(f"\n{r['name']}: step rho_1 rho_4 rho_8 frac_mixed loss")
            for s in steps:
                print(f"  {s['step']:>2} {s['rho_1']:.3f} {s['rho_4']:.3f} {s['rho_8']:.3f} "
                      f"{s['frac_groups_mixed']:.2f} {s.get('trl_loss', float('nan')):.4f}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no figure")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for est in rows:
        s = summary[est]
        m, h = np.array(s["mean"]), np.array(s["half"])
        ax.plot(ks, m, marker="o", label=f"{est} ({s['seeds']} seed{'s' if s['seeds'] > 1 else ''})")
        ax.fill_between(ks, np.clip(m - h, 0, 1), np.clip(m + h, 0, 1), alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k on held-out test prompts")
    seeds = max(summary[e]["seeds"] for e in rows)
    ax.set_title(f"SmolLM2-135M-Instruct + TRL + maxk, add21, {seeds} seed(s)\nbands: {summary[rows[-1]]['interval']}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(root / "passk.png", dpi=120)
    print(f"wrote {root / 'passk.png'}")


if __name__ == "__main__":
    main()
