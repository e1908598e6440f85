"""What the framework adapters share: the small-group default, the metric names, K checks and
the version guard of private hooks. Imports no framework."""

from __future__ import annotations

import os
import re
from typing import Any

import maxk
from maxk.schedule import KSchedule, ScheduledK

#: The adapters' default small-group rule: verl's GRPO/RLOO and TRL's GRPO give a singleton
#: group (verl's padding rows, a prompt whose other rollouts failed) advantage 0 and go on.
DEFAULT_SMALL_GROUPS = "zero"

#: Prefix of every metric the adapters log.
PREFIX = "maxk/"


def metrics(diag: dict[str, Any], prefix: str = PREFIX) -> dict[str, float]:
    """The diagnostics of :func:`maxk.diagnostics` as a flat ``{name: float}`` metrics dict
    (``maxk/pass@K`` style names; ``rho_k`` is left out when no group had K samples)."""
    k = diag["k"]
    out = {
        f"{prefix}max@{k}": diag["rho_k"],
        f"{prefix}no_signal_share": diag["no_signal_share"],
        f"{prefix}small_groups": diag["small_groups"],
        f"{prefix}small_group_samples": diag["small_group_samples"],
        f"{prefix}centering_residual": diag["centering_residual"],
        f"{prefix}adv_mean": diag["adv_mean"],
        f"{prefix}adv_std": diag["adv_std"],
        f"{prefix}adv_abs_max": diag["adv_abs_max"],
        f"{prefix}groups": diag["groups"],
    }
    return {name: float(v) for name, v in out.items() if v is not None}


_SCHEDULES: dict[str, ScheduledK] = {}


def scheduled_k(schedule: Any) -> ScheduledK:
    """The process's :class:`~maxk.schedule.ScheduledK` for a K-schedule setting (one per
    distinct schedule; frameworks whose advantage hook gets no step number advance it once per
    call)."""
    parsed = KSchedule.parse(schedule)
    key = repr(parsed)
    if key not in _SCHEDULES:
        _SCHEDULES[key] = ScheduledK(parsed)
    return _SCHEDULES[key]


def resolve_k(estimator: str, k: Any, hint: str) -> int:
    """K as an int; K = 1 for the estimators that ignore it; ValueError (with ``hint``, how to
    set K in the framework) when an estimator that needs K has none."""
    if k is None:
        if maxk._estimator_uses_k(estimator):
            raise ValueError(f"maxk estimator {estimator!r} needs K: {hint}")
        return 1
    return int(k)


def check_group_size(estimator: str, k: int, n: int, scale: str, small_groups: str, where: str) -> None:
    """Start-up check of K against the configured group size ``n`` (verl ``rollout.n``, TRL
    ``num_generations``, OpenRLHF ``n_samples_per_prompt``).

    A full group that cannot carry the estimator is an error under ``error`` and ``zero`` (every
    group would be an error or all-zero: no learning signal at all); under ``shrink-k`` and
    ``centered-ei`` it is the documented K = N fallback and passes. Unknown estimator, scale or
    rule ids raise the core's ``ValueError``.
    """
    if small_groups not in maxk.small_groups_rules():
        raise ValueError(f"unknown small-group rule {small_groups!r}; known: {', '.join(maxk.small_groups_rules())}")
    rewards = [0.0] * max(int(n), 0)
    try:
        maxk.advantages(rewards, k, estimator, scale)
    except ValueError as e:
        if small_groups in ("error", "zero") or n < 1:
            raise ValueError(
                f"{where}: {e}. Every group of {n} samples would be "
                + ("an error" if small_groups == "error" else "given advantage 0")
                + "; lower K, raise the group size, or choose small_groups='shrink-k' or 'centered-ei' "
                "(docs/python.md, 'Small groups and K = N')"
            ) from None
        maxk.advantages(rewards, k, estimator, scale, small_groups)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        m = re.match(r"\d+", piece)
        parts.append(int(m.group()) if m else 0)
    return tuple(parts)


def require_version(framework: str, installed: str, tested: tuple[str, str], hook: str) -> None:
    """Raises RuntimeError unless ``tested[0] <= installed <= tested[1]`` (release numbers; a
    ``.x`` upper bound admits every patch release), naming the private hook that depends on it."""
    if os.environ.get("MAXK_SKIP_VERSION_CHECK") == "1":
        return
    lo, hi = tested
    v = _version_tuple(installed)
    hi_t = _version_tuple(hi.replace("x", "999999"))
    if not (_version_tuple(lo) <= v <= hi_t):
        raise RuntimeError(
            f"maxk's {framework} adapter hooks {hook}, a private part of {framework} whose code it was "
            f"tested with for {framework} {lo} to {hi}; {framework} {installed} is installed. Install a "
            f"tested version, or set MAXK_SKIP_VERSION_CHECK=1 to try anyway (then check that the "
            f"{framework} tests of maxk pass)."
        )
