"""Tokens, sentences and script ratio: the vectorised code equals its regex definition."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.normaliser import tokens
from marsad.normaliser.tokens import SENTENCE_END_RE, TOKEN_RE, Spans


def ref_tokens(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in TOKEN_RE.finditer(text)]


def ref_sentences(text: str) -> list[tuple[int, int]]:
    """The sentence rule written the plain way: cut at each SENTENCE_END_RE match, trim."""
    cuts = []
    start = 0
    for m in SENTENCE_END_RE.finditer(text):
        cuts.append((start, m.start() if m.group() == "\n" else m.end()))
        start = m.end()
    cuts.append((start, len(text)))
    out = []
    for s, e in cuts:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def ref_script_ratio(text: str) -> tuple[float, int]:
    letters = [c for c in text if c.isalpha()]
    arabic = [c for c in letters if tokens.classify(c) & tokens.ARABIC]
    return (len(arabic) / len(letters), len(letters)) if letters else (0.0, 0)


# Real display texts (ANT articles, ids in comments) -> tokens.
TOKEN_CASES = [
    # AL-internationalNews-57-20140205: clitics stay attached, a year is one token
    ("رفع في أحسن الحالات قبل نهاية 2014 إذا تقدم.",
     ["رفع", "في", "أحسن", "الحالات", "قبل", "نهاية", "2014", "إذا", "تقدم", "."]),
    # AL-economy-35-20180212: a decimal number stays whole, the percent sign is a token
    ("ارتفع التضخم إلى 3.5% في يناير", ["ارتفع", "التضخم", "إلى", "3.5", "%", "في", "يناير"]),
    # thousands separator and the Arabic decimal separator U+066B
    ("نحو 1,200 قتيل و2\u066b5 مليون", ["نحو", "1,200", "قتيل", "و2\u066b5", "مليون"]),
    # a full stop after a number ends the sentence, it does not join
    ("عام 2011. وقال", ["عام", "2011", ".", "وقال"]),
    # «…» and the Arabic comma U+060C are tokens; diacritics stay inside the word
    ("قُتِلَ «حزب الله»، وبشكلٍ", ["قُتِلَ", "«", "حزب", "الله", "»", "،", "وبشكلٍ"]),
    # a number glued to letters after its separator part: the regex stops after the digits
    ("بنسبة 3.5مليون", ["بنسبة", "3.5", "مليون"]),
]


@pytest.mark.parametrize(("text", "expected"), TOKEN_CASES)
def test_tokens(text: str, expected: list[str]) -> None:
    spans = tokens.tokenize(text)
    assert [text[s:e] for s, e in spans] == expected
    assert list(spans) == ref_tokens(text)


SENTENCE_CASES = [
    # seed-like text: a full stop before a space ends a sentence; a paragraph break too
    ("دعا مؤتمر أصدقاء الشعب السوري. وقال هولاند\nوأضاف أن",
     ["دعا مؤتمر أصدقاء الشعب السوري.", "وقال هولاند", "وأضاف أن"]),
    # the closing guillemet stays with the sentence it closes
    ("قال «هذا غير مقبول.» ثم غادر؟ نعم", ["قال «هذا غير مقبول.»", "ثم غادر؟", "نعم"]),
    # a decimal point is not followed by a space: no cut
    ("بلغ النمو 3.5 في المئة. وتوقع", ["بلغ النمو 3.5 في المئة.", "وتوقع"]),
    ("", []),
    ("\n\n", []),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCE_CASES)
def test_sentences(text: str, expected: list[str]) -> None:
    spans = tokens.sentences(text)
    assert [text[s:e] for s, e in spans] == expected
    assert list(spans) == ref_sentences(text)


@pytest.mark.parametrize(
    ("text", "ratio", "letters"),
    [
        ("قال الرئيس الفرنسي فرنسوا هولاند (François Hollande) إن", 30 / 46, 46),
        ("12 - 15 !", 0.0, 0),
        ("Paris", 0.0, 5),
        ("کتاب", 1.0, 4),  # Persian keheh U+06A9 is an Arabic-script letter
    ],
)
def test_script_ratio(text: str, ratio: float, letters: int) -> None:
    assert tokens.script_ratio(text) == (ratio, letters)
    assert tokens.script_ratio(text) == ref_script_ratio(text)


# Pieces that exercise every rule: digits and separators, end marks, closers,
# all kinds of whitespace, marks, characters beyond the BMP.
PIECES = ["قال", "الرئيس", "وبشكلٍ", "2014", "3", "٢", ".", ",", "\u066b", "\u066c", "!", "?",
          "\u061f", "\u2026", '"', "'", "\u00bb", "\u201d", ")", "]", "«", "(", " ", " ", "\n",
          "\t", "\u00a0", "\u2029", "\u064e", "\u0670", "_", "x", "\U0001f600", "\U0001d7d9"]
texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=40).map(
    "".join
)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_tokens_equal_the_regex(text: str) -> None:
    assert list(tokens.tokenize(text)) == ref_tokens(text)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_sentences_equal_the_regex(text: str) -> None:
    assert list(tokens.sentences(text)) == ref_sentences(text)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_script_ratio_equals_per_character_count(text: str) -> None:
    assert tokens.script_ratio(text) == ref_script_ratio(text)


def test_spans_behave_like_a_tuple_of_pairs() -> None:
    spans = tokens.tokenize("قال الرئيس: نعم")
    assert len(spans) == 4
    assert spans[0] == (0, 3) and spans[-1] == (12, 15)
    assert spans[1:3] == [(4, 10), (10, 11)]
    assert spans == ((0, 3), (4, 10), (10, 11), (12, 15))
    assert spans == Spans.from_bounds(np.array([0, 4, 10, 12]), np.array([3, 10, 11, 15]))
    assert json.loads(json.dumps(spans.to_json())) == [[0, 3], [4, 10], [10, 11], [12, 15]]
    assert Spans().to_json() == []
