"""Event merging: reports of one happening across articles become one event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from marsad.deduplicator.events import (
    EventMerger,
    EventReport,
    Place,
    closed_record,
    merge_key,
    merged_record,
    merged_records,
    reports_from_article,
)

REPO = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO / "schemas" / "defs" / "dedup.v1.json").read_text(encoding="utf-8"))
MERGED = Draft202012Validator({"$ref": "#/$defs/merged_event", **SCHEMA})

# Entities as the extractor gives them (entity.v1), for a Gaza strike reported
# by several outlets (the kind of story ANT has dozens of in May 2018).
GAZA = {"id": "e2", "type": "LOC", "canonical": "غزة", "matching": "غزه",
        "country": "PS", "geonames_id": 281133}
ISRAELI_ARMY = {"id": "e1", "type": "ORG", "canonical": "الجيش الإسرائيلي",
                "matching": "الجيش الاسرائيلي", "country": "IL", "geonames_id": None}
DEIR_EZZOR = {"id": "e3", "type": "LOC", "canonical": "دير الزور", "matching": "دير الزور",
              "country": "SY", "geonames_id": 170794}


# The reporting sentence: "Israeli army strikes kill Palestinians in Gaza".
STRIKE_SENTENCE = "قتل فلسطينيون في غارات شنها الجيش الإسرائيلي على قطاع غزة اليوم"


def article(aid: str, source: str, published_at: str, killed: int | None,
            *, place: dict[str, Any] | None = GAZA, date: str | None = "2018-05-14",
            etype: str = "ASSAULT", negated: bool = False,
            sentence: str = STRIKE_SENTENCE) -> dict[str, Any]:
    casualties = [] if killed is None else [
        {"kind": "killed", "count": killed, "min": killed, "max": None},
        {"kind": "injured", "count": killed * 30, "min": None, "max": None},
    ]
    return {
        "id": aid, "source": source, "published_at": published_at, "text": sentence,
        "entities": [ISRAELI_ARMY, *([place] if place else [])],
        "facts": {"events": [{
            "type": etype, "actor": "e1", "target": None,
            "place": place["id"] if place else None,
            "sentence": {"start": 0, "end": len(sentence)},
            "date": {"value": date, "kind": "absolute"} if date else None,
            "negated": negated, "hypothetical": False, "future": False,
            "casualties": casualties,
        }]},
    }


REPORTS = [
    # (article id, source, published_at, killed)
    ("SK-middleEast-1674-20180514", "skynews", "2018-05-14T10:00:00+00:00", 18),
    ("AL-internationalNews-1160-20180514", "alarabia", "2018-05-14T12:00:00+00:00", 25),
    ("FR-internationalNews-1200-20180514", "france24", "2018-05-14T13:30:00+00:00", 37),
    ("SK-middleEast-1680-20180514", "skynews", "2018-05-14T18:00:00+00:00", 41),
    ("BB-middleEast-700-20180514", "BBC", "2018-05-14T19:00:00+00:00", 52),
]


def test_reports_of_one_strike_merge_into_one_event_with_a_consensus() -> None:
    merger = EventMerger()
    outs = []
    for aid, src, ts, killed in REPORTS:
        (report,) = reports_from_article(article(aid, src, ts, killed))
        merged = merger.add(report)
        assert merged is not None
        outs.append(merged)
    assert outs[0].is_new and not any(m.is_new for m in outs[1:])
    assert len({m.event_id for m in outs}) == 1
    last = outs[-1].to_json()
    assert last["report_count"] == 5
    assert last["sources"] == ["skynews", "alarabia", "france24", "BBC"]
    killed = last["casualties"]["killed"]
    # Sky News updated its toll from 18 to 41: it counts once, with 41.
    assert killed["by_source"] == {"skynews": 41, "alarabia": 25, "france24": 37, "BBC": 52}
    assert killed["consensus"] == 39  # median of 25, 37, 41, 52 = 39
    assert (killed["min"], killed["max"]) == (25, 52)
    assert outs[-1].casualty_consensus("injured") == 1170  # median(750, 1110, 1230, 1560)
    assert not list(MERGED.iter_errors(json.loads(json.dumps(last))))


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (article("x", "BBC", "2018-05-14T20:00:00+00:00", 3), True),
        # another day: a different strike
        (article("x", "BBC", "2018-05-15T20:00:00+00:00", 3, date="2018-05-15"), False),
        # another place
        (article("x", "BBC", "2018-05-14T20:00:00+00:00", 3, place=DEIR_EZZOR), False),
        # another type of event
        (article("x", "BBC", "2018-05-14T20:00:00+00:00", None, etype="PROTEST"), False),
        # no date: joins within the window of the first report
        (article("x", "BBC", "2018-05-15T09:00:00+00:00", 3, date=None), True),
        # no date, far later: a new event
        (article("x", "BBC", "2018-05-30T09:00:00+00:00", 3, date=None), False),
    ],
)
def test_merge_key_and_date_rules(other: dict[str, Any], same: bool) -> None:
    merger = EventMerger(window_days=3)
    (first,) = reports_from_article(article(*REPORTS[0]))
    a = merger.add(first)
    (report,) = reports_from_article(other)
    b = merger.add(report)
    assert a is not None and b is not None
    assert (a.event_id == b.event_id) is same


def test_negated_events_and_events_without_place_or_sentence_are_not_merged() -> None:
    assert reports_from_article(article("n", "BBC", "2018-05-14T10:00:00+00:00", 3,
                                        negated=True)) == []
    report = EventReport("a", "BBC", "2018-05-14T10:00:00+00:00", "ASSAULT")
    assert merge_key(report) is None
    assert EventMerger().add(report) is None


def test_place_identity_prefers_geonames_id() -> None:
    assert Place("غزه", 281133, "PS").key() == Place("قطاع غزه", 281133, "PS").key()
    assert Place("غزه", None, "PS").key() != Place("قطاع غزه", None, "PS").key()


def test_redelivered_report_is_not_counted_twice() -> None:
    merger = EventMerger()
    (report,) = reports_from_article(article(*REPORTS[0]))
    merger.add(report)
    again = merger.add(report)
    assert again is not None and again.report_count == 1


def test_store_is_json_and_survives_a_restart() -> None:
    store: dict[str, Any] = {}
    merger = EventMerger(store)
    for row in REPORTS[:2]:
        (r,) = reports_from_article(article(*row))
        merger.add(r)
    restored = json.loads(json.dumps(store))
    assert restored == store
    merger2 = EventMerger(restored)
    (r,) = reports_from_article(article(*REPORTS[2]))
    merged = merger2.add(r)
    assert merged is not None and merged.report_count == 3 and not merged.is_new


def test_old_events_are_evicted_so_the_store_stays_bounded() -> None:
    store: dict[str, Any] = {}
    merger = EventMerger(store, window_days=2)
    sizes = []
    for day in range(1, 29):
        ts = f"2018-05-{day:02d}T10:00:00+00:00"
        (r,) = reports_from_article(article(f"a{day}", "BBC", ts, day,
                                            date=f"2018-05-{day:02d}"))
        merger.add(r)
        sizes.append(len(store))
    assert max(sizes[10:]) <= max(sizes[:10]) + 2
    assert sum(1 for k in store if k.startswith("e:")) <= 4
    assert sum(1 for k in store if k.startswith("k:")) <= 1
    assert len(store["k:" + merge_key(r)]) <= 4  # type: ignore[operator]


@settings(max_examples=40, deadline=None)
@given(st.permutations(REPORTS))
def test_consensus_does_not_depend_on_arrival_order(rows: list[tuple[str, str, str, int]]) -> None:
    merger = EventMerger()
    merged = None
    for row in rows:
        (r,) = reports_from_article(article(*row))
        merged = merger.add(r)
    assert merged is not None
    assert merged.casualty_consensus("killed") == 39
    assert merged.report_count == 5


def test_window_bookkeeping_is_kept_per_partition() -> None:
    # One table holds two partitions (merge keys Gaza and Deir ez-Zor): a new
    # report in one partition must not evict the other's events, whose
    # changelog records belong to that other partition.
    store: dict[str, Any] = {}
    merger = EventMerger(store, window_days=2)
    (gaza,) = reports_from_article(article("a1", "BBC", "2018-05-01T10:00:00+00:00", 3,
                                           date="2018-05-01"))
    old = merger.add(gaza, partition=0)
    (deir,) = reports_from_article(article("a2", "BBC", "2018-05-20T10:00:00+00:00", 3,
                                           place=DEIR_EZZOR, date="2018-05-20"))
    merger.add(deir, partition=1)
    assert old is not None and "e:" + old.event_id in store
    assert {k.split(":")[1] for k in store if k.startswith(("m:", "w:"))} == {"0", "1"}
    # Partition 0's own clock moving on evicts it.
    (later,) = reports_from_article(article("a3", "BBC", "2018-05-20T10:00:00+00:00", 3,
                                            date="2018-05-20"))
    merger.add(later, partition=0)
    assert "e:" + old.event_id not in store


def test_a_report_survives_its_trip_through_the_internal_topic() -> None:
    reports = reports_from_article(article("a1", "BBC", "2018-05-14T10:00:00+00:00", 7))
    assert reports
    for report in reports:
        assert EventReport.from_message(json.loads(json.dumps(report.to_message()))) == report


# --- events.merged: one record per change of a merged event -----------------------

TOPIC_SCHEMA = json.loads((REPO / "schemas" / "events.merged.v1.json").read_text("utf-8"))


def merged_topic_validator() -> Draft202012Validator:
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in (SCHEMA, TOPIC_SCHEMA))
    return Draft202012Validator(TOPIC_SCHEMA, registry=registry)


def test_each_report_that_joins_is_one_revision_with_the_whole_state() -> None:
    merger = EventMerger()
    records = []
    for row in REPORTS:
        (report,) = reports_from_article(article(*row))
        merged = merger.add(report)
        assert merged is not None
        records.append(merged_record(merged))
    assert [r["revision"] for r in records] == [0, 1, 2, 3, 4]
    assert len({r["event_id"] for r in records}) == 1
    first, last = records[0], records[-1]
    assert (first["sources"], first["articles"]) == (["skynews"], [REPORTS[0][0]])
    assert first["casualties"]["killed"] == {
        "consensus": 18, "min": 18, "max": 18, "by_source": {"skynews": 18}}
    assert last["sources"] == ["skynews", "alarabia", "france24", "BBC"]
    assert last["articles"] == [row[0] for row in REPORTS]
    assert last["casualties"]["killed"]["consensus"] == 39
    assert last["casualties"]["killed"]["by_source"]["skynews"] == 41
    assert (last["first_seen"], last["last_seen"]) == ("2018-05-14T10:00:00Z",
                                                      "2018-05-14T19:00:00Z")
    assert (last["type"], last["date"], last["actors"]) == (
        "ASSAULT", "2018-05-14", ["الجيش الاسرائيلي"])
    assert last["place"] == {"name": "غزه", "geonames_id": 281133, "country": "PS"}
    # The enriched output's merged event, minus is_new, plus the record's own fields.
    shape = {k: v for k, v in merged.to_json().items() if k != "is_new"}
    assert {k: v for k, v in last.items()
            if k not in ("schema_version", "revision", "closed")} == shape
    assert not any(r["closed"] for r in records)
    validator = merged_topic_validator()
    for record in records:
        assert not list(validator.iter_errors(json.loads(json.dumps(record))))


def test_a_redelivered_report_repeats_the_current_revision_never_an_older_one() -> None:
    merger = EventMerger()
    rows = [reports_from_article(article(*row))[0] for row in REPORTS[:3]]
    published = [merged_record(m) for m in map(merger.add, rows) if m is not None]
    # The first report again (a redelivery after a crash): the event as it stands.
    again = merger.add(rows[0])
    assert again is not None
    assert merged_record(again) == published[-1]
    assert merged_record(again)["revision"] == 2


@pytest.mark.parametrize(
    ("other", "records"),
    [
        # Two reports of one strike in one article: one record, counted once.
        (article("x", "BBC", "2018-05-14T20:00:00+00:00", 3), 1),
        # A strike in Gaza and one in Deir ez-Zor: a record for each.
        (article("x", "BBC", "2018-05-14T20:00:00+00:00", 3, place=DEIR_EZZOR), 2),
    ],
)
def test_an_article_publishes_each_event_it_touches_once(
    other: dict[str, Any], records: int
) -> None:
    merger = EventMerger()
    both = {**other, "entities": [*other["entities"], GAZA],
            "facts": {"events": [*article(*REPORTS[0])["facts"]["events"],
                                 *other["facts"]["events"]]}}
    results = [m for m in map(merger.add, reports_from_article(both)) if m is not None]
    assert len(results) == 2
    out = merged_records(results)
    assert len(out) == records
    assert [r["revision"] for r in out] == [0] * records
    assert len({r["event_id"] for r in out}) == records


def test_a_report_older_than_the_window_founds_nothing_again() -> None:
    # A Gaza strike on 1 May; the stream moves on to 20 May (the window is
    # 2 days), and the strike's first report is delivered again (as after a
    # crash upstream): its event is forgotten, and must not be founded again
    # under its old id with revision 0.
    merger = EventMerger(window_days=2)
    (old,) = reports_from_article(article("a1", "BBC", "2018-05-01T10:00:00+00:00", 3,
                                          date="2018-05-01"))
    first = merger.add(old)
    assert first is not None
    (later,) = reports_from_article(article("a2", "BBC", "2018-05-20T10:00:00+00:00", 3,
                                            date="2018-05-20"))
    assert merger.add(later) is not None
    assert "e:" + first.event_id not in merger.store
    assert merger.add(old) is None
    assert "e:" + first.event_id not in merger.store
    # A late report of another strike just inside the window is still merged.
    (inside,) = reports_from_article(article("a3", "BBC", "2018-05-18T12:00:00+00:00", 3,
                                             date="2018-05-18"))
    assert merger.add(inside) is not None


def test_an_event_that_leaves_the_window_is_closed_once_with_one_more_revision() -> None:
    # Two reports of the Gaza strike on 14 May; the stream moves on to 20 May
    # (window 2 days): the strike's event is evicted and handed out once, and
    # its closing record is its last state with revision 2 and closed=true.
    merger = EventMerger(window_days=2)
    last = None
    for row in REPORTS[:2]:
        last = merger.add(reports_from_article(article(*row))[0])
    assert last is not None and merger.take_closed() == []
    (later,) = reports_from_article(article("a9", "BBC", "2018-05-20T10:00:00+00:00", 3,
                                            place=DEIR_EZZOR, date="2018-05-20"))
    assert merger.add(later) is not None
    (closed,) = merger.take_closed()
    assert closed.event_id == last.event_id
    assert merger.take_closed() == []
    record = closed_record(closed)
    assert record["closed"] is True
    assert record["revision"] == merged_record(last)["revision"] + 1 == 2
    assert {k: v for k, v in record.items() if k not in ("revision", "closed")} == {
        k: v for k, v in merged_record(last).items() if k not in ("revision", "closed")}
    assert not list(merged_topic_validator().iter_errors(json.loads(json.dumps(record))))


def test_an_event_touched_again_inside_the_window_is_not_closed() -> None:
    # Reports on 14 May and 15 May 23:00 (no common date: the second report
    # carries none), then one on 17 May: with a 2-day window the 14 May hour
    # is evicted, but the event was touched later, so it stays open.
    merger = EventMerger(window_days=2)
    assert merger.add(reports_from_article(article(*REPORTS[0]))[0]) is not None
    again = reports_from_article(article("a2", "BBC", "2018-05-15T23:00:00+00:00", 20,
                                         date=None))[0]
    assert merger.add(again) is not None
    (later,) = reports_from_article(article("a9", "BBC", "2018-05-17T10:00:00+00:00", 3,
                                            place=DEIR_EZZOR, date="2018-05-17"))
    assert merger.add(later) is not None
    assert merger.take_closed() == []


def _strike_then_later(store: dict[str, Any], grace: int = 3) -> tuple[EventMerger, str]:
    """Two reports of the 14 May strike, then one of 20 May that evicts it (2-day window)."""
    merger = EventMerger(store, window_days=2, closing_grace=grace)
    last = None
    for row in REPORTS[:2]:
        last = merger.add(reports_from_article(article(*row))[0])
        assert merger.take_closed() == []
    assert last is not None
    (later,) = reports_from_article(article("a9", "BBC", "2018-05-20T10:00:00+00:00", 3,
                                            place=DEIR_EZZOR, date="2018-05-20"))
    assert merger.add(later) is not None
    return merger, last.event_id


def test_a_closing_survives_a_crash_before_it_was_published() -> None:
    # The worker hands the closing out, then dies before the broker took the
    # record; the store (the restored changelog) no longer holds the event,
    # but its outbox does: the next worker hands the closing out again.
    store: dict[str, Any] = {}
    merger, eid = _strike_then_later(store)
    (closed,) = merger.take_closed()
    assert closed.event_id == eid and "e:" + eid not in store
    restored = EventMerger(dict(store), window_days=2, closing_grace=3)
    (again,) = restored.take_closed()
    assert closed_record(again) == closed_record(closed)
    assert restored.take_closed() == []  # once per process


def test_a_closing_restored_after_a_rebalance_is_handed_out_at_the_latest_after_the_grace(
) -> None:
    # The partition moves to another worker, which publishes and clears this
    # worker's closing and writes one of its own; when the partition comes
    # back (its outbox restored from the changelog), this worker still counts
    # its own old closing as handed out.  The other worker's closing is not lost:
    # it is handed out once that stale entry has had its grace.
    store: dict[str, Any] = {}
    merger, eid = _strike_then_later(store, grace=3)
    assert [e.event_id for e in merger.take_closed()] == [eid]
    theirs = ["v0123456789abcdef", {**store["o:"][0][1], "articles": ["elsewhere"]}]
    store["o:"] = [theirs]
    handed: list[str] = []
    for _ in range(4):
        handed += [e.event_id for e in merger.take_closed()]
    assert handed == [theirs[0]]


def test_a_fresh_closing_is_handed_out_once_while_stale_entries_wait() -> None:
    # After the other worker drained the outbox, this worker still counts its
    # old closing as handed out; an event it evicts now is handed out once.
    store: dict[str, Any] = {}
    merger, _ = _strike_then_later(store, grace=3)
    assert len(merger.take_closed()) == 1
    store["o:"] = []
    (r,) = reports_from_article(article("b1", "BBC", "2018-05-21T10:00:00+00:00", 3,
                                        date="2018-05-21"))
    merger.add(r)
    (r2,) = reports_from_article(article("b2", "BBC", "2018-05-25T10:00:00+00:00", 3,
                                         place=DEIR_EZZOR, date="2018-05-25"))
    merger.add(r2)
    handed: list[str] = []
    for _ in range(6):
        handed += [e.event_id for e in merger.take_closed()]
    assert handed and len(handed) == len(set(handed))


def test_a_closing_leaves_the_outbox_after_the_grace_messages() -> None:
    store: dict[str, Any] = {}
    merger, eid = _strike_then_later(store, grace=3)
    assert [e.event_id for e in merger.take_closed()] == [eid]
    assert merger.take_closed() == [] and merger.take_closed() == []
    assert store.get("o:") == [[eid, store["o:"][0][1]]]
    # Three messages after it was handed out, its batch was surely produced.
    assert merger.take_closed() == []
    assert "o:" not in store
    assert EventMerger(dict(store), window_days=2, closing_grace=3).take_closed() == []


def test_each_partition_has_its_own_outbox() -> None:
    # A closing is written, and later deleted, in its own partition's records:
    # handling partition 1 neither hands out nor deletes partition 0's.
    store: dict[str, Any] = {}
    merger = EventMerger(store, window_days=2, closing_grace=1)
    first = merger.add(reports_from_article(article(*REPORTS[0]))[0], partition=0)
    assert first is not None
    (later,) = reports_from_article(article("a9", "BBC", "2018-05-20T10:00:00+00:00", 3,
                                            date="2018-05-20"))
    merger.add(later, partition=0)
    assert merger.take_closed(1) == [] and "o:0" in store
    assert [e.event_id for e in merger.take_closed(0)] == [first.event_id]
    assert merger.take_closed(1) == [] and "o:0" in store
    assert merger.take_closed(0) == [] and "o:0" not in store


def test_the_outbox_stays_bounded_over_a_long_stream() -> None:
    # A month of daily reports, one message each: every event is closed once
    # and the outbox never holds more than the grace's worth of closings.
    store: dict[str, Any] = {}
    merger = EventMerger(store, window_days=2, closing_grace=2)
    closed: list[str] = []
    for day in range(1, 29):
        (r,) = reports_from_article(article(f"a{day}", "BBC", f"2018-05-{day:02d}T10:00:00+00:00",
                                            day, date=f"2018-05-{day:02d}"))
        merger.add(r)
        closed.extend(e.event_id for e in merger.take_closed())
        assert len(store.get("o:") or ()) <= 2
    assert len(closed) == len(set(closed)) >= 24


def test_closing_grace_must_be_positive() -> None:
    with pytest.raises(ValueError, match="closing_grace"):
        EventMerger(closing_grace=0)
