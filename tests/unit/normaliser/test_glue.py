"""Glued-word repair: the learned rule splits real glue and leaves real words alone."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.normaliser import core, glue, tokens

NO_GLUE = core.Profile.parse("default,-glue")


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        # glued forms seen in ANT articles (marsad normaliser-glue sample)
        ("وصل إلى الدوري الأوروبي ضمن يوروباليغ هذا الموسم", "يوروبا ليغ"),
        ("سجل هدفين في الجولةالأولى من البطولة", "الجولة الأولى"),
        ("قال الرئيسالأمريكي دونالد ترامب", "الرئيس الأمريكي"),
        ("وأكد وزيرالنقل أن المشروع", "وزير النقل"),
        ("في مؤتمرصحفي عقده أمس", "مؤتمر صحفي"),
        ("ميثاق الأممالمتحدة", "الأمم المتحدة"),
    ],
)
def test_real_glue_is_split(original: str, expected: str) -> None:
    result = core.normalise(original)
    assert expected in result.display
    assert result.glue_splits == 1
    assert core.normalise(original, NO_GLUE).glue_splits == 0


@pytest.mark.parametrize(
    "word",
    [
        "نجاحهما",  # their (dual) success: stem + pronoun suffix
        "السعوديان",  # the two Saudis
        "يأملان",  # they (dual) hope
        "بيروفي",  # Peruvian
        "منعقد",  # convened
        "لأيهم",  # for any of them
        "فيتناول",  # then he eats
        "نظرهما",  # their view
        "والمتحدة",  # clitic + word: frequent as one word
        "الاستراتيجية",
        "بالمعارضة",
    ],
)
def test_real_words_are_not_split(word: str) -> None:
    text = f"قال المصدر إن {word} مهم"
    assert core.normalise(text).glue_splits == 0


def test_rule_with_a_hand_made_table(tmp_path: object) -> None:
    table = {"ابوظبي": 3}
    assert glue.find_splits("زار ابوظبي أمس", table=table) == [7]
    # the folded form is looked up: hamza/teh marbuta variants still match
    assert glue.find_splits("زار أبوظبي أمس", table=table) == [7]
    # only whole words
    assert glue.find_splits("زار وابوظبي أمس", table=table) == []
    assert glue.find_splits("زار ابوظبيً أمس", table=table) == []


def test_learn_pairs_rule() -> None:
    frequent = ["الأمم المتحدة"] * glue.MIN_PAIR
    filler = ["الأمم"] * glue.MIN_PART + ["المتحدة"] * glue.MIN_PART
    rows = glue.learn_pairs(frequent + filler)
    assert ("الامم", "المتحده", glue.MIN_PAIR) in rows
    # a glued form that is itself a common word is never learned
    rows = glue.learn_pairs(frequent + filler + ["الأممالمتحدة"] * glue.MAX_GLUED)
    assert all(r[:2] != ("الامم", "المتحده") for r in rows)
    # a pair seen too rarely is not learned
    rows = glue.learn_pairs(frequent[:-1] + filler)
    assert rows == []


def test_shipped_table_is_small_and_has_no_seed_phrase() -> None:
    from importlib import resources

    raw = resources.files("marsad.normaliser").joinpath("data", glue.LEXICON_FILE).read_bytes()
    assert len(raw) < 400_000
    text = gzip.decompress(raw).decode("utf-8")
    # the table holds word pairs, never glued forms themselves
    assert "الاممالمتحده" not in text
    assert "الامم\tالمتحده\t" in text  # learned from the corpus like any other pair


# Article-like pieces with real glued forms, marks next to them (superscript
# alef U+0670 is a token mark but no word character for the candidate rule,
# a haraka is both) and other scripts.
GLUE_PIECES = ["الأممالمتحدة", "مؤتمرصحفي", "الرئيسالأمريكي", "الجولةالأولى", "قال", "في",
               "\u0670", "\u064e", "\u0651", "2014", ".", "،", " ", " ", " ", "\n", "x",
               "\U0001f600", "«", "»"]
glue_texts = st.lists(
    st.one_of(st.sampled_from(GLUE_PIECES), st.text(max_size=2)), max_size=30
).map("".join)


@settings(max_examples=300, deadline=None)
@given(glue_texts)
def test_token_prefilter_gives_the_same_splits(text: str) -> None:
    """Checking token hashes first never changes which splits are found."""
    words = tokens.tokenize(text).array
    assert glue.find_splits(text, words=words) == glue.find_splits(text)
    folded = core.fold(text)
    if len(folded) == len(text):
        assert glue.find_splits(text, folded, table=glue.load_lexicon()) == glue.find_splits(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ميثاق الأممالمتحدة أمس", [11]),
        ("ميثاق الأممالمتحدة\u0670 أمس", [11]),  # a mark after the word: still a candidate
        ("ميثاق الأممالمتحدةَ أمس", []),  # a haraka after it: not a whole plain word
        ("ميثاق xالأممالمتحدة أمس", []),
    ],
)
def test_candidates_and_marks(text: str, expected: list[int]) -> None:
    words = tokens.tokenize(text).array
    assert glue.find_splits(text) == expected
    assert glue.find_splits(text, words=words) == expected
