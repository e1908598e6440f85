"""TRL: a real GRPO run of a few steps on the CPU (tiny random Llama, a tokenizer built here,
nothing from the hub) with MaxKGRPOTrainer; the advantages the loss receives are maxk's."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require

import maxk

trl = require("trl")
torch = require("torch")
transformers = require("transformers")

from trl_tiny import reward_b, tiny_trainer  # noqa: E402

from trl import GRPOTrainer  # noqa: E402

from maxk.integrations.trl import MaxKGRPOTrainer  # noqa: E402

G = 4  # completions per prompt


class Recording(MaxKGRPOTrainer):
    """Records the gathered rewards, the advantages of each generation batch, and the
    advantages that reach the loss."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen_rewards: list[torch.Tensor] = []
        self.batch_advantages: list[torch.Tensor] = []
        self.loss_advantages: list[torch.Tensor] = []

    def _calculate_rewards(self, *args, **kwargs):
        rewards_per_func = super()._calculate_rewards(*args, **kwargs)
        self.seen_rewards.append(rewards_per_func.clone())
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        self.batch_advantages.append(output["advantages"].clone())
        return output

    def compute_loss(self, model, inputs, *args, **kwargs):
        self.loss_advantages.append(inputs["advantages"].detach().clone())
        return super().compute_loss(model, inputs, *args, **kwargs)


def make_trainer(tmp_path, reward_funcs=None, reward_weights=None, **maxk_kwargs):
    config = {} if reward_weights is None else {"reward_weights": list(reward_weights)}
    return tiny_trainer(
        Recording, tmp_path, 2 * G, 3, trainer_kwargs=maxk_kwargs, reward_funcs=reward_funcs,
        num_generations=G,
        maxk_k=maxk_kwargs.pop("config_k", None),
        maxk_k_schedule=maxk_kwargs.pop("config_schedule", None),
        maxk_multi_objective=maxk_kwargs.pop("config_multi", False),
        **config,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("estimator", "k"), [("maxpo", 2), ("pkpo", 3)])
def test_grpo_run_uses_maxk_advantages(tmp_path, estimator, k):
    trainer = make_trainer(tmp_path, maxk_estimator=estimator, maxk_k=k)
    result = trainer.train()
    assert result.global_step == 3
    assert len(trainer.seen_rewards) == 3 and len(trainer.loss_advantages) >= 3
    for rewards_per_func, used in zip(trainer.seen_rewards, trainer.batch_advantages):
        rewards = (rewards_per_func * torch.tensor([1.0, 0.5])).nansum(dim=1)
        want = maxk.advantages(rewards.view(-1, G), k, estimator).reshape(-1)
        torch.testing.assert_close(used, want, rtol=0, atol=0)
        grpo = (rewards.view(-1, G) - rewards.view(-1, G).mean(1, keepdim=True)).reshape(-1)
        if rewards.view(-1, G).std(1).max() > 0 and estimator == "pkpo":
            assert not torch.allclose(used, grpo)  # pkpo is not centered: really replaced
    # what reaches the loss is the same multiset of advantages (TRL shuffles the batch)
    loss_side = torch.cat(trainer.loss_advantages)
    gen_side = torch.cat(trainer.batch_advantages)
    torch.testing.assert_close(loss_side.sort().values, gen_side.sort().values)
    torch.testing.assert_close(trainer.last_maxk_advantages, trainer.batch_advantages[-1])
    # the core's diagnostics in TRL's own metrics (logged with TRL's reward, reward_std, ...)
    logged = trainer._metrics["train"]
    for name in (f"maxk/max@{k}", "maxk/no_signal_share", "maxk/small_groups", "maxk/centering_residual",
                 "maxk/adv_std", "maxk/unscorable"):
        assert name in logged or any(name in h for h in trainer.state.log_history), name
    history = [h for h in trainer.state.log_history if f"maxk/max@{k}" in h]
    assert history and all(0 <= h["maxk/no_signal_share"] <= 1 for h in history)


