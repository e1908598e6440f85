"""TRL on two processes: ``accelerate launch --multi_gpu --num_processes 2`` (gloo) runs a real 2-step
MaxKGRPOTrainer training (tests/python/trl_two_process.py) whose groups straddle the processes.

TRL gathers the rewards of all processes, computes the advantages of the whole batch and keeps
each process's slice; MaxKGRPOTrainer must do the same with maxk's advantages. Checked: each
process's advantages are its slice of the single-process maxk advantages of the gathered batch,
both processes saw the same gathered rewards, the diagnostics describe the whole batch (3 groups,
computed once from the same rewards on each process), and the run finishes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

import maxk

torch = require("torch")
require("trl")
require("accelerate")

HERE = Path(__file__).resolve().parent
G, LOCAL, K = 4, 6, 2
WEIGHTS = torch.tensor([1.0, 0.5])


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("trl2")
    launcher = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or "accelerate"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", MASTER_ADDR="127.0.0.1")
    # --multi_gpu makes accelerate start the processes with torchrun; without a GPU each one runs
    # on the CPU and they talk over gloo (accelerate's --cpu would start a single process).
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", "29517", str(HERE / "trl_two_process.py"), str(out)]
    run = subprocess.run(cmd, env=env, cwd=out, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-8000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_two_processes_train_on_their_slice_of_the_whole_batch_advantages(reports):
    assert [r["rank"] for r in reports] == [0, 1] and all(r["world_size"] == 2 for r in reports)
    assert all(r["backend"] == "gloo" for r in reports)
    assert all(r["global_step"] == 2 for r in reports)  # the run finishes
    batches = list(zip(reports[0]["records"], reports[1]["records"]))
    assert len(batches) == 2
    straddled = False
    for rank0, rank1 in batches:
        assert rank0["rewards_per_func"] == rank1["rewards_per_func"]  # TRL gathered both processes
        rpf = torch.tensor(rank0["rewards_per_func"])
        assert rpf.shape[0] == 2 * LOCAL
        rewards = (rpf * WEIGHTS).nansum(dim=1)
        want = maxk.advantages(rewards.view(-1, G), K, "maxpo").reshape(-1)  # one process, whole batch
        for rank, record in enumerate((rank0, rank1)):
            torch.testing.assert_close(torch.tensor(record["batch_advantages"]), want, rtol=0, atol=0)
            local = torch.tensor(record["local_advantages"])
            torch.testing.assert_close(local, want[rank * LOCAL : (rank + 1) * LOCAL], rtol=0, atol=0)
        # the middle group (completions 4-7) straddles: its sum is zero only over both processes
        middle = want[G : 2 * G]
        straddled |= bool(middle[: LOCAL - G].sum().abs() > 1e-9)
        # diagnostics computed once over the whole batch, identical on both processes
        assert rank0["diagnostics"] == rank1["diagnostics"]
        assert rank0["diagnostics"]["groups"] == 3
        whole = maxk.diagnostics(rewards, torch.arange(2 * LOCAL) // G, K, "maxpo", "none", "zero")
        assert rank0["diagnostics"]["rho_k"] == pytest.approx(whole["rho_k"])
    assert straddled, "no batch had a straddling group with a non-zero half: the test would not see a wrong slice"
    logged = [h for h in reports[0]["log_history"] if "maxk/groups" in h]
    assert logged and all(h["maxk/groups"] == 3 for h in logged)
