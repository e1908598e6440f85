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
  are computed in float32 and rounded back, integer and bool tensors give float64. Tensors on an
  accelerator are copied to the host and back (the computation is O(N log N) on the CPU).
- Bad input raises ``ValueError`` with the message of the Rust core (e.g. ``k = 4 is out of
  range for maxpo with group size 4 (needs 1 <= k <= N - 1)``); a non-numeric array raises
  ``TypeError``.
- The work runs without the GIL, on all cores (rayon) for batches; calls are thread-safe.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Hashable, Iterable
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
    "EstimatorInfo",
    "estimator_info",
    "estimators",
    "max_at_k",
    "pass_at_k",
    "scales",
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


def _torch_as_array(t: torch.Tensor, name: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    import torch

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
        return torch.from_numpy(out).to(device=device, dtype=out_dtype)

    return array, back


def _identity(out: _T) -> _T:
    return out


def _check_rank(ndim: int, name: str) -> None:
    if ndim not in (1, 2):
        raise ValueError(f"{name} must have shape [N] or [G, N], got an array with {ndim} dimensions")


@overload
def advantages(rewards: np.ndarray, k: int, estimator: str = ..., scale: str = ...) -> np.ndarray: ...
@overload
def advantages(rewards: torch.Tensor, k: int, estimator: str = ..., scale: str = ...) -> torch.Tensor: ...
@overload
def advantages(rewards: Any, k: int, estimator: str = ..., scale: str = ...) -> np.ndarray: ...
def advantages(rewards: Any, k: int, estimator: str = "maxpo", scale: str = "none") -> Any:
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
    return back(_maxk.advantages(array, _count("k", k), estimator, scale))


def advantages_by_index(
    scores: Any,
    index: Iterable[Hashable] | np.ndarray | torch.Tensor,
    k: int,
    estimator: str = "maxpo",
    scale: str = "none",
) -> Any:
    """Advantages of a flat batch whose sample ``i`` belongs to group ``index[i]``.

    Groups may have different sizes and their samples may be anywhere in the batch (verl's
    ``uid``: a numpy object array of strings). The output is in the original order.

    Parameters
    ----------
    scores
        Outcome rewards of shape ``[B]`` (numpy, torch or array-like; dtypes as in
        :func:`advantages`).
    index
        ``B`` group ids: non-negative integers are used as they are (errors then name them
        exactly as maxk-core does); any other hashable ids (strings, negative integers, tuples)
        are mapped to dense integers first and errors name the caller's id, e.g.
        ``group id 'uid-7': k = 4 is out of range for maxpo with group size 3 (...)``.
    k, estimator, scale
        As in :func:`advantages`; every group must be valid for them.
    """
    array, back = _as_array(scores, "scores")
    if array.ndim != 1:
        raise ValueError(f"scores must have shape [B], got an array with {array.ndim} dimensions")
    ids, labels = _dense_ids(index)
    try:
        out = _maxk.grouped_advantages(array, ids, _count("k", k), estimator, scale)
    except ValueError as e:
        group_id = getattr(e, "group_id", None)
        if labels is None or group_id is None:
            raise
        err = ValueError(f"group id {labels[group_id]!r}: {e.reason}")  # type: ignore[attr-defined]
        err.group_id = labels[group_id]  # type: ignore[attr-defined]
        err.reason = e.reason  # type: ignore[attr-defined]
        raise err from None
    return back(out)


def _dense_ids(index: Any) -> tuple[np.ndarray, list[Any] | None]:
    """uint64 group ids for the core, and the caller's label of each dense id (None when the
    caller's ids are non-negative integers, used unchanged)."""
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(index, tensor):
        index = index.detach().cpu().numpy()
    idx = np.asarray(index)
    if idx.ndim != 1:
        raise ValueError(f"index must have shape [B], got an array with {idx.ndim} dimensions")
    if idx.dtype.kind in "bu" or (idx.dtype.kind == "i" and (idx.size == 0 or idx.min() >= 0)):
        return np.ascontiguousarray(idx, dtype=np.uint64), None
    if idx.dtype.kind == "O":
        # Object arrays (verl's uid) may mix types that cannot be sorted; a dict needs only hashing.
        mapping: dict[Any, int] = {}
        ids = np.fromiter((mapping.setdefault(x, len(mapping)) for x in idx), dtype=np.uint64, count=len(idx))
        return ids, list(mapping)
    labels, inverse = np.unique(idx, return_inverse=True)
    return np.ascontiguousarray(inverse.reshape(-1), dtype=np.uint64), labels.tolist()


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
    samples of which ``c`` are correct, without forming binomials. Needs ``0 <= c <= n`` and
    ``1 <= k <= n``."""
    return _maxk.pass_at_k(_count("n", n), _count("c", c), _count("k", k))
