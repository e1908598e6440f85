"""The slime adapter against slime's own ``Sample`` and rollout-id hook.

slime is not on PyPI: this runs where ``slime`` is importable (its source on PYTHONPATH, see
docs/python.md) and skips elsewhere. :func:`maxk.integrations.slime.reward_post_process` is
called exactly as slime's ``RolloutManager._post_process_rewards`` calls the
``--custom-reward-post-process-path`` function: ``(args, samples)``.
"""

from __future__ import annotations

import logging
from argparse import Namespace

import numpy as np
import pytest
import reference

slime_types = pytest.importorskip("slime.utils.types")
sample_hooks = pytest.importorskip("slime.rollout.sample_hooks")

import maxk  # noqa: E402
from maxk.integrations.slime import drain_metrics, reward_post_process  # noqa: E402


def args(**kw) -> Namespace:
    base = {"reward_key": None, "n_samples_per_prompt": 4, "advantage_estimator": "grpo"}
    return Namespace(**{**base, **kw})


def samples(rewards: list, groups: list[int | None]):
    return [slime_types.Sample(group_index=g, index=i, reward=r) for i, (r, g) in enumerate(zip(rewards, groups))]


def test_groups_by_group_index_in_any_order():
    rewards = [1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 1.0, 0.25]
    groups = [0, 1, 0, 1, 0, 1, 0, 1]  # interleaved
    raw, adv = reward_post_process(args(maxk_k=2), samples(rewards, groups))
    assert raw == rewards
    want = np.empty(8)
    for g in (0, 1):
        idx = [i for i, x in enumerate(groups) if x == g]
        want[idx] = reference.advantages([rewards[i] for i in idx], 2, "maxpo")
    np.testing.assert_allclose(adv, want, atol=1e-12)


def test_without_group_index_uses_n_samples_per_prompt_and_reward_key():
    rewards = [{"acc": x} for x in (1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)]
    raw, adv = reward_post_process(
        args(maxk_k=3, maxk_estimator="pkpo", reward_key="acc"), samples(rewards, [None] * 8)
    )
    want = np.concatenate([reference.advantages(raw[:4], 3, "pkpo"), reference.advantages(raw[4:], 3, "pkpo")])
    np.testing.assert_allclose(adv, want, atol=1e-12)


@pytest.mark.parametrize("mixture", ["1:1,2:0.5", "harmonic"])
def test_mixture_of_k_is_the_public_mixture_function(mixture):
    rewards = [1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 1.0, 0.25]
    groups = [0, 1, 0, 1, 0, 1, 0, 1]
    raw, adv = reward_post_process(args(maxk_mixture=mixture), samples(rewards, groups))
    want = maxk.mixture_advantages(np.asarray(rewards), mixture, index=groups)
    np.testing.assert_allclose(adv, want, atol=1e-12)
    with pytest.raises(ValueError, match=r"maxk_mixture \(--custom-config-path YAML\)='1:x': invalid mixture"):
        reward_post_process(args(maxk_mixture="1:x"), samples(rewards, groups))


def test_schedule_follows_slime_rollout_id(caplog):
    caplog.set_level(logging.INFO, logger="maxk.schedule")
    r = [1.0, 0.0, 0.5, 0.0, 0.25]
    a = args(maxk_k_schedule="steps:0=1,10=3", n_samples_per_prompt=5)
    for rollout_id, k in ((0, 1), (9, 1), (10, 3)):
        sample_hooks.set_current_rollout_id(rollout_id)
        _, adv = reward_post_process(a, samples(r, [0] * 5))
        np.testing.assert_allclose(adv, reference.advantages(r, k, "maxpo"), atol=1e-12)
    sample_hooks.set_current_rollout_id(None)
    assert "maxk K=3 at step 10" in caplog.text


def test_multi_objective_reward_keys():
    rows = [(1.0, 0.5), (0.0, 1.0), (1.0, 0.0), (0.0, 0.0)] * 2
    rewards = [{"correct": c, "format": f} for c, f in rows]
    a = args(maxk_k=2, maxk_reward_keys=["correct", "format"], maxk_weights=[1.0, 0.2])
    raw, adv = reward_post_process(a, samples(rewards, [0, 0, 0, 0, 1, 1, 1, 1]))
    np.testing.assert_allclose(raw, [c + 0.2 * f for c, f in rows])
    want = maxk.multi_objective_advantages(np.array(rows[:4]), 2, weights=[1.0, 0.2])
    np.testing.assert_allclose(adv, np.concatenate([want, want]), atol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match=r"needs K: set maxk_k"):
        reward_post_process(args(), samples([1.0, 0.0, 0.0, 1.0], [0] * 4))
    with pytest.raises(ValueError, match=r"5 samples do not split into groups of n_samples_per_prompt = 4"):
        reward_post_process(args(maxk_k=1), samples([1.0] * 5, [None] * 5))
    # a group too small for K: advantage 0 under the default small-group rule, counted
    _, adv = reward_post_process(args(maxk_k=4), samples([1.0, 0.0, 0.0, 1.0], [0] * 4))
    assert adv == [0.0] * 4 and drain_metrics()["maxk/small_groups"] == 1
    with pytest.raises(ValueError, match=r"group id 0: k = 4 is out of range for maxpo with group size 4"):
        reward_post_process(args(maxk_k=4, maxk_small_groups="error"), samples([1.0, 0.0, 0.0, 1.0], [0] * 4))
    with pytest.raises(ValueError, match=r"maxk_small_groups \(--custom-config-path YAML\)='drop'"):
        reward_post_process(args(maxk_k=1, maxk_small_groups="drop"), samples([1.0, 0.0], [0] * 2))
