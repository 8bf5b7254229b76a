"""Inputs of the neural tagger: word-vector ids, character ids and sparse indicator ids.

Pure Python (no torch): turns tokens into integer ids.  The sparse
indicators are the CRF's own per-token features (gazetteer, trigger,
nisba, cluster, affix and context-bucket indicators from
:class:`~marsad.extractor.ner.features.FeatureExtractor`) without its
window copies, since the network sees the neighbours itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from marsad.extractor.ner.features import FeatureExtractor
from marsad.extractor.ner.model import ENTITY_TYPES


def iob_tag_set(types: Sequence[str]) -> tuple[str, ...]:
    """Return ``("O", "B-T1", "I-T1", ...)`` for entity ``types``."""
    return ("O", *(f"{p}-{t}" for t in types for p in ("B", "I")))


TAGS = iob_tag_set(ENTITY_TYPES)  # O, B-PERS, I-PERS, B-LOC, I-LOC, B-ORG, I-ORG, B-MISC, I-MISC
TAG_ID = {t: i for i, t in enumerate(TAGS)}
PAD = 0  # id 0 of every vocabulary is padding
UNK = 1  # id 1 is an unknown word / character
MAX_CHARS = 16  # longer words keep their first 16 characters
# Word identity is the word vector's job; the CRF's word/base/stem strings
# would only duplicate it with far more parameters.
_SKIP_PREFIXES = ("bias", "w=", "b=", "st=", "bg-=", "bg+=")


@dataclass(frozen=True, slots=True)
class TokenInputs:
    """Ids of one sentence: one word id, char ids and indicator ids per token."""

    words: list[int]
    chars: list[list[int]]
    feats: list[list[int]]


def indicator_strings(fx: FeatureExtractor, tokens: Sequence[str]) -> list[list[str]]:
    """Return the CRF's per-token indicator strings that the network uses."""
    words = [fx.word(t) for t in tokens]
    positional = positional_strings(fx.gazetteer.match([w.folded for w in words]))
    return [
        [f for f in w.local if not f.startswith(_SKIP_PREFIXES)] + pos
        for w, pos in zip(words, positional, strict=True)
    ]


def positional_strings(gaz: Sequence[Sequence[str]]) -> list[list[str]]:
    """Return the indicators that depend on a token's place in its sentence.

    The same strings as :meth:`FeatureExtractor.parts` (multi-word
    gazetteer matches at the token and its neighbours, sentence edges)
    without the word bigrams.

    Args:
        gaz: :meth:`Gazetteer.match` output for one sentence.
    """
    n = len(gaz)
    out: list[list[str]] = []
    for i in range(n):
        feats = ["gz=" + g for g in gaz[i]]
        if i > 0:
            feats.extend("-1:gz=" + g for g in gaz[i - 1])
        else:
            feats.append("-1:edge")
        if i + 1 < n:
            feats.extend("1:gz=" + g for g in gaz[i + 1])
        else:
            feats.append("1:edge")
        out.append(feats)
    return out


def build_vocab(items: Iterable[str], min_count: int = 1) -> dict[str, int]:
    """Return item -> id for items seen ``min_count`` times or more (ids from 2, sorted)."""
    counts = Counter(items)
    kept = sorted(k for k, c in counts.items() if c >= min_count)
    return {k: i + 2 for i, k in enumerate(kept)}


class InputEncoder:
    """Turns tokens into :class:`TokenInputs` with fixed vocabularies.

    Args:
        fx: The CRF feature extractor (gazetteer, clusters).
        word_ids: Base word -> row of the word-vector table.
        base_of: Folded form -> base word (forms the corpus splits).
        char_ids: Character -> id.
        feat_ids: Indicator string -> id.
    """

    def __init__(
        self,
        fx: FeatureExtractor,
        word_ids: dict[str, int],
        base_of: dict[str, str],
        char_ids: dict[str, int],
        feat_ids: dict[str, int],
    ) -> None:
        self.fx = fx
        self.word_ids = word_ids
        self.base_of = base_of
        self.char_ids = char_ids
        self.feat_ids = feat_ids

    def word_id(self, folded: str, base: str) -> int:
        """Return the vector row of a folded word, through its corpus base, or UNK.

        Args:
            folded: The folded word.
            base: Its proclitic-stripped form from the feature extractor, the
                fallback for forms the vector corpus never split.
        """
        wid = self.word_ids.get(folded)
        if wid is None:
            wid = self.word_ids.get(self.base_of.get(folded, base), UNK)
        return wid

    def encode(self, tokens: Sequence[str]) -> TokenInputs:
        """Return the ids of one sentence."""
        feats = indicator_strings(self.fx, tokens)
        info = [self.fx.word(t) for t in tokens]
        folded = [w.folded for w in info]
        get_c = self.char_ids.get
        get_f = self.feat_ids.get
        return TokenInputs(
            words=[self.word_id(w.folded, w.base) for w in info],
            chars=[[get_c(c, UNK) for c in f[:MAX_CHARS]] or [UNK] for f in folded],
            # Sorted: a float sum does not depend on the (hash-seeded) order of a set.
            feats=[sorted(i for i in (get_f(s) for s in fs) if i is not None) for fs in feats],
        )
