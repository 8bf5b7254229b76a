"""CRF features for Arabic NER.

Per-word features (folded form, clitic-stripped stem, affixes, shape,
gazetteer and trigger membership, corpus word cluster) depend only on the
word, so they are computed once per distinct word and cached; the window
features of a token are then plain list concatenations of its neighbours'
cached, position-prefixed features.  That keeps tagging fast enough for the
stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from marsad.extractor.ner.clusters import WordInfo
from marsad.extractor.ner.lexicon import Gazetteer, nisba_country, trigger_class
from marsad.extractor.ner.text import AL, fold, proclitic_splits, shape, strip_proclitics
from marsad.extractor.ner.topics import topic_features
from marsad.extractor.ner.wordbits import SHIPPED_BITS, WordBits, load_word_bits
from marsad.extractor.ner.wordvecs import SHIPPED_VECS, WordVecs, load_word_vecs

CONTEXT_OFFSETS = (-2, -1, 1, 2)
# The offsets at which a neighbour's ``near`` features (its embedding bits) are seen.
NEAR_OFFSETS = (-1, 1)


@dataclass(frozen=True, slots=True)
class WordFeats:
    """Features of one word: its own, and those its neighbours see.

    Attributes:
        local: The word's own features.
        common: Those a neighbour at any offset in ``CONTEXT_OFFSETS`` sees.
        folded: The folded word.
        base: Its proclitic-stripped form.
        near: Those only the next and previous tokens see (``NEAR_OFFSETS``).
        vec_row: The word's row of real-valued embedding features
            (:class:`.wordvecs.WordVecs`), -1 for none.
    """

    local: list[str]
    common: list[str]
    folded: str
    base: str
    near: Sequence[str] = ()
    vec_row: int = -1

    @property
    def context(self) -> dict[int, list[str]]:
        """The features a neighbour at each offset sees, prefixed with the offset (``-1:w=…``).

        Built on request: the fast decoder looks the unprefixed ones up per offset itself.
        """
        return {
            off: [f"{off}:{x}" for x in (*self.common, *self.near)]
            if off in NEAR_OFFSETS
            else [f"{off}:{x}" for x in self.common]
            for off in CONTEXT_OFFSETS
        }


class FeatureExtractor:
    """Turns token sequences into crfsuite feature lists.

    Args:
        gazetteer: Name lists for membership features.
        clusters: Optional folded word -> corpus base form and clusters.
        cache_size: Most words whose features are kept (0 when the caller
            caches its own summary of them, as the fast decoder does).
        word_bits: Binarised embedding features (:mod:`.wordbits`) of the
            word and its next and previous neighbours; ``None`` takes those of
            the shipped model (none when it has no bits file).
        word_vecs: Real-valued embedding features (:mod:`.wordvecs`), the same
            way; they make :meth:`items` return ``{name: value}`` dicts.
    """

    def __init__(
        self,
        gazetteer: Gazetteer,
        clusters: dict[str, WordInfo] | None = None,
        cache_size: int = 300_000,
        word_bits: WordBits | None = None,
        word_vecs: WordVecs | None = None,
    ) -> None:
        self.gazetteer = gazetteer
        self.clusters = clusters or {}
        self.word_bits = load_word_bits(SHIPPED_BITS) if word_bits is None else word_bits
        self.word_vecs = load_word_vecs(SHIPPED_VECS) if word_vecs is None else word_vecs
        self._cache: dict[str, WordFeats] = {}
        self._cache_size = cache_size

    def _word(self, token: str) -> WordFeats:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        f = fold(token)
        info = self.clusters.get(f)
        base = info.base if info is not None else strip_proclitics(f)
        st = base[2:] if base.startswith(AL) and len(base) >= 5 else base
        sh = shape(token)
        prefix = f[: len(f) - len(base)] if f.endswith(base) else ""
        local = [
            "bias",
            "w=" + f,
            "b=" + base,
            "st=" + st,
            "sh=" + sh,
            "len=" + str(min(len(st), 8)),
            "p1=" + st[:1],
            "p2=" + st[:2],
            "x1=" + st[-1:],
            "x2=" + st[-2:],
            "x3=" + st[-3:],
            "wx2=" + f[-2:],
            "cl=" + prefix,
        ]
        ctx_common = ["w=" + f, "b=" + base, "sh=" + sh]
        if base.startswith(AL):
            local.append("al")
            ctx_common.append("al")
        gaz_types: set[str] = set()
        tok_types: set[str] = set()
        for _, body in proclitic_splits(f):
            for toks, types in self.gazetteer.phrases.get(body, ()):
                if len(toks) == 1:
                    gaz_types |= types
            tok_types |= self.gazetteer.token_types.get(body, frozenset())
        for t in sorted(gaz_types):
            local.append("g1=" + t)
            ctx_common.append("g1=" + t)
        for t in sorted(tok_types):
            local.append("gt=" + t)
            ctx_common.append("gt=" + t)
        trig = trigger_class(f)
        if trig is not None:
            local.append("tr=" + trig)
            ctx_common.append("tr=" + trig)
        if nisba_country(f) is not None:
            local.append("nisba")
            ctx_common.append("nisba")
        if info is not None and info.contexts:
            for cls, digit in zip("pols", info.contexts, strict=False):
                local.append(f"ctx{cls}={digit}")
                if digit >= "2":
                    ctx_common.append(f"ctx{cls}={digit}")
        if info is not None and info.cluster:
            levels = info.cluster.split("|")
            for level, cid in enumerate(levels):
                local.append(f"c{level}={cid}")
            for level in range(max(0, len(levels) - 2), len(levels)):
                ctx_common.append(f"c{level}={levels[level]}")
        bits = self.word_bits.features(base, f)
        local.extend(bits)
        wf = WordFeats(local, ctx_common, f, base, bits, self.word_vecs.row(base, f))
        if len(self._cache) < self._cache_size:
            self._cache[token] = wf
        return wf

    def word(self, token: str) -> WordFeats:
        """Return the cached per-word features of ``token``."""
        return self._word(token)

    def parts(self, tokens: Sequence[str]) -> tuple[list[WordFeats], list[list[str]]]:
        """Return the per-word features and the per-token features that depend on neighbours.

        The second list holds what cannot be cached per word: sentence edges,
        gazetteer matches over several words, and word bigrams.
        """
        words = [self._word(t) for t in tokens]
        gaz = self.gazetteer.match([w.folded for w in words])
        n = len(words)
        extras: list[list[str]] = []
        for i, w in enumerate(words):
            feats = ["gz=" + g for g in gaz[i]]
            if i > 0:
                feats.append("bg-=" + words[i - 1].base + "|" + w.base)
                feats.extend("-1:gz=" + g for g in gaz[i - 1])
            else:
                feats.append("-1:edge")
            if i + 1 < n:
                feats.append("bg+=" + w.base + "|" + words[i + 1].base)
                feats.extend("1:gz=" + g for g in gaz[i + 1])
            else:
                feats.append("1:edge")
            extras.append(feats)
        return words, extras

    def items(
        self, tokens: Sequence[str], topic: str | None = None
    ) -> list[list[str]] | list[dict[str, float]]:
        """Return crfsuite's items of a sentence: :meth:`sentence`, with the vector features.

        Without real-valued features the string lists of :meth:`sentence`;
        with them one ``{feature: value}`` dict per token (a repeated string
        counts its repetitions, as in a list).  With a ``topic`` (that of the
        text the sentence is in, :mod:`.topics`) each token also gets the
        topic features.
        """
        feats = self.sentence(tokens)
        if topic is not None:
            for fs, token in zip(feats, tokens, strict=True):
                fs.extend(topic_features(topic, self._word(token).local))
        vecs = self.word_vecs
        if not len(vecs):
            return feats
        rows = [self._word(t).vec_row for t in tokens]
        names = vecs.names
        prefixed = {off: tuple(f"{off}:{x}" for x in names) for off in NEAR_OFFSETS}
        out: list[dict[str, float]] = []
        n = len(tokens)
        for i, fs in enumerate(feats):
            item: dict[str, float] = {}
            for f in fs:
                item[f] = item.get(f, 0.0) + 1.0
            if rows[i] >= 0:
                item.update(zip(names, vecs.values[rows[i]].tolist(), strict=True))
            for off in NEAR_OFFSETS:
                j = i + off
                if 0 <= j < n and rows[j] >= 0:
                    item.update(zip(prefixed[off], vecs.values[rows[j]].tolist(), strict=True))
            out.append(item)
        return out

    def sentence(self, tokens: Sequence[str]) -> list[list[str]]:
        """Return one feature list per token of a sentence."""
        words, extras = self.parts(tokens)
        contexts = [w.context for w in words]
        n = len(words)
        out: list[list[str]] = []
        for i, w in enumerate(words):
            feats = list(w.local)
            for off in CONTEXT_OFFSETS:
                j = i + off
                if 0 <= j < n:
                    feats.extend(contexts[j][off])
            feats.extend(extras[i])
            out.append(feats)
        return out
