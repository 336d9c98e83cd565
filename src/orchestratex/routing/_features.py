"""Hashed TF-IDF features of a prompt, for `FittedRouter`."""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import UserError
from ._knobs import is_whole

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["TextFeaturizer", "load_numpy"]

_WORD = re.compile(r"\w+", re.UNICODE)
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n)+")
"""The blank lines between paragraphs, a line of spaces or tabs among them."""


def _newlines(text: str) -> str:
    """`text` with its line ends as line feeds (a browser's form and a Windows client send CR LF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def load_numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - numpy ships with the lab extra
        raise ImportError("FittedRouter needs numpy: pip install 'orchestratex[lab]'") from exc
    return numpy


class TextFeaturizer:
    """Hashed TF-IDF of a prompt's words and word pairs: no vocabulary, no download, stable across processes.

    Only the prompt's last paragraph (after the last blank line, at most `tail_chars`
    characters) is read, so the question of a few-shot prompt is not drowned by its examples;
    a few length features describe the whole prompt. Tokens are hashed with CRC-32 into
    `2**bits` buckets; `idf` weights are learned by `fit`.
    """

    def __init__(self, *, bits: int = 18, tail_chars: int = 1500, bigrams: bool = True) -> None:
        if not is_whole(bits) or not 8 <= bits <= 24:  # (16.0 or "18" failed later, in a shift or a comparison)
            raise UserError(f"bits is a whole number between 8 and 24 (2**bits hashed buckets), got {bits!r}")
        if not is_whole(tail_chars) or tail_chars <= 0:
            raise UserError(f"tail_chars is a whole number of characters > 0, e.g. tail_chars=1500; got {tail_chars!r}")
        if not isinstance(bigrams, bool):  # ("no" read as True, and was saved so)
            raise UserError(f"bigrams is True or False (False: words alone); got {bigrams!r}")
        self.bits = int(bits)
        self.tail_chars = int(tail_chars)
        self.bigrams = bigrams
        self.idf: NDArray[np.float64] | None = None

    def __repr__(self) -> str:
        """Its settings and whether `fit` has learned its weights, not `<… object at 0x…>` (what a notebook showed for
        `router.featurizer`)."""
        fitted = "fitted" if self.idf is not None else "not fitted"
        return f"TextFeaturizer(bits={self.bits}, tail_chars={self.tail_chars}, bigrams={self.bigrams}, {fitted})"

    @property
    def size(self) -> int:
        return 1 << self.bits

    def tail(self, text: str) -> str:
        """The part of `text` that is read: its last paragraph, at most `tail_chars` characters. Paragraphs end at a
        blank line however it is written (CR LF line ends, a line of spaces), so one prompt reads the same whichever
        client sent it."""
        return _BLANK_LINES.split(_newlines(text).rstrip())[-1][-self.tail_chars :]

    def tokens(self, text: str) -> list[str]:
        """The hashed tokens of `text`: tail words, tail word pairs, and length buckets."""
        text = _newlines(text)
        words = _WORD.findall(self.tail(text).lower())
        tokens = ["w:" + w for w in words]
        if self.bigrams:
            tokens += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
        tokens.append(f"len:{int(math.log2(1 + len(text)))}")
        tokens.append(f"tail:{int(math.log2(1 + len(words)))}")
        return tokens

    def counts(self, text: str) -> dict[int, float]:
        """Bucket → sublinear term frequency (1 + log count)."""
        mask = self.size - 1
        raw: dict[int, int] = {}
        for tok in self.tokens(text):
            h = zlib.crc32(tok.encode()) & mask
            raw[h] = raw.get(h, 0) + 1
        return {h: 1.0 + math.log(c) for h, c in raw.items()}

    def fit(self, texts: Sequence[str]) -> TextFeaturizer:
        """Learn inverse document frequencies (smoothed, as scikit-learn's `TfidfVectorizer`)."""
        self._learn_idf([self.counts(text) for text in texts])
        return self

    def fit_transform(self, texts: Sequence[str], *, tick: Callable[[], None] | None = None) -> Any:
        """`fit(texts)` then `transform(texts)`, counting each text's tokens once; `tick()` after each text."""
        counts = []
        for text in texts:
            counts.append(self.counts(text))
            if tick is not None:
                tick()
        self._learn_idf(counts)
        return self._matrix(counts)

    def _learn_idf(self, counts: Sequence[dict[int, float]]) -> None:
        np = load_numpy()
        df = np.zeros(self.size)
        for c in counts:
            df[list(c)] += 1
        self.idf = np.log((1 + len(counts)) / (1 + df)) + 1.0

    def transform_one(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """(buckets, l2-normalised TF-IDF values) of one text."""
        return self._vector(self.counts(text))

    def _vector(self, counts: dict[int, float]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        np = load_numpy()
        if self.idf is None:
            raise RuntimeError("TextFeaturizer.fit must run before transform")
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        val = np.fromiter(counts.values(), dtype=np.float64, count=len(counts)) * self.idf[idx]
        norm = float(np.sqrt(val @ val))
        return idx, (val / norm if norm > 0 else val)

    def transform(self, texts: Sequence[str]) -> Any:
        """A scipy CSR matrix (rows, 2**bits) of the texts' features."""
        return self._matrix([self.counts(text) for text in texts])

    def _matrix(self, counts: Sequence[dict[int, float]]) -> Any:
        np = load_numpy()
        from scipy import sparse

        indptr, indices, values = [0], [], []
        for c in counts:
            idx, val = self._vector(c)
            indices.append(idx)
            values.append(val)
            indptr.append(indptr[-1] + len(idx))
        return sparse.csr_matrix(
            (
                np.concatenate(values) if values else np.zeros(0),
                np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
                np.asarray(indptr),
            ),
            shape=(len(counts), self.size),
        )
