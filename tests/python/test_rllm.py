"""The rLLM adapter against rLLM's own advantage step.

rLLM is not on PyPI: this runs where ``rllm`` is importable (its source on PYTHONPATH, see
docs/python.md) and skips elsewhere. It drives rLLM's real
``collect_reward_and_advantage_from_trajectory_groups`` with real ``TrajectoryGroup`` objects.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import reference

rllm_advantage = pytest.importorskip("rllm.trainer.algorithms.advantage")
rllm_types = pytest.importorskip("rllm.types")

import maxk  # noqa: E402
import maxk.integrations.rllm as maxk_rllm  # noqa: E402


def make_groups(rewards_by_group: list[list[float]]) -> list:
    groups = []
    for g, rewards in enumerate(rewards_by_group):
        trajectories = [
            rllm_types.Trajectory(reward=r, steps=[rllm_types.Step(reward=r), rllm_types.Step()]) for r in rewards
        ]
        groups.append(rllm_types.TrajectoryGroup(trajectories=trajectories, group_id=f"task{g}:solver"))
    return groups


def config(estimator: str):
    cfg = rllm_advantage.AlgorithmConfig(estimator=estimator)
    return cfg


@pytest.fixture(autouse=True)
def reset_settings():
    yield
    maxk_rllm.configure()


def test_every_maxk_id_is_registered():
    registry = rllm_advantage.RLLM_ADV_ESTIMATOR_REGISTRY
    for name, estimator in maxk_rllm.RLLM_NAMES.items():
        assert registry[name].__name__ == f"maxk_{estimator.replace('-', '_')}_advantages"
    assert set(maxk_rllm.RLLM_NAMES.values()) == set(maxk.estimators())
    assert maxk_rllm.rllm_name("rloo") == "maxk_rloo" and maxk_rllm.rllm_name("maxpo") == "maxpo"


def test_rllm_step_writes_maxk_advantages_on_every_step():
    maxk_rllm.configure(k=2)
    rewards = [[1.0, 0.0, 0.0, 1.0, 0.0], [0.5, 0.25, 1.0], [0.0, 0.0, 0.0, 1.0]]  # ragged groups
    groups = make_groups(rewards)
    metrics = rllm_advantage.collect_reward_and_advantage_from_trajectory_groups(groups, config("maxpo"))
    for group, r in zip(groups, rewards):
        want = reference.advantages(r, 2, "maxpo")
        for traj, a in zip(group.trajectories, want):
            assert all(step.advantage == pytest.approx(a, abs=1e-12) for step in traj.steps)
    assert metrics["advantage/solver/mean"] == pytest.approx(0.0, abs=1e-12)  # MaxPO is centered


@pytest.mark.parametrize("mixture", ["1:1,2:0.5", "harmonic"])
def test_mixture_of_k_is_the_public_mixture_function(mixture):
    maxk_rllm.configure(mixture=mixture)  # no K needed: the mixture replaces the estimator
    rewards = [[1.0, 0.0, 0.0, 1.0, 0.0], [0.5, 0.25, 1.0], [0.0, 0.0, 0.0, 1.0]]  # ragged groups
    groups = make_groups(rewards)
    rllm_advantage.collect_reward_and_advantage_from_trajectory_groups(groups, config("maxpo"))
    for group, r in zip(groups, rewards):
        want = maxk.mixture_advantages(np.asarray(r), mixture)
        for traj, a in zip(group.trajectories, want):
            assert all(step.advantage == pytest.approx(a, abs=1e-12) for step in traj.steps)
    with pytest.raises(ValueError, match=r"configure\(mixture=...\) / MAXK_MIXTURE='1:x': invalid mixture"):
        maxk_rllm.configure(mixture="1:x")


def test_role_map_selects_maxk_and_schedule_advances_per_call(caplog):
    caplog.set_level(logging.INFO, logger="maxk.schedule")
    maxk_rllm.configure(k_schedule="steps:0=1,1=3", scale="pg")
    cfg = rllm_advantage.AlgorithmConfig(estimator="grpo", estimator_map={"solver": "canonical"})
    r = [1.0, 0.0, 0.0, 1.0, 0.5]
    for k in (1, 3):
        groups = make_groups([r])
        rllm_advantage.collect_reward_and_advantage_from_trajectory_groups(groups, cfg)
        got = [t.steps[0].advantage for t in groups[0].trajectories]
        np.testing.assert_allclose(got, reference.advantages(r, k, "canonical", "pg"), atol=1e-12)
    assert "maxk K=3 at step 1" in caplog.text


def test_missing_k_and_bad_groups_are_clear_errors():
    with pytest.raises(ValueError, match=r"needs K: call maxk.integrations.rllm.configure"):
        rllm_advantage.collect_reward_and_advantage_from_trajectory_groups(make_groups([[1.0, 0.0]]), config("maxpo"))
    maxk_rllm.configure(k=3)  # small_groups defaults to zero: the short group gets 0, counted
    groups = make_groups([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.5]])
    rllm_advantage.collect_reward_and_advantage_from_trajectory_groups(groups, config("maxpo"))
    assert all(t.steps[0].advantage == 0 for t in groups[1].trajectories)
    assert maxk_rllm.drain_metrics()["maxk/small_groups"] == 1
    with pytest.raises(ValueError, match=r"group_size=3\): k = 3 is out of range for maxpo"):
        maxk_rllm.configure(k=3, group_size=3)
    with pytest.raises(ValueError, match=r"MAXK_SCALE='bogus': unknown scale"):
        maxk_rllm.configure(k=3, scale="bogus")
    maxk_rllm.configure(k=3, small_groups="error")
    with pytest.raises(ValueError, match=r"group id 1: k = 3 is out of range for maxpo with group size 3"):
        rllm_advantage.collect_reward_and_advantage_from_trajectory_groups(
            make_groups([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.5]]), config("maxpo")
        )
