"""The one-name-one-label pass over an article's tags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marsad.extractor.ner import Recogniser
from marsad.extractor.ner.consistency import propagate, tag_known_names
from marsad.extractor.ner.lexicon import Gazetteer
from marsad.extractor.ner.text import fold

# Real ANT sentences whose organisation the CRF alone leaves untagged.
KNOWN_ORGS = [
    (
        "قتل ما لا يقل عن 14 مدنيا في غارات جديدة نفذتها قوات النظام السوري على الغوطة "
        "الشرقية المحاصرة، كما أفاد المرصد السوري لحقوق الإنسان الاثنين.",
        "المرصد السوري لحقوق الإنسان",
    ),
    (
        "وتعززت علاقات مصر والسعودية مع انتخاب الرئيس عبد الفتاح السيسي رئيسا لمصر في 2014، "
        "بعد الإطاحة بجماعة الإخوان المسلمين المحظورة.",
        "جماعة الإخوان المسلمين",
    ),
    (
        "وقال الموقع الرسمي لنادي ليفربول إن رابطة اللاعبين المحترفين في انجلترا قد "
        "اختارت صلاح كأفضل لاعب.",
        "رابطة اللاعبين المحترفين",
    ),
    (
        "بث تنظيم الدولة الإسلامية صور فيديو يزعم أنها لكمين نصبه عناصره في النيجر.",
        "تنظيم الدولة الإسلامية",
    ),
    (
        "لم يحصل على التصريح للقيام بضربات في سوريا من قبل مجلس العموم البريطاني.",
        "مجلس العموم البريطاني",
    ),
]


@pytest.mark.parametrize(("text", "org"), KNOWN_ORGS)
def test_mined_organisations_are_found(rec: Recogniser, text: str, org: str) -> None:
    orgs = [m.text for e in rec.find_entities(text) if e.type == "ORG" for m in e.mentions]
    assert org in orgs


def test_known_names_need_three_words_and_untagged_words() -> None:
    names = Gazetteer()
    for name in ("المرصد السوري", "المرصد السوري لحقوق الإنسان"):
        names.add(name, "ORG")
    names.finalise()
    toks = [
        fold(t) for t in ["قال", "المرصد", "السوري", "لحقوق", "الإنسان", "و", "المرصد", "السوري"]
    ]
    out = tag_known_names(toks, ["O"] * len(toks), names)
    assert out == ["O", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "O", "O"]
    # A name the CRF tagged in part is left as the CRF tagged it.
    tags = ["O", "B-LOC", "O", "O", "O", "O", "O", "O"]
    assert tag_known_names(toks, tags, names) == tags


def test_repeated_surname_is_tagged() -> None:
    toks = ["انشقاق", "العميد", "مناف", "طلاس", ".", "وينتمي", "طلاس", "إلى", "الطائفة"]
    tags = ["O", "O", "B-PERS", "I-PERS", "O", "O", "O", "O", "O"]
    out = propagate(toks, tags)
    assert out[6] == "B-PERS"
    assert out[:5] == tags[:5]


def test_repeated_name_with_proclitic_is_tagged() -> None:
    toks = ["في", "باريس", "أمس", "وأكدت", "مصادر", "بباريس"]
    tags = ["O", "B-LOC", "O", "O", "O", "O"]
    assert propagate(toks, tags)[5] == "B-LOC"


def test_multiword_name_is_tagged_whole() -> None:
    toks = ["مجلس", "الأمن", "الدولي", "دعا", "و", "مجلس", "الأمن", "الدولي"]
    tags = ["B-ORG", "I-ORG", "I-ORG", "O", "O", "O", "O", "O"]
    assert propagate(toks, tags)[5:] == ["B-ORG", "I-ORG", "I-ORG"]


def test_particles_and_titles_are_not_propagated() -> None:
    toks = ["عبد", "الله", "قال", "الرئيس", "عبد"]
    tags = ["B-PERS", "I-PERS", "O", "O", "O"]
    assert propagate(toks, tags)[4] == "O"


TAGS = ["O", "B-PERS", "I-PERS", "B-LOC", "I-LOC"]


@given(
    st.lists(
        st.tuples(st.sampled_from(["طلاس", "مناف", "باريس", "في", "قال"]), st.sampled_from(TAGS)),
        max_size=25,
    )
)
def test_model_tags_are_never_changed(pairs: list[tuple[str, str]]) -> None:
    toks = [t for t, _ in pairs]
    tags = [g for _, g in pairs]
    out = propagate(toks, tags)
    assert len(out) == len(tags)
    assert all(o == t for o, t in zip(out, tags, strict=True) if t != "O")


def test_lil_form_of_a_name_is_tagged() -> None:
    toks = ["الأمم", "المتحدة", "دعت", "و", "قال", "مبعوث", "للأمم", "المتحدة"]
    tags = ["B-ORG", "I-ORG", "O", "O", "O", "O", "O", "O"]
    assert propagate(toks, tags)[6:] == ["B-ORG", "I-ORG"]
