"""The one-name-one-label pass over an article's tags."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from marsad.extractor.ner.consistency import propagate


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
