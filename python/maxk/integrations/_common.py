"""What the framework adapters share, so that they behave alike: the maxk settings of an adapter
(:class:`Settings`: estimator, K or K schedule, scale, small-group rule, read and checked in one
place), the framework names of the estimators, the start-up check of K against the group size,
the metric names, the check that a framework's private hooks still exist, and patching a module
when it is imported. Imports no framework.

Every adapter reads its maxk options through :meth:`Settings.read`; a new option is a new field
of :class:`Settings` (and of :data:`FIELDS`), which each adapter's getter reads under its own
spelling: verl ``+algorithm.maxk_<field>``, TRL ``maxk_<field>`` (trainer argument or
``MaxKGRPOConfig`` field), OpenRLHF ``--algo.advantage.maxk_<field>``, SkyRL ``maxk.<field>``,
slime's YAML ``maxk_<field>``, rLLM's ``configure(<field>=)``, ms-swift's ``MAXK_<FIELD>``
environment variables. Where a framework's parser declares its options (OpenRLHF's argparse
block, ``MaxKGRPOConfig``, ``configure``), the new option is declared there too.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import operator
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import maxk
from maxk.schedule import KSchedule, ScheduledK

#: The adapters' default small-group rule: verl's GRPO/RLOO and TRL's GRPO give a singleton
#: group (verl's padding rows, a prompt whose other rollouts failed) advantage 0 and go on.
DEFAULT_SMALL_GROUPS = "zero"

#: Prefix of every metric the adapters log.
PREFIX = "maxk/"

#: The maj@K tie rules (:func:`maxk.maj_advantages`).
MAJ_TIES = ("split", "wrong")

#: The maxk settings every adapter reads (:class:`Settings`' fields, in this order).
FIELDS = ("estimator", "k", "k_schedule", "scale", "small_groups", "mixture", "maj")


# ---- settings ------------------------------------------------------------------------------


def _is_set(value: Any) -> bool:
    return value is not None and value != ""


@dataclass(frozen=True)
class Settings:
    """The maxk settings of one adapter: which estimator, at which K, scaled how, and what a
    group too small for K gets.

    Build it with :meth:`read` (from a framework's config) or directly; the constructor checks
    every value against maxk-core (unknown ids raise the core's ``ValueError``).
    """

    estimator: str = "maxpo"
    #: K of max@K (1 for the estimators that ignore K); the schedule's K at step 0 if scheduled.
    k: int = 1
    #: K per training step instead of a constant K (:mod:`maxk.schedule`).
    k_schedule: KSchedule | None = None
    scale: str = "none"
    small_groups: str = DEFAULT_SMALL_GROUPS
    #: A mixture of K instead of the estimator: ``"1:1,8:0.5"`` (pass@1 + 0.5 pass@8) or
    #: ``"harmonic"`` (MaxRL / N on binary rewards, defined for any reward); see
    #: :func:`maxk.mixture_advantages`. K, the schedule and the scale are then unused.
    mixture: str | None = None
    #: maj@K (majority vote) at K instead of the estimator, with this tie rule (``"split"`` or
    #: ``"wrong"``, :func:`maxk.maj_advantages`); needs each sample's answer key, which only
    #: the TRL adapter receives (a reward function's ``log_extra("maxk_answer", answers)``).
    maj: str | None = None
    #: First step of the schedule (resumed runs whose hook gets no step).
    start_step: int = 0

    def __post_init__(self) -> None:
        maxk.estimator_info(self.estimator)  # unknown id: the core's message, listing the known ones
        if self.mixture is not None:
            _check_mixture(self.mixture)
        if self.maj is not None and self.maj not in MAJ_TIES:
            raise ValueError(f"unknown maj@K tie rule {self.maj!r}; known: {', '.join(MAJ_TIES)}")
        if self.maj is not None and self.mixture is not None:
            raise ValueError("give a mixture or maj@K, not both")
        if self.scale not in maxk.scales():
            raise ValueError(f"unknown scale {self.scale!r}; known: {', '.join(maxk.scales())}")
        if self.small_groups not in maxk.small_groups_rules():
            raise ValueError(
                f"unknown small-group rule {self.small_groups!r}; known: {', '.join(maxk.small_groups_rules())}"
            )

    @classmethod
    def read(
        cls,
        get: Callable[[str], Any],
        name_of: Callable[[str], str],
        *,
        k_hint: str,
        estimator: str | None = None,
        start_step: int = 0,
    ) -> Settings:
        """The settings from a framework's config.

        Args:
            get: the raw value of a field of :data:`FIELDS` in the framework's config (None or
                ``""`` when not set), e.g. ``lambda f: config.get(f"maxk_{f}")``.
            name_of: the framework's spelling of a field, for error messages
                (``lambda f: f"+algorithm.maxk_{f}"``).
            k_hint: how to set K in this framework, for the error of an estimator that needs K.
            estimator: the estimator when the framework chose it (its own estimator name);
                else ``get("estimator")``, else ``"maxpo"``.
            start_step: first step of a K schedule whose hook gets no step (resumed runs).

        Raises:
            ValueError: naming the setting and its value: an unknown estimator, scale or rule,
                a K that is not a positive integer, a bad schedule, both K and a schedule, or no
                K for an estimator that needs one.
        """
        raw = {f: get(f) for f in FIELDS}
        if estimator is None:
            estimator = str(raw["estimator"]) if _is_set(raw["estimator"]) else "maxpo"
        mixture = str(raw["mixture"]).strip() if _is_set(raw.get("mixture")) else None
        if mixture is not None:
            try:
                _check_mixture(mixture)
            except ValueError as e:
                raise ValueError(f"{name_of('mixture')}={mixture!r}: {e}") from None
        try:
            info = maxk.estimator_info(estimator)
        except ValueError as e:
            raise ValueError(f"{name_of('estimator')}={estimator!r}: {e}") from None
        k, schedule = raw["k"], raw["k_schedule"]
        if _is_set(k) and _is_set(schedule):
            raise ValueError(f"give {name_of('k')} or {name_of('k_schedule')}, not both")
        parsed: KSchedule | None = None
        if _is_set(schedule):
            try:
                parsed = KSchedule.parse(schedule)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{name_of('k_schedule')}={schedule!r}: {e}") from None
            k_value = parsed.k_at(0)
        elif _is_set(k):
            k_value = _positive_int(name_of("k"), k)
        elif info.uses_k and mixture is None:
            raise ValueError(f"maxk estimator {estimator!r} needs K: {k_hint}")
        else:
            k_value = 1
        maj = str(raw["maj"]).strip() if _is_set(raw.get("maj")) else None
        if maj is not None and maj not in MAJ_TIES:
            raise ValueError(f"{name_of('maj')}={maj!r}: unknown maj@K tie rule; known: {', '.join(MAJ_TIES)}")
        out: dict[str, Any] = {
            "estimator": estimator, "k": k_value, "k_schedule": parsed, "mixture": mixture, "maj": maj,
        }
        for name, known in (("scale", maxk.scales()), ("small_groups", maxk.small_groups_rules())):
            value = str(raw[name]) if _is_set(raw[name]) else getattr(cls, name)
            if value not in known:
                raise ValueError(f"{name_of(name)}={value!r}: unknown {name.replace('_', '-')} id; known: {', '.join(known)}")
            out[name] = value
        return cls(**out, start_step=start_step)

    @classmethod
    def from_env(
        cls,
        *,
        k_hint: str,
        estimator: str | None = None,
        given: dict[str, Any] | None = None,
        name_of: Callable[[str], str] | None = None,
        start_step: int = 0,
    ) -> Settings:
        """The settings from environment variables ``MAXK_<FIELD>`` (``MAXK_ESTIMATOR``,
        ``MAXK_K``, ``MAXK_K_SCHEDULE``, ``MAXK_SCALE``, ``MAXK_SMALL_GROUPS``,
        ``MAXK_MIXTURE``, ``MAXK_MAJ``; empty = unset), a non-None value of ``given`` (a
        function's arguments, e.g. rLLM's ``configure``) winning over its variable; ``name_of``
        names a field in messages (default ``MAXK_<FIELD>``)."""
        given = {f: v for f, v in (given or {}).items() if v is not None}
        return cls.read(
            lambda f: given[f] if f in given else os.environ.get(f"MAXK_{f.upper()}"),
            name_of or (lambda f: f"MAXK_{f.upper()}"),
            k_hint=k_hint, estimator=estimator, start_step=start_step,
        )

    def ks(self) -> list[int]:
        """Every K these settings reach (the schedule's values, or ``[k]``)."""
        return self.k_schedule.values() if self.k_schedule is not None else [self.k]

    def k_now(self, step: int | None = None) -> int:
        """K of a training call: the schedule's K at ``step`` (or, without a step, at this
        process's count of training calls of these settings; logged on ``maxk.schedule``), else
        the constant K."""
        if self.k_schedule is None:
            return self.k
        key = (self.estimator, repr(self.k_schedule), self.start_step)
        if key not in _SCHEDULES:
            _SCHEDULES[key] = ScheduledK(self.k_schedule, self.start_step)
        return _SCHEDULES[key].k(step)

    def check_group_size(self, n: int, where: Callable[[int], str]) -> None:
        """:func:`check_group_size` for every K these settings reach; ``where(k)`` names the
        framework settings in the message. A mixture needs groups of more than its largest K."""
        if self.maj is not None:
            for k in self.ks():
                try:
                    maxk.maj_advantages(list(range(max(int(n), 0))), [False] * max(int(n), 0), k)
                except ValueError as e:
                    if self.small_groups in ("error", "zero") or n < 1:
                        raise ValueError(f"{where(k)} and maj@K: {e}") from None
            return
        if self.mixture is not None:
            try:
                maxk.mixture_advantages([0.0] * max(int(n), 0), self.mixture)
            except ValueError as e:
                if self.small_groups in ("error", "zero") or n < 1:
                    raise ValueError(f"{where(self.k)} and mixture {self.mixture!r}: {e}") from None
            return
        for k in self.ks():
            check_group_size(self.estimator, k, n, self.scale, self.small_groups, where(k))

    def advantages(self, scores: Any, index: Any, step: int | None = None) -> tuple[Any, dict[str, Any]]:
        """The advantages of a flat batch (sample ``i`` in group ``index[i]``) and the step's
        diagnostics (:func:`maxk.advantages_with_diagnostics`), at :meth:`k_now`; for a
        :attr:`mixture`, its advantages (:func:`mixture_advantages`)."""
        if self.mixture is not None:
            return mixture_advantages(scores, index, self.mixture, self.small_groups)
        if self.maj is not None:
            raise ValueError(
                "maj@K needs each sample's answer key, which this framework's advantage hook does not "
                "receive; maj@K is supported in TRL (MaxKGRPOTrainer, maxk_maj), see docs/python.md"
            )
        return maxk.advantages_with_diagnostics(
            scores, index, self.k_now(step), self.estimator, self.scale, self.small_groups
        )


def outcome_token_advantages(
    settings: Settings, token_level_rewards: Any, response_mask: Any, index: Any
) -> tuple[Any, dict[str, Any]]:
    """The outcome advantages of verl's and SkyRL's estimator signature: each response's reward
    is its row sum of ``token_level_rewards`` ``(bs, response_len)``, its advantage
    (:meth:`Settings.advantages`, groups ``index``) is broadcast over its tokens times
    ``response_mask``. The result has the dtype of ``token_level_rewards * response_mask`` on the
    rewards' device; half-precision rewards are summed and their advantages computed in float32
    (a float16 row sum overflows at 65504), and an advantage that does not fit a half-precision
    result raises ValueError. Returns the advantages and the step's diagnostics."""
    import torch

    with torch.no_grad():
        out_dtype = torch.result_type(token_level_rewards, response_mask)
        rewards = token_level_rewards
        if rewards.is_floating_point() and rewards.dtype.itemsize < 4:
            rewards = rewards.float()
        adv, diag = settings.advantages(rewards.sum(dim=-1), index)
        return maxk._torch_result(adv.unsqueeze(-1) * response_mask, out_dtype, adv.device), diag


def _check_mixture(mixture: str) -> None:
    """The core's ``ValueError`` for a mixture text that does not parse."""
    maxk._maxk.mixture_terms(mixture)


def mixture_advantages(scores: Any, index: Any, mixture: str, small_groups: str) -> tuple[Any, dict[str, Any]]:
    """Mixture-of-K advantages of a flat batch and the step's diagnostics with ``rho@k`` per term
    (:func:`maxk.mixture_diagnostics`). A group too small for the mixture's largest K raises
    under ``small_groups="error"``; under every other rule it gets advantage 0 (a mixture has no
    smaller K to fall back to) and is counted in ``small_groups``."""
    import numpy as np

    from maxk import _as_array, _dense_ids, _named_groups

    array, back = _as_array(scores, "scores")
    ids, labels = _dense_ids(index)
    _, group, sizes = np.unique(ids, return_inverse=True, return_counts=True)
    terms = maxk._maxk.mixture_terms(mixture)
    need = 2 if terms is None else max(k for k, _ in terms) + 1
    keep = sizes[group] >= need if small_groups != "error" else np.ones(array.shape[0], dtype=bool)
    out = np.zeros_like(array)
    if keep.any():
        with _named_groups(labels):
            out[keep] = maxk.mixture_advantages(array[keep], mixture, index=ids[keep])
    diag = maxk.diagnostics(array, ids, 1, estimator=None, advantages=out)
    diag.update(maxk.mixture_diagnostics(array, ids, mixture))
    diag["small_groups"] = int((sizes < need).sum()) if small_groups != "error" else 0
    diag["small_group_samples"] = int((~keep).sum())
    return back(out), diag


def maj_advantages(
    scores: Any, index: Any, answers: Any, k: int, ties: str, small_groups: str
) -> tuple[Any, dict[str, Any]]:
    """maj@K advantages of a flat batch (verdict: score > 0; ``answers`` one key per sample) and
    the step's diagnostics with ``maj@k`` (the mean over groups of the unbiased maj@K). A group
    of at most K samples raises under ``small_groups="error"`` and gets 0 otherwise."""
    import numpy as np

    from maxk import _as_array, _dense_ids, _named_groups

    array, back = _as_array(scores, "scores")
    ids, labels = _dense_ids(index)
    answers = list(answers)
    if len(answers) != array.shape[0]:
        raise ValueError(f"{len(answers)} answer keys for {array.shape[0]} samples: give one per sample")
    _, group, sizes = np.unique(ids, return_inverse=True, return_counts=True)
    keep = sizes[group] > k if small_groups != "error" else np.ones(array.shape[0], dtype=bool)
    correct = np.asarray(array) > 0
    out = np.zeros(array.shape[0], dtype=np.float64)
    if keep.any():
        kept = [a for a, x in zip(answers, keep) if x]
        with _named_groups(labels):
            out[keep] = maxk.maj_advantages(kept, correct[keep], k, index=ids[keep], ties=ties)
    diag = maxk.diagnostics(array, ids, k, estimator=None, advantages=out.astype(array.dtype))
    values = [
        maxk.maj_at_k([answers[i] for i in members], correct[members], k, ties)
        for members in (np.flatnonzero(group == g) for g in range(len(sizes)))
        if len(members) >= k
    ]
    diag["maj@k"] = float(np.mean(values)) if values else None
    diag["small_groups"] = int((sizes <= k).sum()) if small_groups != "error" else 0
    diag["small_group_samples"] = int((~keep).sum())
    return back(out.astype(array.dtype)), diag


def _positive_int(name: str, value: Any) -> int:
    try:
        k = operator.index(value)
    except TypeError:
        text = str(value).strip()
        if not text.isdigit():
            raise ValueError(f"{name}={value!r}: K must be a positive integer") from None
        k = int(text)
    if k < 1:
        raise ValueError(f"{name}={value!r}: K must be a positive integer")
    return k


#: One :class:`ScheduledK` per (estimator, schedule, start step) in this process.
_SCHEDULES: dict[tuple[str, str, int], ScheduledK] = {}


def restart_schedules() -> None:
    """Forgets the training calls counted by the K schedules of this process (a new
    configuration starts its schedules at their start step)."""
    _SCHEDULES.clear()


def scale_from_framework(framework_scale: Any, maxk_scale: str | None, framework_setting: str,
                         maxk_setting: str) -> str:
    """maxk's scale where the framework has its own reward-scaling switch (TRL's and ms-swift's
    ``scale_rewards``): ``"group"`` (their GRPO default) divides each group's maxk advantages by
    the group's std (``std``), ``"none"`` leaves them; a batch-wide scaling is refused (it is not
    a per-group estimator), and so is a ``maxk_setting`` that contradicts ``"group"``."""
    if framework_scale in (True, "true"):
        framework_scale = "group"
    if framework_scale in (False, "false", None):
        framework_scale = "none"
    if framework_scale not in ("group", "none"):
        raise ValueError(
            f"maxk does not support {framework_setting}={framework_scale!r} (a batch-wide scaling is not a "
            f"per-group estimator); use {framework_setting}='none' or 'group', or {maxk_setting}"
        )
    if maxk_scale is None or maxk_scale == "":
        return "std" if framework_scale == "group" else "none"
    if framework_scale == "group" and maxk_scale != "std":
        raise ValueError(
            f"{maxk_setting}={maxk_scale!r} contradicts {framework_setting}='group' (which divides by the group "
            f"std, {maxk_setting}='std'); set {framework_setting}='none' to use {maxk_setting}"
        )
    return str(maxk_scale)


# ---- names ---------------------------------------------------------------------------------


def framework_name(estimator: str, builtin: Iterable[str]) -> str:
    """A framework's name of a maxk id: the id, or ``maxk_<id>`` where the framework already has
    an estimator of that name (verl's, SkyRL's and rLLM's ``rloo`` and ``grpo``)."""
    return f"maxk_{estimator}" if estimator in set(builtin) else estimator


def framework_names(builtin: Iterable[str]) -> dict[str, str]:
    """Framework name -> maxk id, for every maxk estimator."""
    builtin = set(builtin)
    return {framework_name(e, builtin): e for e in maxk.estimators()}


# ---- start-up check ------------------------------------------------------------------------


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


# ---- metrics -------------------------------------------------------------------------------


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
    # a mixture's rho per term and its objective estimate
    out.update({f"{prefix}max@{name[4:]}": v for name, v in diag.items() if name.startswith("rho@")})
    if "objective" in diag:
        out[f"{prefix}mixture_objective"] = diag["objective"]
    if "maj@k" in diag:
        out[f"{prefix}maj@{k}"] = diag["maj@k"]
    return {name: float(v) for name, v in out.items() if v is not None}


class MetricsBuffer:
    """The metrics of the advantage steps of this process since the last :meth:`drain`, for
    frameworks whose advantage hook has no metrics dict of its own (verl, SkyRL, rLLM, slime)."""

    def __init__(self) -> None:
        self._pending: list[dict[str, float]] = []

    def add(self, diag: dict[str, Any]) -> dict[str, float]:
        """Keeps the metrics of one step's diagnostics, and returns them."""
        step = metrics(diag)
        self._pending.append(step)
        return step

    def drain(self) -> dict[str, float]:
        """The metrics since the last call (summed counts, the other values averaged), and
        forgets them."""
        pending, self._pending = self._pending, []
        out: dict[str, float] = {}
        for name in {n for m in pending for n in m}:
            values = [m[name] for m in pending if name in m]
            summed = name.endswith(("small_groups", "small_group_samples", "groups"))
            out[name] = float(sum(values)) if summed else float(sum(values) / len(values))
        return out


# ---- private hooks of a framework ----------------------------------------------------------


def require_hooks(framework: str, owner: Any, hooks: dict[str, tuple[str, ...]], why: str) -> None:
    """Raises RuntimeError unless ``owner`` (a class or module) has every hook of ``hooks``
    (name -> parameter names it must accept, in order, after ``self`` for methods; a wrapper's
    ``*args`` accepts them), naming each missing or changed one. ``why``: what the adapter needs them for."""
    problems = []
    for name, params in hooks.items():
        fn = getattr(owner, name, None)
        if not callable(fn):
            problems.append(f"{name} is missing")
            continue
        try:
            got = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
        except (TypeError, ValueError):
            continue
        if not _accepts(got, params):
            problems.append(f"{name}({', '.join(str(p) for p in got)}) no longer takes ({', '.join(params)})")
    if problems:
        version = getattr(sys.modules.get(framework.lower()), "__version__", "this version")
        raise RuntimeError(
            f"maxk cannot hook {framework} {version}: {getattr(owner, '__qualname__', owner)}." + "; ".join(problems)
            + f". maxk needs these private hooks to {why}; refusing to train on {framework}'s own advantages. "
            f"Install a {framework} version maxk supports (docs/python.md)."
        )


def _accepts(got: list[inspect.Parameter], params: tuple[str, ...]) -> bool:
    """Whether parameters ``got`` take ``params`` positionally, in order; a ``*args`` (a
    wrapper's, Unsloth's) takes whatever remains."""
    for i, expected in enumerate(params):
        if i >= len(got):
            return False
        if got[i].kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if got[i].name != expected:
            return False
    return True


def calls(fn: Any, name: str) -> bool:
    """Whether the code of ``fn`` (a function, or a wrapper whose closure holds one, as
    ``functools.wraps`` and Unsloth's wrappers do) refers to attribute/global ``name``: a check,
    without running it, that a framework method still calls a hook."""
    seen: set[int] = set()

    def visit(obj: Any) -> bool:
        obj = getattr(obj, "__func__", obj)
        if id(obj) in seen:
            return False
        seen.add(id(obj))
        code = getattr(obj, "__code__", obj if hasattr(obj, "co_names") else None)
        if code is None:
            return False
        if name in code.co_names or any(visit(c) for c in code.co_consts if hasattr(c, "co_names")):
            return True
        cells = getattr(obj, "__closure__", None) or ()
        inner = [getattr(obj, "__wrapped__", None)] + [c.cell_contents for c in cells if _cell_set(c)]
        return any(visit(f) for f in inner if callable(f))

    return visit(fn)


def _cell_set(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        m = re.match(r"\d+", piece)
        parts.append(int(m.group()) if m else 0)
    return tuple(parts)


def require_version(framework: str, installed: str, tested: tuple[str, str], hook: str) -> None:
    """Raises RuntimeError unless ``tested[0] <= installed <= tested[1]`` (release numbers; a
    ``.x`` upper bound admits every patch release), naming the private hook that depends on it.
    For adapters that copy a framework's private code (OpenRLHF), where a present hook with a
    changed body cannot be detected."""
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


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Runs ``patch(module)`` right after ``name`` is imported, so that a hook costs nothing in
    processes that never import it (Ray workers of other roles)."""

    def __init__(self, name: str, patch: Callable[[ModuleType], None]) -> None:
        self.name, self.patch = name, patch

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader, self.patch)
        return spec


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, patch: Callable[[ModuleType], None]) -> None:
        self._loader, self._patch = loader, patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)


def patch_on_import(name: str, patch: Callable[[ModuleType], None]) -> None:
    """``patch(module)`` now if module ``name`` is imported, else as soon as it is (idempotent
    per ``name``; ``patch`` itself must be idempotent)."""
    module = sys.modules.get(name)
    if module is not None:
        patch(module)
    elif not any(isinstance(f, _PatchOnImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport(name, patch))
