"""slime: maxk advantages through slime's reward post-processing hook.

Where slime computes GRPO advantages (THUDM/slime, read in ``slime/ray/rollout.py`` and
``slime/backends/megatron_utils/loss.py``; slime is not on PyPI): the rollout manager's
``_post_process_rewards(samples)`` turns the raw rewards of the whole rollout batch into
group-normalised ones (groups of ``n_samples_per_prompt``), and the training side's ``grpo``
estimator broadcasts each sample's value over its tokens. ``--custom-reward-post-process-path``
replaces the first step with a function ``(args, samples) -> (raw_rewards, rewards)``; this
module's :func:`reward_post_process` is that function, so with ``--advantage-estimator grpo``
every token of a sample gets its maxk advantage::

    python train.py ... --advantage-estimator grpo \\
        --custom-reward-post-process-path maxk.integrations.slime.reward_post_process \\
        --custom-config-path maxk.yaml         # maxk_estimator: maxpo / maxk_k: 4

(``--custom-advantage-function-path`` is the other hook slime offers, but it runs on each
data-parallel shard of the training batch, where a prompt's samples may be split; the reward
hook sees the whole batch.) Settings come from ``args``, i.e. from slime's
``--custom-config-path`` YAML, whose keys become attributes of ``args``:

- ``maxk_estimator`` (default ``maxpo``), any id of ``maxk.estimators()``;
- ``maxk_k`` (int) or ``maxk_k_schedule`` (see :mod:`maxk.schedule`: ``"linear:2:8:200"`` or a
  mapping), stepped by slime's rollout id;
- ``maxk_scale``: ``none`` (default), ``std`` or ``pg``;
- ``maxk_small_groups``: the rule for a group that cannot carry the estimator at K (default
  ``zero``, as every adapter; ``error``, ``shrink-k``, ``centered-ei``);
- ``maxk_reward_keys`` (list) and ``maxk_weights``: multi-objective max@K, one axis per key of
  the samples' reward dicts (:func:`maxk.multi_objective_advantages`).

Groups are the samples' ``group_index`` (slime sets it per prompt), or consecutive blocks of
``n_samples_per_prompt`` where it is missing. The raw rewards are returned unchanged for
slime's logging (the weighted sum of the axes in the multi-objective case). Each batch's
``maxk/*`` diagnostics are logged (logger ``maxk.integrations.slime``, INFO) and kept for
:func:`drain_metrics`. slime gives the hook no start-up call: the settings are checked on the
first rollout batch, before any training step.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

import maxk

from ._common import MetricsBuffer, Settings

__all__ = ["drain_metrics", "reward_post_process"]

logger = logging.getLogger(__name__)

#: How to set K for slime.
K_HINT = "set maxk_k (or maxk_k_schedule) in the YAML given to --custom-config-path"

_METRICS = MetricsBuffer()


def _rollout_id() -> int | None:
    """slime's current rollout id (its training step), when slime is importable."""
    try:
        from slime.rollout import sample_hooks
    except ImportError:
        return None
    return getattr(sample_hooks, "_current_rollout_id", None)


def _settings(args: Any) -> Settings:
    return Settings.read(
        lambda name: getattr(args, f"maxk_{name}", None),
        lambda name: f"maxk_{name} (--custom-config-path YAML)",
        k_hint=K_HINT,
    )


def drain_metrics() -> dict[str, float]:
    """The ``maxk/*`` diagnostics of the reward batches of this process since the last call."""
    return _METRICS.drain()


def _flatten(samples: Any) -> list[Any]:
    if samples and isinstance(samples[0], list):
        return [s for group in samples for s in group]
    return list(samples)


def _group_ids(args: Any, samples: list[Any]) -> np.ndarray:
    ids = [getattr(s, "group_index", None) for s in samples]
    if all(i is not None for i in ids):
        return np.asarray(ids, dtype=np.int64)
    n = int(getattr(args, "n_samples_per_prompt", 0) or 0)
    if n <= 0 or len(samples) % n != 0:
        raise ValueError(
            f"maxk: samples have no group_index and {len(samples)} samples do not split into groups of "
            f"n_samples_per_prompt = {n}"
        )
    return np.arange(len(samples), dtype=np.int64) // n


def reward_post_process(args: Any, samples: Any) -> tuple[list[float], list[float]]:
    """slime's ``--custom-reward-post-process-path`` hook: ``(raw_rewards, maxk advantages)``."""
    samples = _flatten(samples)
    if not samples:
        return [], []
    settings = _settings(args)
    step = _rollout_id()
    groups = _group_ids(args, samples)
    keys = getattr(args, "maxk_reward_keys", None)
    if not keys:
        raw = [float(s.get_reward_value(args)) for s in samples]
        adv, diag = settings.advantages(np.asarray(raw), groups, step)
        logger.info("maxk rollout %s: %s", step, _METRICS.add(diag))
        return raw, adv.tolist()
    if settings.mixture is not None or settings.maj is not None:
        given = "maxk_mixture" if settings.mixture is not None else "maxk_maj"
        raise ValueError(f"maxk_reward_keys={list(keys)!r} (multi-objective max@K) does not combine with {given}")
    k = settings.k_now(step)
    weights = getattr(args, "maxk_weights", None)
    weights = [1.0] * len(keys) if weights is None else [float(w) for w in weights]
    rows = np.asarray([[float(s.reward[key]) for key in keys] for s in samples], dtype=np.float64)
    order = np.argsort(groups, kind="stable")
    _, counts = np.unique(groups[order], return_counts=True)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    sorted_adv = maxk.multi_objective_advantages(
        rows[order], k, weights=weights, estimator=settings.estimator, scale=settings.scale, offsets=offsets
    )
    adv = np.empty(len(samples))
    adv[order] = sorted_adv
    raw = (rows @ np.asarray(weights)).tolist()
    return raw, adv.tolist()
