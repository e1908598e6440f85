"""docs/python.md: every example block (marked ``<!-- docs-test: NAME -->``) is exercised.

- Python blocks run as written; the TRL one with its two hub names (model, dataset) and the
  GPU-sized GRPOConfig swapped for local, CPU-sized equivalents (each swapped text must still be
  in the page, so the test fails when the page changes).
- The verl multi-node block: its ``ray`` options exist in the installed Ray's CLI, and its
  ``python3 -m verl.trainer.main_ppo ...`` line is run by verl's own Hydra entry point (``--cfg
  job``: compose and print, no training), whose resolved ``algorithm`` config then drives verl's
  ``compute_advantage`` to maxk's values.
- The OpenRLHF block goes through the launcher's real argument parsing (OpenRLHF's argparse
  block, CPU stubs for the GPU imports) up to the point where OpenRLHF would start its actors.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, require

import maxk

DOC = REPO / "docs" / "python.md"
ISSUE16_BLOCKS = {"multi", "schedule", "skyrl", "slime", "rllm"}
ISSUE23_BLOCKS = {"swift"}
BLOCK = re.compile(r"<!-- docs-test: (?P<name>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)\n```", re.S)


def blocks() -> dict[str, str]:
    found = {m["name"]: m["code"] for m in BLOCK.finditer(DOC.read_text())}
    assert set(found) == {"api", "torch", "diagnostics", "verl-multinode", "verl-direct", "trl", "openrlhf"} | ISSUE16_BLOCKS | ISSUE23_BLOCKS, sorted(
        found
    )
    return found


def commands(shell: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped, $VARs expanded."""
    joined = re.sub(r"\\\n\s*", " ", shell)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append([os.path.expandvars(word) for word in shlex.split(line)])
    return out


def run_python(code: str, namespace: dict | None = None) -> dict:
    namespace = {"__name__": "__docs__"} | (namespace or {})
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102
    return namespace


def test_api_block():
    ns = run_python(blocks()["api"])
    np.testing.assert_allclose(ns["adv"], maxk.advantages(ns["rewards"], 4))
    assert ns["flat"].shape == (7,)


def test_diagnostics_block():
    ns = run_python(blocks()["diagnostics"])
    assert ns["diag"]["rho_k"] == ns["diag"]["rho_k"]  # a number (group "a" has N >= K)
    assert ns["diag"]["groups"] == 3


def test_torch_block():
    require("torch")
    run_python(blocks()["torch"])


def test_verl_direct_block():
    require("verl")
    torch = require("torch")
    ns = run_python(blocks()["verl-direct"])
    want = maxk.advantages(torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]), 2).reshape(-1, 1)
    torch.testing.assert_close(ns["advantages"], want.expand(6, 5))


