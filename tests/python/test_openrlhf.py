"""OpenRLHF 0.11.2: the patched advantage step and the launcher.

OpenRLHF needs CUDA packages (deepspeed, vLLM, flash-attn) that cannot be installed or run on a
CPU-only machine, so it is installed with --no-deps and the GPU-only imports are stubbed
(openrlhf_stubs/openrlhf_cpu.py, as OpenRLHF's own tests/test_reward_shaping.py does). What runs is
OpenRLHF's own code: RemoteExperienceMaker.compute_advantages_and_returns, compute_reward, the
length penalties, get_cumulative_returns, and the argparse block of openrlhf.cli.train_ppo_ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ray_init, require

import maxk

require("openrlhf")
torch = require("torch")
require("ray")

STUBS = Path(__file__).parent / "openrlhf_stubs"
sys.path.insert(0, str(STUBS))
import openrlhf_cpu  # noqa: E402

openrlhf_cpu.install_stubs()

import maxk.integrations.openrlhf as maxk_openrlhf  # noqa: E402

maxk_openrlhf.install()  # before the import: patches through the import hook

from openrlhf.trainer.ppo_utils import experience_maker  # noqa: E402
from openrlhf.trainer.ppo_utils.experience import Experience  # noqa: E402

N = 4  # samples per prompt
PROMPTS = 3


def make_maker(estimator: str, **advantage):
    maker = experience_maker.RemoteExperienceMaker.__new__(experience_maker.RemoteExperienceMaker)
    maker.advantage_estimator = estimator
    maker.kl_ctl = SimpleNamespace(value=0.1)
    maker.strategy = SimpleNamespace(
        args=SimpleNamespace(
            rollout=SimpleNamespace(n_samples_per_prompt=N),
            reward=SimpleNamespace(clip_range=None),
            algo=SimpleNamespace(
                advantage=SimpleNamespace(estimator=estimator, gamma=1.0, lambd=1.0, no_std_norm=True, **advantage)
            ),
        )
    )
    return maker


def make_experiences(seed: int = 0):
    """Two micro-batches whose samples come from shuffled positions of 3 prompts x 4 samples;
    ragged responses (action masks), random KL."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(PROMPTS * N, generator=gen).tolist()
    rewards = torch.randint(0, 3, (PROMPTS * N,), generator=gen).float()
    length = 5
    experiences = []
    for chunk in (order[:7], order[7:]):
        lengths = torch.randint(1, length + 1, (len(chunk),), generator=gen)
        mask = torch.arange(length)[None, :] < lengths[:, None]
        experiences.append(
            Experience(
                index=list(chunk),
                rewards=rewards[chunk].clone(),
                action_mask=mask,
                kl=torch.rand(len(chunk), length, generator=gen) * mask,
                info={"reward": rewards[chunk].clone()},
            )
        )
    return experiences, rewards


def test_patch_is_installed_on_import():
    method = experience_maker.RemoteExperienceMaker.compute_advantages_and_returns
    assert getattr(method, "_maxk_original", None) is not None
    maxk_openrlhf.install()  # idempotent
    assert experience_maker.RemoteExperienceMaker.compute_advantages_and_returns is method


def test_names():
    assert maxk_openrlhf.OPENRLHF_NAMES["maxpo"] == "maxpo"
    assert maxk_openrlhf.OPENRLHF_NAMES["maxk_rloo"] == "rloo"
    assert "rloo" not in maxk_openrlhf.OPENRLHF_NAMES


def test_maxk_rloo_equals_openrlhf_rloo():
    """maxk's rloo through the patched path gives OpenRLHF's own rloo bit for bit: the plumbing
    (prompt order, KL penalty at each token, EOS reward, cumulative returns) is OpenRLHF's."""
    ours = make_maker("maxk_rloo").compute_advantages_and_returns(make_experiences()[0])
    theirs = make_maker("rloo").compute_advantages_and_returns(make_experiences()[0])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.advantages, b.advantages)
        torch.testing.assert_close(a.returns, b.returns)
        torch.testing.assert_close(a.info["return"], b.info["return"])
        torch.testing.assert_close(a.info["group_reward_std"], b.info["group_reward_std"])


@pytest.mark.parametrize("estimator", ["maxpo", "pkpo", "ei", "canonical"])
@pytest.mark.parametrize("scale", ["none", "pg"])
def test_maxk_estimator_advantages(estimator, scale):
    experiences, rewards = make_experiences(seed=1)
    maker = make_maker(estimator, maxk_k=2, maxk_scale=scale)
    maker.kl_ctl.value = 0.0  # no KL: every response token carries the sequence's advantage
    out = maker.compute_advantages_and_returns(experiences)
    want = maxk.advantages(rewards.reshape(PROMPTS, N), 2, estimator, scale).reshape(-1)
    for experience in out:
        expected = want[experience.index][:, None] * experience.action_mask
        torch.testing.assert_close(experience.advantages, expected)
        torch.testing.assert_close(experience.returns, expected)
        assert experience.kl is None


