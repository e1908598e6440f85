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
    data, token_rewards, mask, uid = make_batch(binary=estimator in ("passk-analytic", "maxrl"))
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
    # small_groups=error: the core's message, naming verl's uid
    with pytest.raises(ValueError, match=r"group id 'uid-[04]': k = 4 is out of range for maxpo with group size 4"):
        compute_advantage(
            make_batch()[0], adv_estimator="maxpo", config=OmegaConf.create({"maxk_k": 4, "maxk_small_groups": "error"})
        )
    # the default (zero, as verl's GRPO gives a singleton): the two groups of 4 get 0 and are counted
    maxk_verl.drain_metrics()
    data, token_rewards, mask, uid = make_batch()
    out = compute_advantage(data, adv_estimator="maxpo", config=OmegaConf.create({"maxk_k": 4}))
    small = torch.as_tensor(np.isin(uid, ["uid-0", "uid-4"]))
    assert torch.all(out.batch["advantages"][small] == 0)
    want = maxk.advantages_by_index(token_rewards.sum(-1)[~small], uid[~small.numpy()], 4)
    torch.testing.assert_close(out.batch["advantages"][~small], want.unsqueeze(-1) * mask[~small])
    assert maxk_verl.drain_metrics()["maxk/small_groups"] == 2


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
    keys = [f"{u}_{i}_0" for i, u in enumerate(uid)]  # {uid}_{session}_{index}: one output per session
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


# ---- real runs: padding, short groups, agent sessions, metrics, start-up check ----------------


class InMemoryTQ:
    """The two TransferQueue calls verl's V1 trainer makes here (kv_batch_get / kv_batch_put),
    over a dict instead of TransferQueue's Ray actors; the tensordicts are built with verl's own
    ``list_of_dict_to_tensordict``, as TransferQueue returns them."""

    def __init__(self):
        self.store: dict[str, dict] = {}
        self.tags: dict[str, dict] = {}

    def kv_batch_put(self, keys, partition_id, fields=None, tags=None):
        from transfer_queue import KVBatchMeta

        for i, key in enumerate(keys):
            row = self.store.setdefault(key, {})
            if tags is not None:
                self.tags[key] = tags[i]
            if fields is not None:
                for name in fields.keys():
                    row[name] = fields[name][i]
        return KVBatchMeta(keys=list(keys), tags=[self.tags.get(k, {}) for k in keys], partition_id=partition_id)

    def kv_batch_get(self, keys, partition_id, select_fields=None):
        from verl.utils.tensordict_utils import list_of_dict_to_tensordict

        rows = []
        for key in keys:
            row = self.store[key]
            names = select_fields if select_fields is not None else list(row)
            rows.append({n: row[n] for n in names if n in row})
        return list_of_dict_to_tensordict(rows)


def v1_trainer(monkeypatch, k=3, n=4, rule=None, estimator="maxpo", dp=4):
    """verl's V1 PPOTrainer methods on a minimal trainer object (no workers, no models)."""
    from types import SimpleNamespace

    from verl.trainer.ppo import padding_utils
    from verl.trainer.ppo.v1 import trainer_base

    fake_tq = InMemoryTQ()
    monkeypatch.setattr(padding_utils, "tq", fake_tq)
    monkeypatch.setattr(trainer_base, "tq", fake_tq)
    algorithm = {"adv_estimator": estimator, "maxk_k": k, "use_kl_in_reward": False, "gamma": 1.0, "lam": 1.0}
    if rule is not None:
        algorithm["maxk_small_groups"] = rule
    config = OmegaConf.create(
        {
            "algorithm": algorithm,
            "actor_rollout_ref": {"rollout": {"n": n}, "actor": {"ppo_mini_batch_size": 1}},
            "trainer": {"critic_warmup": 0},
        }
    )
    trainer = SimpleNamespace(
        config=config,
        use_critic=False,
        global_steps=1,
        tokenizer=SimpleNamespace(eos_token_id=2),
        actor_rollout_wg=SimpleNamespace(_dispatch_info={"actor": list(range(dp))}),
    )
    trainer._get_required_batch_multiple = lambda d: trainer_base.PPOTrainer._get_required_batch_multiple(trainer, d)
    return trainer, fake_tq, trainer_base.PPOTrainer


def put_rollouts(fake_tq, groups: dict[str, list[float]], outputs_per_session: int = 1):
    """Rollouts as verl's agent loop stores them: keys ``{uid}_{session}_{index}``, one dict of
    tensors per output, the reward on the last response token."""
    from transfer_queue import KVBatchMeta

    keys, tags = [], []
    rng = np.random.default_rng(0)
    for uid, rewards in groups.items():
        for session, reward in enumerate(rewards):
            for index in range(outputs_per_session):
                length = int(rng.integers(2, 6))
                scores = torch.zeros(length)
                scores[-1] = reward
                prompt = torch.tensor([5, 6, 7])
                response = torch.arange(length) + 10
                key = f"{uid}_{session}_{index}"
                fake_tq.store[key] = {
                    "uid": uid,
                    "prompts": prompt,
                    "responses": response,
                    "input_ids": torch.cat([prompt, response]),
                    "attention_mask": torch.ones(3 + length, dtype=torch.int64),
                    "position_ids": torch.arange(3 + length),
                    "response_mask": torch.ones(length, dtype=torch.int64),
                    "rm_scores": scores,
                }
                keys.append(key)
                tags.append({"seq_len": 3 + length, "prompt_len": 3, "response_len": length})
    return KVBatchMeta(keys=keys, tags=tags, partition_id="train")


