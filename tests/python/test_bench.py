"""benches/python/bench_advantages.py still runs (tiny sizes; it is a benchmark, so nothing about
the timings is asserted), and its numpy MaxPO twin agrees with maxk (checked inside the script)."""

from __future__ import annotations

import subprocess
import sys

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
