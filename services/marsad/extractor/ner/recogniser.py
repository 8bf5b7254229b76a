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

from marsad.extractor.ner.consistency import propagate, tag_known_names
from marsad.extractor.ner.decoding import NO_BIAS, DecodingBias, load_bias
from marsad.extractor.ner.lexicon import Gazetteer, load_gazetteer
from marsad.extractor.ner.model import Entity
from marsad.extractor.ner.text import fold, sentence_chunks, token_spans

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "ner.crfsuite"


class Recogniser:
    """Base class: subclasses implement :meth:`tag_sentence`."""

    backend = "none"
    # The model files the decoder was built from (a decoding bias is chosen for these).
    model_files: Sequence[Path] = ()
    # The decoding bias in use (see :meth:`set_bias`).
    bias: DecodingBias = NO_BIAS

    def tag_sentence(self, tokens: Sequence[str]) -> list[str]:
        """Return IOB2 tags for one sentence."""
        raise NotImplementedError

    def set_bias(self, bias: DecodingBias) -> None:
        """Decode with per-label state-score biases from now on (see :mod:`.decoding`)."""
        raise NotImplementedError(f"the {self.backend} backend takes no decoding bias")

    def tag(self, tokens: Sequence[str], *, consistent: bool = True) -> list[str]:
        """Return IOB2 tags for ``tokens`` (cut into sentences internally).

        Args:
            tokens: Tokens of one text (an article, or one CoNLL sentence).
            consistent: Also tag untagged repetitions of the names found in
                the text (see :mod:`marsad.extractor.ner.consistency`).  Long
                organisation names mined from ANT are tagged either way.
        """
        tags: list[str] = []
        for start, end in sentence_chunks(tokens):
            tags.extend(self.tag_sentence(tokens[start:end]))
        tags = tag_known_names(self.folded(tokens), tags)
        return propagate(tokens, tags) if consistent else tags

    def folded(self, words: Sequence[str]) -> list[str]:
        """Return the folded form of each word."""
        return [fold(w) for w in words]

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
        tags, folded = self.tagged(words)
        tags = propagate(words, tags, folded)
        return build_entities(text, list(tokens), tags, folded, words)

    def tagged(self, words: Sequence[str]) -> tuple[list[str], list[str]]:
        """Return ``tag(words, consistent=False)`` and the folded words."""
        folded = self.folded(words)
        return self.tag(words, consistent=False), folded

    def find_entities(self, text: str) -> list[Entity]:
        """Tokenise ``text`` with the built-in tokeniser and return its entities."""
        return self.entities(text, token_spans(text))


