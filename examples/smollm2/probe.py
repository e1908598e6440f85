"""Measure the base model's pass@k on each task family (chooses the study's task)."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

import maxk
from maxk.models.gguf import load_smollm2
from sampling import count_correct
from task import FAMILIES, split

ap = argparse.ArgumentParser()
ap.add_argument("--families", default=",".join(FAMILIES))
ap.add_argument("--prompts", type=int, default=12)
ap.add_argument("--n", type=int, default=64)
ap.add_argument("--max-new-tokens", type=int, default=12)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--out", default=None)
args = ap.parse_args()
torch.set_num_threads(args.threads)
model, tok = load_smollm2()
rows = []
for fam in args.families.split(","):
    t = time.time()
    _, val, _ = split(fam, seed=1234, n_train=0, n_val=args.prompts, n_test=0)
    c = count_correct(model, tok, val, args.n, args.max_new_tokens)
    ks = [k for k in (1, 4, 16, 64, 256) if k <= args.n]
    pk = {k: float(np.mean([maxk.pass_at_k(args.n, int(ci), k) for ci in c])) for k in ks}
    rows.append({"family": fam, "counts": c.tolist(), "pass_at_k": pk, "seconds": time.time() - t})
    print(fam, c.tolist(), {k: round(v, 3) for k, v in pk.items()}, f"{time.time() - t:.0f}s", flush=True)
if args.out:
    json.dump(rows, open(args.out, "w"), indent=1)
