"""Property tests of the offset maps: every view character points at its source."""

from __future__ import annotations

import unicodedata
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad.normaliser import core, display
from marsad.normaliser.offsets import MapBuilder, OffsetMap

DIGITS = {c: ord("0") + (c - 0x0660) for c in range(0x0660, 0x066A)} | {
    c: ord("0") + (c - 0x06F0) for c in range(0x06F0, 0x06FA)
}

# Pieces real articles are made of, in the proportions that stress the maps.
WORDS = ["الأمم", "المتحدة", "الأممالمتحدة", "سوريا", "بشار", "الأسد", "مجلس", "الأمن",
         "قُتِلَ", "وبشكلٍ", "إلى", "مدينة", "Hollande", "Paris", "2012", "٢٠١٤", "۱۳۹۷",
         "ﻻ", "ﷲ", "ﺑﺎﺭﻳﺲ", "اٴ", "ا\u0654", "كـتاب", "«دعم»", "،", "؟", "!", ".", "(", ")",
         "&amp;", "&nbsp;", "&#1604;", "<b>", "</b>", "<p>", "<br/>", "<!-- x -->",
         "\u200f", "\u200c", "\ufeff", "\u00ad", "\u0640", "\u00a0", "\t", "\n", "\r\n",
         "  ", " ", " ", " ", " ", "…", "ﷺ", "\u064b", "\u0651\u064e"]
piece = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=3))
texts = st.lists(piece, max_size=40).map("".join)


def _check_map(view: str, original: str, omap: OffsetMap) -> list[tuple[int, int]]:
    assert omap.view_length == len(view)
    spans = [omap.to_original(i, i + 1) for i in range(len(view))]
    prev = 0
    for o0, o1 in spans:
        assert 0 <= o0 <= o1 <= len(original)
        assert o0 >= prev  # monotone
        prev = o0
    return spans


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_display_map_points_at_sources(text: str) -> None:
    result = core.normalise(text)
    spans = _check_map(result.display, text, result.display_map)
    for (vs, os_, vl, ol) in result.display_map.runs():
        if vl == ol:
            # A copied character: the original normalises to it.
            for k in range(vl):
                src = text[os_ + k].translate(DIGITS)
                shown = result.display[vs + k]
                if src.isspace():
                    assert shown in " \n"  # whitespace is made consistent
                else:
                    assert shown in unicodedata.normalize("NFKC", src), (vs + k)
        elif ol == 0:
            assert result.display[vs:vs + vl].isspace()  # only glue spaces are invented
    # Every Arabic letter of the original is shown (the generator makes no boilerplate).
    covered = set()
    for o0, o1 in spans:
        covered.update(range(o0, o1))
    outside_markup = core.normalise(text).display_map.to_original(0, len(result.display))
    for i, ch in enumerate(text):
        if "\u0621" <= ch <= "\u064a" and ch != "\u0640" and not _in_markup(text, i):
            assert i in covered, (i, ch)
            assert outside_markup[0] <= i < outside_markup[1]


