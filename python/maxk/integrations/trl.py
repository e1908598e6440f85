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
- TRL's ``scale_rewards`` is not applied; use ``maxk_scale`` (``none``, ``std``, ``pg``).
- A completion for which every reward function returned None gets advantage 0 and is left out
  of its group (as TRL does); the rest of the group must still be valid for K.
- Only training batches are changed; evaluation keeps TRL's advantages, which are only logged.
- :attr:`MaxKGRPOTrainer.last_maxk_advantages` holds the advantages of the last training batch
  (all processes), also written to the completions log in place of TRL's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from trl import GRPOConfig, GRPOTrainer

import maxk

__all__ = ["MaxKGRPOConfig", "MaxKGRPOTrainer"]


@dataclass
class MaxKGRPOConfig(GRPOConfig):
    """``GRPOConfig`` plus the maxk settings, so that they can come from TRL's CLI/YAML parser.

    Arguments given to :class:`MaxKGRPOTrainer` directly take precedence.
    """

    maxk_estimator: str = field(default="maxpo", metadata={"help": "maxk estimator id (maxk.estimators())."})
    maxk_k: int | None = field(default=None, metadata={"help": "K of max@K; needs K < num_generations for maxpo."})
    maxk_scale: str = field(default="none", metadata={"help": "none, std or pg."})


class MaxKGRPOTrainer(GRPOTrainer):
    """``trl.GRPOTrainer`` with the advantage of a maxk estimator.

    Args:
        *args, **kwargs: everything ``GRPOTrainer`` takes.
        maxk_estimator: estimator id (default: ``args.maxk_estimator`` or ``"maxpo"``).
        maxk_k: K of max@K (default: ``args.maxk_k``); required by the estimators that use K.
        maxk_scale: ``"none"``, ``"std"`` or ``"pg"`` (default: ``args.maxk_scale`` or ``"none"``).

    Raises:
        ValueError: at construction, when the estimator, K and ``num_generations`` do not fit
            together (maxk-core's message), or with ``multi_objective_aggregation`` other than
            ``"sum_then_normalize"``.
    """

    def __init__(
        self,
        *args: Any,
        maxk_estimator: str | None = None,
        maxk_k: int | None = None,
        maxk_scale: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.maxk_estimator: str = maxk_estimator or getattr(self.args, "maxk_estimator", None) or "maxpo"
        k = maxk_k if maxk_k is not None else getattr(self.args, "maxk_k", None)
        self.maxk_scale: str = maxk_scale or getattr(self.args, "maxk_scale", None) or "none"
        if k is None:
            if maxk.estimator_info(self.maxk_estimator).uses_k:
                raise ValueError(f"MaxKGRPOTrainer: maxk estimator {self.maxk_estimator!r} needs maxk_k")
            k = 1
        self.maxk_k: int = int(k)
        if self.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError(
                "MaxKGRPOTrainer needs multi_objective_aggregation='sum_then_normalize' (one reward per "
                f"completion), got {self.multi_objective_aggregation!r}"
            )
        # Fail now, with the core's message, rather than at the first batch.
        maxk.advantages(np.zeros(self.num_generations), self.maxk_k, self.maxk_estimator, self.maxk_scale)
        self.last_maxk_advantages: torch.Tensor | None = None
        self._maxk_rewards_per_func: torch.Tensor | None = None

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[no-untyped-def]
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._maxk_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
        output = super()._generate_and_score_completions(inputs)
        rewards_per_func, self._maxk_rewards_per_func = self._maxk_rewards_per_func, None
        if not self.model.training or rewards_per_func is None:
            return output
        advantages = self._maxk_advantages(rewards_per_func)
        local = output["advantages"]
        n_local = local.shape[0]
        start = self.accelerator.process_index * n_local
        output["advantages"] = advantages[start : start + n_local].to(device=local.device, dtype=local.dtype)
        self.last_maxk_advantages = advantages
        logged = self._logs["advantages"]
        for _ in range(min(len(advantages), len(logged))):
            logged.pop()
        logged.extend(advantages.tolist())
        return output

    def _maxk_advantages(self, rewards_per_func: torch.Tensor) -> torch.Tensor:
        """maxk advantages of the gathered batch ``[B]`` (B = groups x num_generations)."""
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        rewards = (rewards_per_func * weights).nansum(dim=1)
        unscorable = torch.isnan(rewards_per_func).all(dim=1)
        g = self.num_generations
        if not bool(unscorable.any()):
            grouped = maxk.advantages(rewards.view(-1, g), self.maxk_k, self.maxk_estimator, self.maxk_scale)
            return grouped.reshape(-1)
        keep = ~unscorable
        group_of = torch.arange(rewards.shape[0], device=rewards.device) // g
        advantages = torch.zeros_like(rewards)
        advantages[keep] = maxk.advantages_by_index(
            rewards[keep], group_of[keep], self.maxk_k, self.maxk_estimator, self.maxk_scale
        )
        return advantages
