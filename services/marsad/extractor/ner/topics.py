"""Article topics as NER features: a naive Bayes classifier over ANT's categories.

The same name is a place in one article and an organisation in another:
ليون, هامبورغ or بوردو are cities in a political report and football clubs in
a sports one, and ANERcorp tags the clubs ORG.  The CRF's features see two
words either side, rarely enough to tell.  The article's topic does: the
text a sentence belongs to is classified once (sport, economy, culture,
technology, middleEast, internationalNews: ANT's own categories), and every
token gets the topic as a feature, alone and joined with its name-list,
trigger and nationality features (``top=sport|g1=LOC``), so that the model
can learn that a city name in a sports text is usually a club.

The classifier is multinomial naive Bayes with add-one smoothing over the
folded words seen at least ``min_count`` times in ANT, with equal priors (the
text decides).  A text gets a topic only when the best category's
log-likelihood leads the second's by ``margin``; short or mixed texts get
none.  In training, a sentence's topic is that of the ``TOPIC_WINDOW``
sentences around it (ANERcorp has no article breaks; the stream classifies
the whole article).

Tried, not shipped (``marsad ner-train --topics``; figures in the NER
README): the shipped model has no topic features, so the recognisers skip
this module's work for it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marsad.extractor.ner.corpus import iter_ant_records
from marsad.extractor.ner.text import fold

logger = logging.getLogger(__name__)

TOPICS_SUFFIX = ".topics.npz"
# Sentences classified together in training: about one short article, as the
# dev split's windowed evaluation and the consistency pass assume.
TOPIC_WINDOW = 10
# Feature-name prefixes of a word's own features that are joined with the topic.
JOINED_PREFIXES = ("g1=", "gt=", "tr=")
JOINED_NAMES = frozenset({"nisba"})


def topics_path(model_path: Path) -> Path:
    """Return the topic model that goes with a CRF model (``x.crfsuite`` -> ``x.topics.npz``)."""
    return model_path.with_suffix(TOPICS_SUFFIX)


def joined(features: Iterable[str]) -> tuple[str, ...]:
    """The features of a word's own that are also seen joined with the topic."""
    return tuple(f for f in features if f.startswith(JOINED_PREFIXES) or f in JOINED_NAMES)


def topic_features(topic: str, own: Iterable[str]) -> list[str]:
    """The topic features of one token: the topic, and the topic joined with ``joined(own)``."""
    head = "top=" + topic
    return [head, *(f"{head}|{f}" for f in joined(own))]


@dataclass(frozen=True, eq=False)
class TopicModel:
    """Folded word -> per-topic log-likelihoods, and the margin a topic needs.

    Attributes:
        index: Folded word -> row of ``logp``.
        logp: ``(words + 1, topics)`` log-likelihoods; the last row is zeros
            (a word outside the vocabulary says nothing).
        names: The topics, in column order.
        margin: Lead in log-likelihood the best topic needs over the second.
        kept: The topics given as features (all when empty); a text whose
            best topic is another gets none.
    """

    index: dict[str, int]
    logp: np.ndarray
    names: tuple[str, ...]
    margin: float = 5.0
    kept: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.index)

    def topic(self, folded: Sequence[str]) -> str | None:
        """The topic of a text given as folded words, or None when none leads clearly."""
        if len(self.names) < 2 or not folded:
            return None
        get = self.index.get
        rows = [get(w, -1) for w in folded]
        total = self.logp[rows].sum(axis=0, dtype=np.float64)
        second, best = np.argsort(total)[-2:]
        if total[best] - total[second] < self.margin:
            return None
        name = self.names[int(best)]
        return name if not self.kept or name in self.kept else None


NO_TOPICS = TopicModel({}, np.zeros((1, 0), dtype=np.float32), ())


def iter_categorised(ant_path: Path) -> Iterator[tuple[str, str]]:
    """Yield ``(category, text)`` of every ANT article that has both."""
    for rec in iter_ant_records(ant_path):
        if rec.get("category") and rec.get("text"):
            yield str(rec["category"]), str(rec["text"])


def build_topic_model(
    documents: Iterable[tuple[str, str]],
    min_count: int = 20,
    margin: float = 5.0,
    kept: Sequence[str] = (),
) -> TopicModel:
    """Count folded words per category and return the naive Bayes model.

    Args:
        documents: ``(category, text)`` pairs (texts split on white space).
        min_count: Fewest occurrences over all documents for a word to count.
        margin: See :class:`TopicModel`.
        kept: See :class:`TopicModel`.
    """
    counts: dict[str, Counter[str]] = {}
    for category, text in documents:
        counts.setdefault(category, Counter()).update(fold(w) for w in text.split())
    names = tuple(sorted(counts))
    total: Counter[str] = Counter()
    for c in counts.values():
        total.update(c)
    # Sorted by frequency, then the word: the file does not depend on dict order.
    words = sorted((w for w, n in total.items() if n >= min_count), key=lambda w: (-total[w], w))
    logp = np.zeros((len(words) + 1, len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        c = counts[name]
        col = np.array([c[w] for w in words], dtype=np.float64) + 1.0
        logp[: len(words), j] = np.log(col / col.sum())
    return TopicModel({w: i for i, w in enumerate(words)}, logp, names, margin, tuple(kept))


def write_topic_model(path: Path, model: TopicModel) -> None:
    """Write ``model`` as an ``.npz`` (words, float16 log-likelihoods, topic names, margin)."""
    words = [""] * len(model.index)
    for w, i in model.index.items():
        words[i] = w
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez_compressed(
            fh,
            words=np.array("\n".join(words)),
            logp=model.logp[: len(words)].astype(np.float16),
            names=np.array("\n".join(model.names)),
            margin=np.array(model.margin),
            kept=np.array("\n".join(model.kept)),
        )


def load_topic_model(path: Path) -> TopicModel:
    """Return the topic model stored at ``path``, or :data:`NO_TOPICS` when there is none."""
    if not path.exists():
        return NO_TOPICS
    with np.load(path) as data:
        words = str(data["words"]).split("\n") if str(data["words"]) else []
        names = tuple(str(data["names"]).split("\n"))
        logp = np.zeros((len(words) + 1, len(names)), dtype=np.float32)
        logp[: len(words)] = data["logp"].astype(np.float32)
        margin = float(data["margin"])
        kept = tuple(k for k in str(data["kept"]).split("\n") if k) if "kept" in data else ()
    logger.info("loaded a topic model of %d words (%s) from %s", len(words), ", ".join(names), path)
    return TopicModel({w: i for i, w in enumerate(words)}, logp, names, margin, kept)


def window_topics(
    sentences: Sequence[Sequence[str]], model: TopicModel, window: int = TOPIC_WINDOW
) -> list[str | None]:
    """The topic of each sentence: that of the ``window`` consecutive sentences it falls in."""
    out: list[str | None] = []
    for k in range(0, len(sentences), window):
        group = sentences[k : k + window]
        topic = model.topic([fold(t) for toks in group for t in toks])
        out.extend([topic] * len(group))
    return out
