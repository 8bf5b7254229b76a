"""The extractor stage reports every finding as a span of the original article."""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
import pytest

from marsad.extractor.facts import extract_facts
from marsad.extractor.stage import remap_offsets
from marsad.normaliser.core import OffsetMap
from marsad.pipeline import Pipeline
from marsad.runtime import build_stage, make_codec
from marsad.settings import Settings

# Real scraped shapes: markup, tatweel, a glued word, diacritics, Eastern digits.
ARTICLES = [
    "<p>دعا مؤتمر أصدقاء سوريا في باريس مجلس الأمن إلى فرض عقوبات على دمشق.</p>",
    "قُتِلَ ٢٩ شخصاً الجمعة في قصف على مدينة حمص، بحسب المرصد السوري لحقوق الإنسان.",
    "وقال الرئيس الفرنسي فرانسوا هولاند «إن الحصيلة رهيبة» أمس في باريس.",
    "أعلنت الأممالمتحدة أن مئة دولة شاركت في الاجتمــاع الذي عقد في جنيف يوم الاثنين.",
]


@pytest.fixture(scope="module")
def extracted() -> list[dict]:
    settings = Settings()
    codec = make_codec(settings)
    pipe = Pipeline([build_stage(n, settings, codec) for n in ("normaliser", "extractor")], codec)
    out = []
    for i, text in enumerate(ARTICLES):
        raw = orjson.dumps({"id": f"a{i}", "text": text, "published_at": "2012-07-07T09:00:00Z"})
        out += [o.value for o in pipe.run(raw) if o.topic == "articles.extracted"]
    assert len(out) == len(ARTICLES)
    return out


def spans(node: object):
    if isinstance(node, dict):
        if isinstance(node.get("start"), int) and isinstance(node.get("text"), str):
            yield node
        for v in node.values():
            yield from spans(v)
    elif isinstance(node, list):
        for v in node:
            yield from spans(v)


def test_every_span_is_a_slice_of_the_original(extracted: list[dict]) -> None:
    count = 0
    for article in extracted:
        for span in spans([article["entities"], article["facts"]]):
            assert article["text"][span["start"]:span["end"]] == span["text"]
            count += 1
    assert count > 10


def test_findings_are_found(extracted: list[dict]) -> None:
    kinds = {k for a in extracted for k, v in a["facts"].items() if v}
    assert {"dates", "casualties", "events", "quotes", "quantities"} <= kinds
    assert any(e["type"] == "LOC" for a in extracted for e in a["entities"])


def remap_everywhere(value: Any, offsets: OffsetMap, original: str) -> Any:
    """Reference: map every dict with int start/end, wherever it sits (a full recursive copy)."""
    if isinstance(value, list):
        return [remap_everywhere(v, offsets, original) for v in value]
    if isinstance(value, dict):
        out = {k: remap_everywhere(v, offsets, original) for k, v in value.items()}
        start, end = out.get("start"), out.get("end")
        if isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool):
            out["start"], out["end"] = offsets.to_original(start, end)
            if isinstance(out.get("text"), str):
                out["text"] = original[out["start"]:out["end"]]
        return out
    return value


@pytest.mark.parametrize("text", ARTICLES)
def test_remap_reaches_every_span(text: str) -> None:
    settings = Settings()
    stage = build_stage("extractor", settings, make_codec(settings))
    tokens = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]", text)]
    entities = stage.recogniser.entities(text, tokens)  # type: ignore[attr-defined]
    facts = extract_facts(text, published_at=None, entities=entities)
    # The original has two more characters in front, so every unmapped span would be off.
    original = "\u00a0\u00a0" + text
    offsets = OffsetMap([[0, 2, len(text), len(text)]])
    for value in ([e.to_json() for e in entities], facts.to_json()):
        expected = remap_everywhere(value, offsets, original)
        assert remap_offsets(copy.deepcopy(value), offsets, original) == expected


@pytest.mark.parametrize("text", ARTICLES)
def test_remapping_under_an_identity_map_changes_nothing(text: str) -> None:
    # The stage skips remapping when the display text is the original under an
    # identity map; that is only right if every span text is the display slice.
    settings = Settings()
    stage = build_stage("extractor", settings, make_codec(settings))
    tokens = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]", text)]
    entities = stage.recogniser.entities(text, tokens)  # type: ignore[attr-defined]
    facts = extract_facts(text, published_at=None, entities=entities)
    identity = OffsetMap([[0, 0, len(text), len(text)]])
    for value in ([e.to_json() for e in entities], facts.to_json()):
        assert remap_everywhere(value, identity, text) == value


def test_plain_and_remapped_articles_agree_on_their_spans(extracted: list[dict]) -> None:
    # Both paths of the stage: articles the normaliser left as they were, and others.
    plain = [a for a in extracted if a["normalisation"]["display"] == a["text"]]
    assert plain and len(plain) < len(extracted)
    for article in plain:
        for span in spans([article["entities"], article["facts"]]):
            assert article["normalisation"]["display"][span["start"]:span["end"]] == span["text"]


def test_building_the_stage_loads_and_freezes_the_models() -> None:
    import gc

    from marsad.extractor.ner.linking import load_places

    gc.unfreeze()  # an earlier test's stage froze what was loaded then
    settings = Settings()
    build_stage("extractor", settings, make_codec(settings))
    # The place table is read at start-up, not by the first article that names a place,
    # and what was loaded is exempt from the cyclic collector's full runs.
    assert load_places.cache_info().currsize == 1
    assert gc.get_freeze_count() > 100_000
