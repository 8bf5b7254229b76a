"""The extractor stage: ``articles.normalised`` -> ``articles.extracted``.

Runs named-entity recognition and linking (:mod:`marsad.extractor.ner`) and
fact extraction (:mod:`marsad.extractor.facts`) on the display text, then
moves every ``start``/``end`` pair from display-text offsets to offsets into
the original article with the normaliser's offset map, so subscribers can
highlight each finding in what the publisher wrote.
"""

from __future__ import annotations

import gc
from datetime import datetime
from typing import Any

from marsad.codec import Codec
from marsad.extractor.facts import extract_facts
from marsad.extractor.ner import Recogniser
from marsad.normaliser.core import OffsetMap
from marsad.stage import Incoming, Outgoing, Stage
from marsad.topics import EXTRACTED, NORMALISED

EXTRACTOR_VERSION = "1"


# Where the extractor's JSON holds spans: for each list of findings (facts.to_json() keys,
# and an entity's "mentions"), the keys of one finding that hold nested spans (a span dict
# or a list of findings of the kind named by the key).  Nothing else is walked; a test
# checks that no span of the output is left out.
SPAN_CHILDREN: dict[str, tuple[str, ...]] = {
    "mentions": (),
    "dates": (),
    "quantities": (),
    "casualties": ("trigger",),
    "events": ("trigger", "actor_span", "target_span", "casualties", "sentence"),
    "quotes": ("speaker_span", "verb"),
}


def remap_offsets(value: Any, offsets: OffsetMap, original: str) -> Any:
    """Map every span in the extractor's JSON to the original, in place.

    Findings are computed on the display text; one pass here keeps the rule
    "all offsets on ``articles.extracted`` point into ``text``, and a
    finding's ``text`` is exactly ``text[start:end]``" in one place instead of
    in every extractor.  (Canonical names and quote bodies keep the cleaned
    display form; only the span text is re-read from the original.)

    Args:
        value: Freshly built JSON, changed in place (which spares copying every
            nested dict): a list of entities (``Entity.to_json()``), a facts
            dict (``Facts.to_json()``), or a list of spans.
        offsets: Display-to-original map.
        original: The original text.

    Returns:
        ``value``.
    """
    to_original = offsets.to_original

    def span(node: dict[str, Any]) -> None:
        start, end = node.get("start"), node.get("end")
        # type() rather than isinstance(): a bool is an int but is no offset.
        if type(start) is int and type(end) is int:
            node["start"], node["end"] = s, e = to_original(start, end)
            if isinstance(node.get("text"), str):
                node["text"] = original[s:e]

    def findings(kind: str, items: Any) -> None:
        children = SPAN_CHILDREN.get(kind, ())
        for item in items if isinstance(items, list) else (items,):
            if not isinstance(item, dict):
                continue
            span(item)
            for key in children:
                sub = item.get(key)
                if isinstance(sub, list):
                    findings(key, sub)
                elif isinstance(sub, dict):
                    span(sub)
            mentions = item.get("mentions")
            if isinstance(mentions, list):
                findings("mentions", mentions)

    if isinstance(value, dict):
        for kind, items in value.items():
            if kind in SPAN_CHILDREN:
                findings(kind, items)
    else:
        findings("", value)
    return value


# A short sentence with a person, a title, a nationality, a place, a relative date, a count
# and a casualty verb, so that every lexicon and table the cores read lazily is read:
# "wa-qala al-ra'is al-faransi Fransua Huland fi Baris ams inna 3 ashkhas qutilu."
_LOADING_TEXT = (
    "\u0648\u0642\u0627\u0644 \u0627\u0644\u0631\u0626\u064a\u0633 "
    "\u0627\u0644\u0641\u0631\u0646\u0633\u064a \u0641\u0631\u0646\u0633\u0648\u0627 "
    "\u0647\u0648\u0644\u0627\u0646\u062f \u0641\u064a \u0628\u0627\u0631\u064a\u0633 "
    "\u0623\u0645\u0633 \u0625\u0646 3 \u0623\u0634\u062e\u0627\u0635 "
    "\u0642\u062a\u0644\u0648\u0627."
)


def load_everything(recogniser: Recogniser) -> None:
    """Read every lexicon and table of both cores now instead of on the first articles."""
    from marsad.extractor.facts import load_lexicons
    from marsad.extractor.ner.linking import load_places

    load_lexicons()
    load_places()
    extract_facts(
        _LOADING_TEXT,
        published_at=None,
        entities=recogniser.find_entities(_LOADING_TEXT),
    )


def parse_utc(value: str | None) -> datetime | None:
    """Parse the normaliser's UTC ISO 8601 ``published_at`` (or ``None``)."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class ExtractorStage(Stage):
    """People, places, organisations, dates, quantities, casualties, events and quotes.

    Args:
        codec: Codec with a validator for ``articles.normalised``.
        recogniser: The loaded NER model (built-in CRF or camel-tools).
        ner_backend: Name of the backend, recorded on every output.
        deadletter_original_bytes: How many bytes of a bad message a dead letter keeps.
        freeze_models: Load every lexicon now and exempt everything loaded so far
            from the cyclic garbage collector (see below).
    """

    name = "extractor"
    source = NORMALISED

    def __init__(
        self,
        codec: Codec,
        recogniser: Recogniser,
        *,
        ner_backend: str = "builtin",
        deadletter_original_bytes: int = 262_144,
        freeze_models: bool = True,
    ) -> None:
        super().__init__(codec, deadletter_original_bytes=deadletter_original_bytes)
        self.recogniser = recogniser
        self.ner_backend = ner_backend
        if freeze_models:
            load_everything(recogniser)
            # The model, gazetteers, clusters and place table are some 150,000 objects
            # that live as long as the process; each full collection of the cyclic
            # garbage collector walked them all again (about a tenth of the stage's
            # time).  Frozen objects are still freed by reference counting.
            gc.freeze()

    def process(self, msg: Incoming) -> list[Outgoing]:
        """Extract entities and facts from one normalised article."""
        article = self.codec.decode(NORMALISED, msg.value)
        norm = article["normalisation"]
        display: str = norm["display"]
        # [start, end] pairs as decoded: the cores only index and unpack them.
        tokens = norm["tokens"]
        sentences = norm["sentences"]
        entities = self.recogniser.entities(display, tokens)
        facts = extract_facts(
            display,
            published_at=parse_utc(article["published_at"]),
            entities=entities,
            sentences=sentences,
        )
        value = dict(article)
        original: str = article["text"]
        entities_json = [e.to_json() for e in entities]
        facts_json = facts.to_json()
        runs = norm["display_map"]
        if display != original or runs != [[0, 0, len(display), len(display)]]:
            # Otherwise (about half of the articles) the display text is the original
            # itself: every span and span text is already right.
            offsets = OffsetMap.from_json(runs)
            remap_offsets(entities_json, offsets, original)
            remap_offsets(facts_json, offsets, original)
        value["entities"] = entities_json
        value["facts"] = facts_json
        value["extractor"] = {"ner_backend": self.ner_backend, "version": EXTRACTOR_VERSION}
        return [Outgoing(EXTRACTED, article["id"], value)]
