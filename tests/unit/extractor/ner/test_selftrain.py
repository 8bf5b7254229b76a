"""Self-training: the seeded ANT sample, the held-out check and the teacher filters."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.extractor.ner.selftrain import (
    SelfTrainConfig,
    held_out_keys,
    sample_sentences,
    select,
    sentence_key,
    text_sentences,
)

# Real ANT-style sentences (three short articles).
TEXTS = [
    "وشركة إير فرانس التي تتوقع الإبقاء على ثلاثة أرباع رحلاتها ستبلغ الجمعة نتائج "
    "المشاورات المتعلقة بمشروع الاتفاق حول الرواتب . قرر مدرب ليفربول يورغن كلوب إشراك "
    "أليكس أوكسلايد تشامبيرلاين أساسيا على حساب الهولندي جيني فينيالدوم .",
    "تم تكليف الناظوري من قبل القائد العام للجيش الليبي المشير خليفة حفتر لرئاسة الغرفة "
    "الأمنية المركزية المشتركة بمدينة بنغازي . وأوضحت المنظمة أن 78 عاملا على الأقل من "
    "نيبال والهند والفلبين لهم مستحقات مالية .",
    "دعا مؤتمر أصدقاء الشعب السوري أمس في باريس مجلس الأمن الدولي إلى إصدار قرار ملزم . "
    "قصير جدا . The quick brown fox jumps over the lazy dog again and again .",
]


def _sample(pool: int, seed: int = 4, exclude: set[tuple[str, ...]] | None = None) -> list[str]:
    sents, _ = sample_sentences(TEXTS, pool, seed, exclude or set(), min_tokens=6)
    return [" ".join(s) for s in sents]


def test_text_sentences_cut_after_full_stops() -> None:
    sents = list(text_sentences(TEXTS[1]))
    assert len(sents) == 2
    assert sents[0][-1] == "." and sents[0][-2] == "بنغازي"


def test_sample_drops_short_latin_and_duplicate_sentences() -> None:
    sents, counts = sample_sentences([*TEXTS, TEXTS[0]], 100, 4, set(), min_tokens=6)
    joined = [" ".join(s) for s in sents]
    assert len(joined) == len(set(joined)) == 5
    assert counts["length"] == 1  # "قصير جدا ." (very short)
    assert counts["not_arabic"] == 1
    assert counts["distinct"] == 5


def test_sample_never_returns_an_excluded_sentence() -> None:
    dev: list[tuple[list[str], list[str]]] = [(next(text_sentences(TEXTS[2])), [])]
    keys = held_out_keys(Path("/nonexistent"), dev)
    sents, counts = sample_sentences(TEXTS, 100, 4, keys, min_tokens=6)
    assert counts["excluded"] == 1
    assert all(not s[0].startswith("دعا") for s in sents)


def test_excluded_sentences_match_after_folding() -> None:
    # Hamza-less alef and final yeh written as alef maqsura are the same sentence.
    written = "دعا مؤتمر اصدقاء الشعب السوري امس في باريس مجلس الامن الدولي الى اصدار قرار ملزم ."
    keys = {sentence_key(s) for s in text_sentences(written)}
    assert sentence_key(next(text_sentences(TEXTS[2]))) in keys


def test_held_out_keys_include_the_shared_seed_article(shared: Path) -> None:
    seed = (shared / "seeds" / "000_8bb0b02f1c03471e.txt").read_text(encoding="utf-8")
    first = next(text_sentences(seed))
    assert sentence_key(first) in held_out_keys(shared)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=6), st.integers(min_value=0, max_value=6))
def test_a_smaller_sample_is_the_start_of_a_larger_one(a: int, b: int) -> None:
    small, large = sorted((a, b))
    assert _sample(small) == _sample(large)[:small]


def test_sample_order_depends_on_the_seed_not_the_corpus_order() -> None:
    forward, _ = sample_sentences(TEXTS, 3, 4, set(), min_tokens=6)
    backward, _ = sample_sentences(TEXTS[::-1], 3, 4, set(), min_tokens=6)
    assert forward == backward
    orders = {tuple(_sample(5, seed)) for seed in range(6)}
    assert len(orders) > 1


SENTS = [
    ["\u0632\u0627\u0631", "\u0628\u0627\u0631\u064a\u0633", "."],  # زار باريس .
    ["\u0642\u0627\u0644", "\u0623\u0645\u0633", "."],  # قال أمس .
    ["\u0632\u0627\u0631", "\u0644\u0646\u062f\u0646", "."],  # زار لندن .
    ["\u0632\u0627\u0631", "\u0631\u0648\u0645\u0627", "."],  # زار روما .
]


def _teacher(batch: Sequence[list[str]]) -> list[list[str]]:
    return [["O", "B-LOC", "O"] if s[0] == "\u0632\u0627\u0631" else ["O"] * len(s) for s in batch]


def _student(batch: Sequence[list[str]]) -> list[list[str]]:
    # The CRF alone misses روما (Rome).
    return [
        ["O"] * len(s) if s[1] == "\u0631\u0648\u0645\u0627" else t
        for s, t in zip(batch, _teacher(batch), strict=True)
    ]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (SelfTrainConfig(sentences=10), [0, 1, 2, 3]),
        (SelfTrainConfig(sentences=2), [0, 1]),
        (SelfTrainConfig(sentences=10, entities_only=True), [0, 2, 3]),
        (SelfTrainConfig(sentences=2, entities_only=True), [0, 2]),
        (SelfTrainConfig(sentences=10, agree_only=True), [0, 1, 2]),
        (SelfTrainConfig(sentences=10, entities_only=True, agree_only=True), [0, 2]),
    ],
)
def test_select_keeps_teacher_tags_that_pass_the_filters(
    config: SelfTrainConfig, expected: list[int]
) -> None:
    kept, counts = select(SENTS, _teacher, config, _student, batch=3)
    assert [toks for toks, _ in kept] == [SENTS[i] for i in expected]
    assert all(tags == _teacher([toks])[0] for toks, tags in kept)
    assert counts["tagged"] >= len(kept)


def test_select_needs_the_student_for_the_agreement_filter() -> None:
    with pytest.raises(ValueError):
        select(SENTS, _teacher, SelfTrainConfig(agree_only=True))
