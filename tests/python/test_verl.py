"""verl contract: the entry point registers the estimators on `import verl`, and verl's own
`compute_advantage` (ray_trainer.py) gives maxk's advantages broadcast over the response."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from conftest import require

import maxk

verl = require("verl")
torch = require("torch")

from omegaconf import OmegaConf  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.ppo import core_algos  # noqa: E402
from verl.trainer.ppo.ray_trainer import compute_advantage  # noqa: E402

import maxk.integrations.verl as maxk_verl  # noqa: E402

VERL_NAMES = dict(maxk_verl.VERL_NAMES)


def test_entry_point_is_declared():
    eps = metadata.entry_points(group="verl.plugins")
    assert any(ep.name == "maxk" and ep.value == "maxk.integrations.verl" for ep in eps)


def test_import_verl_registers_every_estimator_in_a_fresh_process():
    """No import of maxk anywhere: verl/__init__.py loads the `verl.plugins` entry point."""
    code = textwrap.dedent(
        """
        import sys
        import verl
        from verl.trainer.ppo import core_algos
        assert "maxk.integrations.verl" in sys.modules, "entry point not loaded"
        names = sorted(n for n in core_algos.ADV_ESTIMATOR_REGISTRY
                       if getattr(core_algos.get_adv_estimator_fn(n), "_maxk_estimator", None))
        print(",".join(names))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "VERL_USE_EXTERNAL_PLUGINS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1].split(",") == sorted(VERL_NAMES)


def test_names():
    assert VERL_NAMES["maxpo"] == "maxpo"
    assert VERL_NAMES["maxk_grpo"] == "grpo" and VERL_NAMES["maxk_rloo"] == "rloo"
    assert "grpo" not in VERL_NAMES and "rloo" not in VERL_NAMES
    assert sorted(VERL_NAMES.values()) == sorted(maxk.estimators())
    # verl's own estimators are untouched
    assert core_algos.get_adv_estimator_fn("rloo") is core_algos.compute_rloo_outcome_advantage
    assert maxk_verl.register() == VERL_NAMES  # idempotent


def make_batch(seed: int = 0, binary: bool = False):
    """A verl-style batch: 5 prompts with 4-7 responses each (ragged), shuffled, string uids,
    rewards on the last response token, padded responses."""
    rng = np.random.default_rng(seed)
    sizes = [4, 6, 5, 7, 4]
    uid = np.array([f"uid-{p}" for p, n in enumerate(sizes) for _ in range(n)], dtype=object)
    bs, length = len(uid), 9
    order = rng.permutation(bs)
    uid = uid[order]
    lengths = rng.integers(1, length + 1, bs)
    mask = (torch.arange(length)[None, :] < torch.as_tensor(lengths)[:, None]).float()
    outcome = rng.integers(0, 2, bs).astype(float) if binary else rng.normal(size=bs)
    token_rewards = torch.zeros(bs, length)
    token_rewards[torch.arange(bs), torch.as_tensor(lengths) - 1] = torch.as_tensor(outcome, dtype=torch.float32)
    data = DataProto.from_dict(
        tensors={"token_level_rewards": token_rewards, "response_mask": mask},
        non_tensors={"uid": uid},
    )
    return data, token_rewards, mask, uid


@pytest.mark.parametrize("name", sorted(VERL_NAMES))
def test_verl_compute_advantage_matches_maxk(name):
    estimator = VERL_NAMES[name]
    data, token_rewards, mask, uid = make_batch(binary=estimator == "passk-analytic")
    k = 3
    config = OmegaConf.create({"adv_estimator": name, "maxk_k": k, "norm_adv_by_std_in_grpo": True})
    out = compute_advantage(data, adv_estimator=name, config=config)
    want = maxk.advantages_by_index(token_rewards.sum(-1), uid, k, estimator)
    assert want.dtype == torch.float32
    expected = want.unsqueeze(-1) * mask
    torch.testing.assert_close(out.batch["advantages"], expected, rtol=0, atol=0)
    torch.testing.assert_close(out.batch["returns"], expected, rtol=0, atol=0)
    if estimator in ("maxpo", "canonical", "rloo", "dr-grpo", "grpo"):
        for g in set(uid):
            assert abs(float(want[torch.as_tensor(uid == g)].sum())) < 1e-5


def test_scale_and_k_from_config_and_errors():
    data, token_rewards, mask, uid = make_batch(seed=1)
    config = OmegaConf.create({"maxk_k": 2, "maxk_scale": "pg"})
    out = compute_advantage(data, adv_estimator="maxpo", config=config)
    want = maxk.advantages_by_index(token_rewards.sum(-1), uid, 2, "maxpo", "pg")
    torch.testing.assert_close(out.batch["advantages"], want.unsqueeze(-1) * mask)

    # K is required by the estimators that use it; peers ignore it
    with pytest.raises(ValueError, match=r"\+algorithm\.maxk_k=K"):
        compute_advantage(make_batch()[0], adv_estimator="maxpo", config=OmegaConf.create({}))
    compute_advantage(make_batch()[0], adv_estimator="maxk_rloo", config=OmegaConf.create({}))
    # the core's message, naming verl's uid
    with pytest.raises(ValueError, match=r"group id 'uid-[04]': k = 4 is out of range for maxpo with group size 4"):
        compute_advantage(make_batch()[0], adv_estimator="maxpo", config=OmegaConf.create({"maxk_k": 4}))


def test_config_from_verl_hydra_defaults():
    """`algorithm.adv_estimator=maxpo +algorithm.maxk_k=4` on verl's own ppo_trainer config."""
    cfg = compose_verl(["algorithm.adv_estimator=maxpo", "+algorithm.maxk_k=3", "+algorithm.maxk_scale=pg"])
    data, token_rewards, mask, uid = make_batch(seed=2)
    out = compute_advantage(data, adv_estimator=cfg.algorithm.adv_estimator, config=cfg.algorithm)
    want = maxk.advantages_by_index(token_rewards.sum(-1), uid, 3, "maxpo", "pg")
    torch.testing.assert_close(out.batch["advantages"], want.unsqueeze(-1) * mask)


def test_v1_trainer_path():
    """trainer.use_v1's compute_advantage_for_multi_trajectories delegates non-GRPO names."""
    from verl.trainer.ppo.v1.utils import compute_advantage_for_multi_trajectories

    data, token_rewards, mask, uid = make_batch(seed=3)
    keys = [f"{u}_0_{i}" for i, u in enumerate(uid)]
    out = compute_advantage_for_multi_trajectories(
        data, batch_keys=keys, adv_estimator="maxpo", config=OmegaConf.create({"maxk_k": 2})
    )
    want = maxk.advantages_by_index(token_rewards.sum(-1), uid, 2, "maxpo")
    torch.testing.assert_close(out.batch["advantages"], want.unsqueeze(-1) * mask)


def compose_verl(overrides: list[str]):
    """verl's trainer config (verl/trainer/config/ppo_trainer.yaml) with Hydra overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)
