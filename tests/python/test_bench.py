"""The benchmarks still run and compare like with like (tiny sizes; nothing about the timings is
asserted): benches/python/bench_advantages.py, whose numpy MaxPO twin agrees with maxk (checked
inside the script); bench_scaling.py's tables, which mark unmeasured cells; and the PyTorch
trainer twin's shared prefill, which draws what per-row prefill draws."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


def test_benchmark_script_runs():
    script = REPO / "benches" / "python" / "bench_advantages.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--groups", "32", "--n", "16", "--k", "4", "--repeat", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "numpy / maxk" in proc.stdout and "maxk / np.sort" in proc.stdout


def test_scaling_table_marks_unmeasured_cells(tmp_path, monkeypatch):
    """Where the numpy port is not run (above PEER_MAX_N), the CSV cell is empty and the
    tables print "-": never a NaN passed off as a figure."""
    monkeypatch.syspath_prepend(str(REPO / "benches" / "python"))
    import bench_scaling

    monkeypatch.setattr(bench_scaling, "PEER_MAX_N", 8)
    monkeypatch.setattr(sys, "argv", ["bench_scaling.py", "--max-n", "32", "--repeat", "1", "--out", str(tmp_path)])
    bench_scaling.main()
    csv_text = (tmp_path / "scaling.csv").read_text()
    assert "nan" not in csv_text.lower()
    rows = {line.split(",")[0]: line.split(",") for line in csv_text.splitlines()[1:]}
    assert rows["8"][-1] != "" and rows["32"][-2:] == ["", ""]
    md = (tmp_path / "scaling.md").read_text()
    last = md.splitlines()[-1].split("|")
    assert last[1].strip() == "32" and last[8].strip() == "-" and last[10].strip() == "-"


def test_twin_shared_prefill_samples_what_per_row_prefill_samples(monkeypatch):
    """The PyTorch twin's prefix sharing (each distinct prompt prefilled once, its KV cache and
    logits copied to its rows) draws the same completions as prefilling every row."""
    torch = pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(REPO / "benches" / "torch"))
    import lm_rl_step as twin

    torch.manual_seed(0)
    model = twin.Model(32, 2, 4, 64, 64)
    prompts = [twin.encode_prompt(p) for p in ["12+3=", "7*8=", "100-1="] for _ in range(4)]
    prompts = prompts[1:] + prompts[:1]  # the repeats of a prompt need not be adjacent
    cfg = {"max_new_tokens": 12, "temperature": 1.0, "top_p": 0.9}
    draws = {}
    for shared in (True, False):
        gen = torch.Generator().manual_seed(7)
        draws[shared] = twin.sample(model, prompts, cfg, torch.device("cpu"), gen, share_prefix=shared)
    assert draws[True] == draws[False]
    assert len({tuple(c) for c in draws[True]}) > 3  # the rows really sample
