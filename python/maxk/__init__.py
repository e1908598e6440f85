"""maxk: exact O(N log N) max@K / pass@K policy-gradient advantages.

MaxPO (expected improvement + Leave-Two-Out baseline; Takashiro, Nishimori, Parmas et al. 2026,
arXiv 2606.06080), the PKPO family (Walder & Karkhanis 2025, arXiv 2505.15201) and their peers
(RLOO, Dr. GRPO, GRPO, ...), computed by the Rust crate ``maxk-core``. This module only converts
arrays: there is no maths in Python.

>>> import numpy as np, maxk
>>> r = np.array([0.1, 0.9, 0.4, 0.4, 0.0, 0.7])
>>> a = maxk.advantages(r, k=4)                     # MaxPO, one group of N=6, max@4
>>> bool(abs(a.sum()) < 1e-12)                      # exactly centered
True
>>> round(maxk.max_at_k(np.array([0.0, 1.0, 0.0, 0.0]), 2), 12)   # unbiased pass@2
0.5

Array conventions (every function):

- ``rewards`` is a numpy array, a torch tensor, or anything ``numpy.asarray`` accepts, of shape
  ``[N]`` (one group) or ``[G, N]`` (G groups of N samples).
- numpy float64 in gives float64 out, float32 gives float32; any other numeric dtype (integers,
  bool, float16, ...) gives float64. A C-contiguous float32/float64 array is read in place, with
  no copy.
- A torch tensor gives a torch tensor on the same device with the same dtype; float16/bfloat16
  are computed in float32 and rounded back (an advantage beyond float16's range raises
  ``ValueError`` instead of becoming an infinity), integer and bool tensors give float64. Tensors
  on an accelerator are copied to the host and back (the computation is O(N log N) on the CPU);
  sparse tensors and tensors on the meta device raise ``TypeError``.
- Bad input raises ``ValueError`` with the message of the Rust core (e.g. ``k = 4 is out of
  range for maxpo with group size 4 (needs 1 <= k <= N - 1)``); a non-numeric array raises
  ``TypeError``.
- The work runs without the GIL, on all cores (rayon) for batches; calls are thread-safe.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

import numpy as np

from . import _maxk

if TYPE_CHECKING:
    import torch

__version__: str = _maxk.__version__

__all__ = [
    "__version__",
    "advantages",
    "advantages_by_index",
    "advantages_with_diagnostics",
    "diagnostics",
    "EstimatorInfo",
    "estimator_info",
    "estimators",
    "max_at_k",
    "max_at_k_by_index",
    "multi_objective_advantages",
    "pass_at_k",
    "scales",
    "small_groups_rules",
    "validation_pass_at_k",
    "jackknife_advantages",
    "maj_advantages",
    "maj_at_k",
    "mixture_advantages",
    "mixture_diagnostics",
    "mixture_value",
    "plan",
]

_T = TypeVar("_T")
_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


@dataclass(frozen=True)
class EstimatorInfo:
    """What the core registry says about one estimator (``maxk estimators --json`` prints the
    same fields).

    Attributes:
        id: the estimator id (``estimator=`` here, ``--estimator`` in the CLI).
        description: one line with the formula and its source.
        centered: whether every group's advantages sum to zero.
        pg_unbiased: whether ``pg_factor * sum_i A_i grad log pi(y_i)`` is an unbiased estimate of
            ``grad J`` (``objective``).
        pg_factor: that factor as a formula in N and K (``"K/N"`` for maxpo, ``"1"`` for pkpo);
            ``scale="pg"`` applies it. For biased estimators, the factor of their unbiased twin.
        objective: ``"J_K"`` (max@K) or ``"J_1"`` (the mean reward, for estimators that ignore K).
        uses_k: whether the estimator reads ``k`` (others accept any ``k >= 1``).
        valid_k: the valid range of ``k`` for a group of N, e.g. ``"1 <= k <= N - 1"``.
        min_group_size: the smallest group the estimator accepts.
    """

    id: str
    description: str
    centered: bool
    pg_unbiased: bool
    pg_factor: str
    objective: str
    uses_k: bool
    valid_k: str
    min_group_size: int


def estimators() -> dict[str, EstimatorInfo]:
    """Every estimator id with its :class:`EstimatorInfo`, in the core registry's order.

    The ids are the values of ``estimator=`` here, of ``maxk --estimator`` in the CLI and of the
    framework adapters (verl's ``algorithm.adv_estimator``, ``MaxKGRPOTrainer(maxk_estimator=)``).
    """
    return {row[0]: EstimatorInfo(*row) for row in _maxk.estimator_table()}


def estimator_info(estimator: str) -> EstimatorInfo:
    """The :class:`EstimatorInfo` of one id; an unknown id raises the core's ``ValueError``
    (which lists the known ones)."""
    for row in _maxk.estimator_table():
        if row[0] == estimator:
            return EstimatorInfo(*row)
    _maxk.advantages(np.zeros(2), 1, estimator)  # raises the core's "unknown estimator" error
    raise AssertionError("unreachable")  # pragma: no cover


def scales() -> tuple[str, ...]:
    """The ids accepted by ``scale=``: ``none``, ``std`` (divide by the group's std + 1e-6, as
    GRPO) and ``pg`` (the factor that makes the estimator PG-unbiased for grad J_K)."""
    return tuple(_maxk.scales())


def small_groups_rules() -> tuple[str, ...]:
    """The ids accepted by ``small_groups=``, the rule for a group that cannot carry the
    estimator at K (too few samples: N <= K for maxpo, a singleton, padding rows):

    - ``"error"`` (default of the API): ``ValueError`` naming the group.
    - ``"zero"`` (default of the framework adapters, as verl's and TRL's own estimators give a
      singleton group 0): advantage 0 for each of its samples; unbiased for the other groups.
    - ``"shrink-k"``: the estimator at the largest K the group can carry (``N - 1`` for maxpo),
      0 if there is none: unbiased, but for grad J_K' with the smaller K'.
    - ``"centered-ei"``: for maxpo, canonical and pkpo-loo, expected improvement minus its group
      mean at K' = min(K, N) (the K = N fallback of the MaxPO authors; at K = N it is
      best-minus-second, centered): exactly centered, no longer exactly unbiased; 0 otherwise.

    :func:`diagnostics` counts the groups each rule handled.
    """
    return tuple(_maxk.small_groups_rules())


def _count(name: str, value: Any) -> int:
    """A non-negative Python int, or ValueError naming the argument."""
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if n < 0:
        raise ValueError(f"{name} = {n} must be a non-negative integer")
    if n >= 2**63:  # beyond the core's usize: no group is that large, so no K can fit
        raise ValueError(f"{name} = {n} is too large")
    return n


def _torch_tensor_type() -> Any:
    """``torch.Tensor`` if torch is already imported (maxk never imports it itself)."""
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None)


def _as_array(x: Any, name: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """``x`` as a C-contiguous float32/float64 numpy array of rank 1 or 2, plus the function that
    turns a result array back into the caller's type (torch tensor: dtype and device)."""
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(x, tensor):
        return _torch_as_array(x, name)
    a = np.asarray(x)
    _check_rank(a.ndim, name)
    if a.dtype not in _FLOATS:
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
        a = a.astype(np.float64)
    return np.ascontiguousarray(a), _identity


