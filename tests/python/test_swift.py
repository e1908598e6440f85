"""The ms-swift adapter against ms-swift 4.6.0's own code (installed from PyPI in its own venv by
scripts/test-frameworks.sh: ms-swift pins trl < 1.0, peft < 0.21 and datasets < 4.8.5 against
this suite's TRL 1.16). Skipped where ms-swift is not installed.

Real ms-swift code run here: its plugin loader (``import_external_file``, what
``--external_plugins`` calls), its ``GRPOConfig`` (the arguments of the HF trainer), the HF
``GRPOTrainer``'s ``_prepare_algorithm_params`` (set-up) and ``_compute_advantages`` (gathered
rewards -> advantages, reward metrics), and ``swift.rl_core.advantage.compute_advantages`` (the
weighted reward and KL penalty). Stubbed: the trainer object carries only the fields those
methods read (no model, no rollout engine); Megatron and Ray trainers are patched by the same
code but need Megatron / a GPU to import.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest

swift_advantage = pytest.importorskip("swift.rl_core.advantage")
torch = pytest.importorskip("torch")

import maxk  # noqa: E402

G = 4
WEIGHTS = torch.tensor([1.0, 0.5])


@pytest.fixture()
def plugin(monkeypatch):
    """The plugin loaded as ms-swift loads ``--external_plugins`` files, with MAXK_* set."""

    def load(**env):
        for name in ("MAXK_ESTIMATOR", "MAXK_K", "MAXK_K_SCHEDULE", "MAXK_SCALE", "MAXK_SMALL_GROUPS", "MAXK_MIXTURE",
                     "MAXK_MAJ"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        import maxk.integrations.swift as maxk_swift
        from swift.utils.utils import import_external_file

        maxk_swift._state.pop("settings", None)
        maxk_swift._state.pop("resolved", None)
        for name in [m for m in sys.modules if m.startswith("_swift_external_")]:
            del sys.modules[name]  # ms-swift imports a plugin file once per process: a fresh start
        import_external_file(maxk_swift.PLUGIN)
        return maxk_swift

    return load


def trainer_module():
    import swift.rlhf_trainers.grpo_trainer as grpo_trainer

    return grpo_trainer


def hf_trainer(scale_rewards="none", advantage_estimator="grpo", num_generations=G, **extra):
    """An ms-swift HF GRPOTrainer object set up by its own _prepare_algorithm_params from a real
    GRPOConfig (no model, no rollout engine)."""
    from swift.rlhf_trainers.arguments import GRPOConfig

    module = trainer_module()
    args = GRPOConfig(output_dir="/tmp/maxk-swift-test", num_generations=num_generations, use_cpu=True,
                      scale_rewards=scale_rewards, advantage_estimator=advantage_estimator,
                      per_device_train_batch_size=num_generations, report_to=[], **extra)
    trainer = object.__new__(module.GRPOTrainer)
    trainer.args = args
    trainer.num_generations = num_generations
    trainer.num_generations_eval = num_generations
    trainer.dynamic_num_samples = False
    trainer._prepare_algorithm_params()
    trainer.model = torch.nn.Linear(1, 1)
    trainer.beta = 0.0
    trainer.reward_weights = WEIGHTS
    trainer.reward_func_names = ["correct", "format"]
    trainer._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    trainer._logs = {"rewards": defaultdict(list)}
    trainer.state = SimpleNamespace(global_step=0)
    return trainer


def rewards_per_func(seed=0, groups=3):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, 2, (groups * G,), generator=g).float(),
                        torch.rand(groups * G, generator=g)], dim=1)


def test_plugin_path_is_printed_and_patches_every_trainer_module(plugin):
    out = subprocess.run([sys.executable, "-m", "maxk.integrations.swift"], capture_output=True, text=True, check=True)
    maxk_swift = plugin(MAXK_K=2)
    assert out.stdout.strip() == maxk_swift.PLUGIN and os.path.isfile(maxk_swift.PLUGIN)
    module = trainer_module()  # imported after the plugin: patched on import
    assert module.compute_advantages is maxk_swift.compute_advantages
    assert getattr(module.GRPOTrainer._compute_advantages, "_maxk_original", None) is not None
    assert swift_advantage.compute_advantages is maxk_swift._state["original"]  # ms-swift's own, kept
    # every ms-swift module that imports compute_advantages is a target (no new consumer missed)
    import pathlib
    import re

    import swift

    root = pathlib.Path(swift.__file__).parent
    imports = re.compile(r"from swift\.rl_core\.advantage import \(?([^)\n]*(?:\n[^)]*)?)\)?")
    importers = {
        ".".join(p.relative_to(root.parent).with_suffix("").parts)
        for p in root.rglob("*.py")
        if any(re.search(r"\bcompute_advantages\b", names) for names in imports.findall(p.read_text()))
    }
    assert importers == set(maxk_swift.TARGETS)


@pytest.mark.parametrize(("estimator", "k", "scale_rewards", "scale"),
                         [("maxpo", 2, "none", "none"), ("pkpo", 3, "group", "std"), ("rloo", None, "none", "none")])
def test_hf_trainer_advantage_step_is_maxk(plugin, estimator, k, scale_rewards, scale):
    env = {"MAXK_ESTIMATOR": estimator} | ({"MAXK_K": k} if k else {})
    plugin(**env)
    trainer = hf_trainer(scale_rewards=scale_rewards)
    rpf = rewards_per_func()
    adv = trainer._compute_advantages([], rpf, [])
    rewards = (rpf * WEIGHTS).nansum(dim=1)
    want = maxk.advantages(rewards.view(-1, G), k or 1, estimator, scale).reshape(-1)
    torch.testing.assert_close(adv, want.to(adv.dtype), rtol=0, atol=0)
    grpo, _ = swift_advantage.compute_advantages(rpf, WEIGHTS, G, "grpo", scale_rewards)
    if estimator == "pkpo":
        assert not torch.allclose(adv, grpo)  # really replaced
    m = trainer._metrics["train"]
    assert m["reward"] and m["maxk/groups"] == [3.0]  # ms-swift's metrics and maxk's, once per step
    assert f"maxk/max@{k or 1}" in m and "maxk/no_signal_share" in m


@pytest.mark.parametrize("mixture", ["1:1,2:0.5", "harmonic"])
def test_mixture_of_k_is_the_public_mixture_function(plugin, mixture):
    plugin(MAXK_MIXTURE=mixture)  # no K needed: the mixture replaces the estimator
    trainer = hf_trainer(scale_rewards="none")
    rpf = rewards_per_func(3)
    adv = trainer._compute_advantages([], rpf, [])
    rewards = (rpf * WEIGHTS).nansum(dim=1)
    want = maxk.mixture_advantages(rewards.view(-1, G), mixture).reshape(-1)
    torch.testing.assert_close(adv, want.to(adv.dtype), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"MAXK_MIXTURE='1:x': invalid mixture \"1:x\""):
        plugin(MAXK_MIXTURE="1:x")


def test_kl_in_reward_is_swifts_reward(plugin):
    maxk_swift = plugin(MAXK_K=2)
    rpf, kl = rewards_per_func(1), torch.rand(3 * G)
    adv, rewards = maxk_swift.compute_advantages(rpf, WEIGHTS, G, "grpo", "none", True, 0.1, kl)
    _, swift_rewards = swift_advantage.compute_advantages(rpf, WEIGHTS, G, "grpo", "none", True, 0.1, kl)
    torch.testing.assert_close(rewards, swift_rewards, rtol=0, atol=0)
    torch.testing.assert_close(adv, maxk.advantages(swift_rewards.view(-1, G), 2).reshape(-1).float())


def test_small_groups_and_schedule(plugin, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="maxk.schedule")
    maxk_swift = plugin(MAXK_K_SCHEDULE="steps:0=1,5=3")
    trainer = hf_trainer()
    rpf = rewards_per_func(2)
    trainer.state.global_step = 7
    adv = trainer._compute_advantages([], rpf, [])
    rewards = (rpf * WEIGHTS).nansum(dim=1)
    torch.testing.assert_close(adv, maxk.advantages(rewards.view(-1, G), 3).reshape(-1).float())
    assert "maxk K=3 at step 7" in caplog.text
    # an eval batch of 2 generations per prompt: too small for K = 3, zero (the adapters' default)
    adv, _ = maxk_swift.compute_advantages(rpf[:4], WEIGHTS, 2, "grpo", "none")
    assert torch.all(adv == 0)


def test_start_up_errors_name_the_setting(plugin):
    with pytest.raises(ValueError, match="maxk estimator 'maxpo' needs K: set MAXK_K=K"):
        plugin()
    with pytest.raises(ValueError, match="MAXK_K='four': K must be a positive integer"):
        plugin(MAXK_K="four")
    with pytest.raises(ValueError, match="MAXK_SMALL_GROUPS='drop'"):
        plugin(MAXK_K=2, MAXK_SMALL_GROUPS="drop")
    plugin(MAXK_K=4)
    with pytest.raises(ValueError, match=r"MAXK_K=4 with --num_generations=4: k = 4 is out of range for maxpo"):
        hf_trainer()
    plugin(MAXK_K=2)
    with pytest.raises(ValueError, match="--advantage_estimator rloo: the maxk plugin replaces GRPO's advantages"):
        hf_trainer(advantage_estimator="rloo")
    with pytest.raises(ValueError, match="maxk does not support --scale_rewards='batch'"):
        hf_trainer(scale_rewards="batch")
    plugin(MAXK_K=2, MAXK_SCALE="pg")
    with pytest.raises(ValueError, match="MAXK_SCALE='pg' contradicts --scale_rewards='group'"):
        hf_trainer(scale_rewards="group")
    assert np.isfinite(hf_trainer(scale_rewards="none").num_generations)


def test_changed_swift_is_refused(plugin, monkeypatch):
    maxk_swift = plugin(MAXK_K=2)
    module = trainer_module()
    monkeypatch.setattr(module.GRPOTrainer, "_compute_advantages", lambda self, *a: None)
    with pytest.raises(RuntimeError, match="no longer calls compute_advantages"):
        maxk_swift._patch_trainer_module(module)


@pytest.mark.slow
def test_swift_rlhf_trains_with_maxk_advantages(tmp_path):
    """The documented command, CPU-sized: ``swift rlhf --rlhf_type grpo --external_plugins
    "$(python -m maxk.integrations.swift)" ...`` with MAXK_* in the environment trains 2 steps of
    a tiny local Llama (LoRA, ms-swift's default) on ms-swift's own HF GRPO trainer; every
    advantage step returned maxk's advantages of the gathered rewards, and ms-swift logged the
    maxk/* diagnostics next to its reward."""
    import json
    import shutil

    sys.path.insert(0, os.path.dirname(__file__))
    from trl_tiny import PROMPTS, tiny_model, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    tiny_model(tokenizer).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    (tmp_path / "data.jsonl").write_text(
        "".join(json.dumps({"messages": [{"role": "user", "content": p}]}) + "\n" for p in PROMPTS)
    )
    plugin = subprocess.run([sys.executable, "-m", "maxk.integrations.swift"], capture_output=True, text=True,
                            check=True).stdout.strip()
    recorder = os.path.join(os.path.dirname(__file__), "swift_plugins", "tiny_reward.py")
    swift_cli = shutil.which("swift", path=os.path.dirname(sys.executable))
    record = tmp_path / "steps.jsonl"
    env = dict(os.environ, MAXK_ESTIMATOR="maxpo", MAXK_K="2", MAXK_SWIFT_RECORD=str(record), CUDA_VISIBLE_DEVICES="")
    cmd = [swift_cli, "rlhf", "--rlhf_type", "grpo", "--external_plugins", plugin, recorder,
           "--model", str(tmp_path / "model"), "--model_type", "llama", "--template", "default",
           "--dataset", str(tmp_path / "data.jsonl"), "--reward_funcs", "count_a",
           "--num_generations", str(G), "--scale_rewards", "none", "--per_device_train_batch_size", str(G),
           "--max_completion_length", "6", "--max_steps", "2", "--logging_steps", "1", "--save_strategy", "no",
           "--report_to", "none", "--torch_dtype", "float32", "--use_cpu", "true", "--dataloader_num_workers", "0",
           "--dataset_num_proc", "1", "--output_dir", str(tmp_path / "out")]
    run = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    steps = [json.loads(line) for line in record.read_text().splitlines()]
    assert len([s for s in steps if s["training"]]) == 2
    for step in steps:
        rpf = torch.tensor(step["rewards_per_func"])
        rewards = (rpf * torch.tensor(step["reward_weights"])).nansum(dim=1)
        want = maxk.advantages(rewards.view(-1, step["num_generations"]), 2, "maxpo").reshape(-1)
        torch.testing.assert_close(torch.tensor(step["advantages"]), want.float(), rtol=0, atol=1e-6)
    (log,) = (tmp_path / "out").glob("*/logging.jsonl")
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [h["maxk/groups"] for h in logged if "maxk/groups" in h] == [1.0, 1.0]
    assert all("maxk/max@2" in h and "reward" in h for h in logged if "maxk/groups" in h)