def _in_markup(text: str, i: int) -> bool:
    """Whether position i is inside an HTML comment (the only markup with Arabic here)."""
    start = text.rfind("<!--", 0, i + 1)
    return start >= 0 and text.find("-->", start) >= i - 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_matching_map_points_at_sources(text: str) -> None:
    result = core.normalise(text)
    _check_map(result.matching, text, result.matching_map)
    for (vs, os_, vl, ol) in result.matching_map.runs():
        if vl == ol:
            for k in range(vl):
                src = text[os_ + k]
                if src.isspace():
                    assert result.matching[vs + k] in " \n"
                else:
                    # (a one-character run may be one character of a longer
                    # expansion, e.g. the "1" of U+00BC VULGAR FRACTION ONE QUARTER)
                    assert result.matching[vs + k] in core.fold(src), (vs + k)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_maps_roundtrip_json(text: str) -> None:
    result = core.normalise(text)
    for m in (result.display_map, result.matching_map):
        back = OffsetMap.from_json(m.to_json())
        assert back == m
        n = m.view_length
        for a, b in ((0, n), (0, 0), (n, n), (n // 3, n // 2)):
            assert back.to_original(a, b) == m.to_original(a, b)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_fold_equals_camel_chain_on_any_text(text: str) -> None:
    assert core.fold(text) == core.camel_chain(text)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_fold_equals_camel_chain_on_article_like_text(text: str) -> None:
    assert core.fold(text) == core.camel_chain(text)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_display_is_stable(text: str) -> None:
    once = core.normalise(text).display
    assert core.normalise(once).display == once


@settings(max_examples=200, deadline=None)
@given(texts)
def test_tokens_and_sentences_are_ordered_spans(text: str) -> None:
    result = core.normalise(text)
    d = result.display
    prev = 0
    for s, e in result.tokens:
        assert prev <= s < e <= len(d)
        assert not d[s:e].isspace() and d[s:e] == d[s:e].strip()
        prev = e
    prev = 0
    for s, e in result.sentences:
        assert prev <= s < e <= len(d)
        prev = e
    # Tokens cover every non-space character.
    assert sum(e - s for s, e in result.tokens) == sum(not c.isspace() for c in d)


def _builder(*runs: tuple[int, int, int]) -> OffsetMap:
    b = MapBuilder()
    for vl, os_, ol in runs:
        b.add(vl, os_, ol)
    return b.build()


@pytest.mark.parametrize("text", ["…ً¨", "½َ", "ﷺ َّ"])
def test_expansions_next_to_marks_stay_monotone(text: str) -> None:
    # found by hypothesis: an NFKC expansion (ellipsis, fraction, ligature)
    # followed by harakat, whose lengths happen to line up
    result = core.normalise(text)
    _check_map(result.display, text, result.display_map)
    _check_map(result.matching, text, result.matching_map)


def test_to_original_copy_and_block_runs() -> None:
    # view "ab  cd" style: copy 2, a block of 1 standing for 3, an inserted char, copy 2
    m = _builder((2, 0, 2), (1, 2, 3), (1, 5, 0), (2, 5, 2))
    assert m.to_json() == [[0, 0, 2, 2], [2, 2, 1, 3], [3, 5, 1, 0], [4, 5, 2, 2]]
    assert m.to_original(0, 1) == (0, 1)
    assert m.to_original(1, 3) == (1, 5)
    assert m.to_original(3, 4) == (5, 5)  # inserted
    assert m.to_original(4, 6) == (5, 7)
    assert m.to_original(6, 6) == (7, 7)
    assert m.to_original(0, 6) == (0, 7)
    with pytest.raises(ValueError, match="outside"):
        m.to_original(2, 7)


def test_adjacent_copies_merge() -> None:
    assert _builder((2, 0, 2), (3, 2, 3)).to_json() == [[0, 0, 5, 5]]
    assert len(_builder((2, 0, 2), (3, 4, 3))) == 2


def test_compose() -> None:
    inner = _builder((2, 0, 2), (1, 2, 3), (2, 5, 2))  # middle (5 chars) -> original (7)
    outer = _builder((1, 0, 1), (1, 2, 2), (2, 3, 2))  # view (4 chars) -> middle: drops char 1
    m = outer.compose(inner)
    assert m.to_original(0, 1) == (0, 1)
    assert m.to_original(1, 2) == (2, 6)  # a middle block: whole inner block + next char
    assert m.to_original(2, 4) == (5, 7)


@pytest.mark.parametrize(
    "bad",
    [[[1, 0, 1, 1]], [[0, 0, 1, 1], [2, 1, 1, 1]], [[0, 5, 1, 1], [1, 2, 1, 1]], [[0, 0, 1]], "x"],
)
def test_from_json_rejects_bad_runs(bad: object) -> None:
    with pytest.raises(ValueError):
        OffsetMap.from_json(bad)


# Shadda before fatha (NFKC reorders them), tanween, the lam-alef presentation
# form, NBSP, a combining hamza after alef (NFKC composes them).
MARKED = ["قتل", "إن\u0651\u064e", "الأمم", " ", "\u064b", "\ufefb", "\u00a0", "\n", "x",
          "\u0654", "\u0627"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(MARKED), max_size=60).map("".join))
def test_halving_a_changed_chunk_equals_segment_by_segment(text: str) -> None:
    """Copying NFKC-changed chunks by halves gives the segment-by-segment result."""
    fast = display.build_display(text)
    with patch.object(display, "_SMALL_PIECE", 10**9):
        slow = display.build_display(text)
    assert fast[0] == slow[0]
    assert fast[1] == slow[1]


@settings(max_examples=200, deadline=None)
@given(texts)
def test_compose_with_identity_keeps_the_map(text: str) -> None:
    """The identity shortcut of compose() gives what the general walk gives."""
    result = core.normalise(text)
    n = len(text)
    k = n // 2
    split_identity = OffsetMap([[0, 0, k, k], [k, k, n - k, n - k]])  # not merged: general walk
    for m in (result.display_map, result.matching_map):
        assert m.compose(OffsetMap.identity(n)).to_json() == m.to_json()
        if 0 < k < n:
            assert m.compose(split_identity).to_json() == m.to_json()
