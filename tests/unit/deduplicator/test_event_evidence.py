"""What ties two event reports to one happening beyond type and place: day, actor, sentence."""

from __future__ import annotations

import dataclasses
import json
import zlib
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from marsad.deduplicator.events import (
    GIST_LINK,
    GIST_SIZE,
    EventMerger,
    EventReport,
    MergedEvent,
    Place,
    closed_record,
    common_words,
    event_gists,
    gist_similarity,
    linked,
    merge_key,
    pack_gist,
    record_merge_key,
    sentence_gist,
)
from tests.unit.deduplicator.test_events import MERGED

GAZA = Place("غزه", 281133, "PS")
# "The Israeli army announced that its planes struck two Hamas sites in the north of
# the Gaza Strip at dawn on Wednesday": one agency's sentence ...
STRIKE = ("أعلن الجيش الإسرائيلي أن طائراته قصفت موقعين لحركة حماس في شمال قطاع غزة "
          "فجر الأربعاء")
# ... the same sentence as another outlet ran it (a conjunction, "belonging to", "today"),
STRIKE_COPY = ("وأعلن الجيش الإسرائيلي أن طائراته قصفت موقعين تابعين لحركة حماس في شمال "
               "قطاع غزة فجر اليوم الأربعاء")
# ... and a background sentence of the same week about another happening there
# ("clashes broke out last Friday on the eastern border of the Gaza Strip").
CLASHES = ("وكانت مواجهات قد اندلعت الجمعة الماضية على الحدود الشرقية لقطاع غزة بين "
           "متظاهرين وقوات الاحتلال")


# Another happening sharing one word with STRIKE, the one whose hash is smallest
# (غزه): "the police arrested activists in Gaza on Thursday evening".
STRIKE_OTHER = "اعتقلت الشرطة ناشطين في غزة مساء الخميس"


def report(aid: str, hour: int, sentence: str, *, place: Place | None = GAZA,
           actors: tuple[str, ...] = (), date: str | None = None,
           etype: str = "ASSAULT") -> EventReport:
    return EventReport(article_id=aid, source=aid.split("-")[0],
                       published_at=f"2018-05-16T{hour:02d}:00:00+00:00", type=etype,
                       place=place, date=date, actors=actors, gist=sentence_gist(sentence))


# --- the gist -----------------------------------------------------------------------


def test_gist_folds_spelling_variants_and_ignores_particles() -> None:
    # Diacritics (fatha U+064E, shadda U+0651), bare alef for alef with hamza,
    # heh for teh marbuta, a tatweel (U+0640) and a dropped two-letter particle (في).
    variant = ("اعلن الجيش الاسرائيلي ان طائراته قص\u064eف\u064eت موقع\u064a\u0651\u0646 "
               "لحركة حماس شمال قطاع غزه فجر الاربع\u0640اء")
    assert sentence_gist(variant) == sentence_gist(STRIKE)


def test_common_words_are_left_out_of_the_gist() -> None:
    assert {"التي", "الذي", "وقال"} <= common_words()
    # "which he said" adds nothing to "the strike".
    assert sentence_gist("الغارة التي وقال الذي") == sentence_gist("الغارة")


def test_gist_is_the_smallest_word_hashes_ascending_and_bounded() -> None:
    words = [f"خبر{i:03d}" for i in range(60)]
    gist = sentence_gist(" ".join(words))
    assert len(gist) == GIST_SIZE
    assert list(gist) == sorted(zlib.crc32(w.encode()) for w in words)[:GIST_SIZE]


def test_a_copy_shares_the_gist_and_another_happening_does_not() -> None:
    assert gist_similarity(sentence_gist(STRIKE), sentence_gist(STRIKE_COPY)) >= GIST_LINK
    assert gist_similarity(sentence_gist(STRIKE), sentence_gist(CLASHES)) < GIST_LINK
    assert gist_similarity((), sentence_gist(STRIKE)) == 0.0


