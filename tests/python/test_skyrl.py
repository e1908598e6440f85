"""The SkyRL adapter against SkyRL's own registry and advantage step (skyrl 0.4.0 from PyPI).

SkyRL 0.4.0 declares Python >= 3.12; scripts/test-frameworks.sh installs it in its own venv
(see ``conftest.skyrl_ppo_utils`` for Python 3.11). Skipped where skyrl is not installed.
"""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest
import reference

from conftest import skyrl_ppo_utils

ppo_utils = skyrl_ppo_utils()
torch = pytest.importorskip("torch")

import maxk  # noqa: E402
import maxk.integrations.skyrl as maxk_skyrl  # noqa: E402


def batch(rewards_by_uid: dict[str, list[float]], length: int = 3):
    uids, rewards = [], []
    for uid, rs in rewards_by_uid.items():
        uids += [uid] * len(rs)
        rewards += rs
    b = len(rewards)
    token_level = torch.zeros(b, length)
    token_level[:, -1] = torch.tensor(rewards)  # outcome reward on the last token, as SkyRL does
    mask = torch.ones(b, length)
    mask[0, 0] = 0.0
    return token_level, mask, uids, rewards


def step(token_level, mask, uids, name):
    from skyrl.train.config import AlgorithmConfig

    return ppo_utils.compute_advantages_and_returns(
        token_level_rewards=token_level,
        response_mask=mask,
        index=uids,
        adv_estimator=name,
        config=AlgorithmConfig(advantage_estimator=name),
        values=None,
    )


def test_every_maxk_id_is_registered():
    available = ppo_utils.AdvantageEstimatorRegistry.list_available()
    for name, estimator in maxk_skyrl.SKYRL_NAMES.items():
        assert name in available
    assert set(maxk_skyrl.SKYRL_NAMES.values()) == set(maxk.estimators())
    assert maxk_skyrl.skyrl_name("grpo") == "maxk_grpo" and maxk_skyrl.skyrl_name("maxpo") == "maxpo"
    assert {"grpo", "rloo", "gae"} <= set(available)  # SkyRL's own estimators untouched


def test_skyrl_step_gives_maxk_advantages_per_uid():
    maxk_skyrl.register(k=2)
    groups = {"p1": [1.0, 0.0, 0.5, 0.0], "p0": [0.0, 1.0, 1.0]}
    token_level, mask, uids, rewards = batch(groups)
    adv, ret = step(token_level, mask, uids, "maxpo")
    want = np.concatenate([reference.advantages(rs, 2, "maxpo") for rs in groups.values()])
    np.testing.assert_allclose(adv[:, 1].numpy(), want, atol=1e-6)
    assert adv[0, 0] == 0.0 and torch.equal(adv, ret)  # masked token, returns = advantages


def test_schedule_and_scale(caplog):
    caplog.set_level(logging.INFO, logger="maxk.schedule")
    maxk_skyrl.register(k_schedule="linear:1:3:2", scale="pg")
    r = [1.0, 0.0, 0.5, 0.0, 0.25]
    token_level, mask, uids, _ = batch({"a": r})
    for k in (1, 2, 3, 3):
        adv, _ = step(token_level, mask, uids, "canonical")
        np.testing.assert_allclose(adv[:, 2].numpy(), reference.advantages(r, k, "canonical", "pg"), atol=1e-6)
    assert "maxk K=3 at step 2" in caplog.text


@pytest.mark.parametrize("mixture", ["1:1,2:0.5", "harmonic"])
def test_mixture_of_k_is_the_public_mixture_function(mixture):
    maxk_skyrl.register(mixture=mixture)  # no K needed: the mixture replaces the estimator
    groups = {"p1": [1.0, 0.0, 0.5, 0.0], "p0": [0.0, 1.0, 1.0, 0.25], "p2": [0.0, 0.0, 1.0]}
    token_level, mask, uids, rewards = batch(groups)
    adv, _ = step(token_level, mask, uids, "maxpo")
    want = maxk.mixture_advantages(np.asarray(rewards), mixture, index=list(uids))
    np.testing.assert_allclose(adv[:, 1].numpy(), want, atol=1e-6)
    with pytest.raises(ValueError, match=r"maxk.mixture='1:x': invalid mixture \"1:x\""):
        maxk_skyrl.register(mixture="1:x")


def test_registered_function_pickles_by_reference_with_its_settings():
    maxk_skyrl.register(k=3, scale="std")
    fn = ppo_utils.AdvantageEstimatorRegistry.get("maxpo")
    cloudpickle = pytest.importorskip("cloudpickle")
    restored = pickle.loads(cloudpickle.dumps(fn))
    assert restored.func is maxk_skyrl.compute_maxk_outcome_advantage
    assert restored.keywords["estimator"] == "maxpo"
    settings = restored.keywords["settings"]
    assert (settings.k, settings.k_schedule, settings.scale, settings.small_groups) == (3, None, "std", "zero")


def test_launcher_splits_maxk_settings_and_errors():
    rest, settings = maxk_skyrl._split_argv(
        ["trainer.override_entrypoint=maxk.integrations.skyrl", "trainer.algorithm.advantage_estimator=maxpo",
         "maxk.k=4", "+maxk.scale=pg", "generator.n_samples_per_prompt=8"]
    )
    assert rest == ["trainer.algorithm.advantage_estimator=maxpo", "generator.n_samples_per_prompt=8"]
    assert settings == {"k": "4", "scale": "pg"}
    with pytest.raises(SystemExit, match="unknown setting maxk.kk"):
        maxk_skyrl._split_argv(["maxk.kk=4"])
    maxk_skyrl.register()
    token_level, mask, uids, _ = batch({"a": [1.0, 0.0, 0.0]})
    with pytest.raises(ValueError, match=r"needs K: add maxk.k=K"):
        step(token_level, mask, uids, "maxpo")
    maxk_skyrl.register(k=3)  # small_groups defaults to zero, as in every adapter
    adv, _ = step(token_level, mask, uids, "maxpo")
    assert torch.all(adv == 0) and maxk_skyrl.drain_metrics()["maxk/small_groups"] == 1
    maxk_skyrl.register(k=3, small_groups="error")
    with pytest.raises(ValueError, match=r"group id 'a': k = 3 is out of range for maxpo with group size 3"):
        step(token_level, mask, uids, "maxpo")
    with pytest.raises(ValueError, match=r"maxk.scale='bogus': unknown scale"):
        maxk_skyrl.register(k=2, scale="bogus")
    with pytest.raises(ValueError, match=r"maxk.k='four': K must be a positive integer"):
        maxk_skyrl.register(k="four")


def test_launcher_checks_k_at_start_up():
    """The launcher stops before SkyRL starts on a maxk estimator without K or with a K that
    generator.n_samples_per_prompt cannot carry."""
    with pytest.raises(ValueError, match=r"needs K: add maxk.k=K"):
        maxk_skyrl.check_command_line(["trainer.algorithm.advantage_estimator=maxpo"], {})
    with pytest.raises(ValueError, match=r"generator.n_samples_per_prompt=4: k = 4 is out of range for maxpo"):
        maxk_skyrl.check_command_line(
            ["trainer.algorithm.advantage_estimator=maxpo", "generator.n_samples_per_prompt=4"], {"k": "4"}
        )
    maxk_skyrl.check_command_line(["trainer.algorithm.advantage_estimator=grpo"], {})  # SkyRL's own: untouched
