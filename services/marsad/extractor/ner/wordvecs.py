"""Real-valued word-embedding features of the CRF (Turian et al. 2010; Guo et al. 2014).

Each of the first dimensions of a word's ``marsad ner-vectors`` vector is a
CRF feature whose value is the (scaled) coordinate, for the token (``dK``)
and for its previous and next neighbours (``-1:dK``, ``1:dK``).  A feature's
contribution to a label's score is value x weight, so a word's contribution
is one (dims x labels) matrix product, cached per word by the fast decoder.

Vectors are stored as int8 (the unit-length rows' coordinates x 127) with
one scale; training and run time both compute ``q * scale / 127`` from the
same stored file, so crfsuite sees at training time exactly the values the
decoder uses.  The file goes next to its model (``ner.crfsuite`` ->
``ner.vecs.npz``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from marsad.extractor.ner.lexicon import DATA_DIR

logger = logging.getLogger(__name__)

VECS_SUFFIX = ".vecs.npz"


def vecs_path(model_path: Path) -> Path:
    """Return the vectors file that goes with a CRF model (``x.crfsuite`` -> ``x.vecs.npz``)."""
    return model_path.with_suffix(VECS_SUFFIX)


@dataclass(frozen=True, eq=False)
class WordVecs:
    """Base word -> its scaled, quantised vector.

    Attributes:
        index: Word -> row of ``values``.
        values: ``(words + 1, dims)`` float64 feature values; the last row is
            all zeros (row ``-1``: a word without a vector).
        names: The feature names of the dimensions (``d0`` …).
    """

    index: dict[str, int]
    values: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.index)

    def row(self, base: str, folded: str) -> int:
        """Return a word's row, looked up by its base and then its folded form; -1 if none."""
        row = self.index.get(base)
        if row is None:
            row = self.index.get(folded, -1)
        return row


def _make(words: Sequence[str], quantised: np.ndarray, scale: float) -> WordVecs:
    dims = quantised.shape[1] if quantised.ndim == 2 else 0
    values = np.zeros((len(words) + 1, dims))
    values[: len(words)] = quantised.astype(np.float64) * (scale / 127.0)
    return WordVecs(
        {w: i for i, w in enumerate(words)}, values, tuple(f"d{k}" for k in range(dims))
    )


NO_VECS = _make([], np.zeros((0, 0), dtype=np.int8), 1.0)
# The vectors of the shipped model ``data/ner.crfsuite`` (absent: no such features).
SHIPPED_VECS = vecs_path(DATA_DIR / "ner.crfsuite")


def quantise(vectors: Any, dims: int) -> np.ndarray:
    """Return the first ``dims`` coordinates of unit-length rows as int8 (x 127, rounded)."""
    vec = np.asarray(vectors, dtype=np.float64)[:, :dims]
    norms = np.linalg.norm(vec, axis=1, keepdims=True)
    unit = vec / np.maximum(norms, 1e-12)
    return np.clip(np.rint(unit * 127.0), -127, 127).astype(np.int8)


def build_word_vecs(
    words: Sequence[str], vectors: Any, keep: int = 40_000, dims: int = 50, scale: float = 1.0
) -> WordVecs:
    """Quantise the first ``dims`` dimensions of the ``keep`` most frequent words' vectors.

    Args:
        words: The vectors' words, most frequent first.
        vectors: ``(len(words), D)`` array.
        keep: Most words kept (the rest have no vector at run time, nor in training).
        dims: Leading (strongest SVD) dimensions kept; rows are re-normalised.
        scale: Feature value of a coordinate of 1 (the L1/L2 penalties see weights
            relative to it).
    """
    n = min(keep, len(words))
    return _make(list(words[:n]), quantise(np.asarray(vectors)[:n], dims), scale)


def save_word_vecs(path: Path, vecs: WordVecs, scale: float) -> None:
    """Write words, int8 vectors and the scale to a compressed ``.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    words = sorted(vecs.index, key=vecs.index.__getitem__)
    quantised = np.rint(vecs.values[:-1] * (127.0 / scale)).astype(np.int8)
    np.savez_compressed(path, words=np.array(words), vectors=quantised, scale=np.array(scale))
    load_word_vecs.cache_clear()  # a file read earlier in this process is stale now


def remove_word_vecs(path: Path) -> None:
    """Delete a vectors file (a model trained without these features has none)."""
    path.unlink(missing_ok=True)
    load_word_vecs.cache_clear()


@lru_cache(maxsize=4)
def load_word_vecs(path: Path) -> WordVecs:
    """Read a :func:`save_word_vecs` file; :data:`NO_VECS` when it does not exist."""
    if not path.exists():
        return NO_VECS
    with np.load(path) as data:
        words = [str(w) for w in data["words"]]
        vecs = _make(words, data["vectors"], float(data["scale"]))
    logger.info("loaded %d word vectors (%d dimensions) from %s", len(words), len(vecs.names), path)
    return vecs