@pytest.mark.slow
def test_verl_multinode_block():
    verl = require("verl")
    torch = require("torch")
    from omegaconf import OmegaConf
    from verl import DataProto
    from verl.trainer.ppo.ray_trainer import compute_advantage

    cmds = commands(blocks()["verl-multinode"])
    assert [c[:2] for c in cmds] == [["ray", "start"], ["ray", "start"], ["ray", "job"]]

    # every ray option used exists in the installed Ray's CLI
    ray = str(Path(sys.executable).parent / "ray")
    for cmd in cmds:
        sub = cmd[: 3 if cmd[1] == "job" else 2]
        head = cmd[: cmd.index("--")] if "--" in cmd else cmd
        help_text = subprocess.run([ray, *sub[1:], "--help"], capture_output=True, text=True, timeout=300).stdout
        for option in (w.split("=", 1)[0] for w in head if w.startswith("--")):
            assert option in help_text, f"`{' '.join(sub)}` has no option {option}"

    # the entry point: verl's Hydra main composes the overrides into its trainer config
    submit = cmds[-1]
    entry = submit[submit.index("--") + 1 :]
    assert entry[:3] == ["python3", "-m", "verl.trainer.main_ppo"]
    proc = subprocess.run(
        [sys.executable, *entry[1:], "--cfg", "job"], capture_output=True, text=True, timeout=600, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = OmegaConf.create(proc.stdout)
    algorithm = cfg.algorithm
    assert algorithm.adv_estimator == "maxpo" and algorithm.maxk_k == 4 and algorithm.maxk_scale == "none"
    assert cfg.trainer.nnodes == 2 and cfg.trainer.n_gpus_per_node == 8
    n = cfg.actor_rollout_ref.rollout.n
    assert n > algorithm.maxk_k

    # and that config runs verl's compute_advantage: 4 prompts x n responses
    prompts, length = 4, 6
    rewards = torch.rand(prompts * n)
    token_rewards = torch.zeros(prompts * n, length)
    token_rewards[:, -1] = rewards
    uid = np.repeat([f"prompt-{p}" for p in range(prompts)], n).astype(object)
    data = DataProto.from_dict(
        tensors={"token_level_rewards": token_rewards, "response_mask": torch.ones(prompts * n, length)},
        non_tensors={"uid": uid},
    )
    out = compute_advantage(
        data, adv_estimator=algorithm.adv_estimator, num_repeat=n, config=algorithm
    ).batch["advantages"]
    want = maxk.advantages(rewards.view(prompts, n), algorithm.maxk_k).reshape(-1, 1)
    torch.testing.assert_close(out, want.expand(-1, length), rtol=0, atol=0)
    del verl


# Hub names in the page -> local stand-ins (the test must not download anything).
TRL_SWAPS = {
    '"Qwen/Qwen2.5-0.5B-Instruct"': "MODEL_DIR",
    'load_dataset("trl-lib/tldr", split="train")': "local_dataset()",
    'GRPOConfig(output_dir="qwen-maxpo", num_generations=8)': (
        "GRPOConfig(output_dir=OUTPUT_DIR, num_generations=8, per_device_train_batch_size=16,"
        " max_completion_length=8, max_steps=2, use_cpu=True, bf16=False, report_to=[],"
        ' save_strategy="no", logging_steps=1, seed=0)'
    ),
}


@pytest.mark.slow
def test_trl_block(tmp_path):
    require("trl")
    torch = require("torch")
    from datasets import Dataset
    from trl_tiny import tiny_model, tiny_tokenizer

    from maxk.integrations.trl import MaxKGRPOTrainer

    code = blocks()["trl"]
    for doc_text, local in TRL_SWAPS.items():
        assert doc_text in code, f"docs/python.md TRL example no longer contains {doc_text}"
        code = code.replace(doc_text, local)
    tokenizer = tiny_tokenizer()
    model_dir = tmp_path / "tiny-llama"
    tiny_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    prompts = ["ab", "ba", "cab", "hag", "bead", "fac", "dab", "ggh"]
    ns = run_python(
        code,
        {
            "MODEL_DIR": str(model_dir),
            "OUTPUT_DIR": str(tmp_path / "out"),
            "local_dataset": lambda: Dataset.from_dict({"prompt": prompts}),
        },
    )
    trainer = ns["trainer"]
    assert isinstance(trainer, MaxKGRPOTrainer)
    assert (trainer.maxk_estimator, trainer.maxk_k) == ("maxpo", 4)
    assert trainer.state.global_step == 2
    groups = trainer.last_maxk_advantages.view(-1, 8)
    torch.testing.assert_close(groups.sum(1), torch.zeros(len(groups)), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_openrlhf_block(tmp_path):
    require("openrlhf")
    require("ray")
    from test_openrlhf import run_launcher

    (cmd,) = commands(blocks()["openrlhf"])
    assert cmd[:3] == ["python3", "-m", "maxk.integrations.openrlhf"]
    proc, record = run_launcher(cmd[3:], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert record["advantage"]["estimator"] == "maxpo" and record["advantage"]["maxk_k"] == 4
    assert record["n_samples_per_prompt"] == 8
    assert record["ray_init"]["runtime_env"]["worker_process_setup_hook"] == "maxk.integrations.openrlhf.install"


# ---- issue 16: multi-objective max@K, K schedules, SkyRL, slime, rLLM ----------------------


def test_multi_block():
    ns = run_python(blocks()["multi"])
    r, w = ns["rewards"], [1.0, 0.2]
    want = sum(w[d] * maxk.advantages(r[:, d], 2) for d in range(2))
    np.testing.assert_allclose(ns["adv"], want, atol=1e-12)
    assert ns["mixed"].shape == (1, 5) and ns["ragged"].shape == (8,)


def test_schedule_block():
    run_python(blocks()["schedule"])


def test_skyrl_block():
    """The launcher line: its maxk settings register in SkyRL's registry and the rest is a valid
    SkyRL command line for SkyRL's own config parser (training needs GPUs)."""
    from conftest import skyrl_ppo_utils

    ppo_utils = skyrl_ppo_utils()
    from skyrl.train.config import SkyRLTrainConfig

    import maxk.integrations.skyrl as maxk_skyrl

    (launch,) = [c for c in commands(blocks()["skyrl"]) if c[0] == "python"]
    assert launch[:3] == ["python", "-m", "maxk.integrations.skyrl"]
    rest, settings = maxk_skyrl._split_argv(launch[3:])
    maxk_skyrl.register(**settings)
    maxk_skyrl.check_command_line(rest, settings)  # the launcher's start-up check passes
    cfg = SkyRLTrainConfig.from_cli_overrides(rest)
    name = cfg.trainer.algorithm.advantage_estimator
    fn = ppo_utils.AdvantageEstimatorRegistry.get(name)
    assert fn.keywords["estimator"] == "maxpo"
    assert (fn.keywords["settings"].k, fn.keywords["settings"].k_schedule) == (4, None)
    assert cfg.generator.n_samples_per_prompt == 8


# Runs `python -m maxk.integrations.skyrl ...` as the page writes it, through SkyRL's own
# main_base.main (override peek, strict config parse, validate_cfg), and stops where SkyRL would
# start Ray and the GPU trainer: initialize_ray is recorded instead (a Ray cluster start timed out
# on the loaded 2-core test machine; test_skyrl.py checks that the registered functions pickle
# by reference, which is what Ray's registry sync needs), and the trainer's entry point computes
# one advantage step with the estimator the parsed config names, from SkyRL's registry.
SKYRL_RUN = """
import json, runpy, sys
import numpy as np, torch
from skyrl.train.entrypoints import main_base
from skyrl.backends.skyrl_train.utils import ppo_utils

def entry(cfg):
    fn = ppo_utils.AdvantageEstimatorRegistry.get(cfg.trainer.algorithm.advantage_estimator)
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.0, 0.0, 0.0, 1.0, 1.0])
    rewards = torch.zeros(10, 3)
    rewards[:, -1] = r
    adv, _ = fn(token_level_rewards=rewards, response_mask=torch.ones(10, 3),
                index=np.array(["a"] * 5 + ["b"] * 5), config=cfg.trainer.algorithm)
    print("MAXK " + json.dumps({"n": cfg.generator.n_samples_per_prompt, "adv": adv[:, 0].tolist()}), flush=True)
    return "done"

main_base.initialize_ray = lambda cfg: print("MAXK initialize_ray", flush=True)
main_base.skyrl_entrypoint = type("Entry", (), {"remote": staticmethod(entry)})
main_base.ray.get = lambda ref: ref
sys.argv = ["maxk.integrations.skyrl", *sys.argv[1:]]
runpy.run_module("maxk.integrations.skyrl", run_name="__main__")
"""


@pytest.mark.slow
def test_skyrl_block_runs_the_launcher_to_the_trainer():
    from conftest import skyrl_ppo_utils

    skyrl_ppo_utils()
    if sys.version_info < (3, 12):
        pytest.skip("SkyRL's main_base imports its Tinker backend, which needs Python >= 3.12")
    (launch,) = [c for c in commands(blocks()["skyrl"]) if c[0] == "python"]
    proc = subprocess.run([sys.executable, "-c", SKYRL_RUN, *launch[3:]], capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line[5:] for line in proc.stdout.splitlines() if line.startswith("MAXK ")]
    assert lines[0] == "initialize_ray", proc.stdout[-2000:]
    out = json.loads(lines[1])
    assert out["n"] == 8
    r = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.0, 0.0, 0.0, 1.0, 1.0])
    want = np.concatenate([maxk.advantages(r[:5], 4), maxk.advantages(r[5:], 4)])
    np.testing.assert_allclose(out["adv"], want, rtol=1e-6, atol=1e-6)


def test_slime_block(tmp_path):
    """The YAML is applied to ``args`` as slime's ``--custom-config-path`` does, and the hook path
    resolves through slime's own ``load_function`` to a function that computes maxk."""
    pytest.importorskip("slime.utils.types")
    import yaml
    from slime.utils.misc import load_function
    from slime.utils.types import Sample

    from maxk.integrations.slime import reward_post_process

    block = blocks()["slime"]
    config = yaml.safe_load(block.split("<<'YAML'\n", 1)[1].split("\nYAML", 1)[0])
    (train,) = [c for c in commands(block.split("\nYAML\n", 1)[1]) if c[0] == "python"]
    flags = dict(zip(train[2::2], train[3::2]))
    assert flags["--advantage-estimator"] == "grpo"
    hook = load_function(flags["--custom-reward-post-process-path"])
    assert hook is reward_post_process
    args = type("Args", (), {"reward_key": None, "n_samples_per_prompt": int(flags["--n-samples-per-prompt"])})()
    for key, value in config.items():
        setattr(args, key, value)
    r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.5, 0.0]
    raw, adv = hook(args, [Sample(group_index=0, reward=x) for x in r])
    np.testing.assert_allclose(adv, maxk.advantages(np.array(r), 4), atol=1e-12)


