"""OpenRLHF: maxk estimators as ``--algo.advantage.estimator`` values, through a launcher.

Written against OpenRLHF 0.11.2 (read in its source). OpenRLHF has no estimator registry: the
estimator names are argparse ``choices`` inside ``openrlhf/cli/train_ppo_ray.py``'s ``__main__``
block, and the group baselines are hard-coded in
``RemoteExperienceMaker.compute_advantages_and_returns``
(``openrlhf/trainer/ppo_utils/experience_maker.py``), which runs inside the ``PPOTrainer`` Ray
actor, not in the driver. So the launcher

1. runs OpenRLHF's own ``train_ppo_ray`` entry point with two CLI additions: the maxk ids among
   the ``--algo.advantage.estimator`` choices, and ``--algo.advantage.maxk_k`` /
   ``--algo.advantage.maxk_scale``, which OpenRLHF then carries in ``args.algo.advantage`` to
   every actor (a bad K for ``--rollout.n_samples_per_prompt`` is a CLI error);
2. starts Ray (as OpenRLHF would, same env vars) with the runtime-env
   ``worker_process_setup_hook`` ``maxk.integrations.openrlhf.install``, so that every Ray worker
   process patches ``compute_advantages_and_returns`` when it imports the experience maker.

Usage: replace ``python3 -m openrlhf.cli.train_ppo_ray`` by ``python3 -m maxk.integrations.openrlhf``
and keep every other argument::

    python3 -m maxk.integrations.openrlhf --algo.advantage.estimator maxpo \\
        --algo.advantage.maxk_k 4 --rollout.n_samples_per_prompt 8 ...

Under ``ray job submit`` nothing else is needed: the job's driver is this launcher, which adds
the hook to the job's runtime env in its ``ray.init``. (Do not also pass the hook in
``--runtime-env-json``: Ray refuses to merge a job runtime env and a ``ray.init`` one that set
the same field. The launcher leaves out every field and environment variable the job already
sets, so ``--runtime-env-json`` may carry anything else, e.g. ``{"env_vars": {"NCCL_DEBUG":
"INFO"}}``.)

The patched step, for a maxk estimator (any other estimator runs OpenRLHF's original code):
rewards (after OpenRLHF's length penalties) are put back in prompt order, grouped by prompt
(``n_samples_per_prompt`` each), replaced by the maxk advantages and then go through OpenRLHF's
own per-token path for group estimators (``compute_reward``: KL penalty, reward clip;
cumulative returns with gamma = 1; advantages = returns; no batch whitening), as its ``rloo``.
``--algo.advantage.maxk_small_groups`` (default ``zero``) is the rule for a group that cannot
carry the estimator. The core's diagnostics go to ``experience.info`` (``maxk/max@K``,
``maxk/no_signal_share``, ``maxk/small_groups``, ...), which OpenRLHF logs with its own metrics.

The patched method is private OpenRLHF code adapted from OpenRLHF 0.11.2 (its body changed
between 0.11.1 and 0.11.2): the launcher and the worker hook refuse any other version
(:data:`TESTED_OPENRLHF`; ``MAXK_SKIP_VERSION_CHECK=1`` overrides).

Names: the maxk ids, ``rloo`` as ``maxk_rloo`` (OpenRLHF has its own ``rloo``); see
:data:`OPENRLHF_NAMES`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import itertools
import json
import logging
import os
import runpy
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import maxk

from ._common import DEFAULT_SMALL_GROUPS, Settings, framework_name, framework_names, metrics, patch_on_import, require_version

__all__ = ["OPENRLHF_NAMES", "TARGET_MODULE", "TESTED_OPENRLHF", "install", "main", "openrlhf_name"]

#: OpenRLHF versions whose ``RemoteExperienceMaker.compute_advantages_and_returns`` the patch copies.
TESTED_OPENRLHF = ("0.11.2", "0.11.2")

#: The module whose ``RemoteExperienceMaker`` is patched.
TARGET_MODULE = "openrlhf.trainer.ppo_utils.experience_maker"
#: OpenRLHF 0.11.2's own ``--algo.advantage.estimator`` choices.
OPENRLHF_BUILTIN = ("gae", "reinforce", "rloo", "reinforce_baseline", "group_norm", "dr_grpo", "flash_reinforce")
ESTIMATOR_OPTION = "--algo.advantage.estimator"
HOOK = "maxk.integrations.openrlhf.install"
PATCHED = "RemoteExperienceMaker.compute_advantages_and_returns"

logger = logging.getLogger(__name__)


def openrlhf_name(estimator: str) -> str:
    """The ``--algo.advantage.estimator`` value of a maxk id (``maxk_<id>`` on a clash)."""
    return framework_name(estimator, OPENRLHF_BUILTIN)


#: OpenRLHF estimator name -> maxk estimator id.
OPENRLHF_NAMES: dict[str, str] = framework_names(OPENRLHF_BUILTIN)

#: How to set K on OpenRLHF's command line.
K_HINT = "add --algo.advantage.maxk_k K (or --algo.advantage.maxk_k_schedule) to the command line"


def _settings(get: Any, estimator: str) -> Settings:
    """The maxk settings of OpenRLHF's parsed arguments (``get(field)`` reads
    ``--algo.advantage.maxk_<field>``)."""
    return Settings.read(get, lambda name: f"--algo.advantage.maxk_{name}", k_hint=K_HINT, estimator=estimator)


def _check_version() -> None:
    try:
        installed = importlib.metadata.version("openrlhf")
    except importlib.metadata.PackageNotFoundError:
        installed = "unknown"
    require_version("OpenRLHF", installed, TESTED_OPENRLHF, f"{TARGET_MODULE}.{PATCHED}")


def _maxk_advantage_step(original: Any, module: ModuleType) -> Any:
    """``compute_advantages_and_returns`` with the maxk estimators, delegating the others."""
    g = vars(module)  # the experience maker's own compute_reward, apply_length_penalties, torch

    # Adapted from openrlhf/trainer/ppo_utils/experience_maker.py,
    # RemoteExperienceMaker.compute_advantages_and_returns, OpenRLHF 0.11.2 (Apache-2.0): the
    # length penalties, the prompt-order gather, group_reward_std and the per-token path of its
    # group estimators are that code; the group baseline is replaced by maxk.
    def compute_advantages_and_returns(self: Any, experiences: list[Any]) -> list[Any]:
        args = self.strategy.args
        name = args.algo.advantage.estimator
        if name not in OPENRLHF_NAMES:
            return original(self, experiences)
        torch = g["torch"]
        estimator = OPENRLHF_NAMES[name]
        advantage_args = args.algo.advantage
        settings = _settings(lambda name: getattr(advantage_args, f"maxk_{name}", None), estimator)
        with torch.no_grad():
            for experience in experiences:
                experience.rewards = experience.rewards.to(
                    torch.promote_types(experience.rewards.dtype, torch.float32)
                )
            g["apply_length_penalties"](experiences, args)

            n = args.rollout.n_samples_per_prompt
            exp_len = [len(experience.index) for experience in experiences]
            indices = torch.tensor(list(itertools.chain.from_iterable(e.index for e in experiences)))
            raw_rewards = torch.cat([experience.rewards for experience in experiences], dim=0)
            rewards = torch.empty_like(raw_rewards)
            rewards[indices] = raw_rewards  # prompt order: each prompt's n samples are adjacent
            rewards = rewards.reshape(-1, n)
            if n > 1:
                stds = rewards.std(-1, keepdim=True).repeat(1, n).reshape(-1)[indices].split(exp_len)
                for experience, std in zip(experiences, stds):
                    experience.info["group_reward_std"] = std

            prompt = torch.arange(rewards.numel()) // n
            shaped, diag = settings.advantages(rewards.reshape(-1), prompt)
            shaped = shaped.reshape(-1)[indices].split(exp_len)

            if getattr(advantage_args, "gamma", 1.0) != 1.0:
                logger.warning("gamma is set to 1.0 for %s", name)
                advantage_args.gamma = 1.0
            step_metrics = metrics(diag)
            for experience, reward in zip(experiences, shaped):
                reward = g["compute_reward"](
                    reward,
                    self.kl_ctl.value,
                    experience.kl,
                    action_mask=experience.action_mask,
                    reward_clip_range=args.reward.clip_range,
                )
                experience.returns = self.get_cumulative_returns(reward, experience.action_mask, 1.0)
                experience.advantages = experience.returns.clone()
                experience.info["return"] = reward.sum(dim=-1)
                experience.kl = None
                # batch-level values as per-sample tensors: OpenRLHF averages info over samples
                for metric, value in step_metrics.items():
                    experience.info[metric] = torch.full((len(reward),), value, dtype=torch.float32)
        return experiences

    compute_advantages_and_returns.__doc__ = (
        "OpenRLHF's compute_advantages_and_returns, with the maxk estimators added by maxk."
    )
    compute_advantages_and_returns._maxk_original = original  # type: ignore[attr-defined]
    return compute_advantages_and_returns


def _patch(module: ModuleType) -> None:
    _check_version()
    cls = module.RemoteExperienceMaker
    current = cls.compute_advantages_and_returns
    if getattr(current, "_maxk_original", None) is None:
        cls.compute_advantages_and_returns = _maxk_advantage_step(current, module)


def install() -> None:
    """Adds the maxk estimators to OpenRLHF's advantage step in this process (idempotent).

    Patches ``RemoteExperienceMaker`` now if its module is imported, else as soon as it is.
    This is the Ray ``worker_process_setup_hook`` the launcher sets.
    """
    patch_on_import(TARGET_MODULE, _patch)


def _cli_options() -> dict[str, dict[str, Any]]:
    """The maxk options added to OpenRLHF's parser: field -> ``add_argument`` keywords
    (``type=str``, ``default=None`` unless given)."""
    return {
        "k": {"type": int, "help": "maxk: K of max@K for the maxk estimators"},
        "k_schedule": {"help": "maxk: K per step instead of maxk_k, e.g. linear:2:8:200 or steps:0=2,100=4 (maxk.schedule)"},
        "scale": {"choices": list(maxk.scales()), "default": "none", "help": "maxk: scaling of the maxk advantages"},
        "mixture": {"help": "maxk: train on a mixture of K instead, e.g. 1:1,8:0.5 (pass@1 + 0.5 pass@8) or harmonic"},
        "small_groups": {
            "choices": list(maxk.small_groups_rules()),
            "default": DEFAULT_SMALL_GROUPS,
            "help": "maxk: what a group that cannot carry the estimator at K gets (docs/python.md)",
        },
    }


@contextlib.contextmanager
def _maxk_cli() -> Iterator[None]:
    """While active, argparse parsers that define ``--algo.advantage.estimator`` also accept the
    maxk names and the ``maxk_<field>`` options (:func:`_cli_options`), and check K when parsing."""
    add_argument = argparse.ArgumentParser.add_argument
    parse_known_args = argparse.ArgumentParser.parse_known_args

    def patched_add_argument(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        if ESTIMATOR_OPTION not in args:
            return add_argument(self, *args, **kwargs)
        if kwargs.get("choices") is not None:
            kwargs["choices"] = list(kwargs["choices"]) + [n for n in OPENRLHF_NAMES if n not in kwargs["choices"]]
        kwargs["help"] = (kwargs.get("help") or "") + f" (maxk: {', '.join(OPENRLHF_NAMES)})"
        action = add_argument(self, *args, **kwargs)
        for field, options in _cli_options().items():
            add_argument(self, f"--algo.advantage.maxk_{field}", **{"type": str, "default": None, **options})
        return action

    def patched_parse_known_args(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        namespace, extras = parse_known_args(self, *args, **kwargs)
        name = getattr(namespace, "algo.advantage.estimator", None)
        if name in OPENRLHF_NAMES:
            n = getattr(namespace, "rollout.n_samples_per_prompt", None)
            try:
                settings = _settings(lambda field: getattr(namespace, f"algo.advantage.maxk_{field}", None),
                                     OPENRLHF_NAMES[name])
                if n is not None:
                    settings.check_group_size(
                        n, lambda k: f"--algo.advantage.estimator {name} with --rollout.n_samples_per_prompt {n}"
                    )
            except ValueError as e:
                self.error(str(e))
        return namespace, extras

    argparse.ArgumentParser.add_argument = patched_add_argument  # type: ignore[method-assign]
    argparse.ArgumentParser.parse_known_args = patched_parse_known_args  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.add_argument = add_argument  # type: ignore[method-assign]
        argparse.ArgumentParser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def _driver_runtime_env() -> dict[str, Any]:
    """The runtime env of the launcher's ``ray.init``: OpenRLHF's env vars and the maxk worker
    hook, minus what the job's runtime env (``ray job submit --runtime-env-json``, passed by Ray
    in ``RAY_JOB_CONFIG_JSON_ENV_VAR``) already sets: Ray refuses to merge a job's runtime env
    with a driver's that sets the same field or environment variable."""
    env_vars = {
        "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM", "true"),
        "NCCL_DEBUG": os.environ.get("NCCL_DEBUG", "WARN"),
        "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS": os.environ.get("RAY_ENABLE_ZERO_COPY_TORCH_TENSORS", "1"),
    }
    runtime_env: dict[str, Any] = {"env_vars": env_vars, "worker_process_setup_hook": HOOK}
    job = os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR")
    if not job:
        return runtime_env
    job_env = (json.loads(job).get("runtime_env") or {}) if job else {}
    hook = job_env.get("worker_process_setup_hook")
    if hook is not None:
        if hook != HOOK:
            raise ValueError(
                f"the job's runtime env sets worker_process_setup_hook={hook!r}; maxk needs {HOOK!r} there "
                "(leave it out of --runtime-env-json: the launcher adds it)"
            )
        del runtime_env["worker_process_setup_hook"]
    for key in job_env.get("env_vars") or {}:
        env_vars.pop(key, None)
    if not env_vars:
        del runtime_env["env_vars"]
    return runtime_env


def _init_ray() -> None:
    """``ray.init`` as OpenRLHF's ``train()`` does it, plus the maxk worker hook (OpenRLHF then
    finds Ray initialised and keeps this runtime env)."""
    import ray

    if ray.is_initialized():
        return
    ray.init(runtime_env=_driver_runtime_env())


def main(argv: list[str] | None = None) -> None:
    """``python -m maxk.integrations.openrlhf ARGS``: OpenRLHF's ``train_ppo_ray`` with ARGS, the
    maxk estimators selectable. ``--help`` lists them."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _check_version()
    install()
    sys.argv = ["openrlhf.cli.train_ppo_ray", *argv]
    with _maxk_cli():
        if not {"-h", "--help"} & set(argv):
            _init_ray()
        runpy.run_module("openrlhf.cli.train_ppo_ray", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
