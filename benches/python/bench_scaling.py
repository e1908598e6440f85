"""Time per group and per sample against the group size N = 2 ... 10^7: maxk's maxpo, ei,
pkpo-loo1 and grpo, ``np.sort(axis=1)`` (the floor of any sort-based estimator) and the
vectorized numpy MaxPO of ``bench_advantages.py`` (the peer port: argsort + cumsum).

    python benches/python/bench_scaling.py [--out DIR] [--repeat 3] [--max-n 10000000]

Each N runs a [G, N] batch of about 2^21 rewards (G = 1 from N = 2^21 on), every method timed
in interleaved rounds (median reported). Writes ``DIR/scaling.csv`` and ``DIR/scaling.md`` (a
table of ns per sample and of ratios against np.sort) and, when matplotlib is installed,
``DIR/scaling.png`` (time per sample against N, log-log). No timing is asserted: this is a
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
from pathlib import Path

import numpy as np

import maxk
from bench_advantages import maxpo_numpy, rounds

METHODS = ["maxpo", "ei", "pkpo-loo1", "grpo", "np.sort", "numpy maxpo"]
# The peer port materialises several [G, N] float64 arrays and a log-gamma table: above this
# N it costs more time than the whole rest of the table.
PEER_MAX_N = 1 << 21


def cell(ns):
    """A time per sample as the tables print it; "-" where it was not measured."""
    return "-" if ns is None else f"{ns:.2f}"


def sizes(max_n: int) -> list[int]:
    out, n = [], 2
    while n <= max_n:
        out.append(n)
        n *= 4
    if out[-1] != max_n:
        out.append(max_n)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="directory for scaling.csv/.md/.png")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-n", type=int, default=10_000_000)
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()

    threads = os.environ.get("RAYON_NUM_THREADS", f"all {os.cpu_count()}")
    rng = np.random.default_rng(0)
    rows = []
    print(f"maxk {maxk.__version__}, numpy {np.__version__}; maxk threads: {threads}, numpy: 1; K = min({args.k}, N - 1)")
    print(f"{'N':>9} {'G':>8}  " + "  ".join(f"{m:>12}" for m in METHODS) + "   (ns per sample, median)")
    for n in sizes(args.max_n):
        g = max(1, (1 << 21) // n)
        k = min(args.k, n - 1)
        x = rng.random((g, n))
        fns = {
            "maxpo": lambda: maxk.advantages(x, k, "maxpo"),
            "ei": lambda: maxk.advantages(x, k, "ei"),
            "pkpo-loo1": lambda: maxk.advantages(x, k, "pkpo-loo1"),
            "grpo": lambda: maxk.advantages(x, k, "grpo"),
            "np.sort": lambda: np.sort(x, axis=1),
        }
        if n <= PEER_MAX_N:
            fns["numpy maxpo"] = lambda: maxpo_numpy(x, k)
        times = dict(zip(fns, rounds(list(fns.values()), args.repeat, target=0.05)))
        row = {"N": n, "G": g, "K": k}
        for m in METHODS:
            # None: not measured (the numpy peer above PEER_MAX_N), an empty CSV cell and "-".
            t = statistics.median(times[m]) if m in times else None
            row[f"{m} s/group"] = None if t is None else t / g
            row[f"{m} ns/sample"] = None if t is None else t / (g * n) * 1e9
        rows.append(row)
        print(f"{n:>9} {g:>8}  " + "  ".join(f"{cell(row[f'{m} ns/sample']):>12}" for m in METHODS), flush=True)
    if args.out is None:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "scaling.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(args.out / "scaling.md", "w") as f:
        f.write(f"maxk threads: {threads}; numpy: 1 thread; K = min({args.k}, N - 1); ns per sample (median of {args.repeat} interleaved rounds); '-': not measured (the numpy port above N = {PEER_MAX_N})\n\n")
        f.write("| N | G | " + " | ".join(METHODS) + " | maxpo / np.sort | numpy maxpo / maxpo |\n")
        f.write("|" + "---|" * (len(METHODS) + 4) + "\n")
        for r in rows:
            cells = [cell(r[f"{m} ns/sample"]) for m in METHODS]
            vs_sort = r["maxpo ns/sample"] / r["np.sort ns/sample"]
            peer = r["numpy maxpo ns/sample"]
            peer_text = "-" if peer is None else f"{peer / r['maxpo ns/sample']:.1f}x"
            f.write(f"| {r['N']} | {r['G']} | " + " | ".join(cells) + f" | {vs_sort:.2f}x | {peer_text} |\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no scaling.png (pip install matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in METHODS:
        pts = [(r["N"], r[f"{m} ns/sample"]) for r in rows if r[f"{m} ns/sample"] is not None]
        ax.plot(*zip(*pts), marker="o", markersize=3, label=m, linestyle="--" if m.startswith(("np", "numpy")) else "-")
    ns = np.array([r["N"] for r in rows], dtype=float)
    ref = rows[len(rows) // 2]["np.sort ns/sample"] / np.log2(ns[len(rows) // 2])
    ax.plot(ns, ref * np.log2(ns), color="grey", linewidth=0.8, label="c log2 N")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("group size N")
    ax.set_ylabel("ns per sample")
    ax.set_title(f"Time per sample, [G, N] batches of ~2^21 rewards (maxk threads: {threads})")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out / "scaling.png", dpi=120)
    print(f"wrote {args.out}/scaling.csv, scaling.md, scaling.png")


if __name__ == "__main__":
    main()