class CrfRecogniser(Recogniser):
    """The built-in python-crfsuite model.

    Args:
        model_path: The ``.crfsuite`` file.
        gazetteer: Name lists used by the features (defaults to the shipped one).
        bias: Decoding bias; ``None`` takes the one shipped for this model
            file in ``data/decoding.json`` (none for any other model file).
    """

    backend = "builtin"

    def __init__(
        self,
        model_path: Path = DEFAULT_MODEL,
        gazetteer: Gazetteer | None = None,
        bias: DecodingBias | None = None,
    ):
        import pycrfsuite

        from marsad.extractor.ner.clusters import load_clusters
        from marsad.extractor.ner.fastcrf import FastCrf
        from marsad.extractor.ner.features import FeatureExtractor
        from marsad.extractor.ner.topics import load_topic_model, topics_path
        from marsad.extractor.ner.wordbits import bits_path, load_word_bits
        from marsad.extractor.ner.wordvecs import load_word_vecs, vecs_path

        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(model_path))
        # The fast decoder keeps its own per-word cache; a second one would
        # only double the memory (and the garbage collector's work).  The
        # embedding features are the ones stored next to this model file.
        self._features = FeatureExtractor(
            gazetteer or load_gazetteer(),
            load_clusters(),
            cache_size=0,
            word_bits=load_word_bits(bits_path(model_path)),
            word_vecs=load_word_vecs(vecs_path(model_path)),
        )
        if bias is None:
            bias = load_bias(self.backend, [model_path])
        self._fast = FastCrf(self._tagger, self._features, bias)
        # The article-topic classifier stored next to a model trained with topic features.
        self.topics = load_topic_model(topics_path(model_path)) if self._fast.has_topics else None
        self.bias = bias
        self.model_files = [model_path]

    def topic_of(self, words: Sequence[str]) -> str | None:
        """The topic of a text (:mod:`.topics`), or None when the model has no topic features."""
        if self.topics is None:
            return None
        return self.topics.topic(self._fast.folded(words))

    def set_bias(self, bias: DecodingBias) -> None:
        """Decode with ``bias`` from now on (the fast decoder's word cache stays)."""
        self._fast.set_bias(bias)
        self.bias = bias

    def tag_sentence(self, tokens: Sequence[str]) -> list[str]:
        """Return IOB2 tags for one sentence (fast decoder, same tags as crfsuite)."""
        if not tokens:
            return []
        return self._fast.tag(tokens, self.topic_of(tokens))

    def tag(self, tokens: Sequence[str], *, consistent: bool = True) -> list[str]:
        """Return IOB2 tags for ``tokens``: all sentences decoded in one batch."""
        tags, folded = self.tagged(tokens)
        return propagate(tokens, tags, folded) if consistent else tags

    def tagged(self, words: Sequence[str]) -> tuple[list[str], list[str]]:
        """Return ``tag(words, consistent=False)`` and the folded words, in one pass."""
        lengths = [b - a for a, b in sentence_chunks(words)]
        tags, folded = self._fast.tag_tokens(words, lengths, self.topic_of(words))
        return tag_known_names(folded, tags), folded

    def folded(self, words: Sequence[str]) -> list[str]:
        """Return the folded form of each word (from the decoder's per-word cache)."""
        return self._fast.folded(words)

    def tag_sentence_crfsuite(self, tokens: Sequence[str]) -> list[str]:
        """Return IOB2 tags for one sentence from python-crfsuite itself (reference, unbiased)."""
        if not tokens:
            return []
        return list(self._tagger.tag(self._features.items(tokens, self.topic_of(tokens))))