# Letters the folding leaves alone (no hamza forms, alef maksura or teh marbuta).
_WORDS = st.lists(st.text(alphabet="ابتثجحخدذرزسشصضطظعغفقكلمنهوي", min_size=3, max_size=7),
                  max_size=GIST_SIZE // 2)


@given(_WORDS, _WORDS)
def test_gist_similarity_is_the_exact_jaccard_when_both_sentences_are_short(
        a: list[str], b: list[str]) -> None:
    # Common words (الي, التي …) are left out of gists: out of the expected sets too.
    ha = {zlib.crc32(w.encode()) for w in a if w not in common_words()}
    hb = {zlib.crc32(w.encode()) for w in b if w not in common_words()}
    assume(len(ha | hb) <= GIST_SIZE)  # beyond, the bottom-k value is an estimate
    expected = len(ha & hb) / len(ha | hb) if ha and hb else 0.0
    ga, gb = sentence_gist(" ".join(a)), sentence_gist(" ".join(b))
    assert gist_similarity(ga, gb) == pytest.approx(expected)
    assert gist_similarity(gb, ga) == gist_similarity(ga, gb)


# --- the merge rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        # Type and place alone: two accounts of different happenings stay apart.
        (report("sk-1", 8, STRIKE), report("al-2", 10, CLASHES), False),
        # The same sentence from two outlets is one happening.
        (report("sk-1", 8, STRIKE), report("al-2", 10, STRIKE_COPY), True),
        # A main actor in the key ties them whatever the wording.
        (report("sk-1", 8, STRIKE, actors=("الجيش الاسرائيلي",)),
         report("al-2", 10, CLASHES, actors=("الجيش الاسرائيلي",)), True),
        # So does a day both give.
        (report("sk-1", 8, STRIKE, date="2018-05-16"),
         report("al-2", 10, CLASHES, date="2018-05-16"), True),
        # Two days: two happenings, however alike the sentences.
        (report("sk-1", 8, STRIKE, date="2018-05-16"),
         report("al-2", 10, STRIKE_COPY, date="2018-05-15"), False),
        # No place in either: only the sentence links them.
        (report("sk-1", 8, STRIKE, place=None), report("al-2", 10, STRIKE_COPY, place=None),
         True),
        # (Sentences sharing their smallest gist value, so the key is the same:
        # an actor does not tie placeless reports, only the sentence does.)
        (report("sk-1", 8, STRIKE, place=None, actors=("الجيش الاسرائيلي",)),
         report("al-2", 10, STRIKE_OTHER, place=None, actors=("الجيش الاسرائيلي",)), False),
        # A place in one only: different keys.
        (report("sk-1", 8, STRIKE), report("al-2", 10, STRIKE_COPY, place=None), False),
    ],
)
def test_what_links_two_reports(first: EventReport, second: EventReport, same: bool) -> None:
    merger = EventMerger()
    a, b = merger.add(first), merger.add(second)
    assert a is not None and b is not None
    assert (a.event_id == b.event_id) is same
    assert linked(first, second) is same


def test_a_placeless_report_is_keyed_by_its_type_and_smallest_gist_value() -> None:
    r = report("sk-1", 8, STRIKE, place=None)
    assert merge_key(r) == f"ASSAULT|~{r.gist[0]}"
    assert merge_key(report("al-2", 8, STRIKE_OTHER, place=None)) == merge_key(r)
    assert merge_key(EventReport("a", None, None, "ASSAULT")) is None


def test_internal_fields_stay_out_of_the_published_event() -> None:
    merger = EventMerger()
    first = report("sk-1", 8, STRIKE, place=None)
    merger.add(first)
    event = merger.add(report("al-2", 10, STRIKE_COPY, place=None))
    assert event is not None and event.report_count == 2
    published = event.to_json()
    assert "key" not in published and "gists" not in published
    assert not list(MERGED.iter_errors(json.loads(json.dumps(published))))
    assert record_merge_key(event.record) == merge_key(first)


def test_an_event_stored_before_gists_keeps_its_key_and_needs_a_day_or_an_actor() -> None:
    store: dict[str, object] = {}
    merger = EventMerger(store)
    founded = merger.add(report("sk-1", 8, STRIKE, actors=("حماس",)))
    assert founded is not None
    old = {k: v for k, v in founded.record.items() if k not in ("key", "gists")}
    store["e:" + founded.event_id] = old
    assert record_merge_key(old) == merge_key(report("x", 8, STRIKE, actors=("حماس",)))
    # The actor is in the key: it still links without any gist.
    joined = merger.add(report("al-2", 9, CLASHES, actors=("حماس",)))
    assert joined is not None and joined.event_id == founded.event_id


def test_an_event_keeps_a_few_gists_the_founders_first() -> None:
    merger = EventMerger()
    sentences = [STRIKE, CLASHES] + [f"{STRIKE} خبر{i:02d}" * (i + 1) for i in range(8)]
    events = [merger.add(report(f"o{i}-{i}", 8, s, actors=("حماس",)))
              for i, s in enumerate(sentences)]
    last = events[-1]
    assert last is not None and last.report_count == len(sentences)
    gists = event_gists(last.record)
    assert len(gists) == 4
    assert gists[0] == sentence_gist(STRIKE)


def test_gists_are_stored_packed_and_lists_stored_before_still_link() -> None:
    store: dict[str, Any] = {}
    merger = EventMerger(store)
    founded = merger.add(report("sk-1", 8, STRIKE, place=None))
    assert founded is not None
    packed = founded.record["gists"]
    assert all(isinstance(g, str) for g in packed)
    # The JSON the changelog carries is much smaller than a list of integers.
    assert len(json.dumps(packed)) < len(json.dumps([list(sentence_gist(STRIKE))])) / 2
    # An event stored before packing keeps lists of integers: they still link
    # (a placeless key has only the gist), and are packed when it is next written.
    store["e:" + founded.event_id] = {**founded.record, "gists": [list(sentence_gist(STRIKE))]}
    joined = merger.add(report("al-2", 10, STRIKE_COPY, place=None))
    assert joined is not None and joined.event_id == founded.event_id
    assert all(isinstance(g, str) for g in joined.record["gists"])
    assert event_gists(joined.record)[0] == sentence_gist(STRIKE)