@pytest.mark.slow
def test_unscorable_completions_get_zero(tmp_path):
    trainer = make_trainer(tmp_path, maxk_estimator="maxpo", maxk_k=1)
    rpf = torch.tensor(
        [[1.0, 0.0], [float("nan"), float("nan")], [0.0, 1.0], [2.0, float("nan")]]
        + [[0.5, 0.0], [1.0, 1.0], [0.0, 0.0], [3.0, 0.0]]
    )
    adv, diag = trainer._maxk_advantages(rpf)
    rewards = (rpf * torch.tensor([1.0, 0.5])).nansum(dim=1)
    assert adv[1] == 0 and diag["unscorable"] == 1
    keep = [0, 2, 3]
    torch.testing.assert_close(adv[keep], maxk.advantages(rewards[keep], 1, "maxpo"))
    torch.testing.assert_close(adv[4:], maxk.advantages(rewards[4:], 1, "maxpo"))


@pytest.mark.slow
def test_config_values_and_early_errors(tmp_path):
    trainer = make_trainer(tmp_path, config_k=3)
    assert (trainer.maxk_estimator, trainer.maxk_k, trainer.maxk_scale) == ("maxpo", 3, "none")
    with pytest.raises(ValueError, match=r"k = 4 is out of range for maxpo with group size 4"):
        make_trainer(tmp_path, maxk_k=4)
    with pytest.raises(ValueError, match="needs maxk_k"):
        make_trainer(tmp_path)
    with pytest.raises(ValueError, match="unknown estimator"):
        make_trainer(tmp_path, maxk_estimator="nope", maxk_k=1)
    assert make_trainer(tmp_path, maxk_estimator="rloo").maxk_k == 1
    assert np.isfinite(trainer.num_generations)


@pytest.mark.slow
def test_unscorable_group_and_empty_batch_go_on(tmp_path):
    """A group left with <= K scorable completions and a batch where nothing is scorable: zeros,
    counted, no exception (TRL's own GRPO zeroes them too)."""
    trainer = make_trainer(tmp_path, maxk_estimator="maxpo", maxk_k=2)
    nan = float("nan")
    rpf = torch.tensor(
        [[1.0, 0.0], [nan, nan], [nan, nan], [0.0, 1.0]]  # 2 scorable left: N = K = 2
        + [[0.5, 0.0], [1.0, 1.0], [0.0, 0.0], [3.0, 0.0]]
    )
    adv, diag = trainer._maxk_advantages(rpf)
    rewards = (rpf * torch.tensor([1.0, 0.5])).nansum(dim=1)
    assert torch.all(adv[:4] == 0)
    torch.testing.assert_close(adv[4:], maxk.advantages(rewards[4:], 2, "maxpo"))
    assert (diag["small_groups"], diag["unscorable"], diag["groups"]) == (1, 2, 2)
    empty, diag = trainer._maxk_advantages(torch.full((8, 2), nan))
    assert torch.all(empty == 0) and diag["groups"] == 0 and diag["unscorable"] == 8
    trainer.maxk_small_groups = "error"
    with pytest.raises(ValueError, match="group id 0: k = 2 is out of range for maxpo with group size 2"):
        trainer._maxk_advantages(rpf)


@pytest.mark.slow
def test_scale_rewards_is_honoured_or_refused(tmp_path):
    trainer = make_trainer(tmp_path, maxk_estimator="maxpo", maxk_k=2)
    assert trainer.maxk_scale == "none"  # MaxKGRPOConfig: scale_rewards="none"
    trainer.scale_rewards = "group"
    assert trainer._resolve_scale(None) == "std"
    with pytest.raises(ValueError, match="contradicts scale_rewards='group'"):
        trainer._resolve_scale("pg")
    trainer.scale_rewards = "batch"
    with pytest.raises(ValueError, match="does not support scale_rewards='batch'"):
        trainer._resolve_scale(None)