class StackedRecogniser(CrfRecogniser):
    """The CRF followed by a stacked second-pass CRF over its tags (:mod:`.stacking`).

    The first pass is the CRF named in the second model's sidecar file (the
    shipped ``ner.crfsuite``), decoded without a bias; the second pass adds
    the stacked features of the first pass's tags over the whole text given
    to :meth:`tag` (an article in the stream) to its own CRF features.

    Args:
        model_path: The second pass's ``.crfsuite`` file (with its ``.stack.json``).
        gazetteer: Name lists used by both passes' features (defaults to the shipped one).
        bias: Decoding bias of the second pass (``None``: the shipped one for
            both model files, none for any other).
    """

    backend = "builtin"

    def __init__(
        self,
        model_path: Path,
        gazetteer: Gazetteer | None = None,
        bias: DecodingBias | None = None,
    ):
        from marsad.extractor.ner.stacking import StackScorer, read_sidecar

        info = read_sidecar(model_path)
        first_path = (model_path.parent / info["first_pass"]).resolve()
        self._first = CrfRecogniser(first_path, gazetteer, NO_BIAS)
        gazetteer = gazetteer or self._first._features.gazetteer
        super().__init__(model_path, gazetteer, NO_BIAS)
        self._non_local = bool(info["non_local"])
        self._positional = bool(info.get("positional", False))
        self._marginals = bool(info.get("marginals", False))
        self._scorer = StackScorer(self._fast)
        if bias is None:
            bias = load_bias(self.backend, [first_path, model_path])
        self.set_bias(bias)
        self.model_files = [first_path, model_path]

    def _two_passes(self, words: Sequence[str]) -> tuple[list[str], list[str]]:
        """Return the second pass's Viterbi tags of a text and its folded words."""
        from marsad.extractor.ner.stacking import marginal_attributes, stacked_attributes

        lengths = [b - a for a, b in sentence_chunks(words)]
        fast = self._first._fast
        marginals = None
        topic = self._first.topic_of(words)
        if self._marginals:
            first, folded, bases, marg = fast.tag_tokens_marginals(words, lengths, topic)
            marginals = marginal_attributes(marg, fast.labels)
        else:
            first, folded, bases = fast.tag_tokens_bases(words, lengths, topic)
        if not first:
            return [], folded
        attrs = stacked_attributes(
            bases,
            first,
            lengths,
            non_local=self._non_local,
            positional=self._positional,
            marginals=marginals,
        )
        scores = self._scorer.scores(attrs)
        return self._fast.tag_tokens_extra(words, lengths, scores, self.topic_of(words)), folded

    def tagged(self, words: Sequence[str]) -> tuple[list[str], list[str]]:
        """Return ``tag(words, consistent=False)`` and the folded words."""
        tags, folded = self._two_passes(words)
        return tag_known_names(folded, tags), folded

    def tag_sentence(self, tokens: Sequence[str]) -> list[str]:
        """Return the two passes' IOB2 tags for one sentence."""
        return self._two_passes(tokens)[0] if tokens else []


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
        backend: ``"builtin"`` (the shipped CRF), ``"neural"`` (the BiLSTM-CRF
            of :mod:`marsad.extractor.ner.neural`, imports torch) or ``"camel"``
            (camel-tools' NER; falls back to the built-in model, with an error
            logged, when its data is not installed).
        model_path: Another model file for the built-in or neural backend.

    Returns:
        The recogniser.
    """
    if backend not in ("builtin", "camel", "neural"):
        raise ValueError(f"unknown NER backend {backend!r} (builtin | camel | neural)")
    if backend == "neural":
        from marsad.extractor.ner.neural import load_neural

        return load_neural(model_path)
    if backend == "camel":
        try:
            return CamelRecogniser()
        except Exception as exc:  # camel-tools raises several types for missing data
            logger.error(
                "camel-tools NER data is not available (%s); falling back to the built-in model",
                exc,
            )
    path = model_path or DEFAULT_MODEL
    from marsad.extractor.ner.stacking import sidecar_path

    if sidecar_path(path).exists():
        return StackedRecogniser(path)
    return CrfRecogniser(path)


def bench(texts: Sequence[str], recogniser: Recogniser | None = None) -> dict[str, Any]:
    """Time tokenising, tagging, grouping and linking over ``texts`` on one core.

    Returns:
        Articles, characters, tokens, entities, wall and CPU seconds, and
        articles per second (wall and CPU).
    """
    rec = recogniser or load_recogniser()
    rec.find_entities("\u0628\u0627\u0631\u064a\u0633")  # BEH ALEF REH YEH SEEN: warm the caches
    from marsad.extractor.ner.linking import load_places

    # The place table (about 1 s) is loaded once when the stage starts: a
    # start-up cost, not part of the per-article throughput.
    load_places()
    n_tokens = n_entities = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for text in texts:
        spans = token_spans(text)
        n_tokens += len(spans)
        n_entities += len(rec.entities(text, spans))
    cpu = time.process_time() - c0
    seconds = time.perf_counter() - t0
    return {
        "articles": len(texts),
        "chars": sum(len(t) for t in texts),
        "tokens": n_tokens,
        "entities": n_entities,
        "seconds": seconds,
        "cpu_seconds": cpu,
        # CPU time is the single-core figure: wall time also counts other processes.
        "articles_per_second": len(texts) / seconds if seconds else 0.0,
        "articles_per_cpu_second": len(texts) / cpu if cpu else 0.0,
        "tokens_per_cpu_second": n_tokens / cpu if cpu else 0.0,
    }