def _check_tensor(t: torch.Tensor, name: str) -> None:
    """TypeError for a tensor without values to read: sparse layouts and the meta device."""
    import torch

    if t.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {t.layout}; call .to_dense() first")
    if t.device.type == "meta":
        raise TypeError(f"{name} is a tensor on the meta device, which holds no values")


def _torch_as_array(t: torch.Tensor, name: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    import torch

    _check_tensor(t, name)
    _check_rank(t.dim(), name)
    dtype, device = t.dtype, t.device
    if t.is_complex():
        raise TypeError(f"{name} must be a real tensor, got dtype {dtype}")
    if dtype in (torch.float32, torch.float64):
        out_dtype = dtype
        work = t.detach()
    elif dtype.is_floating_point:
        out_dtype = dtype
        work = t.detach().to(torch.float32)
    else:
        out_dtype = torch.float64
        work = t.detach().to(torch.float64)
    array = work.cpu().contiguous().numpy()

    def back(out: np.ndarray) -> torch.Tensor:
        return _torch_result(torch.from_numpy(out), out_dtype, device)

    return array, back


def _torch_result(values: torch.Tensor, dtype: torch.dtype, device: Any) -> torch.Tensor:
    """``values`` (finite, computed in float32 or float64) as ``dtype`` on ``device``; a value
    that does not fit a narrower float type (float16's largest is 65504) raises ValueError
    naming it instead of silently becoming an infinity."""
    import torch

    out = values.to(dtype=dtype)
    if dtype.is_floating_point and dtype.itemsize < values.dtype.itemsize:
        bad = (~torch.isfinite(out)).nonzero()
        if bad.numel():
            where = tuple(int(i) for i in bad[0])
            index = where[0] if len(where) == 1 else list(where)
            raise ValueError(
                f"advantage at index {index} is {float(values[where]):.6g}, beyond the range of {dtype} "
                f"(largest finite value {torch.finfo(dtype).max:.6g}); pass float32 rewards "
                "or divide them by a constant"
            )
    return out.to(device=device)


def _identity(out: _T) -> _T:
    return out


def _check_rank(ndim: int, name: str) -> None:
    if ndim not in (1, 2):
        raise ValueError(f"{name} must have shape [N] or [G, N], got an array with {ndim} dimensions")


@overload
def advantages(
    rewards: np.ndarray, k: int, estimator: str = ..., scale: str = ..., small_groups: str = ...
) -> np.ndarray: ...
@overload
def advantages(
    rewards: torch.Tensor, k: int, estimator: str = ..., scale: str = ..., small_groups: str = ...
) -> torch.Tensor: ...
@overload
def advantages(rewards: Any, k: int, estimator: str = ..., scale: str = ..., small_groups: str = ...) -> np.ndarray: ...
def advantages(
    rewards: Any, k: int, estimator: str = "maxpo", scale: str = "none", small_groups: str = "error"
) -> Any:
    """Advantages of one group ``[N]`` or of G groups ``[G, N]``.

    Parameters
    ----------
    rewards
        Outcome rewards, shape ``[N]`` or ``[G, N]`` (see the module docs for dtypes and torch).
    k
        K of max@K. MaxPO, ``canonical`` and ``pkpo-loo`` need ``1 <= k <= N - 1``; ``pkpo``,
        ``pkpo-loo1``, ``ei`` and ``passk-analytic`` need ``1 <= k <= N``; the peers that ignore K
        (``rloo``, ``dr-grpo``, ``grpo``, ``best-minus-second``) still need ``k >= 1``.
    estimator
        An id from :func:`estimators`; default ``"maxpo"`` = EI - L2O = u_i - v_i
        (arXiv 2606.06080), which sums to exactly zero over each group.
    scale
        ``"none"`` (default), ``"std"`` or ``"pg"``; see :func:`scales`.
    small_groups
        What a group that cannot carry the estimator at K gets: ``"error"`` (default),
        ``"zero"``, ``"shrink-k"`` or ``"centered-ei"``; see :func:`small_groups_rules`.

    Returns
    -------
    The advantages, same shape as ``rewards``: a numpy array (float32 for float32 input, float64
    otherwise) or, for a torch tensor, a tensor with its dtype and device.

    Raises
    ------
    ValueError
        NaN/inf rewards, K out of range, an empty or too small group, a rank other than 1 or 2,
        an unknown estimator or scale; the message is maxk-core's (dense batches prefix the group
        index: ``group 3: reward at index 1 is NaN, rewards must be finite``).
    """
    array, back = _as_array(rewards, "rewards")
    return back(_maxk.advantages(array, _count("k", k), estimator, scale, small_groups))


def advantages_by_index(
    scores: Any,
    index: Iterable[Hashable] | np.ndarray | torch.Tensor,
    k: int,
    estimator: str = "maxpo",
    scale: str = "none",
    small_groups: str = "error",
) -> Any:
    """Advantages of a flat batch whose sample ``i`` belongs to group ``index[i]``.

    Groups may have different sizes and their samples may be anywhere in the batch (verl's
    ``uid``: a numpy object array of strings). The output is in the original order; an empty
    batch gives an empty result.

    Parameters
    ----------
    scores
        Outcome rewards of shape ``[B]`` (numpy, torch or array-like; dtypes as in
        :func:`advantages`).
    index
        ``B`` group ids: non-negative integers are used as they are (errors then name them
        exactly as maxk-core does); any other hashable ids (strings, negative integers, tuples)
        are mapped to dense integers first and errors name the caller's id, e.g.
        ``group id 'uid-7': k = 4 is out of range for maxpo with group size 3 (...)``. Ids are
        one group exactly when they are equal in Python: ``[1, "1"]`` is two groups (numpy
        alone would coerce both to the string ``"1"``), ``[1, 1.0, True]`` one, and every NaN
        id is a group of its own (``nan != nan``). Errors about a sample name its index in
        the batch.
    k, estimator, scale, small_groups
        As in :func:`advantages`; with ``small_groups="error"`` every group must be valid.
    """
    array, back = _as_array(scores, "scores")
    if array.ndim != 1:
        raise ValueError(f"scores must have shape [B], got an array with {array.ndim} dimensions")
    ids, labels = _dense_ids(index)
    with _named_groups(labels):
        out = _maxk.grouped_advantages(array, ids, _count("k", k), estimator, scale, small_groups)
    return back(out)


def advantages_with_diagnostics(
    scores: Any,
    index: Iterable[Hashable] | np.ndarray | torch.Tensor,
    k: int,
    estimator: str = "maxpo",
    scale: str = "none",
    small_groups: str = "error",
) -> tuple[Any, dict[str, Any]]:
    """:func:`advantages_by_index` and the step's :func:`diagnostics` in one call (one sort)."""
    array, back = _as_array(scores, "scores")
    if array.ndim != 1:
        raise ValueError(f"scores must have shape [B], got an array with {array.ndim} dimensions")
    ids, labels = _dense_ids(index)
    with _named_groups(labels):
        out, diag = _maxk.grouped_step(array, ids, _count("k", k), estimator, scale, small_groups)
    return back(out), diag


def diagnostics(
    rewards: Any,
    index: Iterable[Hashable] | np.ndarray | torch.Tensor | None,
    k: int,
    estimator: str | None = "maxpo",
    scale: str = "none",
    small_groups: str = "zero",
    advantages: Any = None,
) -> dict[str, Any]:
    """Per-step max@K diagnostics of a batch, computed by maxk-core.

    ``rewards`` is ``[B]`` with ``index`` the group of each sample (as in
    :func:`advantages_by_index`), or ``[G, N]`` with ``index=None``. Without ``advantages``,
    the advantages are those of ``estimator`` under ``small_groups``; with ``advantages`` (any
    estimator's, e.g. a framework's own GRPO advantages, same shape as ``rewards``) those are
    described, and ``estimator`` (may be None) only decides which groups ``small_groups`` would
    have handled.

    Returns a dict of plain Python numbers:

    - ``rho_k``: mean over groups with N >= K of rho_K, the unbiased max@K estimate (pass@K for
      0/1 rewards); None when no group has K samples. ``rho_groups``: those groups.
    - ``no_signal_share``: share of groups whose rewards are all equal (``no_signal_groups``).
    - ``small_groups``: groups the small-group rule handled (``small_groups_zeroed``,
      ``small_groups_shrunk``, ``small_groups_centered_ei``, ``small_group_samples``).
    - ``centering_residual``: ``max_g |sum_g A| / max |A|`` (rounding level for centered
      estimators, 0 when every advantage is 0).
    - ``adv_mean``, ``adv_std`` (population), ``adv_abs_max``; ``reward_mean``, ``groups``,
      ``samples``, ``k``.
    """
    array, _ = _as_array(rewards, "rewards")
    shape = array.shape
    if index is None:
        if array.ndim != 2:
            raise ValueError("diagnostics needs index for rewards of shape [B]; or give rewards of shape [G, N]")
        ids = np.repeat(np.arange(array.shape[0], dtype=np.uint64), array.shape[1])
        labels = None
        array = array.reshape(-1)
    else:
        if array.ndim != 1:
            raise ValueError(f"rewards must have shape [B] with an index, got {array.ndim} dimensions")
        ids, labels = _dense_ids(index)
    kk = _count("k", k)
    with _named_groups(labels):
        if advantages is None:
            if estimator is None:
                raise ValueError("diagnostics needs an estimator or the advantages")
            return _maxk.grouped_step(array, ids, kk, estimator, scale, small_groups)[1]
        adv, _ = _as_array(advantages, "advantages")
        if adv.shape != shape:
            raise ValueError(f"advantages have shape {list(adv.shape)}, rewards {list(shape)}: give one advantage per reward")
        adv = np.ascontiguousarray(adv.reshape(-1), dtype=np.float64)
        return _maxk.grouped_diagnostics(
            np.ascontiguousarray(array, dtype=np.float64), ids, adv, kk, estimator, scale, small_groups
        )


def max_at_k_by_index(rewards: Any, index: Iterable[Hashable] | np.ndarray | torch.Tensor, k: int) -> dict[str, Any]:
    """The unbiased max@K of a set of groups given as (group id, reward) pairs: the mean over
    the groups with at least K samples of rho_K (pass@K for 0/1 rewards).

    Returns ``{"value": float | None, "groups": int, "skipped": int}``: ``skipped`` groups have
    fewer than K samples and are left out (rho_K needs K samples; a bootstrap over fewer, like
    verl's validation ``best@k``, is biased); ``value`` is None when no group is left.
    """
    array, _ = _as_array(rewards, "rewards")
    if array.ndim != 1:
        raise ValueError(f"rewards must have shape [B], got an array with {array.ndim} dimensions")
    ids, labels = _dense_ids(index)
    with _named_groups(labels):
        value, groups, skipped = _maxk.grouped_max_at_k(
            np.ascontiguousarray(array, dtype=np.float64), ids, _count("k", k)
        )
    return {"value": value, "groups": groups, "skipped": skipped}


def validation_pass_at_k(
    prompt_ids: Iterable[Hashable] | np.ndarray | torch.Tensor, correct: Any, ks: Iterable[int] = (1,)
) -> dict[str, Any]:
    """Unbiased pass@k of a validation run from (prompt id, correct) pairs, for each k in ``ks``.

    ``correct`` holds one 0/1 (or bool) per sample; samples of a prompt are found by its id.
    Returns ``{"pass@k": mean over prompts with >= k samples of 1 - C(n-c, k)/C(n, k) (None if
    none), "pass@k/prompts": their number, "pass@k/skipped": prompts with fewer than k}``.
    """
    array, _ = _as_array(correct, "correct")
    if array.ndim != 1:
        raise ValueError(f"correct must have shape [B], got an array with {array.ndim} dimensions")
    bad = np.flatnonzero((array != 0) & (array != 1))
    if bad.size:
        raise ValueError(f"correct at index {int(bad[0])} is {float(array[bad[0]])!r}; pass@k needs 0/1 values")
    out: dict[str, Any] = {}
    for k in ks:
        res = max_at_k_by_index(array, prompt_ids, k)
        out[f"pass@{k}"] = res["value"]
        out[f"pass@{k}/prompts"] = res["groups"]
        out[f"pass@{k}/skipped"] = res["skipped"]
    return out


class _named_groups:
    """Context manager: a core error about dense group id ``j`` is re-raised naming the caller's
    label ``labels[j]`` (no-op when the caller's ids were used as they are)."""

    def __init__(self, labels: list[Any] | None) -> None:
        self.labels = labels

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: Any, e: Any, tb: Any) -> None:
        # Never suppresses: returns None (let the exception through) or raises the renamed one.
        if not isinstance(e, ValueError) or self.labels is None:
            return None
        group_id = getattr(e, "group_id", None)
        if group_id is None or group_id >= len(self.labels):
            return None
        reason = getattr(e, "reason", str(e))
        err = ValueError(f"group id {self.labels[group_id]!r}: {reason}")
        err.group_id = self.labels[group_id]  # type: ignore[attr-defined]
        err.reason = reason  # type: ignore[attr-defined]
        raise err from None