def test_hooks_are_detected_not_the_version(monkeypatch):
    """No version gate: the installed TRL passes because its GRPOTrainer has the hooks; a TRL
    whose hooks are missing, take other parameters, or are no longer called, or a trl.GRPOTrainer
    replaced after maxk was imported (Unsloth imported too late), is refused, naming what."""
    import maxk.integrations.trl as maxk_trl

    maxk_trl.check_trl()
    monkeypatch.setattr(maxk_trl.trl, "__version__", "9.0.0")
    maxk_trl.check_trl()  # any version string with the hooks is fine

    class Renamed(GRPOTrainer):
        _calculate_rewards = None

    with pytest.raises(RuntimeError, match=r"maxk cannot hook TRL 9.0.0: .*_calculate_rewards is missing"):
        maxk_trl.check_trl(Renamed)

    class NewSignature(GRPOTrainer):
        def _calculate_rewards(self, batch):
            return None

    with pytest.raises(RuntimeError, match=r"_calculate_rewards\(batch\) no longer takes \(inputs, prompts"):
        maxk_trl.check_trl(NewSignature)

    class NotCalled(GRPOTrainer):
        def _generate_and_score_completions(self, inputs):
            return self._score_everything(inputs)

    with pytest.raises(RuntimeError, match="no longer calls self._calculate_rewards"):
        maxk_trl.check_trl(NotCalled)

    class Patched(GRPOTrainer.__mro__[1]):  # another trainer put in trl's namespace (Unsloth's, say)
        pass

    monkeypatch.setattr(maxk_trl.trl, "GRPOTrainer", Patched)
    with pytest.raises(RuntimeError, match=r"Import unsloth .* before importing maxk.integrations.trl"):
        MaxKGRPOTrainer(model=None, reward_funcs=[])


def test_calls_follows_wrappers():
    """Unsloth wraps _generate_and_score_completions in a closure; functools.wraps sets
    __wrapped__: the check looks through both."""
    import functools

    from maxk.integrations._common import calls

    def inner(self):
        return self._calculate_rewards()

    assert calls(inner, "_calculate_rewards")
    assert calls(functools.wraps(inner)(lambda self: None), "_calculate_rewards")

    def make(original):
        def wrapped(self, *a):
            return original(self, *a)

        return wrapped

    assert calls(make(inner), "_calculate_rewards")
    assert not calls(make(lambda self: self._other()), "_calculate_rewards")


@pytest.mark.slow
def test_missing_calculate_rewards_call_is_an_error(tmp_path, monkeypatch):
    """If a TRL release stopped calling _calculate_rewards, training must not silently run on
    GRPO's advantages."""
    trainer = make_trainer(tmp_path, maxk_estimator="maxpo", maxk_k=2)
    monkeypatch.setattr(MaxKGRPOTrainer, "_calculate_rewards", lambda self, *a: GRPOTrainer._calculate_rewards(self, *a))
    with pytest.raises(RuntimeError, match="did not call GRPOTrainer._calculate_rewards"):
        trainer.train()


# ---- issue 16: multi-objective max@K (one axis per reward function) and K schedules ----------


def multi_objective_want(rewards_per_func, k, estimator="maxpo", scale="none", weights=(1.0, 0.5)):
    """``maxk.multi_objective_advantages`` on the per-function rewards of the batch, grouped by
    prompt (a function's None counts 0 on its axis, as TRL's nansum)."""
    rows = torch.nan_to_num(rewards_per_func, nan=0.0).view(-1, G, rewards_per_func.shape[1])
    return maxk.multi_objective_advantages(rows, k, weights=list(weights), estimator=estimator, scale=scale).reshape(-1)


@pytest.mark.slow
@pytest.mark.parametrize(("estimator", "k", "scale_rewards"), [("maxpo", 2, "none"), ("pkpo", 3, "group")])
def test_multi_objective_run_equals_multi_objective_advantages(tmp_path, estimator, k, scale_rewards):
    trainer = make_trainer(tmp_path, maxk_estimator=estimator, maxk_k=k, maxk_multi_objective=True)
    if scale_rewards == "group":  # per-axis normalisation, TRL's scale_rewards="group"
        trainer.scale_rewards = "group"
        trainer.maxk_scale = trainer._resolve_scale(None)
    assert trainer.maxk_multi_objective
    trainer.train()
    assert len(trainer.seen_rewards) == 3
    scale = "std" if scale_rewards == "group" else "none"
    differs = False
    for rewards_per_func, used in zip(trainer.seen_rewards, trainer.batch_advantages):
        want = multi_objective_want(rewards_per_func, k, estimator, scale)
        torch.testing.assert_close(used, want, rtol=0, atol=0)
        summed = (rewards_per_func * torch.tensor([1.0, 0.5])).nansum(dim=1)
        single = maxk.advantages(summed.view(-1, G), k, estimator, scale).reshape(-1)
        differs |= not torch.allclose(used, single)
    # one axis per function is not one estimator on the weighted sum (max@K is not linear)
    assert differs, "no batch told the multi-objective advantages from the summed-reward ones"
    loss_side = torch.cat(trainer.loss_advantages)
    torch.testing.assert_close(loss_side.sort().values, torch.cat(trainer.batch_advantages).sort().values)
    assert any(f"maxk/max@{k}" in h for h in trainer.state.log_history)


