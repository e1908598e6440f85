"""A tiny TRL setting shared by the TRL tests (tests/python/test_trl*.py and the scripts they run
in fresh processes): a character-level tokenizer built in memory, a 1-layer random Llama, two
reward functions, and :func:`recording`, a trainer that records each batch. Nothing comes from
the hub."""

from __future__ import annotations

import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

ALPHABET = "abcdefgh"
PROMPTS = ["ab", "ba", "cab", "hag", "bead", "fac", "dab", "ggh"]
REWARD_WEIGHTS = [1.0, 0.5]


def tiny_tokenizer() -> transformers.PreTrainedTokenizerFast:
    """A character-level tokenizer over ALPHABET, built in memory."""
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({c: i + 4 for i, c in enumerate(ALPHABET)})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.padding_side = "left"
    return fast


def tiny_model(tokenizer) -> transformers.PreTrainedModel:
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return transformers.LlamaForCausalLM(config)


def reward_a(completions, **kwargs):
    """Continuous reward with ties: number of 'a' plus a tenth of the length."""
    return [c.count("a") + 0.1 * len(c) for c in completions]


def reward_b(completions, **kwargs):
    return [float("b" in c) for c in completions]


def tiny_trainer(trainer_cls, output_dir, per_device_train_batch_size: int, max_steps: int,
                 trainer_kwargs: dict | None = None, reward_funcs: list | None = None, **config):
    """``trainer_cls`` (MaxKGRPOTrainer or a subclass) on the tiny model, PROMPTS and the two
    reward functions (or ``reward_funcs``), CPU-sized; ``config``: more MaxKGRPOConfig fields
    (num_generations, maxk_k, reward_weights, ...), ``trainer_kwargs``: the trainer's own keyword
    arguments."""
    from datasets import Dataset

    from maxk.integrations.trl import MaxKGRPOConfig

    tokenizer = tiny_tokenizer()
    args = MaxKGRPOConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=per_device_train_batch_size,
        max_completion_length=6,
        max_steps=max_steps,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        seed=0,
        **{"reward_weights": REWARD_WEIGHTS, **config},
    )
    return trainer_cls(
        model=tiny_model(tokenizer),
        reward_funcs=reward_funcs or [reward_a, reward_b],
        args=args,
        train_dataset=Dataset.from_dict({"prompt": PROMPTS}),
        processing_class=tokenizer,
        **(trainer_kwargs or {}),
    )


def recording(trainer_cls):
    """A subclass of ``trainer_cls`` (a ``MaxKGRPOTrainer``, on whatever TRL base it was built)
    whose ``records`` keep, per generation batch, the rewards TRL gathered (``rewards_per_func``),
    the advantages of this process's slice (``local_advantages``), maxk's advantages of the whole
    batch (``batch_advantages``) and the scalar diagnostics. A factory, not a class, because the
    Unsloth script may import the maxk trainer only after Unsloth has patched TRL."""

    class Recording(trainer_cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.records: list[dict] = []

        def _calculate_rewards(self, *args, **kwargs):
            rewards_per_func = super()._calculate_rewards(*args, **kwargs)
            self.records.append({"rewards_per_func": rewards_per_func.tolist()})
            return rewards_per_func

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            self.records[-1].update(
                local_advantages=output["advantages"].tolist(),
                batch_advantages=self.last_maxk_advantages.tolist(),
                diagnostics={k: v for k, v in self.last_maxk_diagnostics.items() if not isinstance(v, list)},
            )
            return output

    return Recording
