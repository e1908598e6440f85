"""An ms-swift plugin file for tests/python/test_swift.py's end-to-end run: a reward function
(``--reward_funcs count_a``) and a recorder of every advantage step of the HF GRPO trainer (the
gathered rewards and the advantages it returned), written as JSON lines to $MAXK_SWIFT_RECORD.
Given after maxk's plugin, so it wraps the maxk-patched method."""

import json
import os

import swift.rlhf_trainers.grpo_trainer as grpo_trainer
from swift.rewards import ORM, orms


class CountA(ORM):
    def __call__(self, completions, **kwargs):
        return [c.count("a") + 0.1 * len(c) for c in completions]


orms["count_a"] = CountA

_step = grpo_trainer.GRPOTrainer._compute_advantages


def _recorded(self, samples, rewards_per_func, batch_encoded_inputs):
    advantages = _step(self, samples, rewards_per_func, batch_encoded_inputs)
    with open(os.environ["MAXK_SWIFT_RECORD"], "a") as f:
        f.write(json.dumps({
            "rewards_per_func": rewards_per_func.tolist(),
            "reward_weights": self.reward_weights.tolist(),
            "num_generations": self.num_generations,
            "training": self.model.training,
            "advantages": advantages.tolist(),
        }) + "\n")
    return advantages


grpo_trainer.GRPOTrainer._compute_advantages = _recorded