def outcome_advantages(fake_tq, keys):
    return np.array([float(fake_tq.store[k]["advantages"][0]) for k in keys])


@pytest.mark.slow
def test_v1_padding_and_dropped_rollout_go_on(monkeypatch):
    """verl's own _balance_batch pads 7 rollouts to 8 (dp = 4) with a synthetic 1-row group, and
    one prompt lost a rollout (3 left, K = 3): verl's own _compute_advantage with maxpo goes on,
    both groups get 0 and are counted in the step's metrics."""
    trainer, fake_tq, cls = v1_trainer(monkeypatch, k=3, n=4)
    batch = put_rollouts(fake_tq, {"u-full": [1.0, 0.0, 0.5, 0.25], "u-short": [1.0, 0.0, 0.0]})
    metrics: dict = {}
    batch = cls._balance_batch(trainer, batch, metrics)
    assert len(batch) == 8
    pads = [k for k in batch.keys if k.startswith("pad")]
    assert len(pads) == 1
    batch = cls._compute_advantage(trainer, batch, metrics)
    adv = outcome_advantages(fake_tq, batch.keys)
    full = [i for i, k in enumerate(batch.keys) if k.startswith("u-full")]
    want = maxk.advantages(np.array([float(fake_tq.store[batch.keys[i]]["rm_scores"].sum()) for i in full]), 3)
    np.testing.assert_allclose(adv[full], want, atol=1e-6)
    others = [i for i, k in enumerate(batch.keys) if not k.startswith("u-full")]
    assert np.all(adv[others] == 0)
    assert metrics["maxk/small_groups"] == 2 and metrics["maxk/small_group_samples"] == 4
    assert metrics["maxk/max@3"] == pytest.approx(maxk.max_at_k(np.array([1.0, 0.0, 0.5, 0.25]), 3) / 2 + 1 / 2)
    assert "maxk/centering_residual" in metrics and "maxk/no_signal_share" in metrics

    # small_groups=error reproduces the crash verl users hit, with the core's message
    trainer, fake_tq, cls = v1_trainer(monkeypatch, k=3, n=4, rule="error")
    batch = put_rollouts(fake_tq, {"u-full": [1.0, 0.0, 0.5, 0.25], "u-short": [1.0, 0.0, 0.0]})
    batch = cls._balance_batch(trainer, batch, {})
    with pytest.raises(ValueError, match="group id 'u-short': k = 3 is out of range for maxpo with group size 3"):
        cls._compute_advantage(trainer, batch, {})


@pytest.mark.slow
def test_v1_multi_output_agent_sessions_count_once(monkeypatch):
    """An agent session with 3 outputs (one uid, one final reward) is one sample, as in verl's
    GRPO path: the advantages equal those of one output per session, broadcast."""
    trainer, fake_tq, cls = v1_trainer(monkeypatch, k=2, n=4, dp=1)
    rewards = {"u-a": [1.0, 0.0, 0.0, 1.0], "u-b": [0.0, 0.0, 1.0, 0.5]}
    batch = put_rollouts(fake_tq, rewards, outputs_per_session=3)
    metrics: dict = {}
    batch = cls._compute_advantage(trainer, batch, metrics)
    adv = outcome_advantages(fake_tq, batch.keys)
    for uid, r in rewards.items():
        want = maxk.advantages(np.array(r), 2)
        for session in range(4):
            rows = [i for i, key in enumerate(batch.keys) if key.startswith(f"{uid}_{session}_")]
            assert len(rows) == 3
            np.testing.assert_allclose(adv[rows], want[session], atol=1e-6)
    assert metrics["maxk/groups"] == 2


def test_startup_check_of_k_against_rollout_n():
    from verl.trainer.ppo.v1 import trainer_base

    assert "PPOTrainer.__init__" in maxk_verl.HOOKS
    config = OmegaConf.create(
        {"algorithm": {"adv_estimator": "maxpo", "maxk_k": 4}, "actor_rollout_ref": {"rollout": {"n": 4}}}
    )
    with pytest.raises(ValueError, match=r"actor_rollout_ref.rollout.n=4: k = 4 is out of range for maxpo"):
        maxk_verl._check_config(config)
    config.algorithm.maxk_small_groups = "centered-ei"  # the documented K = N option
    maxk_verl._check_config(config)
    config.algorithm.maxk_k = 3
    config.algorithm.maxk_small_groups = "zero"
    maxk_verl._check_config(config)
    # the real trainer class calls it in __init__ (before any worker or model exists)
    assert getattr(trainer_base.PPOTrainer.__init__, "_maxk_original", None) is not None


