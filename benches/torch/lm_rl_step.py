#!/usr/bin/env python3
"""The maxk-trainer RL step in plain PyTorch (eager, or `--compile`d), for a side-by-side speed comparison.

Reads the same resolved config that `maxk lm bench --out DIR` writes (DIR/config.toml) and
times the same work as `maxk_trainer::rl::bench`:

* rollout: P prompts x N samples, batched KV-cache decoding of left-padded prompts with
  temperature / top-p sampling (PAD and BOS never drawn), at most `max_new_tokens` tokens;
* update: synthetic Bernoulli(1/2) rewards (so that every group carries signal), group
  advantages from the installed `maxk` wheel with the config's estimator, K and scale (the
  same maxk-core code the Rust trainer calls), then one Adam step per minibatch of whole
  groups on the clipped surrogate
  `-(1/T) sum_t min(r_t A, clip(r_t, 1-eps, 1+eps) A)` with `r_t = pi/pi_old` (old log-probs
  from the weights before the batch's first update), global-norm gradient clipping.

The model is the same decoder-only transformer: learned token and position embeddings,
pre-norm blocks `x += W_o attn(LN1 x); x += W_2 gelu_tanh(W_1 LN2 x)`, final LN, untied
head without bias, LN eps 1e-5, attention scale 1/sqrt(d/H), masked keys at -1e9.

`--compile MODE` compiles the model's forward (`Model.run`, used by sampling and by the
update's log-probs) with `torch.compile(mode=MODE, dynamic=True)` (inductor; `dynamic=True`
because the KV cache and the batch's sequence length change every decoding step and every RL
step, and a static compile would recompile for each shape). Compilation happens in the
untimed warm-up step; shapes the warm-up did not meet may still compile during timed steps
(counted, as a user would pay them; `--json` records the number as `timed_compiles`, and
each timed step's seconds as `step_s`). The optimizer step stays eager.

Threads: `--threads` (default 2, the development machine's cores) sets
`torch.set_num_threads`, matching the maxk side's `RAYON_NUM_THREADS` in scripts/lm-bench.sh.

Usage:
    maxk lm bench --preset gpu --device cuda --out /tmp/lmbench
    python3 benches/torch/lm_rl_step.py --config /tmp/lmbench/config.toml --device cuda
Prints sampled tokens/s and updates/s (and RL steps/s); `--json PATH` also writes them.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
import tomllib

import maxk
import torch
import torch.nn.functional as F

PAD, BOS, EOS = 0, 1, 2
CHARS = "0123456789+-*%=,:>abcdefghijklmnopqrstuvwxyz"
VOCAB = 3 + len(CHARS)
MASKED = -1e9


def encode_prompt(text: str) -> list[int]:
    return [BOS] + [3 + CHARS.index(c) for c in text]


def random_prompt(rng: random.Random) -> str:
    """A prompt of one of the five maxk tasks (same formats and lengths; answers unused)."""
    task = rng.randrange(5)
    if task == 0:
        return f"a:{rng.randrange(10, 1000)}+{rng.randrange(10, 1000)}="
    if task == 1:
        return "s:" + "".join(str(rng.randrange(10)) for _ in range(rng.randint(4, 6))) + "="
    if task == 2:
        nodes = list("abcdefgh")
        rng.shuffle(nodes)
        edges = [nodes[i] + nodes[i + 1] for i in range(rng.randint(2, 3))]
        while len(edges) < 6:
            a, b = rng.choice("abcdefgh"), rng.choice("abcdefgh")
            if a != b and a + b not in edges:
                edges.append(a + b)
        rng.shuffle(edges)
        return f"p:{','.join(edges)}>{edges[0][0]}{edges[-1][1]}="
    if task == 3:
        nums = sorted(rng.randrange(1, 10) for _ in range(3))
        return f"c:{nums[0]},{nums[1]},{nums[2]}>{rng.randrange(1, 100)}="
    return f"m:{rng.randrange(2, 30)}*{rng.randrange(2, 30)}%{rng.choice([7, 11, 13, 17, 19, 23])}="


class Model(torch.nn.Module):
    def __init__(self, d: int, layers: int, heads: int, ff: int, max_len: int):
        super().__init__()
        self.h, self.d = heads, d
        std, proj = 0.02, 0.02 / math.sqrt(2 * layers)

        def p(*shape, init=std):
            return torch.nn.Parameter(torch.randn(*shape) * init)

        self.tok, self.pos = p(VOCAB, d), p(max_len, d)
        self.blocks = torch.nn.ModuleList()
        for _ in range(layers):
            b = torch.nn.Module()
            b.ln1_g, b.ln1_b = torch.nn.Parameter(torch.ones(d)), torch.nn.Parameter(torch.zeros(d))
            b.w_qkv, b.b_qkv = p(d, 3 * d), torch.nn.Parameter(torch.zeros(3 * d))
            b.w_o, b.b_o = p(d, d, init=proj), torch.nn.Parameter(torch.zeros(d))
            b.ln2_g, b.ln2_b = torch.nn.Parameter(torch.ones(d)), torch.nn.Parameter(torch.zeros(d))
            b.w_1, b.b_1 = p(d, ff), torch.nn.Parameter(torch.zeros(ff))
            b.w_2, b.b_2 = p(ff, d, init=proj), torch.nn.Parameter(torch.zeros(d))
            self.blocks.append(b)
        self.lnf_g, self.lnf_b = torch.nn.Parameter(torch.ones(d)), torch.nn.Parameter(torch.zeros(d))
        self.head = p(d, VOCAB)

    def run(self, x, bias, cache=None):
        """x [B, Tq, d]; bias [B or 1, 1, Tq, Tk]; cache: list of (k, v) per layer or None."""
        B, Tq, d = x.shape
        h, dh = self.h, d // self.h
        new_cache = []
        for i, b in enumerate(self.blocks):
            a = F.layer_norm(x, (d,), b.ln1_g, b.ln1_b, 1e-5)
            q, k, v = (a @ b.w_qkv + b.b_qkv).split(d, dim=-1)
            q, k, v = (t.view(B, Tq, h, dh).transpose(1, 2) for t in (q, k, v))
            if cache is not None and cache[i] is not None:
                k = torch.cat([cache[i][0], k], 2)
                v = torch.cat([cache[i][1], v], 2)
            new_cache.append((k, v))
            att = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(dh) + bias, -1) @ v
            x = x + att.transpose(1, 2).reshape(B, Tq, d) @ b.w_o + b.b_o
            m = F.layer_norm(x, (d,), b.ln2_g, b.ln2_b, 1e-5)
            x = x + F.gelu(m @ b.w_1 + b.b_1, approximate="tanh") @ b.w_2 + b.b_2
        return F.layer_norm(x, (d,), self.lnf_g, self.lnf_b, 1e-5) @ self.head, new_cache

    def token_logprobs(self, tokens):
        """log pi(tokens[:, t+1] | tokens[:, :t+1]) for right-padded tokens [B, T]: [B, T-1]."""
        B, T = tokens.shape
        inp = tokens[:, :-1]
        x = self.tok[inp] + self.pos[: T - 1]
        causal = torch.full((T - 1, T - 1), MASKED, device=tokens.device).triu(1)
        logits, _ = self.run(x, causal)
        return torch.log_softmax(logits, -1).gather(2, tokens[:, 1:, None]).squeeze(2)


def draw(logits, temperature, top_p, gen):
    logits = logits.float() / temperature
    logits[:, :2] = float("-inf")  # PAD and BOS
    probs = torch.softmax(logits, -1)
    if top_p < 1.0:
        sorted_p, idx = probs.sort(-1, descending=True)
        keep = sorted_p.cumsum(-1) - sorted_p < top_p
        probs = torch.zeros_like(probs).scatter(-1, idx, sorted_p * keep)
    return torch.multinomial(probs, 1, generator=gen).squeeze(1)


@torch.no_grad()
def sample(model, prompts, cfg, device, gen, share_prefix=True):
    """Completions of the left-padded `prompts`. With `share_prefix` (maxk's way, and vLLM's
    and SGLang's prefix caching), each distinct prompt is prefilled once and its KV cache and
    last logits are copied to the rows that repeat it (GRPO samples each prompt for its whole
    group); without it, every row is prefilled (HF `generate`'s default)."""
    B, L = len(prompts), max(len(p) for p in prompts)
    distinct = prompts
    if share_prefix:
        first: dict[tuple[int, ...], int] = {}
        rows = [first.setdefault(tuple(p), len(first)) for p in prompts]
        distinct = [list(p) for p in first]
    pre_pad = torch.tensor([L - len(p) for p in distinct], device=device)
    toks = torch.tensor([[PAD] * (L - len(p)) + p for p in distinct], device=device)
    cols = torch.arange(L, device=device)
    pos = (cols[None, :] - pre_pad[:, None]).clamp(min=0)
    x = model.tok[toks] + model.pos[pos]
    key_pad = cols[None, :] < pre_pad[:, None]
    bias = torch.where(
        (cols[None, :, None] < cols[None, None, :]) | key_pad[:, None, :], MASKED, 0.0
    )[:, None]
    logits, cache = model.run(x, bias)
    logits = logits[:, -1]
    if share_prefix:
        idx = torch.tensor(rows, device=device)
        cache = [(k[idx], v[idx]) for k, v in cache]
        logits = logits[idx]
    pad = torch.tensor([L - len(p) for p in prompts], device=device)
    budget = min(cfg["max_new_tokens"], model.pos.shape[0] - L)
    out, done = [], torch.zeros(B, dtype=torch.bool, device=device)
    for step in range(budget):
        nxt = draw(logits, cfg["temperature"], cfg["top_p"], gen)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        out.append(nxt)
        done = done | (nxt == EOS)
        if step + 1 == budget or bool(done.all()):
            break
        col = L + step
        x = model.tok[nxt][:, None] + model.pos[(col - pad).clamp(min=0)][:, None]
        kcols = torch.arange(col + 1, device=device)
        bias = torch.where(kcols[None, :] < pad[:, None], MASKED, 0.0)[:, None, None, :]
        logits, cache = model.run(x, bias, cache)
        logits = logits[:, -1]
    gen_tokens = torch.stack(out, 1).tolist()
    completions = []
    for row in gen_tokens:
        c = []
        for t in row:
            if t == PAD:
                break
            c.append(t)
            if t == EOS:
                break
        completions.append(c)
    return completions


def update(model, opt, rl, prompts, completions, advantages, device):
    n, P, mbs = rl["group_size"], rl["prompts_per_step"], rl["minibatches"]
    T = max(len(p) + len(c) for p, c in zip(prompts, completions))
    tokens = torch.full((len(prompts), T), PAD, dtype=torch.long)
    mask = torch.zeros(len(prompts), T - 1)
    for i, (p, c) in enumerate(zip(prompts, completions)):
        tokens[i, : len(p) + len(c)] = torch.tensor(p + c)
        mask[i, len(p) - 1 : len(p) + len(c) - 1] = 1.0
    tokens, mask, adv = tokens.to(device), mask.to(device), advantages.to(device)[:, None]
    with torch.no_grad():
        old = model.token_logprobs(tokens)
    per_mb = math.ceil(P / mbs) * n
    eps = rl["clip_eps"]
    for s in range(0, len(prompts), per_mb):
        sl = slice(s, s + per_mb)
        logp = model.token_logprobs(tokens[sl])
        ratio = (logp - old[sl]).exp()
        surr = torch.min(ratio * adv[sl], ratio.clamp(1 - eps, 1 + eps) * adv[sl])
        loss = -(surr * mask[sl]).sum() / mask[sl].sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if rl["adam"]["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), rl["adam"]["grad_clip"])
        opt.step()
        loss.item()  # maxk reads the loss back every update too


def compiled_graphs():
    """Graphs torch.compile (dynamo) has compiled so far in this process."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="config.toml written by `maxk lm bench --out`")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=3, help="timed RL steps after one warm-up")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    ap.add_argument(
        "--prefill",
        choices=["shared", "per-row"],
        default="shared",
        help="shared (default, as maxk does): each distinct prompt prefilled once and its KV cache "
        "copied to its group's rows; per-row: every row prefilled (HF generate's default)",
    )
    ap.add_argument(
        "--compile",
        metavar="MODE",
        choices=["default", "reduce-overhead", "max-autotune-no-cudagraphs"],
        help="torch.compile the model's forward with this mode (default: eager)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.config, "rb") as f:
        cfg = tomllib.load(f)
    m, rl = cfg["model"], cfg["rl"]
    device = torch.device(args.device)
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator(device=device).manual_seed(cfg["seed"])
    rng = random.Random(cfg["seed"])
    cpu_gen = torch.Generator().manual_seed(cfg["seed"])
    model = Model(m["d_model"], m["n_layers"], m["n_heads"], m["d_ff"], m["max_seq_len"]).to(device)
    if args.compile:
        model.run = torch.compile(model.run, mode=args.compile, dynamic=True)
    a = rl["adam"]
    opt = torch.optim.Adam(model.parameters(), lr=a["lr"], betas=(a["beta1"], a["beta2"]), eps=a["eps"])
    params = sum(p.numel() for p in model.parameters())
    n = rl["group_size"]
    tokens = 0
    sample_s = update_s = total_s = 0.0
    step_s, graphs = [], 0
    for step in range(args.steps + 1):
        if step == 1:
            graphs = compiled_graphs() if args.compile else 0
        prompts = [encode_prompt(random_prompt(rng)) for _ in range(rl["prompts_per_step"])]
        prompts = [p for p in prompts for _ in range(n)]
        sync(device)
        t0 = time.perf_counter()
        completions = sample(model, prompts, rl["sampling"], device, gen, args.prefill == "shared")
        sync(device)
        t1 = time.perf_counter()
        rewards = torch.bernoulli(torch.full((len(prompts) // n, n), 0.5), generator=cpu_gen)
        advantages = maxk.advantages(rewards, rl["k"], rl["estimator"], rl["scale"]).reshape(-1).float()
        t2 = time.perf_counter()
        update(model, opt, rl, prompts, completions, advantages, device)
        sync(device)
        t3 = time.perf_counter()
        if step > 0:
            step_s.append(t3 - t0)
            tokens += sum(len(c) for c in completions)
            sample_s += t1 - t0
            update_s += t3 - t2
            total_s += t3 - t0
    res = {
        "mode": f"compile:{args.compile}" if args.compile else "eager",
        "prefill": args.prefill,
        "params": params,
        "sampled_tokens_per_s": tokens / sample_s,
        "updates_per_s": args.steps * rl["minibatches"] / update_s,
        "steps_per_s": args.steps / total_s,
        "step_s": step_s,
        # Graphs compiled during the timed steps (0: every compile fell in the warm-up).
        "timed_compiles": compiled_graphs() - graphs if args.compile else 0,
    }
    print(
        f"torch {res['mode']} ({device.type}, {torch.get_num_threads()} threads, {params} params, prefill {args.prefill}): sampled {res['sampled_tokens_per_s']:.0f} tokens/s, "
        f"{res['updates_per_s']:.3f} updates/s, {res['steps_per_s']:.3f} RL steps/s"
        + (f", {res['timed_compiles']} graphs compiled in the timed steps" if args.compile else "")
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