_ID_KINDS = (
    (bool, "number"),
    (int, "number"),
    (float, "number"),
    (np.number, "number"),
    (np.bool_, "number"),
    (str, "str"),
    (np.str_, "str"),
    (bytes, "bytes"),
)


def _id_kind(x: Any) -> str:
    for typ, kind in _ID_KINDS:
        if isinstance(x, typ):
            return kind
    return "other"


def _dense_ids(index: Any) -> tuple[np.ndarray, list[Any] | None]:
    """uint64 group ids for the core, and the caller's label of each dense id (None when the
    caller's ids are non-negative integers, used unchanged).

    A list that mixes numbers and strings (``[1, "1"]``), which ``numpy.asarray`` would coerce
    into one string array and so merge, is grouped as Python objects instead: ids are one group
    exactly when they are equal in Python (``1 == 1.0 == True``, ``1 != "1"``)."""
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(index, tensor):
        index = index.detach().cpu().numpy()
    idx: np.ndarray
    if isinstance(index, np.ndarray):
        idx = index
    else:
        items = list(index)
        kinds = {_id_kind(x) for x in items}
        typed: np.ndarray | None = None
        if len(kinds) == 1 and kinds != {"other"}:
            try:
                typed = np.asarray(items)
            except (OverflowError, ValueError):  # integers beyond 64 bits
                typed = None
        if typed is None or typed.ndim != 1:
            typed = np.empty(len(items), dtype=object)
            typed[:] = items
        idx = typed
    if idx.ndim != 1:
        raise ValueError(f"index must have shape [B], got an array with {idx.ndim} dimensions")
    if idx.dtype.kind in "bu" or (idx.dtype.kind == "i" and (idx.size == 0 or idx.min() >= 0)):
        return np.ascontiguousarray(idx, dtype=np.uint64), None
    if idx.dtype.kind == "O":
        # Object arrays (verl's uid) may mix types that cannot be sorted; a dict needs only hashing.
        labels: list[Any] = []
        mapping: dict[Any, int] = {}

        def dense(x: Any) -> int:
            if x != x:  # NaN equals nothing, itself included: a group of its own
                labels.append(x)
                return len(labels) - 1
            j = mapping.setdefault(x, len(labels))
            if j == len(labels):
                labels.append(x)
            return j

        try:
            ids = np.fromiter((dense(x) for x in idx), dtype=np.uint64, count=len(idx))
        except TypeError as e:
            raise TypeError(f"index holds an unhashable id: {e}") from None
        return ids, labels
    if idx.dtype.kind not in "iufSUMm":
        raise TypeError(f"index must hold hashable ids, got dtype {idx.dtype}")
    # NaN ids are each a group of their own (NaN != NaN), as in Python, not merged into one.
    labels_array, inverse = np.unique(idx, return_inverse=True, equal_nan=False)
    return np.ascontiguousarray(inverse.reshape(-1), dtype=np.uint64), labels_array.tolist()


