"""MaxKGRPOTrainer under Unsloth's GRPO (Unsloth 2026.10.9, TRL 1.15.0), on the CPU.

Unsloth refuses to start without a GPU unless ``UNSLOTH_ALLOW_CPU=1`` (its CPU-only CI mode),
which also skips its TRL rewrite; tests/python/trl_unsloth.py then calls Unsloth's own
``patch_trl_rl_trainers()``, which compiles and installs ``UnslothGRPOTrainer`` in ``trl`` as
``PatchFastRL`` does on a GPU. Runs where Unsloth is installed (scripts/test-frameworks.sh, its
own venv: Unsloth pins ``trl<=1.15.0``); ``TRITON_INTERPRET=1`` runs TRL 1.15.0's Triton
log-prob kernel on the CPU. Not covered: Unsloth's GPU model loader and kernels.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("unsloth") is None:  # importing it here would need a GPU or UNSLOTH_ALLOW_CPU
    pytest.skip("unsloth is not installed (scripts/test-frameworks.sh installs it)", allow_module_level=True)
torch = pytest.importorskip("torch")

import maxk  # noqa: E402

HERE = Path(__file__).resolve().parent


def run(tmp_path, order):
    out = tmp_path / f"{order}.json"
    env = dict(os.environ, UNSLOTH_ALLOW_CPU="1", TRITON_INTERPRET="1", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(HERE / "trl_unsloth.py"), str(out), order], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_unsloth_first_trains_on_unsloths_trainer_with_maxk_advantages(tmp_path):
    report = run(tmp_path, "unsloth-first")
    assert report["base"] == "UnslothGRPOTrainer.UnslothGRPOTrainer" == "UnslothGRPOTrainer." + report["trl_grpo"]
    assert report["global_step"] == 2 and len(report["records"]) == 2
    for record in report["records"]:
        rewards = (torch.tensor(record["rewards_per_func"]) * torch.tensor([1.0, 0.5])).nansum(dim=1)
        want = maxk.advantages(rewards.view(-1, 4), 2, "maxpo").reshape(-1)
        torch.testing.assert_close(torch.tensor(record["local_advantages"]), want.float(), rtol=0, atol=0)


@pytest.mark.slow
def test_maxk_first_is_refused_with_the_import_order(tmp_path):
    report = run(tmp_path, "maxk-first")
    assert "Import unsloth (and call PatchFastRL, if you use it) before importing maxk.integrations.trl" in report["error"]
