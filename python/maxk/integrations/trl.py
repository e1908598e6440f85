"""TRL: :class:`MaxKGRPOTrainer`, a ``GRPOTrainer`` whose advantages come from maxk.

Works with every TRL whose ``GRPOTrainer`` has the two hooks below (unchanged since TRL 1.0);
tested with TRL 1.13.0, 1.14.2, 1.15.0 and 1.16.0 (:data:`TESTED_TRL`), and under Unsloth's
patched trainer when Unsloth is imported first (docs/python.md). TRL computes GRPO advantages
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

The two overridden methods are private TRL code. Instead of a version check, the trainer checks
at construction that they exist with the expected parameters, that
``_generate_and_score_completions`` still refers to ``_calculate_rewards``, and that the
attributes it reads (``reward_weights``, ``num_generations``, ...) are there; at run time it
raises if TRL did not call ``_calculate_rewards`` during a training batch. Whatever a future TRL
changes, the result is an error naming what is missing, never silent GRPO advantages. It also
refuses to run when ``trl.GRPOTrainer`` was replaced after this module was imported (Unsloth
patches TRL when it is imported: import ``unsloth`` first).

Two options (issue 16):

- ``maxk_k_schedule`` (``"linear:2:8:200"``, ``"steps:0=2,100=4"`` or a mapping; see
  :mod:`maxk.schedule`) sets K per training step from ``state.global_step``; K is logged as the
  ``maxk/k`` metric.
- ``maxk_multi_objective=True``: multi-objective max@K with one axis per reward function
  (:func:`maxk.multi_objective_advantages`): the estimator runs on each function's rewards and the
  advantages are summed with ``reward_weights``, instead of one estimator on the weighted sum.
  TRL's ``multi_objective_aggregation`` is then not used. A reward function that returned None
  for a completion counts 0 on that axis (as TRL's ``nansum`` does).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
import trl
from trl import GRPOConfig, GRPOTrainer

import maxk
from maxk.schedule import ScheduledK

from ._common import (
    DEFAULT_SMALL_GROUPS,
    Settings,
    calls,
    maj_advantages,
    metrics,
    mixture_advantages,
    require_hooks,
    scale_from_framework,
)

__all__ = ["HOOKS", "TESTED_TRL", "MaxKGRPOConfig", "MaxKGRPOTrainer", "check_trl"]

#: TRL releases the test suite trains with (scripts/test-frameworks.sh runs the same 2-step
#: training test in one venv per release; docs/python.md has the results). Not a gate: the
#: trainer checks the hooks themselves (:data:`HOOKS`).
TESTED_TRL = ("1.13.0", "1.14.2", "1.15.0", "1.16.0")

#: The private ``GRPOTrainer`` methods the trainer overrides, with the parameters it passes on.
HOOKS = {
    "_calculate_rewards": ("inputs", "prompts", "completions", "completion_ids_list"),
    "_generate_and_score_completions": ("inputs",),
}

#: What the trainer reads from a constructed ``GRPOTrainer``.
ATTRIBUTES = ("reward_weights", "num_generations", "multi_objective_aggregation", "scale_rewards",
              "accelerator", "_metrics", "_logs")

#: What maxk needs the hooks for (error messages).
WHY = "replace GRPO's advantages with maxk's"

#: The ``log_extra`` column a reward function fills with the answer keys for maj@K.
ANSWER_COLUMN = "maxk_answer"

#: The ``GRPOTrainer`` this module subclasses (``trl.GRPOTrainer`` when it was imported).
BASE = GRPOTrainer


def check_trl(base: type = BASE) -> None:
    """Raises RuntimeError naming what is missing unless ``base`` (TRL's ``GRPOTrainer``, or
    the trainer Unsloth patched into TRL) has the hooks :class:`MaxKGRPOTrainer` overrides and
    still calls ``_calculate_rewards`` from ``_generate_and_score_completions``; or when
    ``trl.GRPOTrainer`` is no longer ``base`` (patched after this module was imported)."""
    require_hooks("TRL", base, HOOKS, WHY)
    if not calls(base._generate_and_score_completions, "_calculate_rewards"):
        raise RuntimeError(
            f"maxk cannot hook TRL {trl.__version__}: {base.__qualname__}._generate_and_score_completions no "
            f"longer calls self._calculate_rewards, where maxk takes the gathered rewards to {WHY}; refusing "
            "to train on GRPO's advantages. Install a TRL version maxk supports (docs/python.md)."
        )
    current = getattr(trl, "GRPOTrainer", base)
    if current is not base and not issubclass(current, base):
        raise RuntimeError(
            f"trl.GRPOTrainer is now {current.__module__}.{current.__qualname__}, but maxk.integrations.trl was "
            f"imported when it was {base.__module__}.{base.__qualname__}: something (Unsloth does, on import) "
            "patched TRL after maxk. Import unsloth (and call PatchFastRL, if you use it) before importing "
            "maxk.integrations.trl, so that MaxKGRPOTrainer builds on the patched trainer."
        )


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
    maxk_k_schedule: str | None = field(
        default=None, metadata={"help": "K per step: linear:START:END:STEPS or steps:0=K0,S1=K1 (maxk.schedule)."}
    )
    maxk_multi_objective: bool = field(
        default=False, metadata={"help": "One max@K axis per reward function, summed with reward_weights."}
    )
    maxk_mixture: str | None = field(
        default=None, metadata={"help": "Mixture of K instead of the estimator: 1:1,8:0.5 or harmonic."}
    )
    maxk_maj: str | None = field(
        default=None,
        metadata={"help": "maj@K at maxk_k (tie rule split or wrong); answers via log_extra('maxk_answer', ...)."},
    )


class MaxKGRPOTrainer(GRPOTrainer):
    """``trl.GRPOTrainer`` with the advantage of a maxk estimator.

    Args:
        *args, **kwargs: everything ``GRPOTrainer`` takes.
        maxk_estimator: estimator id (default: ``args.maxk_estimator`` or ``"maxpo"``).
        maxk_k: K of max@K (default: ``args.maxk_k``); required by the estimators that use K.
        maxk_scale: ``"none"``, ``"std"`` or ``"pg"`` (default: ``args.maxk_scale``, else from
            TRL's ``scale_rewards``).
        maxk_small_groups: the small-group rule (default: ``args.maxk_small_groups`` or ``"zero"``).
        maxk_maj: train on maj@K (majority vote) at ``maxk_k`` instead of the estimator, with this
            tie rule (``"split"`` or ``"wrong"``; default ``args.maxk_maj``). A completion's verdict
            is its weighted reward > 0; its answer key comes from a reward function that calls
            ``log_extra("maxk_answer", answers)`` (TRL passes ``log_extra`` to every reward
            function), e.g. ``answers = [extract(c) for c in completions]``.
        maxk_mixture: train on a mixture of K instead of the estimator (default:
            ``args.maxk_mixture``): ``"1:1,8:0.5"`` for pass@1 + 0.5 pass@8, ``"harmonic"`` for
            MaxRL's objective (any reward); see :func:`maxk.mixture_advantages`.

    Raises:
        ValueError: at construction, when the estimator, K and ``num_generations`` do not fit
            together (maxk-core's message), with ``multi_objective_aggregation`` other than
            ``"sum_then_normalize"``, ``scale_rewards="batch"``, or a ``maxk_scale`` that
            contradicts ``scale_rewards``.
        RuntimeError: a TRL whose ``GRPOTrainer`` lacks the hooks or attributes this trainer
            needs (:func:`check_trl`), naming them.
    """

    def __init__(
        self,
        *args: Any,
        maxk_estimator: str | None = None,
        maxk_k: int | None = None,
        maxk_scale: str | None = None,
        maxk_small_groups: str | None = None,
        maxk_k_schedule: Any = None,
        maxk_multi_objective: bool | None = None,
        maxk_mixture: str | None = None,
        maxk_maj: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_trl()
        super().__init__(*args, **kwargs)
        missing = [name for name in ATTRIBUTES if not hasattr(self, name)]
        if missing:
            raise RuntimeError(
                f"maxk cannot hook TRL {trl.__version__}: GRPOTrainer no longer sets {', '.join(missing)}, which "
                f"MaxKGRPOTrainer reads to {WHY}. Install a TRL version maxk supports (docs/python.md)."
            )
        given = {"estimator": maxk_estimator, "k": maxk_k, "k_schedule": maxk_k_schedule, "scale": maxk_scale,
                 "small_groups": maxk_small_groups, "mixture": maxk_mixture, "maj": maxk_maj}

        def get(name: str) -> Any:  # the trainer's argument, else the config's field
            value = given.get(name)
            return value if value is not None else getattr(self.args, f"maxk_{name}", None)

        settings = Settings.read(
            get, lambda name: f"maxk_{name}", k_hint="pass maxk_k to MaxKGRPOTrainer (MaxKGRPOTrainer needs maxk_k)"
        )
        settings = dataclasses.replace(settings, scale=self._resolve_scale(get("scale")))
        self.maxk_settings: Settings = settings
        self.maxk_estimator: str = settings.estimator
        self.maxk_k: int = settings.k
        self.maxk_scale: str = settings.scale
        self.maxk_small_groups: str = settings.small_groups
        self._maxk_schedule: ScheduledK | None = (
            ScheduledK(settings.k_schedule) if settings.k_schedule is not None else None
        )
        if maxk_multi_objective is None:
            maxk_multi_objective = bool(getattr(self.args, "maxk_multi_objective", False))
        self.maxk_multi_objective: bool = maxk_multi_objective
        if self.multi_objective_aggregation != "sum_then_normalize" and not self.maxk_multi_objective:
            raise ValueError(
                "MaxKGRPOTrainer needs multi_objective_aggregation='sum_then_normalize' (one reward per "
                f"completion), got {self.multi_objective_aggregation!r}"
            )
        # Fail now, with the core's message, rather than at the first batch.
        settings.check_group_size(
            self.num_generations,
            lambda k: f"MaxKGRPOTrainer({self.maxk_estimator}, maxk_k={k}) with num_generations={self.num_generations}",
        )
        self.last_maxk_advantages: torch.Tensor | None = None
        self.last_maxk_diagnostics: dict[str, Any] | None = None
        self._maxk_rewards_per_func: torch.Tensor | None = None

    def _resolve_scale(self, maxk_scale: str | None) -> str:
        """maxk's scale from ``maxk_scale`` and TRL's ``scale_rewards``."""
        return scale_from_framework(getattr(self, "scale_rewards", "none"), maxk_scale, "scale_rewards", "maxk_scale")

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[no-untyped-def]
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._maxk_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
        self._maxk_rewards_per_func = None
        training = self.model.training  # TRL's mode; generation may switch the model (Unsloth does)
        output = super()._generate_and_score_completions(inputs)
        rewards_per_func, self._maxk_rewards_per_func = self._maxk_rewards_per_func, None
        if not training:
            return output
        if rewards_per_func is None:
            raise RuntimeError(
                f"MaxKGRPOTrainer: TRL {trl.__version__} did not call GRPOTrainer._calculate_rewards in "
                "_generate_and_score_completions; the batch would train on GRPO's advantages instead of maxk's. "
                f"This adapter is tested with TRL {', '.join(TESTED_TRL)}."
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
        if self._maxk_schedule is not None:
            self.maxk_k = self._maxk_schedule.k(int(self.state.global_step))
            self._metrics["train"]["maxk/k"].append(float(self.maxk_k))
        if self.maxk_multi_objective:
            return self._maxk_multi_objective_advantages(rewards_per_func)
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        rewards = (rewards_per_func * weights).nansum(dim=1)
        unscorable = torch.isnan(rewards_per_func).all(dim=1)
        keep = ~unscorable
        group_of = torch.arange(rewards.shape[0], device=rewards.device) // self.num_generations
        advantages = torch.zeros_like(rewards)
        if self.maxk_settings.maj is not None:
            answers = self._maxk_answer_keys(rewards.shape[0])
            kept, diag = maj_advantages(
                rewards[keep], group_of[keep], [a for a, x in zip(answers, keep.tolist()) if x], self.maxk_k,
                self.maxk_settings.maj, self.maxk_small_groups,
            )
        elif self.maxk_settings.mixture is not None:
            kept, diag = mixture_advantages(rewards[keep], group_of[keep], self.maxk_settings.mixture, self.maxk_small_groups)
        else:
            kept, diag = maxk.advantages_with_diagnostics(
                rewards[keep], group_of[keep], self.maxk_k, self.maxk_estimator, self.maxk_scale, self.maxk_small_groups
            )
        advantages[keep] = kept
        diag["unscorable"] = int(unscorable.sum())
        return advantages, diag

    def _maxk_answer_keys(self, b: int) -> list[Any]:
        """The answer keys of the gathered batch for maj@K: what a reward function passed to
        TRL's ``log_extra("maxk_answer", answers)`` this step (TRL gathers the column across
        processes in batch order, as it gathers the rewards)."""
        column = self._logs["extra"].get(ANSWER_COLUMN)
        if column is None or len(column) < b:
            raise RuntimeError(
                f"MaxKGRPOTrainer(maxk_maj=...): maj@K needs one answer key per completion; have a reward "
                f"function call log_extra({ANSWER_COLUMN!r}, answers) with one hashable answer per completion "
                f"(got {0 if column is None else len(column)} for {b} completions)"
            )
        return list(column)[-b:]

    # Multi-objective max@K (one axis per reward function).

    def _maxk_multi_objective_advantages(self, rewards_per_func: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        """Multi-objective maxk advantages ``[B]``: one axis per reward function, and the
        diagnostics of those advantages over the weighted reward sum."""
        advantages = self._maxk_multi_objective_values(rewards_per_func)
        unscorable = torch.isnan(rewards_per_func).all(dim=1)
        keep = ~unscorable
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        summed = (rewards_per_func * weights).nansum(dim=1)
        group_of = torch.arange(summed.shape[0], device=summed.device) // self.num_generations
        diag = maxk.diagnostics(
            summed[keep], group_of[keep], self.maxk_k, self.maxk_estimator, self.maxk_scale,
            self.maxk_small_groups, advantages=advantages[keep],
        )
        diag["unscorable"] = int(unscorable.sum())
        return advantages, diag

    def _maxk_multi_objective_values(self, rewards_per_func: torch.Tensor) -> torch.Tensor:
        """The multi-objective advantages ``[B]`` (0 for unscorable completions).

        A group left by unscorable completions with too few samples for K follows
        ``maxk_small_groups`` as in the single-reward path: ``zero`` gives it 0, ``error`` raises
        the core's message, ``shrink-k`` / ``centered-ei`` apply the rule on each axis before the
        weighted sum."""
        unscorable = torch.isnan(rewards_per_func).all(dim=1)
        rows = torch.nan_to_num(rewards_per_func, nan=0.0)
        weights = self.reward_weights.detach().cpu().tolist()
        g = int(self.num_generations or 0)
        kwargs = {"weights": weights, "estimator": self.maxk_estimator, "scale": self.maxk_scale}
        if not bool(unscorable.any()):
            grouped = maxk.multi_objective_advantages(rows.view(-1, g, rows.shape[1]), self.maxk_k, **kwargs)
            return grouped.reshape(-1)
        advantages = torch.zeros(rows.shape[0], dtype=rows.dtype, device=rows.device)
        keep = ~unscorable
        fitting: list[list[int]] = []  # the scorable completions of each group that carries K
        for group in range(rows.shape[0] // g):
            members = [i for i in range(group * g, (group + 1) * g) if bool(keep[i])]
            if not members:
                continue
            if self._maxk_group_fits(len(members)):
                fitting.append(members)
            else:
                advantages[members] = self._maxk_small_group_values(rows[members], group)
        if fitting:
            index = [i for members in fitting for i in members]
            offsets = [0]
            for members in fitting:
                offsets.append(offsets[-1] + len(members))
            advantages[index] = maxk.multi_objective_advantages(rows[index], self.maxk_k, offsets=offsets, **kwargs)
        return advantages

    def _maxk_group_fits(self, n: int) -> bool:
        """Whether a group of ``n`` samples carries the estimator at the current K."""
        try:
            maxk.advantages([0.0] * n, self.maxk_k, self.maxk_estimator, self.maxk_scale)
        except ValueError:
            return False
        return True

    def _maxk_small_group_values(self, rows: torch.Tensor, group: int) -> torch.Tensor:
        """Advantages of a group too small for K, under ``maxk_small_groups``."""
        if self.maxk_small_groups == "zero":
            return torch.zeros(rows.shape[0], dtype=rows.dtype, device=rows.device)
        out = torch.zeros(rows.shape[0], dtype=torch.float64, device=rows.device)
        for d, w in enumerate(self.reward_weights.detach().cpu().tolist()):
            try:
                axis = maxk.advantages(
                    rows[:, d].double(), self.maxk_k, self.maxk_estimator, self.maxk_scale, self.maxk_small_groups
                )
            except ValueError as e:
                raise ValueError(f"MaxKGRPOTrainer (multi-objective): group id {group}: axis {d}: {e}") from None
            out += w * axis
        return out.to(rows.dtype)
