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
- ``algorithm.maxk_k_schedule``: K per training step instead of ``maxk_k`` (``"linear:2:8:200"``,
  ``"steps:0=2,100=4"`` or a mapping, see :mod:`maxk.schedule`); verl passes the estimator no
  step, so it advances once per training call.
- ``algorithm.maxk_scale`` (``none`` | ``std`` | ``pg``, default ``none``). verl's
  ``norm_adv_by_std_in_grpo`` is not read: it is a GRPO switch that defaults to true.
- ``algorithm.maxk_small_groups`` (``zero`` | ``error`` | ``shrink-k`` | ``centered-ei``, default
  ``zero``): what a group that cannot carry the estimator gets. verl's V1 trainer pads a short
  batch in ``_balance_batch`` with zero-reward rows under one synthetic uid
  (``verl/trainer/ppo/padding_utils.py``), and a prompt can lose rollouts; verl's GRPO gives a
  singleton 0 and goes on, and so does ``zero``. ``maxk/small_groups`` counts them.
- ``algorithm.maxk_val_ks`` (list of ints, optional): also log the unbiased pass@k / max@k of
  validation (``val-core/<data_source>/<var>/maxk_pass@k``) next to verl's bootstrap ``best@k``.

At start-up (the trainer's ``__init__``, before any model is loaded) K is checked against
``actor_rollout_ref.rollout.n``: a K that no full group can carry is an error unless
``maxk_small_groups`` is ``shrink-k`` or ``centered-ei`` (the K = N options of docs/python.md).

Every step adds the core's diagnostics to verl's metrics dict (``maxk/max@K``,
``maxk/no_signal_share``, ``maxk/small_groups``, ``maxk/centering_residual``, ``maxk/adv_*``).

Multi-output agent loops (several outputs per agent session, keys ``{uid}_{session}_{index}``):
as verl does for GRPO, only the final output of each session enters the estimator and its
advantage is broadcast to the session's other outputs.

The outcome reward of a response is ``token_level_rewards.sum(-1)``; responses are grouped by
``index`` (verl's ``uid``; groups may differ in size), and each response's advantage is
broadcast over its tokens times ``response_mask``, as verl's GRPO does. Returns equal advantages.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np
import torch
import verl
from verl.trainer.ppo import core_algos

import maxk

from ._common import MetricsBuffer, Settings, framework_name, outcome_token_advantages

__all__ = [
    "VERL_NAMES",
    "compute_maxk_outcome_advantage",
    "drain_metrics",
    "register",
    "validation_metrics",
    "verl_name",
]

logger = logging.getLogger(__name__)

#: verl versions whose private trainer methods the hooks below were written against.
TESTED_VERL = ("0.9.1", "0.9.x")

#: Diagnostics of the advantage steps since the last :func:`drain_metrics` (this process).
_METRICS = MetricsBuffer()

#: How to set K on verl's command line (the message of an estimator that needs K without one).
K_HINT = "add +algorithm.maxk_k=K to the verl command line (e.g. +algorithm.maxk_k=4 to train for max@4)"

#: verl ``algorithm.adv_estimator`` name -> maxk estimator id (filled by :func:`register`).
VERL_NAMES: dict[str, str] = {}


def _verl_builtin_names() -> set[str]:
    return {e.value for e in core_algos.AdvantageEstimator}


def verl_name(estimator: str) -> str:
    """The ``algorithm.adv_estimator`` value of a maxk estimator id: the id itself, or
    ``maxk_<id>`` where verl already has an estimator of that name (``rloo``, ``grpo``)."""
    return framework_name(estimator, _verl_builtin_names())


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
    maxk_small_groups: str | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Outcome advantages of a maxk estimator, with verl's advantage-estimator signature.

    Args:
        token_level_rewards: ``(bs, response_length)``; a response's reward is its row sum.
        response_mask: ``(bs, response_length)``.
        index: ``(bs,)`` group id per response (verl's ``uid``, any hashable ids).
        config: verl's ``algorithm`` config; ``maxk_k``, ``maxk_scale`` and
            ``maxk_small_groups`` are read from it.
        estimator: the maxk estimator id (set by the registered wrappers).
        maxk_k, maxk_scale, maxk_small_groups: override the config values (for direct calls).
        kwargs: the other arguments verl may pass (``reward_baselines``, ...), ignored.

    Returns:
        ``(advantages, returns)``, both ``(bs, response_length)``, equal, in the dtype of
        ``token_level_rewards * response_mask`` and on the rewards' device. Half-precision
        rewards are summed and their advantages computed in float32; an advantage that does not
        fit a half-precision result raises ValueError. The step's diagnostics wait in
        :func:`drain_metrics`.
    """
    del kwargs
    if index is None:
        raise ValueError(
            f"maxk estimator {estimator!r} needs the group id of each response "
            "(verl passes DataProto.non_tensor_batch['uid'] as index)"
        )
    settings = _settings(config, estimator, {"k": maxk_k, "scale": maxk_scale, "small_groups": maxk_small_groups})
    adv, diag = outcome_token_advantages(settings, token_level_rewards, response_mask, index)
    _METRICS.add(diag)
    if diag["small_groups"]:
        logger.info("maxk: %d groups (%d responses) handled by small_groups=%s", diag["small_groups"],
                    diag["small_group_samples"], settings.small_groups)
    return adv, adv


def _settings(config: Any, estimator: str, overrides: dict[str, Any] | None = None) -> Settings:
    """The maxk settings of verl's ``algorithm`` config (``maxk_<field>``), ``overrides`` first
    (a direct ``maxk_k`` also overrides a configured schedule)."""
    overrides = {f: v for f, v in (overrides or {}).items() if v is not None}

    def get(name: str) -> Any:
        if name in overrides:
            return overrides[name]
        if name == "k_schedule" and "k" in overrides:
            return None
        return _config_get(config, f"maxk_{name}", None)

    return Settings.read(get, lambda name: f"+algorithm.maxk_{name}", k_hint=K_HINT, estimator=estimator)


def drain_metrics() -> dict[str, float]:
    """The diagnostics of the advantage steps since the last call (summed counts, the other
    values averaged), and forgets them. The trainer hooks add these to verl's metrics dict."""
    return _METRICS.drain()


def validation_metrics(
    data_sources: Any, sample_uids: Any, infos: dict[str, list[Any]], ks: Any
) -> dict[str, float]:
    """Unbiased max@k per data source and variable of a verl validation run (pass@k for a 0/1
    variable such as ``acc``), ``val-core/<data_source>/<var>/maxk_pass@k`` (``maxk_max@k`` for
    non-binary values); the arguments are those of verl's ``process_validation_metrics``.
    Prompts with fewer than k samples are left out (counted in ``.../maxk_skipped@k``)."""
    sources = np.asarray(list(data_sources), dtype=object)
    uids = np.asarray([str(u) for u in sample_uids], dtype=object)
    out: dict[str, float] = {}
    for var in ("acc", "reward", "score"):
        values = infos.get(var)
        if values is None or len(values) != len(uids) or any(v is None for v in values):
            continue
        vals = np.asarray(values, dtype=np.float64)
        binary = bool(np.all((vals == 0) | (vals == 1)))
        for source in sorted(set(sources.tolist()), key=str):
            sel = sources == source
            for k in ks:
                res = maxk.max_at_k_by_index(vals[sel], uids[sel], int(k))
                name = f"val-core/{source}/{var}/maxk_{'pass' if binary else 'max'}@{k}"
                if res["value"] is not None:
                    out[name] = float(res["value"])
                if res["skipped"]:
                    out[f"val-aux/{source}/{var}/maxk_skipped@{k}"] = float(res["skipped"])
    return out


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


def _is_maxk(name: Any) -> bool:
    return str(getattr(name, "value", name)) in VERL_NAMES


def _final_outputs(batch_keys: list[str]) -> tuple[list[int], list[int]] | None:
    """For multi-output agent loops (keys ``{uid}_{session}_{index}``): the row of the final
    output of each session, and for every row the position of its session's final output.
    None when every session has one output. The key format and the choice of the final output
    are verl 0.9.1's (``verl/trainer/ppo/v1/utils.py``, ``compute_advantage_for_multi_trajectories``)."""
    final: dict[str, tuple[int, int]] = {}
    row_session = []
    for i, key in enumerate(batch_keys):
        fields = str(key).rsplit("_", 2)
        if len(fields) != 3 or not fields[2].lstrip("-").isdigit():
            raise ValueError(
                f"maxk: batch key {key!r} is not verl's '{{uid}}_{{session_id}}_{{index}}'; cannot tell "
                "which outputs belong to one agent session, so refusing to count them as independent samples"
            )
        session, index = f"{fields[0]}_{fields[1]}", int(fields[2])
        row_session.append(session)
        if session not in final or final[session][0] < index:
            final[session] = (index, i)
    if len(final) == len(batch_keys):
        return None
    position = {session: j for j, session in enumerate(final)}
    return [row for _, row in final.values()], [position[s] for s in row_session]


def _wrap_multi_trajectories(original: Any) -> Any:
    """verl's ``compute_advantage_for_multi_trajectories`` keeps one output per agent session for
    GRPO only; for a maxk estimator do the same (an agent session's outputs share one uid and one
    final reward and are not independent samples)."""

    @functools.wraps(original)
    def wrapped(data: Any, batch_keys: list[str], adv_estimator: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_maxk(adv_estimator):
            return original(data, batch_keys, adv_estimator, *args, **kwargs)
        plan = _final_outputs(batch_keys)
        if plan is None:
            return original(data, batch_keys, adv_estimator, *args, **kwargs)
        final_rows, row_to_final = plan
        from verl.trainer.ppo.ray_trainer import compute_advantage

        final = compute_advantage(data.select_idxs(final_rows), adv_estimator, *args, **kwargs)
        first = final.batch["response_mask"].argmax(dim=1)
        per_session = final.batch["advantages"][torch.arange(len(final)), first]
        adv = per_session[row_to_final].unsqueeze(-1) * data.batch["response_mask"]
        data.batch["advantages"] = adv
        data.batch["returns"] = adv
        return data

    wrapped._maxk_original = original  # type: ignore[attr-defined]
    return wrapped


def _wrap_init(original: Any) -> Any:
    @functools.wraps(original)
    def __init__(self: Any, config: Any, *args: Any, **kwargs: Any) -> None:
        original(self, config, *args, **kwargs)
        _check_config(config)

    __init__._maxk_original = original  # type: ignore[attr-defined]
    return __init__


def _check_config(config: Any) -> None:
    """Start-up check of a verl trainer config (K against ``actor_rollout_ref.rollout.n``)."""
    algorithm = _config_get(config, "algorithm", None)
    name = str(_config_get(algorithm, "adv_estimator", ""))
    if not _is_maxk(name):
        return
    n = _config_get(_config_get(_config_get(config, "actor_rollout_ref", None), "rollout", None), "n", None)
    settings = _settings(algorithm, VERL_NAMES[name])
    if n is None:
        return
    settings.check_group_size(
        int(n), lambda k: f"algorithm.adv_estimator={name} with maxk_k={k} and actor_rollout_ref.rollout.n={n}"
    )


def _wrap_compute_advantage_method(original: Any) -> Any:
    @functools.wraps(original)
    def _compute_advantage(self: Any, batch: Any, metrics: dict, *args: Any, **kwargs: Any) -> Any:
        drain_metrics()  # only this step's advantage calls go into this step's metrics
        out = original(self, batch, metrics, *args, **kwargs)
        metrics.update(drain_metrics())
        return out

    _compute_advantage._maxk_original = original  # type: ignore[attr-defined]
    return _compute_advantage


def _wrap_val_metrics(original: Any) -> Any:
    @functools.wraps(original)
    def _val_metrics_update(self: Any, data_sources: Any, sample_uids: Any, infos: Any, *args: Any, **kwargs: Any):
        out = original(self, data_sources, sample_uids, infos, *args, **kwargs)
        ks = _config_get(_config_get(getattr(self, "config", None), "algorithm", None), "maxk_val_ks", None)
        if ks:
            out.update(validation_metrics(data_sources, sample_uids, infos, list(ks)))
        return out

    _val_metrics_update._maxk_original = original  # type: ignore[attr-defined]
    return _val_metrics_update


def _patch(owner: Any, attr: str, wrap: Any) -> bool:
    current = getattr(owner, attr, None)
    if current is None:
        return False
    if getattr(current, "_maxk_original", None) is None:
        setattr(owner, attr, wrap(current))
    return True


def install_trainer_hooks() -> list[str]:
    """Wraps verl's trainers (idempotent; runs on import): K checked at start-up, the maxk
    metrics in each step's metrics dict, one output per agent session, the optional unbiased
    validation pass@k. These are private verl methods: outside the tested versions
    (:data:`TESTED_VERL`) they are left alone with a warning, and the estimators still work.
    Returns the hooks installed."""
    from ._common import _version_tuple

    lo, hi = TESTED_VERL
    version = getattr(verl, "__version__", "0")
    if not (_version_tuple(lo) <= _version_tuple(version) <= _version_tuple(hi.replace("x", "999999"))):
        logger.warning(
            "maxk: verl %s is outside the tested range %s to %s; the maxk estimators work, but the "
            "start-up K check, the maxk/* metrics and the agent-session handling are not installed",
            version, lo, hi,
        )
        return []
    installed = []
    try:
        from verl.trainer.ppo import ray_trainer
        from verl.trainer.ppo.v1 import trainer_base, utils
    except ImportError as e:  # pragma: no cover - verl without its trainer extras
        logger.warning("maxk: verl trainer modules not importable (%s); trainer hooks not installed", e)
        return []
    for cls in (trainer_base.PPOTrainer, ray_trainer.RayPPOTrainer):
        if _patch(cls, "__init__", _wrap_init):
            installed.append(f"{cls.__name__}.__init__")
        if _patch(cls, "_val_metrics_update", _wrap_val_metrics):
            installed.append(f"{cls.__name__}._val_metrics_update")
    if _patch(trainer_base.PPOTrainer, "_compute_advantage", _wrap_compute_advantage_method):
        installed.append("PPOTrainer._compute_advantage")
    for module in (trainer_base, utils):
        if _patch(module, "compute_advantage_for_multi_trajectories", _wrap_multi_trajectories):
            installed.append(f"{module.__name__}.compute_advantage_for_multi_trajectories")
    # The legacy trainer computes its metrics dict inline in fit(): add ours where it adds its
    # own data metrics.
    if _patch(ray_trainer, "compute_data_metrics", _wrap_data_metrics):
        installed.append("ray_trainer.compute_data_metrics")
    return installed


def _wrap_data_metrics(original: Any) -> Any:
    @functools.wraps(original)
    def compute_data_metrics(*args: Any, **kwargs: Any) -> dict:
        out = original(*args, **kwargs)
        out.update(drain_metrics())
        return out

    compute_data_metrics._maxk_original = original  # type: ignore[attr-defined]
    return compute_data_metrics


register()
try:
    HOOKS = install_trainer_hooks()
except Exception as e:  # noqa: BLE001 - a broken hook must never unregister the estimators
    logger.warning("maxk: verl trainer hooks not installed (%s: %s); the estimators work", type(e).__name__, e)
    HOOKS = []