def test_other_estimators_run_openrlhf_code():
    experiences, rewards = make_experiences(seed=2)
    out = make_maker("group_norm").compute_advantages_and_returns(experiences)
    original = experience_maker.RemoteExperienceMaker.compute_advantages_and_returns._maxk_original
    ref = original(make_maker("group_norm"), make_experiences(seed=2)[0])
    for a, b in zip(out, ref):
        torch.testing.assert_close(a.advantages, b.advantages)


def test_errors_and_small_groups():
    with pytest.raises(ValueError, match="needs K: add --algo.advantage.maxk_k"):
        make_maker("maxpo").compute_advantages_and_returns(make_experiences()[0])
    with pytest.raises(ValueError, match=r"group id 0: k = 4 is out of range for maxpo with group size 4"):
        make_maker("maxpo", maxk_k=4, maxk_small_groups="error").compute_advantages_and_returns(
            make_experiences()[0]
        )
    # default rule zero: every group of 4 at K = 4 gets 0, counted in experience.info
    maker = make_maker("maxpo", maxk_k=4)
    maker.kl_ctl.value = 0.0  # no KL penalty: the tokens carry only the sequence's advantage
    out = maker.compute_advantages_and_returns(make_experiences()[0])
    for experience in out:
        assert torch.all(experience.advantages == 0)
        assert torch.all(experience.info["maxk/small_groups"] == PROMPTS)
    # K = N with centered-ei: EI minus its group mean (best-minus-second, centered)
    experiences, rewards = make_experiences(seed=3)
    maker = make_maker("maxpo", maxk_k=N, maxk_small_groups="centered-ei")
    maker.kl_ctl.value = 0.0
    out = maker.compute_advantages_and_returns(experiences)
    want = maxk.advantages(rewards.reshape(PROMPTS, N), N, "maxpo", small_groups="centered-ei").reshape(-1)
    for experience in out:
        torch.testing.assert_close(experience.advantages, want[experience.index][:, None] * experience.action_mask)


@pytest.mark.parametrize("mixture", ["1:1,2:0.5", "harmonic"])
def test_mixture_of_k_is_the_public_mixture_function(mixture):
    experiences, rewards = make_experiences(seed=5)
    maker = make_maker("maxpo", maxk_mixture=mixture)  # K, the scale and the schedule unused
    maker.kl_ctl.value = 0.0
    out = maker.compute_advantages_and_returns(experiences)
    want = maxk.mixture_advantages(rewards.reshape(PROMPTS, N), mixture).reshape(-1)
    for experience in out:
        torch.testing.assert_close(experience.advantages, want[experience.index][:, None] * experience.action_mask)
    if mixture != "harmonic":
        assert "maxk/max@2" in out[0].info and "maxk/mixture_objective" in out[0].info
    with pytest.raises(ValueError, match=r"--algo.advantage.maxk_mixture='1:x': invalid mixture \"1:x\""):
        make_maker("maxpo", maxk_mixture="1:x").compute_advantages_and_returns(make_experiences()[0])


def test_diagnostics_in_experience_info():
    experiences, rewards = make_experiences(seed=4)
    out = make_maker("maxpo", maxk_k=2).compute_advantages_and_returns(experiences)
    diag = maxk.diagnostics(rewards.reshape(PROMPTS, N), None, 2)
    for experience in out:
        n = len(experience.index)
        for name, value in [("maxk/max@2", diag["rho_k"]), ("maxk/no_signal_share", diag["no_signal_share"]),
                            ("maxk/centering_residual", diag["centering_residual"])]:
            info = experience.info[name]
            assert info.shape == (n,)  # per sample, as OpenRLHF averages info over samples
            torch.testing.assert_close(info, torch.full((n,), value, dtype=torch.float32))


def test_version_guard(monkeypatch):
    monkeypatch.setattr(maxk_openrlhf.importlib.metadata, "version", lambda name: "0.11.1")
    with pytest.raises(RuntimeError, match=r"RemoteExperienceMaker.compute_advantages_and_returns.*OpenRLHF 0.11.2 to "
                                           r"0.11.2; OpenRLHF 0.11.1 is installed"):
        maxk_openrlhf._check_version()
    monkeypatch.setenv("MAXK_SKIP_VERSION_CHECK", "1")
    maxk_openrlhf._check_version()


