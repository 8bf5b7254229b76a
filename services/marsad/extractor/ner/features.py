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

from marsad.extractor.ner.lexicon import Gazetteer, nisba_country, trigger_class
from marsad.extractor.ner.text import AL, fold, proclitic_splits, shape, stem, strip_proclitics

_CONTEXT = (-2, -1, 1, 2)


@dataclass(frozen=True, slots=True)
class _WordFeats:
    local: list[str]
    context: dict[int, list[str]]
    folded: str
    base: str


class FeatureExtractor:
    """Turns token sequences into crfsuite feature lists.

    Args:
        gazetteer: Name lists for membership features.
        clusters: Optional folded word -> cluster-path map (corpus clusters).
    """

    def __init__(self, gazetteer: Gazetteer, clusters: dict[str, str] | None = None) -> None:
        self.gazetteer = gazetteer
        self.clusters = clusters or {}
        self._cache: dict[str, _WordFeats] = {}

    def _word(self, token: str) -> _WordFeats:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        f = fold(token)
        base = strip_proclitics(f)
        st = stem(f)
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
        cluster = self.clusters.get(base) or self.clusters.get(f)
        if cluster is not None:
            for plen in (4, 8, 12):
                local.append(f"c{plen}=" + cluster[:plen])
            ctx_common.append("c8=" + cluster[:8])
        context = {off: [f"{off}:{x}" for x in ctx_common] for off in _CONTEXT}
        wf = _WordFeats(local, context, f, base)
        if len(self._cache) < 300_000:
            self._cache[token] = wf
        return wf

    def sentence(self, tokens: Sequence[str]) -> list[list[str]]:
        """Return one feature list per token of a sentence."""
        words = [self._word(t) for t in tokens]
        gaz = self.gazetteer.match([w.folded for w in words])
        n = len(words)
        out: list[list[str]] = []
        for i, w in enumerate(words):
            feats = list(w.local)
            for off in _CONTEXT:
                j = i + off
                if 0 <= j < n:
                    feats.extend(words[j].context[off])
                elif off in (-1, 1):
                    feats.append(f"{off}:edge")
            for g in gaz[i]:
                feats.append("gz=" + g)
            if i > 0:
                feats.append("bg-=" + words[i - 1].base + "|" + w.base)
                for g in gaz[i - 1]:
                    feats.append("-1:gz=" + g)
            if i + 1 < n:
                feats.append("bg+=" + w.base + "|" + words[i + 1].base)
                for g in gaz[i + 1]:
                    feats.append("1:gz=" + g)
            out.append(feats)
        return out
