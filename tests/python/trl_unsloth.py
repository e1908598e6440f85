"""Run by tests/python/test_trl_unsloth.py in a fresh process (Unsloth patches TRL process-wide):
``python trl_unsloth.py OUT.json [unsloth-first|maxk-first]``.

``unsloth-first``: ``import unsloth``, then Unsloth's own ``patch_trl_rl_trainers()`` (what its
``PatchFastRL`` does on a GPU; ``UNSLOTH_ALLOW_CPU=1`` skips it there), then maxk: a real 2-step
MaxKGRPOTrainer run on Unsloth's compiled ``UnslothGRPOTrainer``, recording each batch's gathered
rewards and advantages. ``maxk-first``: maxk imported before Unsloth patched TRL; the trainer's
construction must refuse, naming the import order.

Stubbed: Unsloth's trainer calls ``model.for_training()`` / ``model.for_inference()``, methods
that Unsloth's ``FastLanguageModel`` adds to the models it loads (a GPU-only loader); the tiny
model gets them as plain ``train()`` / ``eval()``.
"""

from __future__ import annotations

import json
import sys

import transformers


def main(out: str, order: str) -> None:
    if order == "maxk-first":
        import maxk.integrations.trl  # noqa: F401 - imported before Unsloth patches TRL
    import unsloth  # noqa: F401
    from unsloth.models.rl import patch_trl_rl_trainers

    patch_trl_rl_trainers()
    import torch
    import trl
    from trl_tiny import recording, tiny_trainer

    from maxk.integrations.trl import BASE, MaxKGRPOTrainer

    transformers.PreTrainedModel.for_training = lambda self, use_gradient_checkpointing=True: self.train()
    transformers.PreTrainedModel.for_inference = lambda self: self.eval()

    report = {"base": f"{BASE.__module__}.{BASE.__qualname__}", "trl_grpo": trl.GRPOTrainer.__qualname__}
    try:
        trainer = tiny_trainer(recording(MaxKGRPOTrainer), out + ".run", 8, 2, num_generations=4, maxk_estimator="maxpo", maxk_k=2)
    except RuntimeError as e:
        report["error"] = str(e)
    else:
        report["global_step"] = trainer.train().global_step
        report["records"] = trainer.records
        report["torch"] = torch.__version__
    with open(out, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
