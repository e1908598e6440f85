"""Objectives beyond max@K: mixtures of K, maj@K (majority vote), planning, and the canonical
leave-one-out advantage of any K-sample objective (the reference for new objectives).

Every advantage here is the jackknife of a U-statistic (docs/MATH.md, "Any K-sample
objective"): ``A_i = U(B) - U(B without i)``, exactly centered and, summed against the scores,
an unbiased policy gradient of the objective (factor 1). The fast paths are computed by
maxk-core; :func:`jackknife_advantages` enumerates K-subsets in Python and is meant for new
objectives and for checking.

>>> import numpy as np, maxk
>>> r = np.array([1.0, 0.0, 0.0, 1.0, 0.0])
>>> a = maxk.mixture_advantages(r, "1:1,2:0.5")        # pass@1 + 0.5 pass@2
>>> bool(abs(a.sum()) < 1e-12)
True
>>> m = maxk.maj_advantages(["7", "7", "3", "5"], [True, True, False, False], k=3)
>>> bool(m[0] > 0 > m[2])
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _maxk

if TYPE_CHECKING:
    import torch

__all__ = [
    "MAX_SUBSETS",
    "jackknife_advantages",
    "maj_advantages",
    "maj_at_k",
    "mixture_advantages",
    "mixture_diagnostics",
    "mixture_text",
    "mixture_value",
    "plan",
]

#: Default size limit of :func:`jackknife_advantages`: the number of K-subsets it enumerates.
MAX_SUBSETS = 1_000_000

Mixture = str | Mapping[int, float] | Sequence[tuple[int, float]]


def mixture_text(mixture: Mixture) -> str:
    """The core's text form of a mixture: ``"harmonic"`` or ``"k:w,k:w"``.

    Accepts that text itself, a mapping ``{k: w}`` or a sequence of ``(k, w)`` pairs; e.g.
    ``{1: 1.0, 8: 0.5}`` is pass@1 + 0.5 pass@8. ``"harmonic"`` is ``w_k = 1/k`` for
    ``k = 1..N-1`` (MaxRL / N on binary rewards, and its extension to any reward).
    """
    if isinstance(mixture, str):
        return mixture
    pairs = list(mixture.items()) if isinstance(mixture, Mapping) else list(mixture)
    return ",".join(f"{int(k)}:{float(w)!r}" for k, w in pairs)


def mixture_advantages(
    rewards: Any, mixture: Mixture, index: Iterable[Hashable] | np.ndarray | torch.Tensor | None = None
) -> Any:
    """Advantages for the mixture ``J = sum_k w_k J_k`` of max@K objectives.

    ``A_i = sum_k w_k (rho_k(B) - rho_k(B without i))``: exactly centered, PG-unbiased with
    factor 1 for ``grad J`` (maxk-core ``Mixture``, O(N log N + N |K|) per group). Every K must
    be at most N - 1.

    ``rewards`` is ``[N]`` or ``[G, N]`` (numpy, torch or array-like, dtypes as in
    :func:`maxk.advantages`), or ``[B]`` with ``index`` the group of each sample (as in
    :func:`maxk.advantages_by_index`). Returns the same shape and type.
    """
    from . import _as_array, _dense_ids, _named_groups

    array, back = _as_array(rewards, "rewards")
    text = mixture_text(mixture)
    if index is None:
        return back(_maxk.mixture_advantages(array, text))
    if array.ndim != 1:
        raise ValueError(f"rewards must have shape [B] with an index, got {array.ndim} dimensions")
    ids, labels = _dense_ids(index)
    with _named_groups(labels):
        return back(_maxk.mixture_advantages(array, text, ids))


def mixture_value(rewards: Any, mixture: Mixture) -> float:
    """The unbiased estimate ``sum_k w_k rho_k`` of the mixture objective for one group ``[N]``."""
    from . import _as_array

    array, _ = _as_array(rewards, "rewards")
    if array.ndim != 1:
        raise ValueError(f"rewards must have shape [N], got an array with {array.ndim} dimensions")
    return _maxk.mixture_value([float(x) for x in array], mixture_text(mixture))


def mixture_diagnostics(
    rewards: Any, index: Iterable[Hashable] | np.ndarray | torch.Tensor | None, mixture: Mixture
) -> dict[str, Any]:
    """rho per K of a mixture's terms, for logging: ``{"rho@k": mean over the groups with at
    least k samples of rho_k (None if none), ..., "objective": sum_k w_k rho@k}`` (None when a
    term has no group). ``rewards`` is ``[B]`` with ``index``, or ``[G, N]`` with ``index=None``.
    The harmonic mixture's K list depends on N: it reports ``rho@1`` only and no objective.
    """
    from . import _as_array, max_at_k_by_index

    array, _ = _as_array(rewards, "rewards")
    if index is None:
        if array.ndim != 2:
            raise ValueError("mixture_diagnostics needs index for rewards of shape [B]; or give rewards of shape [G, N]")
        index = np.repeat(np.arange(array.shape[0], dtype=np.uint64), array.shape[1])
        array = array.reshape(-1)
    parsed = _maxk.mixture_terms(mixture_text(mixture))
    if parsed is None:
        return {"rho@1": max_at_k_by_index(array, index, 1)["value"], "objective": None}
    terms: dict[int, float] = {}
    for k, w in parsed:
        terms[k] = terms.get(k, 0.0) + w
    out: dict[str, Any] = {}
    total: float | None = 0.0
    for k, w in terms.items():
        rho = max_at_k_by_index(array, index, k)["value"]
        out[f"rho@{k}"] = rho
        total = None if rho is None or total is None else total + w * rho
    out["objective"] = total
    return out


def _answers_and_verdicts(
    answers: Iterable[Hashable] | np.ndarray | torch.Tensor, correct: Any
) -> tuple[np.ndarray, list[Any] | None, np.ndarray]:
    from . import _dense_ids, _torch_tensor_type

    ids, labels = _dense_ids(answers)
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(correct, tensor):
        correct = correct.detach().cpu().numpy()
    verdicts = np.asarray(correct)
    if verdicts.ndim != 1:
        raise ValueError(f"correct must have shape [B], got an array with {verdicts.ndim} dimensions")
    if verdicts.dtype != np.bool_:
        bad = np.flatnonzero((verdicts != 0) & (verdicts != 1))
        if bad.size:
            raise ValueError(f"correct at index {int(bad[0])} is {verdicts[bad[0]]!r}: verdicts must be bool or 0/1")
    return ids, labels, np.ascontiguousarray(verdicts, dtype=np.bool_)


def _name_answer(e: ValueError, labels: list[Any] | None) -> ValueError:
    """The core names a conflicting answer by its dense id: name it as the caller wrote it."""
    text = str(e)
    match = re.search(r"answer key (\d+) ", text)
    if labels is None or match is None or int(match.group(1)) >= len(labels):
        return e
    label = labels[int(match.group(1))]
    return ValueError(text.replace(match.group(0), f"answer {label!r} ", 1))


def maj_advantages(
    answers: Iterable[Hashable] | np.ndarray | torch.Tensor,
    correct: Any,
    k: int,
    index: Iterable[Hashable] | np.ndarray | torch.Tensor | None = None,
    ties: str = "split",
) -> np.ndarray:
    """maj@K (majority vote / self-consistency) advantages ``U_K(B) - U_K(B without i)``.

    ``U_K(B)`` is the mean over the K-subsets of the group of the score "the most frequent
    answer is correct" (ties: ``"split"`` uniformly among the tied answers, or ``"wrong"``),
    unbiased for maj@K; its jackknife is exactly centered and PG-unbiased (factor 1). Computed
    over answer clusters in polynomial time (maxk-core ``maj_advantages``).

    Parameters
    ----------
    answers
        One answer key per sample: any hashables, equal in Python means the same answer (e.g.
        the extracted final answer string).
    correct
        One verdict per sample (bool or 0/1); one answer must have one verdict.
    k
        1 <= K <= N - 1 in every group (at most 1024).
    index
        Group of each sample (as :func:`maxk.advantages_by_index`); None: one group.
    ties
        ``"split"`` (default) or ``"wrong"``.

    Returns a float64 numpy array ``[B]``.
    """
    from . import _count, _dense_ids, _named_groups

    ids, labels, verdicts = _answers_and_verdicts(answers, correct)
    if verdicts.shape != ids.shape:
        raise ValueError(f"{verdicts.size} correct flags for {ids.size} samples: give one per sample")
    group_ids, group_labels = (None, None) if index is None else _dense_ids(index)
    try:
        with _named_groups(group_labels):
            return _maxk.maj_advantages(ids, verdicts, _count("k", k), ties, group_ids)
    except ValueError as e:
        raise _name_answer(e, labels) from None


def maj_at_k(answers: Iterable[Hashable] | np.ndarray | torch.Tensor, correct: Any, k: int, ties: str = "split") -> float:
    """The unbiased maj@K estimate ``U_K(B)`` of one group (``1 <= k <= N``); see
    :func:`maj_advantages`."""
    from . import _count

    ids, labels, verdicts = _answers_and_verdicts(answers, correct)
    if verdicts.shape != ids.shape:
        raise ValueError(f"{verdicts.size} correct flags for {ids.size} samples: give one per sample")
    try:
        return _maxk.maj_at_k(ids, verdicts, _count("k", k), ties)
    except ValueError as e:
        raise _name_answer(e, labels) from None


def plan(
    p: float | Sequence[float] | np.ndarray, n: int, k: int, target: float | None = None, actions: int | None = None
) -> dict[str, Any]:
    """Plan N and K before a run (``maxk plan``), for binary rewards.

    ``p`` is a success rate or a list of per-prompt rates (e.g. from a previous run). Returns
    ``informative_share`` (expected share of groups with ``0 < correct < N``, which alone carry
    a signal), ``informative_limit`` (the share of prompts with ``0 < p < 1``, the most any N
    reaches), ``var_ratio_ei_over_maxpo`` (exact ``Var(EI) / Var(MaxPO)`` of the batch gradient
    at the PG scale; ``actions`` None is the language-model limit of distinct completions) and,
    with ``target``, ``smallest_n`` (None when unreachable).
    """
    from . import _count

    rates = [float(x) for x in np.atleast_1d(np.asarray(p, dtype=np.float64)).reshape(-1)]
    return _maxk.plan(
        rates, _count("n", n), _count("k", k), None if target is None else float(target),
        None if actions is None else _count("actions", actions),
    )


def jackknife_advantages(
    samples: Sequence[Any] | np.ndarray,
    k: int,
    kernel: Callable[[tuple[Any, ...]], float],
    max_subsets: int = MAX_SUBSETS,
) -> np.ndarray:
    """The canonical leave-one-out advantage ``U(B) - U(B without i)`` of any symmetric K-sample
    objective, by exact enumeration: the reference for new objectives.

    ``kernel`` receives a tuple of K samples (rewards, or anything else: ``(answer, correct)``
    pairs, completions, ...) and returns their score ``h``; it must be symmetric (the order of
    the tuple must not matter). ``U(B)`` is the mean of ``h`` over the ``C(N, K)`` K-subsets of
    the group, an unbiased estimate of ``E[h(y_1..y_K)]``; the advantages sum to zero and
    ``E[sum_i A_i grad log pi(y_i)] = grad E[h]`` (docs/MATH.md). maxk's fast estimators agree
    with it: ``max`` gives ``canonical``, a sum over several K gives a mixture, the majority
    score gives maj@K.

    Costs ``C(N, K)`` kernel calls; raises ``ValueError`` when that exceeds ``max_subsets``
    (default :data:`MAX_SUBSETS`), or when ``k`` is outside ``1..N-1``.
    """
    from . import _count

    items = list(samples)
    n = len(items)
    k = _count("k", k)
    if not 1 <= k <= n - 1:
        raise ValueError(f"k = {k!r} is out of range for a group of {n} samples (needs 1 <= k <= N - 1)")
    count = math.comb(n, k)
    if count > max_subsets:
        raise ValueError(
            f"C({n}, {k}) = {count} K-subsets exceed max_subsets = {max_subsets}: exact enumeration is "
            "for small groups and checking; use maxk's fast estimators (or raise max_subsets)"
        )
    total = 0.0
    containing = np.zeros(n)
    for subset in combinations(range(n), k):
        h = float(kernel(tuple(items[i] for i in subset)))
        if not math.isfinite(h):
            raise ValueError(f"kernel returned {h} for the subset {subset}: scores must be finite")
        total += h
        containing[list(subset)] += h
    u = total / count
    # U(B without i): the subsets that avoid i, C(N-1, K) of them.
    return np.asarray(u - (total - containing) / math.comb(n - 1, k), dtype=np.float64)
