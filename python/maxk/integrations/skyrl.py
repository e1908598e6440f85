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
- ``maxk.scale=none|std|pg`` (SkyRL's ``grpo_norm_by_std`` is not read: it is a GRPO switch).

The values are bound into the registered functions, so they reach the trainer process with them.
The registry hook receives no step: a K schedule advances once per training call of the
trainer process (:class:`maxk.schedule.ScheduledK`), logged on the ``maxk.schedule`` logger.
Each response's advantage is broadcast over its tokens times ``response_mask``.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import numpy as np
import torch
from skyrl.backends.skyrl_train.utils import ppo_utils

import maxk
from maxk.schedule import KSchedule, ScheduledK

__all__ = ["SKYRL_NAMES", "compute_maxk_outcome_advantage", "main", "register", "skyrl_name"]

#: SkyRL ``advantage_estimator`` name -> maxk id (filled by :func:`register`).
SKYRL_NAMES: dict[str, str] = {}

#: One schedule per (estimator, schedule) in this process; lives in the module so that the
#: functions unpickled in the trainer process share it.
_SCHEDULES: dict[tuple[str, str], ScheduledK] = {}


def skyrl_name(estimator: str) -> str:
    """SkyRL's name of a maxk id: the id, or ``maxk_<id>`` where SkyRL has one of that name."""
    builtin = {e.value for e in ppo_utils.AdvantageEstimator}
    return f"maxk_{estimator}" if estimator in builtin else estimator


def compute_maxk_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray | list[Any] | None = None,
    *,
    estimator: str = "maxpo",
    k_schedule: dict[str, Any] | None = None,
    scale: str = "none",
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Outcome advantages of a maxk estimator with SkyRL's estimator signature; ``kwargs`` (the
    ``values``, ``gamma``, ``config``, ... SkyRL passes to every estimator) are ignored."""
    del kwargs
    if index is None:
        raise ValueError(f"maxk estimator {estimator!r} needs the prompt uid of each response (index)")
    if k_schedule is None:
        if maxk._estimator_uses_k(estimator):
            raise ValueError(
                f"maxk estimator {estimator!r} needs K: add maxk.k=K (or maxk.k_schedule=...) to the "
                "command line of python -m maxk.integrations.skyrl"
            )
        k = 1
    else:
        key = (estimator, repr(sorted(k_schedule.items())))
        if key not in _SCHEDULES:
            _SCHEDULES[key] = ScheduledK(KSchedule.parse(k_schedule))
        k = _SCHEDULES[key].k()
    with torch.no_grad():
        scores = token_level_rewards.sum(dim=-1)
        adv = maxk.advantages_by_index(scores, np.asarray(index, dtype=object), k, estimator, scale)
        adv = adv.unsqueeze(-1) * response_mask
    return adv, adv


def register(
    k: Any = None, *, scale: str = "none", k_schedule: Any = None, replace: bool = True
) -> dict[str, str]:
    """Registers every maxk estimator in SkyRL's registry with these settings.

    ``k``/``k_schedule``: K or a schedule (:meth:`maxk.schedule.KSchedule.parse`); ``scale``:
    ``none``, ``std`` or ``pg``. Call it in the driver before Ray starts (the launcher does).
    ``replace=False`` keeps names already registered (the import-time registration, which also
    runs in the trainer process when it unpickles the configured functions). Returns
    :data:`SKYRL_NAMES`.
    """
    if k is not None and k_schedule is not None:
        raise ValueError("register: give k or k_schedule, not both")
    given = k_schedule if k_schedule is not None else k
    schedule = KSchedule.parse(given).to_dict() if given is not None else None
    maxk.advantages(np.zeros(2), 1, "maxpo", scale)  # an unknown scale fails here, not at step 1
    registry = ppo_utils.AdvantageEstimatorRegistry
    for estimator in maxk.estimators():
        name = skyrl_name(estimator)
        # A partial of a module-level function pickles by reference: the trainer process runs
        # this module's code (and shares its schedule state), with the settings bound here.
        fn = functools.partial(compute_maxk_outcome_advantage, estimator=estimator, k_schedule=schedule, scale=scale)
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
            if name not in ("k", "k_schedule", "scale"):
                raise SystemExit(f"unknown setting {key}; known: maxk.k, maxk.k_schedule, maxk.scale")
            settings[name] = value
        else:
            rest.append(arg)
    return rest, settings


def main(argv: list[str] | None = None) -> None:
    """``python -m maxk.integrations.skyrl [SkyRL overrides] [maxk.k=K] [maxk.scale=S]``."""
    rest, settings = _split_argv(sys.argv[1:] if argv is None else argv)
    register(settings.get("k"), scale=settings.get("scale", "none"), k_schedule=settings.get("k_schedule"))
    from skyrl.train.entrypoints import main_base

    sys.argv = [sys.argv[0], *rest]
    main_base.main()


register(replace=False)

if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: the registered functions must
    # belong to the importable module for the trainer process to unpickle them by reference.
    from maxk.integrations.skyrl import main as _main

    _main()
