"""Arithmetic prompts with an exact verifier, for SmolLM2-135M-Instruct.

A prompt asks one integer question in the chat format and pre-fills the start of the assistant's
turn with the equation ("What is 37 + 48?" -> assistant "37 + 48 ="), so that the answer is the
next few tokens and completions can be very short (4 tokens). The verifier reads the first integer
of the completion. Reward 1 if it equals the true answer, else 0: a sparse binary reward, so
max@K is pass@K.

Prompt sets are fixed by a seed and split into disjoint train / validation / test sets by the
question itself (no question appears in two sets).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_INT = re.compile(r"-?\d+")

FAMILIES = ("add21", "add2", "add3", "mul21", "sub2")


@dataclass(frozen=True)
class Problem:
    """One question, its chat messages and its exact answer."""

    question: str
    prefill: str
    answer: int

    def prompt(self) -> str:
        """The prompt in SmolLM2's chat format (ChatML, without the default system turn, which would
        triple the prompt's length), ending with the pre-filled start of the answer."""
        return f"<|im_start|>user\n{self.question}<|im_end|>\n<|im_start|>assistant\n{self.prefill}"


def make_problem(family: str, rng: random.Random) -> Problem:
    """One random problem of ``family`` (see :data:`FAMILIES`)."""
    if family == "add21":
        a, b = rng.randint(10, 49), rng.randint(2, 9)
        return Problem(f"What is {a} + {b}?", f"{a} + {b} =", a + b)
    if family == "add2":
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        return Problem(f"What is {a} + {b}?", f"{a} + {b} =", a + b)
    if family == "add3":
        a, b = rng.randint(100, 999), rng.randint(100, 999)
        return Problem(f"What is {a} + {b}?", f"{a} + {b} =", a + b)
    if family == "mul21":
        a, b = rng.randint(11, 99), rng.randint(3, 9)
        return Problem(f"What is {a} * {b}?", f"{a} * {b} =", a * b)
    if family == "sub2":
        a, b = rng.randint(50, 99), rng.randint(10, 49)
        return Problem(f"What is {a} - {b}?", f"{a} - {b} =", a - b)
    raise ValueError(f"unknown task family {family!r}; expected one of {FAMILIES}")


def split(family: str, seed: int, n_train: int, n_val: int, n_test: int) -> tuple[list[Problem], ...]:
    """Disjoint train / validation / test problems, fixed by ``seed``."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Problem] = []
    total = n_train + n_val + n_test
    for _ in range(100 * total):
        p = make_problem(family, rng)
        if p.question not in seen:
            seen.add(p.question)
            out.append(p)
        if len(out) == total:
            break
    if len(out) < total:
        raise ValueError(f"family {family!r} has fewer than {total} distinct problems")
    return out[:n_train], out[n_train : n_train + n_val], out[n_train + n_val :]


def parse_answer(completion: str) -> int | None:
    """The integer the completion starts with (after white space), or None."""
    m = _INT.match(completion.strip())
    return int(m.group()) if m else None


def reward(completion: str, answer: int) -> float:
    """1.0 when the completion's answer is exactly ``answer``, else 0.0."""
    return 1.0 if parse_answer(completion) == answer else 0.0
