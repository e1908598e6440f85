"""Sampling n completions per prompt and counting the correct ones (base and trained models)."""

from __future__ import annotations

import numpy as np
import torch

from task import Problem, reward


@torch.no_grad()
def count_correct(model, tokenizer, problems: list[Problem], n: int, max_new_tokens: int,
                  temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """Correct completions out of ``n`` samples for each problem.

    Pure sampling at ``temperature`` (no top-k / top-p, as the training runs' TRL settings). The
    prompt is run through the model once and its KV cache repeated for the n samples, which makes
    evaluation several times cheaper than ``generate(num_return_sequences=n)`` for short answers.
    """
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    model.eval()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    counts = np.zeros(len(problems), dtype=np.int64)
    for i, p in enumerate(problems):
        ids = tokenizer(p.prompt(), return_tensors="pt", add_special_tokens=False)["input_ids"].to(device)
        out = model(ids, use_cache=True)
        cache = out.past_key_values
        cache.batch_repeat_interleave(n)
        logits = out.logits[:, -1].expand(n, -1)
        tokens = []
        for _ in range(max_new_tokens):
            nxt = torch.multinomial(torch.softmax(logits.float() / temperature, dim=-1), 1, generator=gen)
            tokens.append(nxt)
            out = model(nxt, past_key_values=cache, use_cache=True)
            logits = out.logits[:, -1]
        seqs = torch.cat(tokens, dim=1).tolist()
        texts = [tokenizer.decode(s[: s.index(eos)] if eos in s else s) for s in seqs]
        counts[i] = int(sum(reward(t, p.answer) for t in texts))
    return counts
