"""Run by tests/python/test_trl_multiprocess.py as ``accelerate launch --multi_gpu --num_processes
2 trl_two_process.py OUT_DIR`` on a machine without GPU: a real 2-step MaxKGRPOTrainer run on two CPU processes (gloo).

Each process's generation batch holds 6 of the 12 completions of 3 prompts x 4 generations, so
the middle prompt's group straddles the two processes. Every process writes, per generation
batch, the rewards TRL gathered over both processes, the advantages it kept for its own slice,
the maxk advantages of the whole batch and the diagnostics, to OUT_DIR/rank<r>.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from trl_tiny import recording, tiny_trainer

from maxk.integrations.trl import MaxKGRPOTrainer

G = 4  # completions per prompt
LOCAL = 6  # completions per process and generation batch: 12 = 3 prompts x 4 over 2 processes


def main(out_dir: str) -> None:
    trainer = tiny_trainer(recording(MaxKGRPOTrainer), out_dir, LOCAL, 2, num_generations=G, maxk_estimator="maxpo", maxk_k=2)
    result = trainer.train()
    rank = trainer.accelerator.process_index
    report = {
        "rank": rank,
        "world_size": trainer.accelerator.num_processes,
        "backend": str(torch.distributed.get_backend()) if torch.distributed.is_initialized() else None,
        "global_step": result.global_step,
        "records": trainer.records,
        "log_history": trainer.state.log_history,
    }
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