def test_rllm_block():
    pytest.importorskip("rllm.trainer.algorithms.advantage")
    from rllm.trainer.algorithms.advantage import get_rllm_adv_estimator

    import maxk.integrations.rllm as maxk_rllm

    ns = run_python(blocks()["rllm"])
    try:
        fn = get_rllm_adv_estimator(ns["algorithm_config"].estimator_map["solver"])
        (adv,), _ = fn([np.array([1.0, 0.0, 0.0, 1.0, 0.5])], ns["algorithm_config"])
        np.testing.assert_allclose(adv, maxk.advantages(np.array([1.0, 0.0, 0.0, 1.0, 0.5]), 4), atol=1e-12)
    finally:
        maxk_rllm.configure()


# ---- issue 23: ms-swift ----------------------------------------------------------------------


def test_swift_block(monkeypatch):
    """The ms-swift command as the page writes it: ``$(python -m maxk.integrations.swift)`` is the
    plugin file; every option is parsed by ms-swift's own argument parser (its
    ``HfArgumentParser`` over ``RLHFArguments``, at the argparse level: no model download); the
    plugin, loaded by ms-swift's ``import_external_file`` with the page's ``MAXK_*`` variables,
    reads those settings, and the parsed ``--num_generations`` / ``--scale_rewards`` pass its
    start-up check. Runs where ms-swift is installed (scripts/test-frameworks.sh)."""
    pytest.importorskip("swift.rl_core.advantage")
    import argparse

    from swift.arguments import RLHFArguments
    from swift.utils.utils import _patch_get_type_hints, import_external_file
    from transformers import HfArgumentParser

    import maxk.integrations.swift as maxk_swift

    (cmd,) = commands(blocks()["swift"])
    env = {}
    while "=" in cmd[0]:
        name, _, value = cmd.pop(0).partition("=")
        env[name] = value
    assert env == {"MAXK_ESTIMATOR": "maxpo", "MAXK_K": "4"}
    assert cmd[:2] == ["swift", "rlhf"]
    argv = cmd[2:]
    i = argv.index("--external_plugins")
    assert argv[i + 1] == "$(python -m maxk.integrations.swift)"
    printed = subprocess.run([sys.executable, "-m", "maxk.integrations.swift"], capture_output=True, text=True,
                             check=True).stdout.strip()
    argv[i + 1] = printed
    with _patch_get_type_hints():
        parser = HfArgumentParser([RLHFArguments])
    parsed, unknown = argparse.ArgumentParser.parse_known_args(parser, argv)
    assert unknown == []
    assert (parsed.rlhf_type, parsed.num_generations, parsed.scale_rewards) == ("grpo", 8, "none")
    assert parsed.external_plugins == [maxk_swift.PLUGIN]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    maxk_swift._state.pop("settings", None)
    maxk_swift._state.pop("resolved", None)
    for name in [m for m in sys.modules if m.startswith("_swift_external_")]:
        del sys.modules[name]
    import_external_file(parsed.external_plugins[0])
    settings = maxk_swift.settings()
    assert (settings.estimator, settings.k, settings.small_groups) == ("maxpo", 4, "zero")
    trainer = type("Trainer", (), {"advantage_estimator": parsed.advantage_estimator, "args": parsed,
                                   "num_generations": parsed.num_generations, "scale_rewards": parsed.scale_rewards})()
    maxk_swift._check_trainer(trainer)
