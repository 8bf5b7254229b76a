"""Binarised word-embedding features of the CRF (Guo, Che, Wang and Liu 2014).

A linear CRF uses real-valued embedding dimensions poorly (their scale and
sign mix with the indicator features); Guo et al. found that binarising each
dimension works better: per dimension ``d``, a word gets the indicator
``v+d`` when its value is above the mean of the dimension's positive values,
``v-d`` when it is below the mean of its negative values, and nothing in
between.  A word then has a few dozen sparse indicators that behave like
soft, overlapping clusters, and the CRF and its fast decoder treat them like
any other per-word feature (they are cached per word).

The vectors are ``marsad ner-vectors``' PPMI-SVD vectors of base words (the
folded form without the corpus-supported proclitics).  Only the bits of the
most frequent words ship, packed, next to the model they were trained with
(``ner.crfsuite`` -> ``ner.bits.npz``), and training reads the same file, so
training and run time see the same features.
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

BITS_SUFFIX = ".bits.npz"


def bits_path(model_path: Path) -> Path:
    """Return the bits file that goes with a CRF model file (``x.crfsuite`` -> ``x.bits.npz``)."""
    return model_path.with_suffix(BITS_SUFFIX)


def binarise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the (above positive mean, below negative mean) boolean matrices of ``vectors``.

    The means are taken per dimension over the rows given (the vocabulary,
    unweighted, as in Guo et al.).
    """
    vec = np.asarray(vectors, dtype=np.float64)
    positive = np.where(vec > 0, vec, 0.0)
    negative = np.where(vec < 0, vec, 0.0)
    pos_mean = positive.sum(axis=0) / np.maximum((vec > 0).sum(axis=0), 1)
    neg_mean = negative.sum(axis=0) / np.maximum((vec < 0).sum(axis=0), 1)
    return vec > pos_mean, vec < neg_mean


@dataclass(frozen=True, eq=False)
class WordBits:
    """Base word -> its binarised embedding indicators.

    Attributes:
        index: Word -> row of ``pos`` and ``neg``.
        pos: ``(words, dims)`` booleans: value above the dimension's positive mean.
        neg: ``(words, dims)`` booleans: value below its negative mean.
    """

    index: dict[str, int]
    pos: np.ndarray
    neg: np.ndarray

    def __post_init__(self) -> None:
        dims = self.pos.shape[1] if self.pos.ndim == 2 else 0
        # One shared string per indicator, so a word's list holds references only.
        object.__setattr__(self, "_names_pos", [f"v+{d}" for d in range(dims)])
        object.__setattr__(self, "_names_neg", [f"v-{d}" for d in range(dims)])

    def __len__(self) -> int:
        return len(self.index)

    def features(self, base: str, folded: str) -> list[str]:
        """Return the indicators of a word, looked up by its base and then its folded form.

        Args:
            base: The word's proclitic-stripped form (the vectors' key).
            folded: Its folded form (a fallback for forms split differently).

        Returns:
            ``v+d`` and ``v-d`` strings in dimension order; empty for an unknown word.
        """
        row = self.index.get(base)
        if row is None:
            row = self.index.get(folded)
            if row is None:
                return []
        names_pos: list[str] = self._names_pos  # type: ignore[attr-defined]
        names_neg: list[str] = self._names_neg  # type: ignore[attr-defined]
        return [names_pos[d] for d in np.flatnonzero(self.pos[row]).tolist()] + [
            names_neg[d] for d in np.flatnonzero(self.neg[row]).tolist()
        ]


NO_BITS = WordBits({}, np.zeros((0, 0), dtype=bool), np.zeros((0, 0), dtype=bool))
# The bits of the shipped model ``data/ner.crfsuite`` (absent: no such features).
SHIPPED_BITS = bits_path(DATA_DIR / "ner.crfsuite")


def build_word_bits(
    words: Sequence[str], vectors: Any, keep: int = 40_000, dims: int | None = None
) -> WordBits:
    """Binarise vectors and keep the first ``keep`` words (the vectors file is by frequency).

    Args:
        words: The vectors' words, most frequent first.
        vectors: ``(len(words), D)`` array.
        keep: Most words kept (the rest get no indicators at run time, nor in training).
        dims: Use only the first ``dims`` dimensions (the SVD's strongest); all by default.
    """
    vec = np.asarray(vectors, dtype=np.float32)
    if dims is not None:
        vec = vec[:, :dims]
    pos, neg = binarise(vec)
    n = min(keep, len(words))
    return WordBits({w: i for i, w in enumerate(words[:n])}, pos[:n].copy(), neg[:n].copy())


def save_word_bits(path: Path, bits: WordBits) -> None:
    """Write ``bits`` (words and the two bit matrices, packed) to a compressed ``.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    words = sorted(bits.index, key=bits.index.__getitem__)
    np.savez_compressed(
        path,
        words=np.array(words),
        dims=np.array(bits.pos.shape[1]),
        pos=np.packbits(bits.pos, axis=1),
        neg=np.packbits(bits.neg, axis=1),
    )
    load_word_bits.cache_clear()  # a file read earlier in this process is stale now


def remove_word_bits(path: Path) -> None:
    """Delete a bits file (a model trained without embedding features has none)."""
    path.unlink(missing_ok=True)
    load_word_bits.cache_clear()


@lru_cache(maxsize=4)
def load_word_bits(path: Path) -> WordBits:
    """Read a :func:`save_word_bits` file; :data:`NO_BITS` when it does not exist."""
    if not path.exists():
        return NO_BITS
    with np.load(path) as data:
        dims = int(data["dims"])
        words = [str(w) for w in data["words"]]
        pos = np.unpackbits(data["pos"], axis=1, count=dims).astype(bool)
        neg = np.unpackbits(data["neg"], axis=1, count=dims).astype(bool)
    logger.info("loaded embedding bits of %d words (%d dimensions) from %s", len(words), dims, path)
    return WordBits({w: i for i, w in enumerate(words)}, pos, neg)
