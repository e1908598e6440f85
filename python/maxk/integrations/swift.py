"""ms-swift: every maxk estimator in ms-swift's GRPO, through its ``--external_plugins``.

Where ms-swift computes GRPO advantages (ms-swift 4.6.0 from PyPI, read in
``swift/rl_core/advantage.py``): one pure function, ``compute_advantages(rewards_per_func,
reward_weights, num_generations, advantage_estimator, scale_rewards, kl_in_reward, beta,
kl_values) -> (advantages, rewards)``, on the rewards gathered over all processes, shared by its
three GRPO trainers: the HF one (``swift.rlhf_trainers.grpo_trainer.GRPOTrainer``, through
``_compute_advantages``), Megatron's (``swift.megatron.trainers.grpo_trainer``) and the Ray
driver's (``swift.ray.megatron.grpo_trainer``). Each trainer module imports the function by name,
so this plugin replaces that name in each of them (now, or when the module is imported) with
:func:`compute_advantages`, which keeps ms-swift's own reward (the weighted ``nansum`` over
reward functions, minus ``beta * KL`` under ``--kl_in_reward``: computed by ms-swift's original
function) and replaces the group baseline by the maxk estimator's advantages of each prompt's
``num_generations`` completions.

ms-swift imports every ``--external_plugins`` file while it parses its arguments, so::

    MAXK_ESTIMATOR=maxpo MAXK_K=4 swift rlhf --rlhf_type grpo \\
        --external_plugins "$(python -m maxk.integrations.swift)" \\
        --num_generations 8 --scale_rewards none ...

(``python -m maxk.integrations.swift`` prints the path of the plugin file, ``swift_plugin.py``
next to this module, which imports this module.) ms-swift's argument parser accepts only its own
``--advantage_estimator`` values, so the maxk settings come from the environment, read once when
the plugin is imported:

- ``MAXK_ESTIMATOR`` (default ``maxpo``): any id of ``maxk.estimators()``;
- ``MAXK_K`` or ``MAXK_K_SCHEDULE`` (:mod:`maxk.schedule`, stepped by the trainer's
  ``state.global_step`` where it has one, else by its advantage calls);
- ``MAXK_SCALE``: ``none``, ``std`` or ``pg``, or from ms-swift's ``--scale_rewards``: ``group``
  (its GRPO default) divides each group's maxk advantages by the group std (``std``), ``none``
  leaves them (use ``--scale_rewards none`` for MaxPO as written), ``batch`` and ``gdpo`` are
  refused, as is a ``MAXK_SCALE`` that contradicts ``group``;
- ``MAXK_SMALL_GROUPS`` (default ``zero``, as every adapter).

Start-up checks (the trainer's set-up, before any rollout): ``--advantage_estimator`` must be
``grpo`` (the one maxk replaces); K must fit ``--num_generations``; the request-aware multi-turn
mode (``dynamic_num_samples``: groups of varying size) is refused. A bad or missing setting is a
``ValueError`` naming it (``MAXK_K``, ``--num_generations``, ...).

Each advantage step's ``maxk/*`` diagnostics go to the trainer's metrics (``self._metrics``, which
ms-swift logs next to ``reward``; the Ray driver's step metrics), computed once over the gathered
batch.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from types import ModuleType
from typing import Any

import torch

from ._common import MetricsBuffer, Settings, calls, patch_on_import, require_hooks, scale_from_framework

__all__ = ["PLUGIN", "TARGETS", "compute_advantages", "install", "settings"]

logger = logging.getLogger(__name__)

#: The file to give ``--external_plugins``.
PLUGIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "swift_plugin.py")

#: ms-swift's module of the advantage function, and the trainer modules that import it:
#: module -> (trainer class, its set-up method (start-up check), its method that calls
#: ``compute_advantages``, the method whose metrics get the ``maxk/*`` diagnostics).
ADVANTAGE_MODULE = "swift.rl_core.advantage"
TARGETS = {
    "swift.rlhf_trainers.grpo_trainer": (
        "GRPOTrainer", "_prepare_algorithm_params", "_compute_advantages", "_compute_advantages"),
    "swift.megatron.trainers.grpo_trainer": (
        "MegatronGRPOTrainer", "__init__", "_compute_advantages", "_compute_advantages"),
    "swift.ray.megatron.grpo_trainer": (
        "GRPOTrainer", "_prepare_state", "compute_advantages", "_build_grpo_log_metrics"),
}

#: ms-swift's ``compute_advantages`` parameters this plugin passes on.
SIGNATURE = ("rewards_per_func", "reward_weights", "num_generations", "advantage_estimator", "scale_rewards",
             "kl_in_reward", "beta", "kl_values")

K_HINT = "set MAXK_K=K (or MAXK_K_SCHEDULE) in the environment of the swift command"

_METRICS = MetricsBuffer()
_state: dict[str, Any] = {}


def settings() -> Settings:
    """The maxk settings of this process (from the environment when the plugin was imported;
    the scale as resolved against the trainer's ``scale_rewards`` once a trainer is set up)."""
    if "settings" not in _state:
        _state["settings"] = Settings.from_env(k_hint=K_HINT)
    return _state["settings"]


def compute_advantages(
    rewards_per_func: torch.Tensor,
    reward_weights: torch.Tensor,
    num_generations: int,
    advantage_estimator: str = "grpo",
    scale_rewards: str = "group",
    kl_in_reward: bool = False,
    beta: float = 0.0,
    kl_values: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ms-swift's ``compute_advantages`` with the maxk estimator: ``(advantages, rewards)``,
    both ``[N]``, N = groups x ``num_generations`` (gathered over all processes)."""
    original = _state["original"]
    # ms-swift's own reward: weighted nansum over reward functions, minus beta * KL if asked.
    _, rewards = original(rewards_per_func, reward_weights, num_generations, "grpo", "none", kl_in_reward, beta,
                          kl_values)
    current = _resolved(scale_rewards, num_generations, check=False)  # eval batches: the small-group rule
    group = torch.arange(rewards.shape[0], device=rewards.device) // int(num_generations)
    with torch.no_grad():
        advantages, diag = current.advantages(rewards, group, _state.get("step"))
    _METRICS.add(diag)
    return advantages.to(dtype=rewards.dtype), rewards


def _resolved(scale_rewards: Any, num_generations: int, check: bool) -> Settings:
    """The settings with the scale resolved against ms-swift's ``scale_rewards`` (cached per
    value); with ``check``, K is checked against the group size ``num_generations``."""
    cache = _state.setdefault("resolved", {})
    key = str(scale_rewards)
    if key not in cache:
        base = settings()
        scale = scale_from_framework(scale_rewards, os.environ.get("MAXK_SCALE") or None, "--scale_rewards",
                                     "MAXK_SCALE")
        cache[key] = dataclasses.replace(base, scale=scale)
    resolved: Settings = cache[key]
    if check:
        resolved.check_group_size(
            int(num_generations),
            lambda k: f"MAXK_ESTIMATOR={resolved.estimator} MAXK_K={k} with --num_generations={num_generations}",
        )
    return resolved


def _check_trainer(trainer: Any) -> None:
    """Start-up check of an ms-swift GRPO trainer's settings against maxk's."""
    args = getattr(trainer, "args", None)
    estimator = getattr(trainer, "advantage_estimator", getattr(args, "advantage_estimator", "grpo"))
    if estimator != "grpo":
        raise ValueError(
            f"--advantage_estimator {estimator}: the maxk plugin replaces GRPO's advantages; use "
            "--advantage_estimator grpo and choose the maxk estimator with MAXK_ESTIMATOR"
        )
    if getattr(trainer, "dynamic_num_samples", False) or getattr(args, "dynamic_num_samples", False):
        raise ValueError(
            "dynamic_num_samples: the maxk plugin needs every prompt's num_generations completions (ms-swift's "
            "request-aware multi-turn mode groups a varying number of samples)"
        )
    n = getattr(trainer, "num_generations", None) or getattr(args, "num_generations", None)
    scale = getattr(trainer, "scale_rewards", getattr(args, "scale_rewards", "group"))
    if n is not None:
        _resolved(scale, int(n), check=True)


def _mode(trainer: Any) -> str:
    models = [getattr(trainer, "model", None)] + list(getattr(trainer, "unwrapped_models", None) or [])
    for model in models:
        if model is not None and hasattr(model, "training"):
            return "train" if model.training else "eval"
    return "train"


def _wrap_setup(original: Any) -> Any:
    @functools.wraps(original)
    def setup(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        _check_trainer(self)
        return out

    setup._maxk_original = original  # type: ignore[attr-defined]
    return setup


def _wrap_metrics(original: Any) -> Any:
    """The advantage step of the HF and Megatron trainers (the step's ``maxk/*`` go to
    ``self._metrics``), or the Ray driver's step-metrics builder (they go to the dict it returns)."""

    @functools.wraps(original)
    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        if original.__name__ == "_compute_advantages":
            _METRICS.drain()
            state = getattr(self, "state", None)
            _state["step"] = getattr(state, "global_step", None)
            out = original(self, *args, **kwargs)
            metrics = getattr(self, "_metrics", None)
            if metrics is not None:
                for name, value in _METRICS.drain().items():
                    metrics[_mode(self)][name].append(value)
            return out
        out = original(self, *args, **kwargs)
        if isinstance(out, dict):
            out.update(_METRICS.drain())
        return out

    step._maxk_original = original  # type: ignore[attr-defined]
    return step


def _patch_advantage_module(module: ModuleType) -> None:
    require_hooks("ms-swift", module, {"compute_advantages": SIGNATURE}, "replace GRPO's advantages with maxk's")
    current = module.compute_advantages
    _state.setdefault("original", getattr(current, "_maxk_original", current))


def _patch_trainer_module(module: ModuleType) -> None:
    import swift.rl_core.advantage as advantage

    _patch_advantage_module(advantage)
    class_name, setup, caller, step = TARGETS[module.__name__]
    cls = getattr(module, class_name, None)
    if cls is None or not all(callable(getattr(cls, name, None)) for name in (setup, caller, step)) or not calls(
        getattr(cls, caller), "compute_advantages"
    ):
        raise RuntimeError(
            f"maxk cannot hook ms-swift: {module.__name__}.{class_name} lacks {setup}/{step}, or its {caller} no "
            "longer calls compute_advantages; refusing to train on GRPO's advantages. Install ms-swift 4.6.x "
            "(docs/python.md)."
        )
    if getattr(module, "compute_advantages", None) is not compute_advantages:
        module.compute_advantages = compute_advantages
    for name, wrap in ((setup, _wrap_setup), (step, _wrap_metrics)):
        current = getattr(cls, name)
        if getattr(current, "_maxk_original", None) is None:
            setattr(cls, name, wrap(current))


def install() -> None:
    """Replaces ms-swift's GRPO advantages with maxk's in this process (idempotent): reads the
    settings (an error names a bad ``MAXK_*`` variable), then patches each trainer module now or
    when it is imported."""
    settings()
    patch_on_import(ADVANTAGE_MODULE, _patch_advantage_module)
    for name in TARGETS:
        patch_on_import(name, _patch_trainer_module)


def main() -> None:
    """``python -m maxk.integrations.swift``: prints the plugin file for ``--external_plugins``."""
    print(PLUGIN)


if __name__ == "__main__":
    main()
