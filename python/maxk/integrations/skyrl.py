"""SkyRL: every maxk estimator in SkyRL's ``AdvantageEstimatorRegistry``.

Where SkyRL computes advantages (skyrl 0.4.0 from PyPI, ``skyrl/backends/skyrl_train/utils/
ppo_utils.py`` and ``skyrl/train/trainer.py``): ``RayPPOTrainer.compute_advantages_and_returns``
calls the estimator registered under ``trainer.algorithm.advantage_estimator`` with
``token_level_rewards`` ``(bs, response_len)``, ``response_mask``, ``index`` (the prompt uid of
each response: the group) and ``config`` (the algorithm config), as verl does. Registrations
are pickled to a named Ray actor (``sync_registries`` in ``initialize_ray``) and fetched by the
trainer process, so they must happen in the driver before Ray starts.

The launcher does that: it registers every maxk id (``rloo`` and ``grpo``, which SkyRL has, as
``maxk_rloo`` and ``maxk_grpo``), reads the ``maxk.*`` arguments, and hands the rest of the command
line to SkyRL's own ``main_base.main``::

    python -m maxk.integrations.skyrl trainer.algorithm.advantage_estimator=maxpo maxk.k=4 \\
        generator.n_samples_per_prompt=8 ...        # every other SkyRL override unchanged

SkyRL's own entry point reaches it too: ``python -m skyrl.train.entrypoints.main_base
trainer.override_entrypoint=maxk.integrations.skyrl ...``. SkyRL's typed ``AlgorithmConfig``
rejects unknown keys, hence the separate ``maxk.*`` arguments:

- ``maxk.k=4`` or ``maxk.k_schedule=linear:2:8:200`` (:mod:`maxk.schedule`);
- ``maxk.scale=none|std|pg`` (SkyRL's ``grpo_norm_by_std`` is not read: it is a GRPO switch);
- ``maxk.small_groups=zero|error|shrink-k|centered-ei`` (default ``zero``, as every adapter):
  what a group that cannot carry the estimator at K gets.

The launcher checks them at start-up: a maxk ``advantage_estimator`` without its K, or a K that
``generator.n_samples_per_prompt`` cannot carry, stops it with a message naming the setting.
Each step's ``maxk/*`` diagnostics are logged (logger ``maxk.integrations.skyrl``, INFO) and
kept for :func:`drain_metrics`.

The values are bound into the registered functions, so they reach the trainer process with them.
The registry hook receives no step: a K schedule advances once per training call of the
trainer process (:class:`maxk.schedule.ScheduledK`), logged on the ``maxk.schedule`` logger.
Each response's advantage is broadcast over its tokens times ``response_mask``.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

import numpy as np
import torch
from skyrl.backends.skyrl_train.utils import ppo_utils

import maxk

from ._common import FIELDS, MetricsBuffer, Settings, framework_name, outcome_token_advantages

__all__ = ["SKYRL_NAMES", "compute_maxk_outcome_advantage", "drain_metrics", "main", "register", "skyrl_name"]

logger = logging.getLogger(__name__)

#: SkyRL ``advantage_estimator`` name -> maxk id (filled by :func:`register`).
SKYRL_NAMES: dict[str, str] = {}

#: The ``maxk.*`` settings of the launcher's command line: every field but the estimator (the
#: ``advantage_estimator``) and maj@K (whose answer keys SkyRL's hook does not receive).
SETTINGS = tuple(f for f in FIELDS if f not in ("estimator", "maj"))

#: How to set K on SkyRL's command line.
K_HINT = "add maxk.k=K (or maxk.k_schedule=...) to the command line of python -m maxk.integrations.skyrl"

_METRICS = MetricsBuffer()


def skyrl_name(estimator: str) -> str:
    """SkyRL's name of a maxk id: the id, or ``maxk_<id>`` where SkyRL has one of that name."""
    return framework_name(estimator, {e.value for e in ppo_utils.AdvantageEstimator})


def _settings(values: dict[str, Any], estimator: str) -> Settings:
    return Settings.read(values.get, lambda name: f"maxk.{name}", k_hint=K_HINT, estimator=estimator)


def compute_maxk_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray | list[Any] | None = None,
    *,
    estimator: str = "maxpo",
    settings: Settings | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Outcome advantages of a maxk estimator with SkyRL's estimator signature; ``kwargs`` (the
    ``values``, ``gamma``, ``config``, ... SkyRL passes to every estimator) are ignored. As verl's
    (:func:`maxk.integrations._common.outcome_token_advantages`): half-precision rewards are
    summed in float32 and the result has their dtype. The step's diagnostics wait in :func:`drain_metrics` (and are logged at INFO)."""
    del kwargs
    if index is None:
        raise ValueError(f"maxk estimator {estimator!r} needs the prompt uid of each response (index)")
    if settings is None:
        settings = _settings({}, estimator)
    adv, diag = outcome_token_advantages(settings, token_level_rewards, response_mask, np.asarray(index, dtype=object))
    logger.info("maxk step: %s", _METRICS.add(diag))
    return adv, adv


