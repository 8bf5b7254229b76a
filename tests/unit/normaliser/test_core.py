"""Unit tests of the normaliser core on real Arabic text (ANT corpus and the seed)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from marsad.normaliser import core
from marsad.normaliser.core import Profile

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / ".." / "shared" / "seeds" / "000_8bb0b02f1c03471e.txt"
SCHEMA = REPO / "schemas" / "defs" / "normalisation.v1.json"


@pytest.fixture(scope="module")
def seed() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# Snippets of real ANT articles (ids in comments) -> expected display text.
DISPLAY_CASES = [
    # AL-internationalNews-57-20140205: Eastern Arabic digits become ASCII
    ("رفع في أحسن الحالات قبل نهاية ٢٠١٤ إذا تقدم", "رفع في أحسن الحالات قبل نهاية 2014 إذا تقدم"),
    # AL-culture-49-20180203
    ("في مثل هذا اليوم قبل ٤٣ عاماً، استيقظ", "في مثل هذا اليوم قبل 43 عاماً، استيقظ"),
    # AL-sport-96-20180211: tatweel and a right-to-left mark removed
    ("وتوجه بالتقدم ١ـ \u200f٢ وأشعل الديربي", "وتوجه بالتقدم 1 2 وأشعل الديربي"),
    # AL-culture-24-20180210: RLM after a quote
    ('قال فيها: "\u200fشكرا لجمهوري الحبيب', 'قال فيها: "شكرا لجمهوري الحبيب'),
    # CN-economy-5-20180211: zero-width space at the start
    ("\u200bالرياض، المملكة العربية السعودية (CNN", "الرياض، المملكة العربية السعودية (CNN"),
    # AL-economy-35-20180212
    ("من 17%\u200f في يناير الماضي إلى 13%", "من 17% في يناير الماضي إلى 13%"),
    # AL-internationalNews-423-20180311: lam-alef presentation form
    ("من ملابس ﻻ تتطابق مع تلك", "من ملابس لا تتطابق مع تلك"),
    # AL-economy-271-20180319: presentation forms throughout
    ("أولاً. ما حفز أﮐﺛر ﻣن ﻧﺻف المشاركين", "أولاً. ما حفز أکثر من نصف المشاركين"),
    # AL-internationalNews-88-20131228: tatweel inside a word
    ("كما أثار ضغينة بعض الكُـتاب الذين", "كما أثار ضغينة بعض الكُتاب الذين"),
    # AL-culture-55-20130513: diacritics stay in the display text
    ("كثُرَ الكلام في الآونة الأخيرة", "كثُرَ الكلام في الآونة الأخيرة"),
    # AL-internationalNews-79-20131231: space before a comma removed
    ("انها امة عربية واحدة ، لم توحدها", "انها امة عربية واحدة، لم توحدها"),
    # AL-internationalNews-51-20131226: «…» kept, tatweel + space after a clitic
    ("للأمين العام لـ «حزب الله» حسن", "للأمين العام ل «حزب الله» حسن"),
    # whitespace: NBSP, tabs, blank lines and CRLF paragraphs
    ("قال\u00a0الرئيس\t\tالفرنسي\r\n\r\n\r\nوأضاف  ", "قال الرئيس الفرنسي\nوأضاف"),
    # markup and entities (publishers' feeds often carry them)
    ("<p>قال <b>الرئيس</b> &amp; الوزير</p><p>وأضاف&nbsp;أن</p>", "قال الرئيس & الوزير\nوأضاف أن"),
    ("<script>var x = 1;</script>دمشق", "دمشق"),
    # markup whose removal leaves markup (broken feeds, double escaping): cleaned
    # to a fixed point (found by hypothesis: "<A<b>>" left "<A>")
    ("قال <A<b>>الرئيس", "قال الرئيس"),
    ("&amp;lt;b&amp;gt;دمشق&amp;lt;/b&amp;gt;", "دمشق"),
    ("حمص &amp; حماة", "حمص & حماة"),
    # an invisible character between shadda and fatha: once it is gone the two
    # marks are put in canonical order (fatha first), as NFKC does elsewhere
    ("إن\u0651\u200f\u064e المجلس", "إنَّ المجلس"),
    # boilerplate line of Al Arabiya opinion columns
    ("نص المقال.\n** جميع المقالات المنشورة تمثل رأي كتابها فقط.", "نص المقال."),
    # a space left by markup or invisibles before a comma goes like a written one
    # (found by hypothesis: otherwise the display of the display differs)
    ("مجلس الأمن<!-- x -->، ثم", "مجلس الأمن، ثم"),
    ("مجلس الأمن\u200f ، ثم", "مجلس الأمن، ثم"),
    ("«<!-- x -->، ثم", "« ، ثم"),
    # shadda typed before fatha in a long diacritised run: NFKC order, one block run
    ("إنَّ الأمم المتحدة قالت إن\u0651\u064e المجلس", "إنَّ الأمم المتحدة قالت إنَّ المجلس"),
    # a horizontal rule line (BBC)
    ("الفقرة الأولى\n-------------------\nالفقرة الثانية", "الفقرة الأولى\nالفقرة الثانية"),
]


@pytest.mark.parametrize(("original", "expected"), DISPLAY_CASES)
def test_display(original: str, expected: str) -> None:
    assert core.normalise(original, Profile.parse("default,-glue")).display == expected


MATCHING_CASES = [
    ("دعا مؤتمر أصدقاء الشعب السوري", "دعا مؤتمر اصدقاء الشعب السوري"),
    ("إلى ضرورة رحيل الرئيس", "الي ضروره رحيل الرئيس"),
    ("قُتِلَ الجمعة 29 شخصا", "قتل الجمعه 29 شخصا"),
    ("مصر متمسكة بـ«كامب ديفيد»، الأردن", 'مصر متمسكه ب"كامب ديفيد", الاردن'),
    ("قبل نهاية ٢٠١٤ إذا", "قبل نهايه 2014 اذا"),
]


@pytest.mark.parametrize(("original", "expected"), MATCHING_CASES)
def test_matching(original: str, expected: str) -> None:
    result = core.normalise(original)
    assert result.matching == expected
    assert core.fold(original) == expected
    assert core.camel_chain(original) == expected


def test_seed_display_reads_cleanly(seed: str) -> None:
    result = core.normalise(seed)
    d = result.display
    assert "الأممالمتحدة" not in d
    assert d.count("الأمم المتحدة") == 5
    assert result.glue_splits == 5
    for quote in (
        "«يفرض إجراءات تضمن احترام هذا القرار»",
        "«رهيبة ولا يمكن للضمير الإنساني أن يتحملها»",
    ):
        assert quote in d
    for number in ("29 شخصا", "آذار/مارس 2011", "المادة 41", "المادة 42"):
        assert number in d
    for name in ("بشار الأسد", "فرنسوا هولاند", "مناف طلاس", "مصطفى طلاس", "حافظ الأسد"):
        assert name in d
    assert "قُتِلَ" in d  # diacritics kept for readers
    assert result.reject_reason is None
    assert result.script_ratio > 0.99
    # each repaired phrase maps back to the glued original
    start = d.index("الأمم المتحدة")
    o0, o1 = result.display_map.to_original(start, start + len("الأمم المتحدة"))
    assert seed[o0:o1] == "الأممالمتحدة"
    m = result.matching
    assert m.count("الامم المتحده") == 5
    start = m.index("الامم المتحده")
    o0, o1 = result.matching_map.to_original(start, start + len("الامم المتحده"))
    assert seed[o0:o1] == "الأممالمتحدة"


def test_seed_tokens_and_sentences(seed: str) -> None:
    result = core.normalise(seed)
    d = result.display
    toks = [d[s:e] for s, e in result.tokens]
    assert toks[:6] == ["دعا", "مؤتمر", "أصدقاء", "الشعب", "السوري", "أمس"]
    assert "«" in toks and "»" in toks and "،" in toks
    assert "وبشكلٍ" in toks  # clitics stay attached, diacritics inside the token
    assert "2011" in toks and "29" in toks
    sents = [d[s:e] for s, e in result.sentences]
    assert sents[0].startswith("دعا مؤتمر") and sents[0].endswith("للمعارضة السورية.")
    assert len(sents) >= 10
    assert all(s == s.strip() and s for s in sents)


def test_seed_validates_against_schema(seed: str, validator: Draft202012Validator) -> None:
    doc = core.normalise(seed).to_json()
    validator.validate(doc)
    assert doc["profile"] == "alef,alef_maksura,teh_marbuta,dediac,glue"
    assert doc["version"] == core.NORMALISER_VERSION
    back = core.OffsetMap.from_json(json.loads(json.dumps(doc["display_map"])))
    assert back == core.normalise(seed).display_map


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty_text"),
        ("   \n\u200f\u0640  ", "empty_text"),
        ("<p>&nbsp;</p>", "empty_text"),
        ("12 - 15 !", "empty_text"),
        ("The Friends of Syria group met in Paris on Friday.", "not_arabic"),
        ("Le président français a ouvert la conférence (باريس).", "not_arabic"),
        ("قال الرئيس الفرنسي فرنسوا هولاند (François Hollande) إن", None),
        ("لكرة القدم", None),
    ],
)
def test_reject_reason(text: str, reason: str | None) -> None:
    assert core.normalise(text).reject_reason == reason


def test_title_uses_same_function() -> None:
    title = "مؤتمر أصدقاء سوريا يطالب ب<b>قرار</b> ملزم من الأممالمتحدة\u200f"
    result = core.normalise(title)
    assert result.display == "مؤتمر أصدقاء سوريا يطالب بقرار ملزم من الأمم المتحدة"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("default", Profile()),
        ("", Profile()),
        ("alef,alef_maksura,teh_marbuta,dediac,glue", Profile()),
        ("alef,dediac", Profile(alef=True, alef_maksura=False, teh_marbuta=False, dediac=True,
                                glue=False)),
        ("default,-teh_marbuta", Profile(teh_marbuta=False)),
        (" Alef , DEDIAC ", Profile(True, False, False, True, False)),
        ("none", Profile(False, False, False, False, False)),
    ],
)
def test_profile_parse(spec: str, expected: Profile) -> None:
    p = Profile.parse(spec)
    assert p == expected
    assert Profile.parse(p.spec) == p


def test_profile_rejects_unknown_fold() -> None:
    with pytest.raises(ValueError, match="unknown normalisation fold"):
        Profile.parse("alef,stemming")


def test_profile_changes_matching() -> None:
    text = "قُتِلَ في مدينة إدلب على الحدود"
    assert core.normalise(text).matching == "قتل في مدينه ادلب علي الحدود"
    assert core.normalise(text, Profile.parse("default,-teh_marbuta")).matching == (
        "قتل في مدينة ادلب علي الحدود"
    )
    assert core.normalise(text, Profile.parse("none")).matching == "قُتِلَ في مدينة إدلب على الحدود"
    kept = core.normalise(text, Profile.parse("alef,alef_maksura,teh_marbuta"))
    assert kept.matching == "قُتِلَ في مدينه ادلب علي الحدود"
    # the profile is recorded
    assert kept.to_json()["profile"] == "alef,alef_maksura,teh_marbuta"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2012-10-11T04:04:00+04:00", ("2012-10-11T00:04:00Z", None)),
        ("2018-02-03T10:30:00Z", ("2018-02-03T10:30:00Z", None)),
        ("2018-02-03T10:30:00.123456-05:00", ("2018-02-03T15:30:00Z", None)),
        ("2018-02-03 10:30:00+0300", ("2018-02-03T07:30:00Z", None)),
        ("Thu, 11 Oct 2012 04:04:00 +0400", ("2012-10-11T00:04:00Z", None)),
        ("11 Oct 2012 04:04:00 GMT", ("2012-10-11T04:04:00Z", None)),
        (None, (None, None)),
        ("", (None, None)),
        ("   ", (None, None)),
        ("أمس", (None, "unparseable")),
        ("2012-13-45T00:00:00Z", (None, "unparseable")),
        ("yesterday at noon", (None, "unparseable")),
        ("0999-01-01T00:00:00+00:00", ("0999-01-01T00:00:00Z", None)),
        ("0001-01-01T00:30:00+01:00", (None, "unparseable")),
        ("2012-10-11T04:04:00", (None, "no_timezone")),
        ("2012-10-11", (None, "no_timezone")),
        ("Thu, 11 Oct 2012 04:04:00 -0000", (None, "no_timezone")),
    ],
)
def test_parse_published_at(value: str | None, expected: tuple[str | None, str | None]) -> None:
    assert core.parse_published_at(value) == expected


def test_display_is_nfkc_and_clean(seed: str) -> None:
    d = core.normalise(seed).display
    assert unicodedata.is_normalized("NFKC", d)
    assert "\u0640" not in d and "  " not in d


def test_bench_reports_both_chains(seed: str) -> None:
    out = core.bench([seed] * 20 + [seed[:500], ""])
    assert out["articles"] == 22
    for key in ("camel", "fold", "views", "normalise"):
        assert out[key]["articles_per_s"] > 0
    # fold is ~10x faster by design; 2x leaves room for a busy machine
    assert out["speedup_fold"] > 2
