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

rLLM's ``AlgorithmConfig`` has no free-form keys, so K, the scale, the small-group rule and the K
schedule are set by :func:`configure` in the launching script (or ``MAXK_K``, ``MAXK_SCALE``,
``MAXK_SMALL_GROUPS``, ``MAXK_K_SCHEDULE``, ``MAXK_MIXTURE`` in the environment; :func:`configure`
wins; :meth:`maxk.integrations._common.Settings.from_env`). Note that
``AlgorithmConfig.from_config`` turns an unknown ``rllm.algorithm.adv_estimator`` into ``OTHER``;
select maxk through the role map above or by setting ``algorithm_config.estimator = "maxpo"`` on
the built config.

:func:`configure` checks its values at once (a bad scale, rule, K or schedule is an error there,
not at the first step; ``configure(k=..., group_size=8)`` also checks K against the group size).
The small-group rule defaults to ``zero``, as in every adapter. Each step's ``maxk/*``
diagnostics are logged (logger ``maxk.integrations.rllm``, INFO) and kept for
:func:`drain_metrics`.

The hook receives no training step: the K schedule advances once per training call of the role
(:class:`maxk.schedule.ScheduledK`), logged on the ``maxk.schedule`` logger.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from rllm.trainer.algorithms import advantage as rllm_advantage

import maxk

from ._common import MetricsBuffer, Settings, framework_name, restart_schedules

__all__ = ["RLLM_NAMES", "compute_advantages", "configure", "drain_metrics", "register", "rllm_name"]

logger = logging.getLogger(__name__)

#: rLLM estimator name -> maxk id (filled by :func:`register`).
RLLM_NAMES: dict[str, str] = {}

#: How to set K for rLLM.
K_HINT = "call maxk.integrations.rllm.configure(k=...) or set MAXK_K in the environment"

_configured: dict[str, Any] = {}
_METRICS = MetricsBuffer()


def configure(
    k: int | None = None,
    *,
    scale: str | None = None,
    k_schedule: Any = None,
    small_groups: str | None = None,
    mixture: str | None = None,
    start_step: int = 0,
    group_size: int | None = None,
) -> None:
    """Sets K (or a K schedule, see :mod:`maxk.schedule`), the scale, the small-group rule and a
    mixture of K (``"1:1,8:0.5"``, ``"harmonic"``: trained on instead of the estimator) for
    every maxk estimator of this process; ``start_step`` starts the schedule there (resumed
    runs). With ``group_size`` (rollouts per task) K is checked against it for MaxPO. Every value
    is checked here."""
    values = {"k": k, "k_schedule": k_schedule, "scale": scale, "small_groups": small_groups, "mixture": mixture}
    _read(values, "rloo", start_step)  # checks every value but K's need
    if group_size is not None and (k is not None or k_schedule is not None or mixture is not None):
        _read(values, "maxpo", start_step).check_group_size(
            group_size, lambda kk: f"maxk.integrations.rllm.configure(k={kk}, group_size={group_size})"
        )
    _configured.clear()
    _configured.update(values, start_step=start_step)
    restart_schedules()


def _read(values: dict[str, Any], estimator: str, start_step: int = 0) -> Settings:
    return Settings.from_env(
        k_hint=K_HINT, estimator=estimator, given=values,
        name_of=lambda name: f"configure({name}=...) / MAXK_{name.upper()}", start_step=start_step,
    )


def rllm_name(estimator: str) -> str:
    """rLLM's name of a maxk id: the id, or ``maxk_<id>`` where rLLM has one of that name."""
    return framework_name(estimator, {e.value for e in rllm_advantage.rLLMAdvantageEstimator})


def compute_advantages(
    rewards: list[np.ndarray], algorithm_config: Any = None, *, estimator: str = "maxpo", **kwargs: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """maxk advantages with rLLM's estimator signature: one array per trajectory group in, the
    advantages (and, as rLLM's GRPO does, the same arrays as returns) out."""
    del algorithm_config, kwargs
    if not rewards:
        return [], []
    settings = _read(_configured, estimator, _configured.get("start_step", 0))
    arrays = [np.asarray(r, dtype=np.float64).reshape(-1) for r in rewards]
    sizes = [len(a) for a in arrays]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.uint64)
    group_of = np.repeat(np.arange(len(arrays), dtype=np.uint64), sizes)
    flat, diag = settings.advantages(np.concatenate(arrays), group_of)
    logger.info("maxk step: %s", _METRICS.add(diag))
    advantages = [flat[int(offsets[g]) : int(offsets[g + 1])] for g in range(len(arrays))]
    return advantages, advantages


def drain_metrics() -> dict[str, float]:
    """The ``maxk/*`` diagnostics of the advantage steps of this process since the last call."""
    return _METRICS.drain()


def _estimator_fn(estimator: str) -> Any:
    def fn(rewards: list[np.ndarray], algorithm_config: Any = None, **kwargs: Any) -> Any:
        return compute_advantages(rewards, algorithm_config, estimator=estimator, **kwargs)

    fn.__name__ = fn.__qualname__ = f"maxk_{estimator.replace('-', '_')}_advantages"
    fn.__doc__ = f"rLLM advantage estimator: maxk {estimator!r}. {maxk.estimator_info(estimator).description}"
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
