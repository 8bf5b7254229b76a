"""Recognisers: the built-in CRF model and the optional camel-tools backend.

Both turn tokens into IOB2 tags; :meth:`Recogniser.entities` then builds the
article's grouped and linked entities with the same code for either backend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from marsad.extractor.ner.lexicon import Gazetteer, load_gazetteer
from marsad.extractor.ner.model import Entity
from marsad.extractor.ner.text import sentence_chunks, token_spans

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "ner.crfsuite"


class Recogniser:
    """Base class: subclasses implement :meth:`tag_sentence`."""

    backend = "none"

    def tag_sentence(self, tokens: Sequence[str]) -> list[str]:
        """Return IOB2 tags for one sentence."""
        raise NotImplementedError

    def tag(self, tokens: Sequence[str]) -> list[str]:
        """Return IOB2 tags for ``tokens`` (cut into sentences internally)."""
        tags: list[str] = []
        for start, end in sentence_chunks(tokens):
            tags.extend(self.tag_sentence(tokens[start:end]))
        return tags

    def entities(self, text: str, tokens: Sequence[tuple[int, int]]) -> list[Entity]:
        """Find, group and link the named entities of one article.

        Args:
            text: The (display) text.
            tokens: Token spans ``(start, end)`` into ``text``.

        Returns:
            One :class:`Entity` per real entity, ordered by first mention.
        """
        from marsad.extractor.ner.linking import build_entities

        words = [text[s:e] for s, e in tokens]
        tags = self.tag(words)
        return build_entities(text, list(tokens), tags)

    def find_entities(self, text: str) -> list[Entity]:
        """Tokenise ``text`` with the built-in tokeniser and return its entities."""
        return self.entities(text, token_spans(text))


class CrfRecogniser(Recogniser):
    """The built-in python-crfsuite model.

    Args:
        model_path: The ``.crfsuite`` file.
        gazetteer: Name lists used by the features (defaults to the shipped one).
    """

    backend = "builtin"

    def __init__(self, model_path: Path = DEFAULT_MODEL, gazetteer: Gazetteer | None = None):
        import pycrfsuite

        from marsad.extractor.ner.clusters import load_clusters
        from marsad.extractor.ner.features import FeatureExtractor

        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(model_path))
        self._features = FeatureExtractor(gazetteer or load_gazetteer(), load_clusters())

    def tag_sentence(self, tokens: Sequence[str]) -> list[str]:
        """Return IOB2 tags for one sentence."""
        if not tokens:
            return []
        return list(self._tagger.tag(self._features.sentence(tokens)))


class CamelRecogniser(Recogniser):
    """camel-tools' pretrained BERT NER (needs its downloaded data)."""

    backend = "camel"

    def __init__(self) -> None:
        from camel_tools.ner import NERecognizer

        self._ner = NERecognizer.pretrained()

    def tag_sentence(self, tokens: Sequence[str]) -> list[str]:
        """Return IOB2 tags for one sentence."""
        if not tokens:
            return []
        return [str(t) for t in self._ner.predict_sentence(list(tokens))]


def load_recogniser(backend: str = "builtin", model_path: Path | None = None) -> Recogniser:
    """Load a recogniser; the caller caches it.

    Args:
        backend: ``"builtin"`` (the shipped CRF) or ``"camel"`` (camel-tools'
            NER; falls back to the built-in model, with an error logged, when
            its data is not installed).
        model_path: Another CRF model file for the built-in backend.

    Returns:
        The recogniser.
    """
    if backend not in ("builtin", "camel"):
        raise ValueError(f"unknown NER backend {backend!r} (builtin | camel)")
    if backend == "camel":
        try:
            return CamelRecogniser()
        except Exception as exc:  # camel-tools raises several types for missing data
            logger.error(
                "camel-tools NER data is not available (%s); falling back to the built-in model",
                exc,
            )
    return CrfRecogniser(model_path or DEFAULT_MODEL)


def bench(texts: Sequence[str], recogniser: Recogniser | None = None) -> dict[str, Any]:
    """Time tokenising, tagging, grouping and linking over ``texts`` on one core.

    Returns:
        Articles, characters, tokens, entities, seconds and articles per second.
    """
    rec = recogniser or load_recogniser()
    rec.find_entities("\u0628\u0627\u0631\u064a\u0633")  # BEH ALEF REH YEH SEEN: warm the caches
    n_tokens = n_entities = 0
    t0 = time.perf_counter()
    for text in texts:
        spans = token_spans(text)
        n_tokens += len(spans)
        n_entities += len(rec.entities(text, spans))
    seconds = time.perf_counter() - t0
    return {
        "articles": len(texts),
        "chars": sum(len(t) for t in texts),
        "tokens": n_tokens,
        "entities": n_entities,
        "seconds": seconds,
        "articles_per_second": len(texts) / seconds if seconds else 0.0,
        "tokens_per_second": n_tokens / seconds if seconds else 0.0,
    }
