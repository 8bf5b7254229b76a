"""The first sample article (Friends of Syria, Paris 2012) end to end through the normaliser."""

from __future__ import annotations

from pathlib import Path

import pytest

from marsad.extractor.ner import Entity, Recogniser

SEED = "seeds/000_8bb0b02f1c03471e.txt"


@pytest.fixture(scope="module")
def seed_entities(rec: Recogniser, shared: Path) -> tuple[str, list[Entity]]:
    from marsad.normaliser.core import normalise

    norm = normalise((shared / SEED).read_text(encoding="utf-8"))
    # The normaliser repairs the glued "الأممالمتحدة", so NER sees two words.
    assert "الأمم المتحدة" in norm.display
    return norm.display, rec.entities(norm.display, list(norm.tokens))


def _find(entities: list[Entity], etype: str, matching: str) -> Entity:
    hits = [e for e in entities if e.type == etype and e.matching == matching]
    assert hits, f"{etype} {matching} not in {[(e.type, e.matching) for e in entities]}"
    return hits[0]


@pytest.mark.parametrize(
    ("matching", "country"),
    [("باريس", "FR"), ("دمشق", "SY"), ("حمص", "SY"), ("الرستن", "SY"), ("سوريا", "SY")],
)
def test_seed_places(seed_entities: tuple[str, list[Entity]], matching: str, country: str) -> None:
    e = _find(seed_entities[1], "LOC", matching)
    assert e.country == country
    assert e.geonames_id is not None


def test_seed_paris_is_paris_france(seed_entities: tuple[str, list[Entity]]) -> None:
    paris = _find(seed_entities[1], "LOC", "باريس")
    assert paris.geonames_id == 2988507
    assert paris.lat is not None and 48 < paris.lat < 49


@pytest.mark.parametrize(
    "matching",
    ["مجلس الامن الدولي", "الامم المتحده", "الجامعه العربيه", "المرصد السوري لحقوق الانسان"],
)
def test_seed_organisations(seed_entities: tuple[str, list[Entity]], matching: str) -> None:
    _find(seed_entities[1], "ORG", matching)


@pytest.mark.parametrize(
    ("matching", "title", "country"),
    [
        ("بشار الاسد", "الرئيس", "SY"),
        ("فرنسوا هولاند", "الرئيس", "FR"),
        ("مناف طلاس", "العميد", None),
        ("مصطفي طلاس", "وزير الدفاع السابق", "SY"),
        ("حافظ الاسد", "الرئيس", None),
    ],
)
def test_seed_people(
    seed_entities: tuple[str, list[Entity]], matching: str, title: str, country: str | None
) -> None:
    e = _find(seed_entities[1], "PERS", matching)
    assert e.title == title
    if country:
        assert e.country == country


def test_seed_tlass_mentions_group_under_manaf(seed_entities: tuple[str, list[Entity]]) -> None:
    manaf = _find(seed_entities[1], "PERS", "مناف طلاس")
    texts = [m.text for m in manaf.mentions]
    assert texts.count("طلاس") >= 3
    assert "مناف طلاس" in texts
    mustafa = _find(seed_entities[1], "PERS", "مصطفي طلاس")
    assert len(mustafa.mentions) == 1


def test_seed_mentions_point_into_display(seed_entities: tuple[str, list[Entity]]) -> None:
    display, entities = seed_entities
    for e in entities:
        for m in e.mentions:
            assert display[m.start : m.end] == m.text
