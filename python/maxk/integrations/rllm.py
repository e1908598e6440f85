"""rLLM: every maxk estimator in rLLM's advantage-estimator registry.

Where rLLM computes advantages (rllm 0.3.0.pre, read in ``rllm/trainer/algorithms/advantage.py``;
rLLM is not on PyPI): ``collect_reward_and_advantage_from_trajectory_groups`` calls, once per
group role and training step, the estimator registered under the configured name with
``rewards: list[np.ndarray]`` (one 1-D array of trajectory rewards per ``TrajectoryGroup``, so the
groups are explicit) and ``algorithm_config``; it broadcasts each trajectory's scalar advantage
over its steps. Importing this module registers every maxk id with rLLM's own
``register_rllm_adv_estimator`` (``rloo`` and ``grpo``, which rLLM has, as ``maxk_rloo`` and
``maxk_grpo``)::

    import maxk.integrations.rllm as maxk_rllm
    maxk_rllm.configure(k=4)                     # or k_schedule="linear:2:8:200", scale="pg"
    trainer = AgentTrainer(..., traj_group_adv_estimator_map={"solver": "maxpo"})

rLLM's ``AlgorithmConfig`` has no free-form keys, so K, the scale and the K schedule are set by
:func:`configure` in the launching script (or ``MAXK_K``, ``MAXK_SCALE``, ``MAXK_K_SCHEDULE`` in
the environment). Note that ``AlgorithmConfig.from_config`` turns an unknown
``rllm.algorithm.adv_estimator`` into ``OTHER``; select maxk through the role map above or by
setting ``algorithm_config.estimator = "maxpo"`` on the built config.

The hook receives no training step: the K schedule advances once per training call of the role
(:class:`maxk.schedule.ScheduledK`), logged on the ``maxk.schedule`` logger.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from rllm.trainer.algorithms import advantage as rllm_advantage

import maxk
from maxk.schedule import KSchedule, ScheduledK

__all__ = ["RLLM_NAMES", "compute_advantages", "configure", "register", "rllm_name"]

#: rLLM estimator name -> maxk id (filled by :func:`register`).
RLLM_NAMES: dict[str, str] = {}

_settings: dict[str, Any] = {"k": None, "scale": None, "schedules": {}}


def configure(
    k: int | None = None, *, scale: str | None = None, k_schedule: Any = None, start_step: int = 0
) -> None:
    """Sets K (or a K schedule, see :mod:`maxk.schedule`) and the scale for every maxk
    estimator of this process. ``start_step`` starts the schedule there (resumed runs)."""
    if k is not None and k_schedule is not None:
        raise ValueError("configure: give k or k_schedule, not both")
    given = k_schedule if k_schedule is not None else k
    schedule = KSchedule.parse(given) if given is not None else None
    _settings.update(k=schedule, scale=scale, start_step=start_step, schedules={})


def _schedule(estimator: str) -> ScheduledK | None:
    """The scheduled K of an estimator: :func:`configure`, else the environment."""
    schedules: dict[str, ScheduledK] = _settings["schedules"]
    if estimator not in schedules:
        spec = _settings["k"]
        if spec is None:
            spec = os.environ.get("MAXK_K_SCHEDULE") or os.environ.get("MAXK_K")
        if spec is None:
            return None
        schedules[estimator] = ScheduledK(spec, _settings.get("start_step", 0))
    return schedules[estimator]


def rllm_name(estimator: str) -> str:
    """rLLM's name of a maxk id: the id, or ``maxk_<id>`` where rLLM has one of that name."""
    builtin = {e.value for e in rllm_advantage.rLLMAdvantageEstimator}
    return f"maxk_{estimator}" if estimator in builtin else estimator


def compute_advantages(
    rewards: list[np.ndarray], algorithm_config: Any = None, *, estimator: str = "maxpo", **kwargs: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """maxk advantages with rLLM's estimator signature: one array per trajectory group in, the
    advantages (and, as rLLM's GRPO does, the same arrays as returns) out."""
    del algorithm_config, kwargs
    if not rewards:
        return [], []
    scheduled = _schedule(estimator)
    if scheduled is None and maxk._estimator_uses_k(estimator):
        raise ValueError(
            f"maxk estimator {estimator!r} needs K: call maxk.integrations.rllm.configure(k=...) "
            "or set MAXK_K in the environment"
        )
    k = scheduled.k() if scheduled is not None else 1
    scale = _settings["scale"] or os.environ.get("MAXK_SCALE", "none")
    arrays = [np.asarray(r, dtype=np.float64).reshape(-1) for r in rewards]
    sizes = [len(a) for a in arrays]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.uint64)
    group_of = np.repeat(np.arange(len(arrays), dtype=np.uint64), sizes)
    flat = maxk.advantages_by_index(np.concatenate(arrays), group_of, k, estimator, scale)
    advantages = [flat[int(offsets[g]) : int(offsets[g + 1])] for g in range(len(arrays))]
    return advantages, advantages


def _estimator_fn(estimator: str) -> Any:
    def fn(rewards: list[np.ndarray], algorithm_config: Any = None, **kwargs: Any) -> Any:
        return compute_advantages(rewards, algorithm_config, estimator=estimator, **kwargs)

    fn.__name__ = fn.__qualname__ = f"maxk_{estimator.replace('-', '_')}_advantages"
    fn.__doc__ = f"rLLM advantage estimator: maxk {estimator!r}. {maxk.estimators()[estimator]}"
    return fn


def register() -> dict[str, str]:
    """Registers every maxk estimator with rLLM (idempotent; runs on import). Returns
    :data:`RLLM_NAMES`, rLLM name -> maxk id."""
    for estimator in maxk.estimators():
        name = rllm_name(estimator)
        rllm_advantage.register_rllm_adv_estimator(name)(_estimator_fn(estimator))
        RLLM_NAMES[name] = estimator
    return dict(RLLM_NAMES)


register()
