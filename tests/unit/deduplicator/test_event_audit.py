"""The event-merge audit: labelled report pairs in, precision and recall of a merge rule out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marsad.deduplicator.event_audit import (
    AuditItem,
    format_scores,
    load_items,
    reports_by_trigger,
    score,
    why_not,
)
from marsad.deduplicator.events import EventReport, Place, linked, sentence_gist

REPO = Path(__file__).resolve().parents[3]
HEADER = "n\tsample\tarticle_a\tstart_a\ttrigger_a\tarticle_b\tstart_b\ttrigger_b\t" \
         "reader_1\treader_2\tlabel\n"

GAZA = Place("غزه", 281133, "PS")
# "Israeli aircraft struck a Hamas site in the north of the Gaza Strip" (two outlets'
# wording) and "hundreds of Palestinians demonstrated on the eastern border of the Strip".
STRIKE = "قصفت طائرات إسرائيلية موقعا لحركة حماس في شمال قطاع غزة"
STRIKE_COPY = "وقصفت طائرات إسرائيلية فجر اليوم موقعا لحركة حماس في شمال قطاع غزة"
PROTEST = "تظاهر مئات الفلسطينيين على الحدود الشرقية لقطاع غزة"
# "Hundreds of students demonstrated in front of the government building in Ramallah".
RAMALLAH = "تظاهر مئات الطلاب أمام مقر الحكومة في رام الله"


def report(aid: str, sentence: str, *, place: Place | None = GAZA, etype: str = "ASSAULT",
           hour: int = 8, date: str | None = None) -> EventReport:
    return EventReport(aid, aid[:2], f"2018-05-16T{hour:02d}:00:00+00:00", etype, place=place,
                       date=date, gist=sentence_gist(sentence))


def test_the_shipped_audit_file_loads_with_known_labels() -> None:
    items = load_items(REPO / "tests" / "data" / "events" / "merge_audit.tsv")
    assert len(items) >= 300
    assert {i.sample for i in items} >= {"merged", "pairs:duplicate", "pairs:same_event"}
    assert len({i.n for i in items}) == len(items)


def test_an_unknown_label_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "audit.tsv"
    path.write_text(HEADER + "1\tmerged\ta\t0\tx\tb\t5\ty\tsame\tsame\tmaybe\n", "utf-8")
    with pytest.raises(ValueError, match="item 1: unknown label 'maybe'"):
        load_items(path)


def test_reports_are_found_by_article_and_trigger_start() -> None:
    text = f"{STRIKE}. {PROTEST}"
    article = {
        "id": "SK-1", "source": "skynews", "published_at": "2018-05-16T08:00:00Z", "text": text,
        "entities": [{"id": "e1", "canonical": "غزة", "matching": "غزه",
                      "geonames_id": 281133, "country": "PS"}],
        "facts": {"events": [
            {"type": "ASSAULT", "trigger": {"start": 0, "end": 4}, "actor": None,
             "target": None, "place": "e1", "sentence": {"start": 0, "end": len(STRIKE)}},
            # A future event is no report: it is skipped without shifting the others.
            {"type": "PROTEST", "trigger": {"start": 5, "end": 9}, "future": True,
             "sentence": {"start": 0, "end": len(STRIKE)}},
            {"type": "PROTEST", "trigger": {"start": len(STRIKE) + 2, "end": len(STRIKE) + 7},
             "actor": None, "target": None, "place": None,
             "sentence": {"start": len(STRIKE) + 2, "end": len(text)}},
        ]},
    }
    found = reports_by_trigger(article)
    assert set(found) == {("SK-1", 0), ("SK-1", len(STRIKE) + 2)}
    assert found["SK-1", 0].type == "ASSAULT" and found["SK-1", 0].place == GAZA
    assert found["SK-1", len(STRIKE) + 2].gist == sentence_gist(PROTEST)


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        (report("SK-1", STRIKE), report("AL-2", STRIKE_COPY, etype="PROTEST"), "type"),
        (report("SK-1", STRIKE), report("AL-2", STRIKE_COPY, place=None), "place on one only"),
        (report("SK-1", STRIKE), report("AL-2", STRIKE_COPY, place=Place("رفح", 281102, "PS")),
         "place"),
        (report("SK-1", STRIKE, place=None), report("AL-2", RAMALLAH, place=None), "gist key"),
        (report("SK-1", STRIKE), report("AL-2", PROTEST), "evidence"),
        (report("SK-1", STRIKE, date="2018-05-16"), report("AL-2", STRIKE_COPY, date="2018-05-12"),
         "time"),
    ],
)
def test_why_a_pair_is_not_linked(a: EventReport, b: EventReport, reason: str) -> None:
    assert not linked(a, b)
    assert why_not(a, b) == reason


def test_scores_per_sample() -> None:
    reports = {
        ("SK-1", 0): report("SK-1", STRIKE),
        ("AL-2", 0): report("AL-2", STRIKE_COPY, hour=10),
        ("FR-3", 0): report("FR-3", PROTEST, hour=11),
        ("CN-4", 0): report("CN-4", STRIKE_COPY, place=None, hour=12),
    }
    items = [
        AuditItem(1, "merged", ("SK-1", 0), ("AL-2", 0), "same"),        # linked, right
        AuditItem(2, "merged", ("AL-2", 0), ("SK-1", 0), "not_event"),   # linked, wrong
        AuditItem(3, "merged", ("SK-1", 0), ("GONE", 7), "same"),        # trigger gone
        AuditItem(4, "pairs:same_event", ("SK-1", 0), ("FR-3", 0), "different"),
        AuditItem(5, "pairs:same_event", ("SK-1", 0), ("CN-4", 0), "same"),  # missed
        AuditItem(6, "pairs:same_event", ("AL-2", 0), ("SK-1", 0), "same"),
        AuditItem(7, "pairs:same_event", ("AL-2", 0), ("SK-1", 0), "unclear"),
    ]
    scores = score(items, reports, linked)
    merged, pairs = scores["merged"], scores["pairs:same_event"]
    assert merged.missing == 1
    assert merged.precision == 0.5 and merged.merge_precision == 1.0 and merged.recall == 1.0
    # unclear counts nowhere; the pair with a place on one side only is the miss.
    assert pairs.precision == 1.0 and pairs.recall == 0.5
    assert pairs.unlinked_same == {"place on one only": 1}
    table = format_scores(scores)
    assert table.splitlines()[1].split()[:7] == ["merged", "2", "2", "1", "0.500", "1.000",
                                                  "1.000"]
    assert "place on one only 1" in table


# --- the commands, end to end on small files ---------------------------------------------


def _articles(tmp_path: Path) -> Path:
    """Three ANT-style articles: two outlets' copies of a strike report, and a protest."""
    rows = [
        {"id": "SK-1", "source": "skynews", "published_at": "2018-05-16T08:00:00Z",
         "title": "غارة على غزة", "text": f"{STRIKE}. وقال الجيش إن الغارة استهدفت موقعا عسكريا."},
        {"id": "AL-2", "source": "alarabia", "published_at": "2018-05-16T09:30:00Z",
         "title": "غارة إسرائيلية", "text": f"{STRIKE_COPY}. ولم تقع إصابات."},
        {"id": "FR-3", "source": "france24", "published_at": "2018-05-16T10:00:00Z",
         "title": "تظاهرة", "text": f"{PROTEST}."},
    ]
    path = tmp_path / "articles.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_events_eval_rebuilds_the_reports_and_prints_the_scores(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from marsad.cli import main
    from marsad.pipeline import Pipeline
    from marsad.runtime import build_stage, make_codec
    from marsad.settings import Settings
    from marsad.topics import EXTRACTED

    data = _articles(tmp_path)
    # The reports as the extractor gives them, to label their pairs.
    settings = Settings()
    codec = make_codec(settings)
    pipe = Pipeline([build_stage(n, settings, codec) for n in ("normaliser", "extractor")], codec)
    reports: dict[tuple[str, int], EventReport] = {}
    for line in data.read_bytes().splitlines():
        for out in pipe.run(line):
            if out.topic == EXTRACTED:
                reports.update(reports_by_trigger(json.loads(out.data)))
    keys = sorted(reports)
    assert len({k[0] for k in keys}) >= 2, keys
    pairs = [(a, b) for a in keys for b in keys if a[0] < b[0]]
    rows = [f"{i}\tmerged\t{a[0]}\t{a[1]}\tx\t{b[0]}\t{b[1]}\ty\tsame\tsame\tsame\n"
            for i, (a, b) in enumerate(pairs, 1)]
    audit = tmp_path / "audit.tsv"
    audit.write_text(HEADER + "".join(rows), "utf-8")

    assert main(["events-eval", "--data", str(data), "--audit-file", str(audit)]) == 0
    printed = capsys.readouterr().out
    expected = format_scores(score(load_items(audit), reports, linked))
    assert printed.strip() == expected.strip()
    assert f"merged {len(pairs):>5}".split() == printed.splitlines()[1].split()[:2]


def test_events_common_words_counts_each_article_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from marsad.cli import main

    out = tmp_path / "common.tsv"
    assert main(["events-common-words", "--data", str(_articles(tmp_path)), "--share", "0.6",
                 "--out", str(out)]) == 0
    rows = dict(line.split("\t") for line in out.read_text("utf-8").splitlines()
                if not line.startswith("#"))
    # "a site": in two of the three articles, twice in the first, counted once.
    assert rows["موقعا"].strip() == "0.667"
    assert rows["غزه"].strip() == "1.000"
    assert "تظاهر" not in rows  # one article only
    assert capsys.readouterr().out.startswith(f"{len(rows)} words in at least 60% ")