def test_direct_call_defaults_to_zero_for_small_groups():
    token_level_rewards = torch.zeros(5, 3)
    token_level_rewards[:, -1] = torch.tensor([1.0, 0.0, 0.5, 1.0, 0.0])
    uid = np.array(["a", "a", "a", "a", "pad"], dtype=object)
    fn = core_algos.get_adv_estimator_fn("maxpo")
    adv, _ = fn(token_level_rewards, torch.ones(5, 3), index=uid, config={"maxk_k": 2})
    assert torch.all(adv[4] == 0)
    m = maxk_verl.drain_metrics()
    assert m["maxk/small_groups"] == 1 and maxk_verl.drain_metrics() == {}


def test_half_precision_rewards_are_summed_in_float32_and_checked():
    # Rows of float16 rewards whose sums (120000) overflow float16 but not float32.
    token_level_rewards = torch.zeros(3, 2, dtype=torch.float16)
    token_level_rewards[0] = torch.tensor([60000.0, 60000.0])
    uid = np.array(["a", "a", "a"], dtype=object)
    fn = core_algos.get_adv_estimator_fn("maxk_rloo")
    adv, _ = fn(token_level_rewards, torch.ones(3, 2), index=uid, config={"maxk_k": 1})
    assert adv.dtype == torch.float32 and bool(torch.isfinite(adv).all())
    want = maxk.advantages(np.array([120000.0, 0.0, 0.0], dtype=np.float32), 1, "rloo")
    assert torch.equal(adv, torch.from_numpy(want).unsqueeze(-1).expand(3, 2))
    # With a float16 mask the result is float16, where 120000 does not fit: an error, not inf.
    with pytest.raises(ValueError, match="beyond the range of torch.float16"):
        fn(token_level_rewards, torch.ones(3, 2, dtype=torch.float16), index=uid, config={"maxk_k": 1})
    maxk_verl.drain_metrics()


def test_validation_metrics_unbiased_pass_at_k():
    sources = ["gsm8k"] * 8
    uids = ["a"] * 4 + ["b"] * 4
    infos = {"acc": [1, 0, 0, 0, 1, 1, 0, 0], "reward": [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]}
    out = maxk_verl.validation_metrics(sources, uids, infos, [1, 2])
    want = (maxk.pass_at_k(4, 1, 2) + maxk.pass_at_k(4, 2, 2)) / 2
    assert out["val-core/gsm8k/acc/maxk_pass@2"] == pytest.approx(want)
    assert out["val-core/gsm8k/acc/maxk_pass@1"] == pytest.approx(3 / 8)


def test_mixture_of_k_is_one_config_key():
    """`+algorithm.maxk_mixture=...` trains on sum_k w_k J_k (here pass@1 + 0.5 pass@4, then
    MaxRL's harmonic mixture on continuous rewards), through verl's own compute_advantage."""
    maxk_verl.drain_metrics()
    for mixture in ("1:1,4:0.5", "harmonic"):
        data, token_rewards, mask, uid = make_batch(seed=2)
        config = OmegaConf.create({"maxk_mixture": mixture})
        out = compute_advantage(data, adv_estimator="maxpo", config=config)
        scores = token_rewards.sum(-1)
        if mixture == "harmonic":
            want = maxk.mixture_advantages(scores, mixture, index=uid)
        else:  # the groups of 4 are too small for K = 4: 0 under the default small_groups=zero
            small = np.isin(uid, ["uid-0", "uid-4"])
            want = torch.zeros_like(scores)
            want[torch.as_tensor(~small)] = maxk.mixture_advantages(scores[torch.as_tensor(~small)], mixture, index=uid[~small])
        torch.testing.assert_close(out.batch["advantages"], want.unsqueeze(-1) * mask, rtol=0, atol=0)
        for g in set(uid):
            assert abs(float(want[torch.as_tensor(uid == g)].sum())) < 1e-5
    metrics = maxk_verl.drain_metrics()
    assert {"maxk/max@1", "maxk/max@4", "maxk/mixture_objective", "maxk/small_groups"} <= set(metrics)
    with pytest.raises(ValueError, match=r"\+algorithm\.maxk_mixture='1:x': invalid mixture \"1:x\""):
        compute_advantage(make_batch()[0], adv_estimator="maxpo", config=OmegaConf.create({"maxk_mixture": "1:x"}))
    with pytest.raises(ValueError, match=r"group id 'uid-[04]': k = 4 is out of range for mixture"):
        compute_advantage(
            make_batch()[0], adv_estimator="maxpo",
            config=OmegaConf.create({"maxk_mixture": "4", "maxk_small_groups": "error"}),
        )