@overload
def max_at_k(rewards: np.ndarray, k: int) -> Any: ...
@overload
def max_at_k(rewards: torch.Tensor, k: int) -> Any: ...
def max_at_k(rewards: Any, k: int) -> Any:
    """rho_K, the unbiased estimate of max@K = E[max(R_1..R_K)] (the mean of the max over all
    K-subsets; the unbiased pass@K for 0/1 rewards). Needs ``1 <= k <= N``.

    Returns a Python float for one group ``[N]`` and a float64 array ``[G]`` for ``[G, N]`` (a
    float64 tensor on the input's device for a torch tensor).
    """
    array, _ = _as_array(rewards, "rewards")
    rho = _maxk.max_at_k(array, _count("k", k))
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(rewards, tensor) and isinstance(rho, np.ndarray):
        import torch

        return torch.from_numpy(rho).to(rewards.device)
    return rho


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate ``1 - C(n-c, k)/C(n, k)`` (Chen et al. 2021) from ``n``
    samples of which ``c`` are correct, without forming binomials. Needs ``0 <= c <= n``,
    ``1 <= k <= n`` and ``n <= 2**30`` (the exact product has up to ``min(k, c)`` factors)."""
    return _maxk.pass_at_k(_count("n", n), _count("c", c), _count("k", k))


def multi_objective_advantages(
    rewards: Any,
    k: int | Sequence[int],
    weights: Sequence[float] | None = None,
    estimator: str | Sequence[str] = "maxpo",
    scale: str | Sequence[str] = "none",
    offsets: Sequence[int] | np.ndarray | None = None,
) -> Any:
    """Multi-objective max@K: one estimator per reward axis, then a weighted sum.

    ``A_i = sum_d weights[d] * A^d_i`` where ``A^d`` is ``estimator[d]`` at ``k[d]`` with
    ``scale[d]`` on the group's column ``d`` (``scale="std"`` is the per-axis normalisation). The
    axis-wise "EI - L2O per axis, normalised, weighted sum" of arXiv 2607.14962, computed by
    maxk-core in O(N log N) per axis, for any estimator id (``grpo`` on every axis with
    ``scale="none"`` is GDPO-style "normalise then sum"). With centered estimators on every axis
    the result sums to zero over each group; with PG-unbiased estimators and ``scale="pg"`` it is
    an unbiased policy gradient of ``sum_d weights[d] * J^d_{K_d}``.

    Parameters
    ----------
    rewards
        Shape ``[N, D]`` (one group of N samples with D rewards each), ``[G, N, D]`` (G groups),
        or ``[B, D]`` with ``offsets``; numpy, torch or array-like, dtypes as in
        :func:`advantages`.
    k, estimator, scale
        One value for every axis, or a sequence of D values (one per axis).
    weights
        D finite axis weights; default 1 for every axis.
    offsets
        CSR offsets over the B samples of a ragged batch: group ``g`` is samples
        ``offsets[g]:offsets[g+1]`` (``offsets[0] = 0``, ``offsets[-1] = B``).

    Returns
    -------
    One advantage per sample: ``[N]``, ``[G, N]`` or ``[B]``, numpy (float32 for float32 input,
    float64 otherwise) or a torch tensor with the input's dtype and device.

    Raises
    ------
    ValueError
        As :func:`advantages`, with the axis named (``group 1: axis 0: reward at index 2 is NaN,
        rewards must be finite``); a per-axis list whose length is not D; a non-finite weight.
    """
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(rewards, tensor):
        _check_tensor(rewards, "rewards")
        shape = tuple(rewards.shape)
        flat = rewards.reshape(-1)
    else:
        a = np.asarray(rewards)
        shape = a.shape
        flat = a.reshape(-1)
    allowed = (2,) if offsets is not None else (2, 3)
    if len(shape) not in allowed:
        want = "[B, D] with offsets" if offsets is not None else "[N, D] or [G, N, D]"
        raise ValueError(f"rewards must have shape {want}, got an array with {len(shape)} dimensions")
    array, back = _as_array(flat, "rewards")
    array = array.reshape(shape)
    d = shape[-1]
    ks = [_count("k", x) for x in _per_axis("k", k, d)]
    estimators = [str(e) for e in _per_axis("estimator", estimator, d)]
    scales = [str(x) for x in _per_axis("scale", scale, d)]
    w = [1.0] * d if weights is None else [float(x) for x in _per_axis("weights", weights, d, broadcast=False)]
    offs = None if offsets is None else [_count("offset", o) for o in np.asarray(offsets).reshape(-1).tolist()]
    return back(_maxk.multi_advantages(array, ks, estimators, scales, w, offs))


def _per_axis(name: str, value: Any, d: int, broadcast: bool = True) -> list[Any]:
    """``value`` as a list of D per-axis values: a scalar (or string) is repeated D times."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        if not broadcast:
            raise TypeError(f"{name} must be a sequence of {d} values, got {type(value).__name__}")
        return [value] * d
    values = list(value.tolist() if hasattr(value, "tolist") else value)
    if len(values) != d:
        raise ValueError(f"{name} has {len(values)} values for {d} reward axes (give one per axis)")
    return values


from .objectives import (  # noqa: E402  (the objectives module uses the helpers above)
    jackknife_advantages,
    maj_advantages,
    maj_at_k,
    mixture_advantages,
    mixture_diagnostics,
    mixture_value,
    plan,
)