def drain_metrics() -> dict[str, float]:
    """The ``maxk/*`` diagnostics of the advantage steps of this process since the last call."""
    return _METRICS.drain()


def register(
    k: Any = None,
    *,
    scale: str | None = None,
    k_schedule: Any = None,
    small_groups: str | None = None,
    mixture: str | None = None,
    replace: bool = True,
) -> dict[str, str]:
    """Registers every maxk estimator in SkyRL's registry with these settings.

    ``k``/``k_schedule``: K or a schedule (:meth:`maxk.schedule.KSchedule.parse`); ``scale``:
    ``none`` (default), ``std`` or ``pg``; ``small_groups``: the small-group rule (default
    ``zero``); ``mixture``: a mixture of K trained on instead of the estimator (``"1:1,8:0.5"``,
    ``"harmonic"``). Call it in the driver before Ray starts (the launcher does). ``replace=False``
    keeps names already registered (the import-time registration, which also runs in the
    trainer process when it unpickles the configured functions). Returns :data:`SKYRL_NAMES`.
    """
    values = {"k": k, "k_schedule": k_schedule, "scale": scale, "small_groups": small_groups, "mixture": mixture}
    no_k = k is None and k_schedule is None and mixture is None
    registry = ppo_utils.AdvantageEstimatorRegistry
    bound = {}
    for estimator in maxk.estimators():  # every setting checked before anything is registered
        needs_k = no_k and maxk.estimator_info(estimator).uses_k
        bound[estimator] = None if needs_k else _settings(values, estimator)
    for estimator, settings in bound.items():
        name = skyrl_name(estimator)
        # A partial of a module-level function pickles by reference: the trainer process runs
        # this module's code (and shares its schedule state), with the settings bound here.
        fn = functools.partial(compute_maxk_outcome_advantage, estimator=estimator, settings=settings)
        if name in registry.list_available():
            if not replace:
                SKYRL_NAMES[name] = estimator
                continue
            registry.unregister(name)
        registry.register(name, fn)
        SKYRL_NAMES[name] = estimator
    return dict(SKYRL_NAMES)


def _split_argv(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """SkyRL's overrides, and the ``maxk.*`` settings (``trainer.override_entrypoint`` dropped)."""
    rest, settings = [], {}
    for arg in argv:
        if arg.startswith("trainer.override_entrypoint="):
            continue
        key, eq, value = arg.lstrip("+").partition("=")
        if eq and key.startswith("maxk."):
            name = key[len("maxk.") :]
            if name not in SETTINGS:
                raise SystemExit(f"unknown setting {key}; known: {', '.join('maxk.' + s for s in SETTINGS)}")
            settings[name] = value
        else:
            rest.append(arg)
    return rest, settings


def check_command_line(rest: list[str], settings: dict[str, str]) -> None:
    """Start-up check of the SkyRL overrides: a maxk ``trainer.algorithm.advantage_estimator``
    needs its K, and K must fit ``generator.n_samples_per_prompt`` (when given)."""
    overrides = dict(arg.lstrip("+").partition("=")[::2] for arg in rest if "=" in arg)
    name = overrides.get("trainer.algorithm.advantage_estimator")
    if name not in SKYRL_NAMES:
        return
    checked = _settings(settings, SKYRL_NAMES[name])
    n = overrides.get("generator.n_samples_per_prompt")
    if n is not None:
        checked.check_group_size(
            int(n),
            lambda k: f"trainer.algorithm.advantage_estimator={name} with maxk.k={k} and generator.n_samples_per_prompt={n}",
        )


def main(argv: list[str] | None = None) -> None:
    """``python -m maxk.integrations.skyrl [SkyRL overrides] [maxk.k=K] [maxk.scale=S] ...``."""
    rest, settings = _split_argv(sys.argv[1:] if argv is None else argv)
    register(**settings)
    check_command_line(rest, settings)
    from skyrl.train.entrypoints import main_base

    sys.argv = [sys.argv[0], *rest]
    main_base.main()


register(replace=False)

if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: the registered functions must
    # belong to the importable module for the trainer process to unpickle them by reference.
    from maxk.integrations.skyrl import main as _main

    _main()
