"""Folding, clitic splitting and tokenisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marsad.extractor.ner.text import (
    dediac,
    fold,
    proclitic_splits,
    sentence_chunks,
    strip_proclitics,
    token_spans,
)


@pytest.mark.parametrize(
    ("word", "folded"),
    [
        ("الأمم", "الامم"),
        ("إسرائيل", "اسرائيل"),
        ("سوريّة", "سوريه"),
        ("قُتِلَ", "قتل"),
        ("مصطفى", "مصطفي"),
        ("آذار", "اذار"),
        ("٢٠١١", "2011"),
    ],
)
def test_fold(word: str, folded: str) -> None:
    assert fold(word) == folded


@pytest.mark.parametrize(
    ("word", "base"),
    [
        ("والجامعة", "الجامعه"),
        ("للأمم", "الامم"),
        ("وقال", "قال"),
        ("والرئيس", "الرئيس"),
        ("سوريا", "سوريا"),
    ],
)
def test_strip_proclitics(word: str, base: str) -> None:
    assert strip_proclitics(fold(word)) == base


def test_proclitic_splits_keep_the_whole_word_first() -> None:
    splits = proclitic_splits(fold("لبنان"))
    assert splits[0] == ("", "لبنان")
    assert ("ل", "بنان") in splits


def test_token_spans_cut_punctuation_like_camel_tools() -> None:
    text = "قال «المرصد السوري»، إن 29 شخصا قُتِلوا."
    words = [text[s:e] for s, e in token_spans(text)]
    assert words == ["قال", "«", "المرصد", "السوري", "»", "،", "إن", "29", "شخصا", "قُتِلوا", "."]


def test_sentence_chunks_cut_after_full_stops() -> None:
    toks = ["قال", "هولاند", ".", "وأضاف", "الرئيس", "؟", "نعم"]
    assert list(sentence_chunks(toks)) == [(0, 3), (3, 6), (6, 7)]


ARABIC_SAMPLE = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي أإآةىءئؤ.،؟«»0123456789\u064e\u0650"


@given(st.text(alphabet=ARABIC_SAMPLE, max_size=80))
def test_token_spans_are_ordered_and_cover_all_non_space(text: str) -> None:
    spans = token_spans(text)
    last = 0
    for s, e in spans:
        assert last <= s < e
        assert not any(c.isspace() for c in text[s:e])
        last = e
    covered = sum(e - s for s, e in spans)
    assert covered == sum(1 for c in text if not c.isspace())


@given(st.text(max_size=40))
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)
    assert fold(dediac(text)) == fold(text)


@pytest.mark.parametrize(
    ("word", "base"),
    [("لبشار", "بشار"), ("بشار", "بشار"), ("لبنان", "لبنان"), ("بباريس", "باريس")],
)
def test_corpus_base_keeps_name_initial_letters(word: str, base: str) -> None:
    """The plain strip over-cuts (بشار -> شار); the corpus-learnt split does not."""
    from marsad.extractor.ner.clusters import load_clusters

    assert load_clusters()[fold(word)].base == base