@pytest.mark.slow
def test_multi_objective_config_flag_and_unscorable(tmp_path):
    """``MaxKGRPOConfig(maxk_multi_objective=True)``; unscorable completions get 0 and leave their
    group, a function's None counts 0 on its axis, and a group left too small for K follows the
    small-group rule, as in the single-reward path."""
    trainer = make_trainer(tmp_path, maxk_estimator="maxpo", maxk_k=1, config_multi=True)
    assert trainer.maxk_multi_objective
    nan = float("nan")
    rpf = torch.tensor(
        [[1.0, 0.0], [nan, nan], [0.0, 1.0], [2.0, nan]] + [[0.5, 0.0], [1.0, 1.0], [0.0, 0.0], [3.0, 0.0]]
    )
    adv, diag = trainer._maxk_advantages(rpf)
    assert adv[1] == 0 and diag["unscorable"] == 1
    rows = torch.nan_to_num(rpf, nan=0.0)
    kw = {"weights": [1.0, 0.5], "estimator": "maxpo"}
    torch.testing.assert_close(adv[[0, 2, 3]], maxk.multi_objective_advantages(rows[[0, 2, 3]], 1, **kw), rtol=0, atol=0)
    torch.testing.assert_close(adv[4:], maxk.multi_objective_advantages(rows[4:], 1, **kw), rtol=0, atol=0)
    # K = 2 leaves the first group with N = K = 2 scorable completions: too small for maxpo
    trainer.maxk_k = 2
    small = torch.tensor([[1.0, 0.0], [nan, nan], [nan, nan], [0.0, 1.0]] + rpf[4:].tolist())
    adv, diag = trainer._maxk_advantages(small)
    assert torch.all(adv[:4] == 0) and (diag["small_groups"], diag["unscorable"]) == (1, 2)
    torch.testing.assert_close(adv[4:], maxk.multi_objective_advantages(rows[4:], 2, **kw), rtol=0, atol=0)
    trainer.maxk_small_groups = "shrink-k"  # K -> N on that group, per axis
    adv, _ = trainer._maxk_advantages(small)
    want = sum(
        w * maxk.advantages(torch.tensor([[1.0, 0.0], [0.0, 1.0]])[:, d], 2, "maxpo", "none", "shrink-k")
        for d, w in enumerate([1.0, 0.5])
    )
    torch.testing.assert_close(adv[[0, 3]], want)
    trainer.maxk_small_groups = "error"
    with pytest.raises(ValueError, match="k = 2 is out of range for maxpo with group size 2"):
        trainer._maxk_advantages(small)


@pytest.mark.slow
def test_k_schedule_sets_k_per_step_and_logs_it(tmp_path, caplog):
    """A step-list schedule (K = 1 at step 0, 2 from step 1, 3 from step 2) and a linear one:
    each generation batch uses K of TRL's global step, and K is logged (``maxk/k`` in TRL's logs,
    ``maxk K=.. at step ..`` on the maxk.schedule logger)."""
    import logging

    caplog.set_level(logging.INFO, logger="maxk.schedule")
    trainer = make_trainer(tmp_path, maxk_estimator="maxpo", maxk_k_schedule="steps:0=1,1=2,2=3")
    assert trainer.maxk_k == 1  # K of step 0, validated against num_generations at construction
    trainer.train()
    assert len(trainer.seen_rewards) == 3
    for step, (rewards_per_func, used) in enumerate(zip(trainer.seen_rewards, trainer.batch_advantages)):
        rewards = (rewards_per_func * torch.tensor([1.0, 0.5])).nansum(dim=1)
        want = maxk.advantages(rewards.view(-1, G), step + 1, "maxpo").reshape(-1)
        torch.testing.assert_close(used, want, rtol=0, atol=0)
    logged_k = [h["maxk/k"] for h in trainer.state.log_history if "maxk/k" in h]
    assert logged_k == [1.0, 2.0, 3.0]
    for step in range(3):
        assert f"maxk K={step + 1} at step {step}" in caplog.text
    assert [h["step"] for h in trainer.state.log_history if "maxk/k" in h] == [1, 2, 3]


