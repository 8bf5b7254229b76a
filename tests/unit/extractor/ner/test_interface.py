"""Interface and schema tests of the NER step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from marsad.extractor.ner import Entity, Mention, Recogniser, load_recogniser
from marsad.extractor.ner.text import token_spans

ROOT = Path(__file__).resolve().parents[4]
SCHEMA = json.loads((ROOT / "schemas" / "defs" / "entity.v1.json").read_text(encoding="utf-8"))


SENTENCES = [
    "وقال وزير الخارجية الفرنسي لوران فابيوس في باريس إن الأمم المتحدة يجب أن تتحرك.",
    "أعلن البنك المركزي المصري في القاهرة عن خفض أسعار الفائدة.",
    "التقى الرئيس الأمريكي دونالد ترامب نظيره الروسي فلاديمير بوتين في هلسنكي.",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_entities_validate_against_schema(rec: Recogniser, text: str) -> None:
    validator = Draft202012Validator(SCHEMA)
    entities = rec.entities(text, token_spans(text))
    assert entities
    for e in entities:
        validator.validate(e.to_json())
        for m in e.mentions:
            assert text[m.start : m.end] == m.text


def test_schema_rejects_extra_fields() -> None:
    e = Entity("e1", "LOC", "باريس", "باريس", (Mention("LOC", 0, 5, "باريس"),))
    data = e.to_json()
    Draft202012Validator(SCHEMA).validate(data)
    data["extra"] = 1
    assert not Draft202012Validator(SCHEMA).is_valid(data)


def test_tag_returns_one_iob2_tag_per_token(rec: Recogniser) -> None:
    tokens = ["وقال", "الرئيس", "السوري", "بشار", "الأسد", "في", "دمشق", "."]
    tags = rec.tag(tokens)
    assert len(tags) == len(tokens)
    assert all(t == "O" or t[:2] in ("B-", "I-") for t in tags)
    assert tags[tokens.index("دمشق")] == "B-LOC"


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError):
        load_recogniser("spacy")


def test_camel_backend_falls_back_when_data_missing(caplog: pytest.LogCaptureFixture) -> None:
    rec = load_recogniser("camel")
    # No camel-tools NER data is installed here: the built-in CRF must answer.
    assert rec.backend in ("builtin", "camel")
    assert rec.tag(["باريس"]) in (["B-LOC"], ["O"])