@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=GIST_SIZE))
def test_a_packed_gist_unpacks_to_itself(values: list[int]) -> None:
    gist = tuple(sorted(set(values)))
    assert event_gists({"gists": [pack_gist(gist)]}) == [gist]


def test_closings_kept_for_republication_carry_no_gists() -> None:
    store: dict[str, Any] = {}
    merger = EventMerger(store, window_days=1.0)
    merger.add(report("sk-1", 8, STRIKE))
    merger.take_closed()
    # Four days later the strike has left the window: its closing waits in the outbox.
    later = dataclasses.replace(report("al-2", 8, CLASHES, actors=("حماس",)),
                                published_at="2018-05-20T08:00:00+00:00")
    merger.add(later)
    closed = merger.take_closed()
    assert len(closed) == 1
    (eid, kept), = store["o:"]
    assert eid == closed[0].event_id and "gists" not in kept
    assert record_merge_key(kept) == record_merge_key(closed[0].record)
    assert closed_record(MergedEvent(eid, kept, is_new=False)) == closed_record(closed[0])


def test_a_corrupt_gist_value_on_the_internal_topic_is_dropped_not_fatal() -> None:
    msg = report("sk-1", 8, STRIKE).to_message()
    msg["g"] = [-1, *msg["g"][:3], 2**32]
    got = EventReport.from_message(msg)
    assert got.gist == tuple(report("sk-1", 8, STRIKE).gist[:3])
    merger = EventMerger()
    assert merger.add(got) is not None


def test_the_band_keyed_bench_runs_the_merger_on_its_own_clock() -> None:
    from marsad.deduplicator import banded
    from marsad.deduplicator.core import DedupConfig

    # Two reports of one happening dated six years apart: on the bench's clock
    # (articles ten minutes apart) the second joins the first, as it would if
    # the articles had come ten minutes apart in the stream.
    first = dataclasses.replace(report("sk-1", 8, STRIKE, actors=("حماس",)),
                                published_at="2012-05-16T08:00:00+00:00")
    second = report("al-2", 9, STRIKE_COPY, actors=("حماس",))
    texts = ["نص الخبر الاول عن الغارة", "نص اخر تماما عن موضوع مختلف"]
    result = banded.bench(texts, DedupConfig(), 1, [[first], [second]])
    # Founded, then joined: one record each; no closing, no second founding.
    assert result["merged_records_per_article"] == 1.0
    assert result["event_outbox_bytes"] == 0


def test_a_gist_survives_the_internal_topic_also_without_a_place() -> None:
    for r in (report("sk-1", 8, STRIKE), report("sk-1", 8, STRIKE, place=None)):
        assert EventReport.from_message(json.loads(json.dumps(r.to_message()))) == r
    # A message written before gists reads as a report without one.
    msg = report("sk-1", 8, STRIKE).to_message()
    del msg["g"]
    assert EventReport.from_message(msg).gist == ()


# --- identity: no event is founded twice or overwritten ---------------------------------


def test_two_reports_of_one_article_that_do_not_link_found_two_events() -> None:
    # One article tells of the strike and, further down, of last week's clashes
    # (same type and place, no day, no actor): two events, neither overwritten.
    merger = EventMerger()
    strike = merger.add(report("sk-1", 8, STRIKE))
    other = merger.add(report("sk-1", 8, CLASHES))
    copy = merger.add(report("al-2", 10, STRIKE_COPY))
    assert strike is not None and other is not None and copy is not None
    assert other.is_new and other.event_id != strike.event_id
    assert copy.event_id == strike.event_id and copy.report_count == 2
    assert merger.store["e:" + strike.event_id]["articles"] == ["sk-1", "al-2"]


def test_a_redelivered_founder_finds_its_event_past_the_comparison_limit() -> None:
    # 70 more events under the same key after it (more than are compared with a
    # new report): the founding report, redelivered, still finds its own event
    # instead of founding it again at revision 0.
    merger = EventMerger()
    first = report("sk-1", 8, STRIKE, place=GAZA)
    founded = merger.add(first)
    joined = merger.add(report("al-2", 9, STRIKE_COPY))
    assert founded is not None and joined is not None and joined.report_count == 2
    for i in range(70):
        merger.add(report(f"o{i}-x", 10, f"خبر{i:03d} عاجل{i:03d} جديد{i:03d}"))
    again = merger.add(first)
    assert again is not None and again.event_id == founded.event_id
    assert not again.is_new and again.report_count == 2
    # So does a report that joined it.
    rejoined = merger.add(report("al-2", 9, STRIKE_COPY))
    assert rejoined is not None and rejoined.event_id == founded.event_id
    assert rejoined.report_count == 2