def test_job_submit_runtime_env_merges(monkeypatch):
    """Under `ray job submit --runtime-env-json ...` Ray merges the job's runtime env with the
    launcher's ray.init one and refuses any field or env var set by both (ray/_private/worker.py);
    the launcher leaves those out. Checked with Ray's own merge function."""
    from ray._private.worker import _merge_runtime_env

    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    alone = maxk_openrlhf._driver_runtime_env()
    assert alone["worker_process_setup_hook"] == maxk_openrlhf.HOOK
    for job_env in (
        {"env_vars": {"NCCL_DEBUG": "INFO"}},
        {"worker_process_setup_hook": maxk_openrlhf.HOOK, "env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
        {"pip": ["maxk"]},
        {},
    ):
        monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"runtime_env": job_env}))
        driver = maxk_openrlhf._driver_runtime_env()
        merged = _merge_runtime_env(job_env, driver)
        assert merged is not None, (job_env, driver)
        assert merged["worker_process_setup_hook"] == maxk_openrlhf.HOOK
        # the old recipe (hook in both) is exactly what Ray rejects
        assert _merge_runtime_env({"worker_process_setup_hook": maxk_openrlhf.HOOK}, alone) is None
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"runtime_env": {"worker_process_setup_hook": "x.y"}}))
    with pytest.raises(ValueError, match="worker_process_setup_hook='x.y'"):
        maxk_openrlhf._driver_runtime_env()


def run_launcher(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict | None]:
    """`python -m maxk.integrations.openrlhf ARGS` with the CPU stubs and a recording ray.init;
    the stubbed get_strategy records the parsed args and stops the run."""
    out = tmp_path / "args.json"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(STUBS), env.get("PYTHONPATH", "")]),
        MAXK_OPENRLHF_STUBS="1",
        MAXK_FAKE_RAY_INIT="1",
        MAXK_OPENRLHF_OUT=str(out),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "maxk.integrations.openrlhf", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return proc, json.loads(out.read_text()) if out.exists() else None


COMMON = ["--rollout.n_samples_per_prompt", "8", "--rollout.batch_size", "16", "--rollout.micro_batch_size", "8"]


@pytest.mark.slow
def test_launcher_cli(tmp_path):
    proc, record = run_launcher(
        ["--algo.advantage.estimator", "maxpo", "--algo.advantage.maxk_k", "4", "--algo.advantage.maxk_scale", "pg"]
        + COMMON,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert record["advantage"]["estimator"] == "maxpo"
    assert record["advantage"]["maxk_k"] == 4 and record["advantage"]["maxk_scale"] == "pg"
    assert record["ray_init"]["runtime_env"]["worker_process_setup_hook"] == "maxk.integrations.openrlhf.install"
    assert record["ray_init"]["runtime_env"]["env_vars"]["NCCL_DEBUG"] == os.environ.get("NCCL_DEBUG", "WARN")

    # K out of range for the group size: an argparse error with the core's message
    proc, record = run_launcher(
        ["--algo.advantage.estimator", "maxpo", "--algo.advantage.maxk_k", "8"] + COMMON, tmp_path / "bad"
    )
    assert proc.returncode == 2 and record is None
    assert "k = 8 is out of range for maxpo with group size 8" in proc.stderr

    # a mixture of K: checked against the group size when parsing, named in the error
    proc, record = run_launcher(
        ["--algo.advantage.estimator", "maxpo", "--algo.advantage.maxk_mixture", "1:1,8:0.5"] + COMMON,
        tmp_path / "mixture",
    )
    assert proc.returncode == 2 and record is None
    assert "mixture '1:1,8:0.5'" in proc.stderr and "out of range for mixture" in proc.stderr

    proc, _ = run_launcher(["--help"], tmp_path / "help")
    assert proc.returncode == 0
    assert "maxpo" in proc.stdout and "--algo.advantage.maxk_k" in proc.stdout


@pytest.mark.slow
def test_ray_worker_hook_patches_workers(tmp_path):
    """A real local Ray cluster: a worker started with the launcher's runtime env patches the
    experience maker when it imports it."""
    import ray

    env_vars = {
        "PYTHONPATH": os.pathsep.join([str(STUBS), os.environ.get("PYTHONPATH", "")]),
        "MAXK_OPENRLHF_STUBS": "1",
    }
    ray_init(
        num_cpus=1,
        include_dashboard=False,
        runtime_env={"worker_process_setup_hook": maxk_openrlhf.HOOK, "env_vars": env_vars},
        log_to_driver=False,
    )
    try:

        @ray.remote
        def patched() -> bool:
            from openrlhf.trainer.ppo_utils import experience_maker as em

            method = em.RemoteExperienceMaker.compute_advantages_and_returns
            return getattr(method, "_maxk_original", None) is not None

        assert ray.get(patched.remote(), timeout=240) is True
    finally:
        ray.shutdown()
