"""TRL: :class:`MaxKGRPOTrainer`, a ``GRPOTrainer`` whose advantages come from maxk.

Tested with TRL 1.16.0 (pinned in tests/python/requirements.txt). TRL computes GRPO advantages
inline in ``GRPOTrainer._generate_and_score_completions``, from the rewards that
``_calculate_rewards`` gathered over all processes. The subclass keeps everything else of TRL
(generation, reward functions, loss, logging) and overrides exactly those two steps: it keeps
the gathered rewards, and after TRL's step replaces the ``advantages`` of the batch with the maxk
estimator's advantages of each prompt's ``num_generations`` completions::

    from maxk.integrations.trl import MaxKGRPOTrainer
    trainer = MaxKGRPOTrainer(model=..., reward_funcs=..., args=GRPOConfig(num_generations=8, ...),
                              train_dataset=..., maxk_estimator="maxpo", maxk_k=4)

Semantics:

- The reward of a completion is TRL's: the weighted sum over reward functions
  (``reward_weights``, NaN = no reward from that function), i.e. TRL's default
  ``multi_objective_aggregation="sum_then_normalize"``; the other mode is refused.
- TRL's ``scale_rewards`` is honoured, not ignored: ``"group"`` (GRPOConfig's default) divides
  each group's maxk advantages by the group's std (``maxk_scale="std"``), ``"none"`` leaves them
  (:class:`MaxKGRPOConfig`'s default), ``"batch"`` is refused; a ``maxk_scale`` that contradicts
  it is an error.
- A completion for which every reward function returned None gets advantage 0 and is left out
  of its group (as TRL does); a group left with too few completions for K goes to the
  small-group rule ``maxk_small_groups`` (default ``"zero"``: advantage 0, as TRL gives a
  group without signal), counted in the ``maxk/small_groups`` metric.
- Every training batch logs the core's diagnostics in TRL's metrics (``maxk/max@K``,
  ``maxk/no_signal_share``, ``maxk/small_groups``, ``maxk/unscorable``,
  ``maxk/centering_residual``, ``maxk/adv_*``).
- Only training batches are changed; evaluation keeps TRL's advantages, which are only logged.
- :attr:`MaxKGRPOTrainer.last_maxk_advantages` holds the advantages of the last training batch
  (all processes), also written to the completions log in place of TRL's.

The two overridden methods are private TRL code: the trainer refuses a TRL outside the tested
range :data:`TESTED_TRL` (``MAXK_SKIP_VERSION_CHECK=1`` overrides), and raises if TRL ever stops
calling ``_calculate_rewards`` during training instead of silently training on GRPO's advantages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import trl
from trl import GRPOConfig, GRPOTrainer

import maxk

from ._common import DEFAULT_SMALL_GROUPS, check_group_size, metrics, require_version, resolve_k

__all__ = ["TESTED_TRL", "MaxKGRPOConfig", "MaxKGRPOTrainer"]

#: TRL versions whose ``GRPOTrainer._calculate_rewards`` / ``_generate_and_score_completions``
#: this adapter was checked against.
TESTED_TRL = ("1.16.0", "1.16.x")


@dataclass
class MaxKGRPOConfig(GRPOConfig):
    """``GRPOConfig`` plus the maxk settings, so that they can come from TRL's CLI/YAML parser.

    Arguments given to :class:`MaxKGRPOTrainer` directly take precedence. ``scale_rewards``
    defaults to ``"none"`` here (GRPOConfig: ``"group"``), so that the estimator's advantages
    are used as they are.
    """

    maxk_estimator: str = field(default="maxpo", metadata={"help": "maxk estimator id (maxk.estimators())."})
    maxk_k: int | None = field(default=None, metadata={"help": "K of max@K; needs K < num_generations for maxpo."})
    maxk_scale: str | None = field(default=None, metadata={"help": "none, std or pg (default: from scale_rewards)."})
    maxk_small_groups: str = field(
        default=DEFAULT_SMALL_GROUPS, metadata={"help": "zero, error, shrink-k or centered-ei (maxk.small_groups_rules())."}
    )
    scale_rewards: str = field(default="none", metadata={"help": "TRL's scale_rewards; maxk honours none and group."})


class MaxKGRPOTrainer(GRPOTrainer):
    """``trl.GRPOTrainer`` with the advantage of a maxk estimator.

    Args:
        *args, **kwargs: everything ``GRPOTrainer`` takes.
        maxk_estimator: estimator id (default: ``args.maxk_estimator`` or ``"maxpo"``).
        maxk_k: K of max@K (default: ``args.maxk_k``); required by the estimators that use K.
        maxk_scale: ``"none"``, ``"std"`` or ``"pg"`` (default: ``args.maxk_scale``, else from
            TRL's ``scale_rewards``).
        maxk_small_groups: the small-group rule (default: ``args.maxk_small_groups`` or ``"zero"``).

    Raises:
        ValueError: at construction, when the estimator, K and ``num_generations`` do not fit
            together (maxk-core's message), with ``multi_objective_aggregation`` other than
            ``"sum_then_normalize"``, ``scale_rewards="batch"``, or a ``maxk_scale`` that
            contradicts ``scale_rewards``.
        RuntimeError: a TRL version outside :data:`TESTED_TRL`.
    """

    def __init__(
        self,
        *args: Any,
        maxk_estimator: str | None = None,
        maxk_k: int | None = None,
        maxk_scale: str | None = None,
        maxk_small_groups: str | None = None,
        **kwargs: Any,
    ) -> None:
        require_version(
            "TRL", trl.__version__, TESTED_TRL, "GRPOTrainer._calculate_rewards and _generate_and_score_completions"
        )
        super().__init__(*args, **kwargs)
        self.maxk_estimator: str = maxk_estimator or getattr(self.args, "maxk_estimator", None) or "maxpo"
        k = maxk_k if maxk_k is not None else getattr(self.args, "maxk_k", None)
        self.maxk_k: int = resolve_k(self.maxk_estimator, k, "pass maxk_k to MaxKGRPOTrainer (MaxKGRPOTrainer needs maxk_k)")
        self.maxk_scale: str = self._resolve_scale(maxk_scale or getattr(self.args, "maxk_scale", None))
        self.maxk_small_groups: str = (
            maxk_small_groups or getattr(self.args, "maxk_small_groups", None) or DEFAULT_SMALL_GROUPS
        )
        if self.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError(
                "MaxKGRPOTrainer needs multi_objective_aggregation='sum_then_normalize' (one reward per "
                f"completion), got {self.multi_objective_aggregation!r}"
            )
        # Fail now, with the core's message, rather than at the first batch.
        check_group_size(
            self.maxk_estimator, self.maxk_k, self.num_generations, self.maxk_scale, self.maxk_small_groups,
            f"MaxKGRPOTrainer({self.maxk_estimator}, maxk_k={self.maxk_k}) with num_generations={self.num_generations}",
        )
        self.last_maxk_advantages: torch.Tensor | None = None
        self.last_maxk_diagnostics: dict[str, Any] | None = None
        self._maxk_rewards_per_func: torch.Tensor | None = None

    def _resolve_scale(self, maxk_scale: str | None) -> str:
        """maxk's scale from ``maxk_scale`` and TRL's ``scale_rewards``."""
        trl_scale = getattr(self, "scale_rewards", "none")
        if trl_scale in (True, "true"):
            trl_scale = "group"
        if trl_scale in (False, "false"):
            trl_scale = "none"
        if trl_scale == "batch":
            raise ValueError(
                "MaxKGRPOTrainer does not support scale_rewards='batch' (a batch-wide std is not a per-group "
                "estimator); use scale_rewards='none' or 'group', or maxk_scale"
            )
        implied = "std" if trl_scale == "group" else "none"
        if maxk_scale is None:
            return implied
        if trl_scale == "group" and maxk_scale != "std":
            raise ValueError(
                f"maxk_scale={maxk_scale!r} contradicts scale_rewards='group' (which divides by the group std, "
                "maxk_scale='std'); set scale_rewards='none' to use maxk_scale"
            )
        return maxk_scale

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[no-untyped-def]
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._maxk_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
        self._maxk_rewards_per_func = None
        output = super()._generate_and_score_completions(inputs)
        rewards_per_func, self._maxk_rewards_per_func = self._maxk_rewards_per_func, None
        if not self.model.training:
            return output
        if rewards_per_func is None:
            raise RuntimeError(
                f"MaxKGRPOTrainer: TRL {trl.__version__} did not call GRPOTrainer._calculate_rewards in "
                "_generate_and_score_completions; the batch would train on GRPO's advantages instead of maxk's. "
                f"This adapter is tested with TRL {TESTED_TRL[0]} to {TESTED_TRL[1]}."
            )
        advantages, diag = self._maxk_advantages(rewards_per_func)
        local = output["advantages"]
        n_local = local.shape[0]
        start = self.accelerator.process_index * n_local
        output["advantages"] = advantages[start : start + n_local].to(device=local.device, dtype=local.dtype)
        self.last_maxk_advantages = advantages
        self.last_maxk_diagnostics = diag
        logged = self._logs["advantages"]
        for _ in range(min(len(advantages), len(logged))):
            logged.pop()
        logged.extend(advantages.tolist())
        for name, value in metrics(diag).items():
            self._metrics["train"][name].append(value)
        self._metrics["train"]["maxk/unscorable"].append(float(diag["unscorable"]))
        return output

    def _maxk_advantages(self, rewards_per_func: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        """maxk advantages of the gathered batch ``[B]`` (B = groups x num_generations), and
        the diagnostics (with ``unscorable``: completions no reward function scored)."""
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        rewards = (rewards_per_func * weights).nansum(dim=1)
        unscorable = torch.isnan(rewards_per_func).all(dim=1)
        keep = ~unscorable
        group_of = torch.arange(rewards.shape[0], device=rewards.device) // self.num_generations
        advantages = torch.zeros_like(rewards)
        kept, diag = maxk.advantages_with_diagnostics(
            rewards[keep], group_of[keep], self.maxk_k, self.maxk_estimator, self.maxk_scale, self.maxk_small_groups
        )
        advantages[keep] = kept
        diag["unscorable"] = int(unscorable.sum())
        return advantages, diag
