"""The extractor stage reports every finding as a span of the original article."""

from __future__ import annotations

import orjson
import pytest

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
