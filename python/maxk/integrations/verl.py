"""Every maxk estimator as a verl advantage estimator: MaxPO is a config change.

How it gets loaded (verl 0.9.1, checked in its source): ``verl/__init__.py`` loads every entry
point of the group ``verl.plugins`` on ``import verl`` (unless ``VERL_USE_EXTERNAL_PLUGINS=none``,
or a list of names without ``maxk``). The ``maxk`` wheel declares
``maxk = "maxk.integrations.verl"`` in that group, and importing this module registers the
estimators with verl's own ``core_algos.register_adv_est``. Every process that imports verl,
the driver and each Ray worker (the trainer's ``TaskRunner`` included), therefore knows them as
soon as ``maxk`` is pip-installed on each node; nothing else is needed::

    python3 -m verl.trainer.main_ppo algorithm.adv_estimator=maxpo +algorithm.maxk_k=4 \\
        actor_rollout_ref.rollout.n=8 ...

Note that verl swallows a plugin's import error (it logs it at DEBUG level only): if verl says
``Unknown advantage estimator simply: maxpo``, run ``python -c "import maxk.integrations.verl"``
on that node to see the error. Where entry points are disabled, ``VERL_USE_EXTERNAL_MODULES=
maxk.integrations.verl`` (read by the same ``verl/__init__.py``) imports the module instead.

Names: each maxk id unchanged (``maxpo``, ``pkpo``, ``pkpo-loo``, ``pkpo-loo1``, ``ei``,
``canonical``, ``dr-grpo``, ``best-minus-second``, ``passk-analytic``), except the ids verl already
uses, which get a ``maxk_`` prefix: ``maxk_rloo`` and ``maxk_grpo``. :data:`VERL_NAMES` maps each
verl name to its maxk id.

Config keys, read from ``config`` (verl passes ``algorithm``), added with Hydra's ``+``:

- ``algorithm.maxk_k`` (int): K of max@K; required by the estimators that use K.
- ``algorithm.maxk_scale`` (``none`` | ``std`` | ``pg``, default ``none``). verl's
  ``norm_adv_by_std_in_grpo`` is not read: it is a GRPO switch that defaults to true.

The outcome reward of a response is ``token_level_rewards.sum(-1)``; responses are grouped by
``index`` (verl's ``uid``; groups may differ in size), and each response's advantage is
broadcast over its tokens times ``response_mask``, as verl's GRPO does. Returns equal advantages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from verl.trainer.ppo import core_algos

import maxk

__all__ = ["VERL_NAMES", "compute_maxk_outcome_advantage", "register", "verl_name"]

#: verl ``algorithm.adv_estimator`` name -> maxk estimator id (filled by :func:`register`).
VERL_NAMES: dict[str, str] = {}


def _verl_builtin_names() -> set[str]:
    return {e.value for e in core_algos.AdvantageEstimator}


def verl_name(estimator: str) -> str:
    """The ``algorithm.adv_estimator`` value of a maxk estimator id: the id itself, or
    ``maxk_<id>`` where verl already has an estimator of that name (``rloo``, ``grpo``)."""
    return f"maxk_{estimator}" if estimator in _verl_builtin_names() else estimator


def _config_get(config: Any, key: str, default: Any) -> Any:
    """``config[key]`` for an omegaconf DictConfig, a verl dataclass config, a dict or None."""
    if config is None:
        return default
    get = getattr(config, "get", None)
    if callable(get):
        try:
            return get(key, default)
        except (AttributeError, KeyError, TypeError):
            pass
    return getattr(config, key, default)


def compute_maxk_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray | None = None,
    config: Any = None,
    *,
    estimator: str = "maxpo",
    maxk_k: int | None = None,
    maxk_scale: str | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Outcome advantages of a maxk estimator, with verl's advantage-estimator signature.

    Args:
        token_level_rewards: ``(bs, response_length)``; a response's reward is its row sum.
        response_mask: ``(bs, response_length)``.
        index: ``(bs,)`` group id per response (verl's ``uid``, any hashable ids).
        config: verl's ``algorithm`` config; ``maxk_k`` and ``maxk_scale`` are read from it.
        estimator: the maxk estimator id (set by the registered wrappers).
        maxk_k, maxk_scale: override the config values (for direct calls).
        kwargs: the other arguments verl may pass (``reward_baselines``, ...), ignored.

    Returns:
        ``(advantages, returns)``, both ``(bs, response_length)``, equal, in the rewards' dtype
        and on their device.
    """
    del kwargs
    if index is None:
        raise ValueError(
            f"maxk estimator {estimator!r} needs the group id of each response "
            "(verl passes DataProto.non_tensor_batch['uid'] as index)"
        )
    k = maxk_k if maxk_k is not None else _config_get(config, "maxk_k", None)
    scale = maxk_scale if maxk_scale is not None else _config_get(config, "maxk_scale", "none")
    if k is None:
        if maxk.estimator_info(estimator).uses_k:
            raise ValueError(
                f"maxk estimator {estimator!r} needs K: add +algorithm.maxk_k=K to the verl command "
                "line (e.g. +algorithm.maxk_k=4 to train for max@4)"
            )
        k = 1
    with torch.no_grad():
        scores = token_level_rewards.sum(dim=-1)
        adv = maxk.advantages_by_index(scores, index, int(k), estimator, str(scale))
        adv = adv.unsqueeze(-1) * response_mask
    return adv, adv


def _estimator_fn(estimator: str) -> Any:
    def fn(
        token_level_rewards: torch.Tensor,
        response_mask: torch.Tensor,
        index: np.ndarray | None = None,
        config: Any = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return compute_maxk_outcome_advantage(
            token_level_rewards, response_mask, index, config, estimator=estimator, **kwargs
        )

    fn.__name__ = fn.__qualname__ = f"compute_maxk_{estimator.replace('-', '_')}_outcome_advantage"
    fn.__doc__ = f"verl advantage estimator: maxk {estimator!r}. {maxk.estimator_info(estimator).description}"
    fn._maxk_estimator = estimator  # type: ignore[attr-defined]
    return fn


def register() -> dict[str, str]:
    """Registers every maxk estimator in verl's ``ADV_ESTIMATOR_REGISTRY`` (idempotent; runs on
    import). Returns :data:`VERL_NAMES`, verl name -> maxk id."""
    registry = core_algos.ADV_ESTIMATOR_REGISTRY
    for estimator in maxk.estimators():
        name = verl_name(estimator)
        existing = registry.get(name)
        if existing is not None and getattr(existing, "_maxk_estimator", None) == estimator:
            VERL_NAMES[name] = estimator
            continue
        core_algos.register_adv_est(name)(_estimator_fn(estimator))
        VERL_NAMES[name] = estimator
    return dict(VERL_NAMES)


register()