@pytest.mark.slow
def test_k_schedule_from_config_and_errors(tmp_path):
    trainer = make_trainer(tmp_path, maxk_estimator="pkpo", config_schedule="linear:1:4:3")
    assert [trainer._maxk_schedule.schedule.k_at(s) for s in range(5)] == [1, 2, 3, 4, 4]
    rpf = torch.rand(8, 2)
    for step, k in enumerate([1, 2, 3, 4]):
        trainer.state.global_step = step
        adv, diag = trainer._maxk_advantages(rpf)
        assert trainer.maxk_k == k and diag["k"] == k
        rewards = (rpf * torch.tensor([1.0, 0.5])).sum(dim=1)
        torch.testing.assert_close(adv, maxk.advantages(rewards.view(-1, G), k, "pkpo").reshape(-1), rtol=0, atol=0)
    with pytest.raises(ValueError, match="give maxk_k or maxk_k_schedule, not both"):
        make_trainer(tmp_path, maxk_k=2, maxk_k_schedule="linear:1:3:3")
    # every K the schedule reaches is checked against num_generations = 4 up front (maxpo: K < 4)
    with pytest.raises(ValueError, match=r"maxk_k=4\) with num_generations=4"):
        make_trainer(tmp_path, maxk_estimator="maxpo", maxk_k_schedule="steps:0=2,5=4")
    with pytest.raises(ValueError, match="expected linear:START:END:STEPS"):
        make_trainer(tmp_path, maxk_k_schedule="linear:1:4")


@pytest.mark.slow
def test_mixture_of_k_is_one_argument(tmp_path):
    """``maxk_mixture`` (or the config's field) trains TRL's GRPO on a mixture of K."""
    trainer = make_trainer(tmp_path, maxk_mixture="1:1,3:0.5")
    assert trainer.maxk_settings.mixture == "1:1,3:0.5"
    trainer.train()
    for rewards_per_func, used in zip(trainer.seen_rewards, trainer.batch_advantages):
        rewards = (rewards_per_func * torch.tensor([1.0, 0.5])).nansum(dim=1)
        want = maxk.mixture_advantages(rewards.view(-1, G), "1:1,3:0.5").reshape(-1)
        torch.testing.assert_close(used, want, rtol=0, atol=1e-7)
    for name in ("maxk/max@3", "maxk/mixture_objective"):
        assert name in trainer._metrics["train"] or any(name in h for h in trainer.state.log_history), name
    with pytest.raises(ValueError, match=r"mixture '1,4': k = 4 is out of range for mixture with group size 4"):
        make_trainer(tmp_path, maxk_mixture="1,4", maxk_small_groups="error")


def first_letter_is_a(completions, log_extra=None, **kwargs):
    """A verifier for maj@K: the answer is the completion's first letter, correct when it is 'a';
    the answer keys go to maxk through TRL's ``log_extra``."""
    answers = [c[:1] for c in completions]
    if log_extra is not None:
        log_extra("maxk_answer", answers)
    return [float(a == "a") for a in answers]


@pytest.mark.slow
def test_maj_at_k_takes_the_answers_from_the_reward_function(tmp_path):
    trainer = make_trainer(tmp_path, reward_funcs=[first_letter_is_a], reward_weights=(1.0,), maxk_k=2, maxk_maj="split")
    answers_seen = []
    original = trainer._maxk_answer_keys

    def spy(b):
        answers = original(b)
        answers_seen.append(answers)
        return answers

    trainer._maxk_answer_keys = spy
    trainer.train()
    assert len(answers_seen) == len(trainer.seen_rewards) == 3
    for answers, rewards_per_func, used in zip(answers_seen, trainer.seen_rewards, trainer.batch_advantages):
        rewards = rewards_per_func[:, 0]
        group = [i // G for i in range(len(answers))]
        want = maxk.maj_advantages(answers, (rewards > 0).numpy(), 2, index=group)
        torch.testing.assert_close(used, torch.as_tensor(want, dtype=used.dtype), rtol=0, atol=1e-7)
    name = "maxk/maj@2"
    assert name in trainer._metrics["train"] or any(name in h for h in trainer.state.log_history)
    # without the answer column: a clear error, not GRPO's advantages
    trainer = make_trainer(tmp_path, reward_funcs=[reward_b], reward_weights=(1.0,), maxk_k=2, maxk_maj="split")
    with pytest.raises(RuntimeError, match=r"log_extra\('maxk_answer', answers\)"):
        trainer.train()
