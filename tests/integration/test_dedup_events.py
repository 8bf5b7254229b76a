"""Reports of one happening from articles on different partitions meet in ONE merged event.

Four partitions, a normaliser, an extractor and two deduplicator workers.
Three real ANT articles (Sky News twice, France 24 once) report the same
attack; their ids are chosen so that each is on a partition of its own.
Their event reports travel by merge key to one partition of
``dedup.events``, so every article's output names the same merged event,
and the last one decided carries all three reports, both sources and the
consensus of the per-source tolls, as ``marsad process`` (one partition)
gives it for the same articles.  The event partition publishes the event on
``events.merged`` once per report, revisions 0, 1 and 2, the latest with
the same figures.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import uuid
from contextlib import ExitStack
from pathlib import Path
from statistics import median

import orjson
import pytest

from marsad.deduplicator.agent import partitioner
from marsad.deduplicator.events import Place, merge_key, reports_from_article
from marsad.pipeline import Pipeline
from marsad.runtime import STAGE_NAMES, build_stage, make_codec
from marsad.settings import Settings
from tests.conftest import ANT
from tests.integration.conftest import consume, produce, start_workers

pytestmark = pytest.mark.integration

PARTITIONS = 4
FINALS = ["events.enriched", "articles.duplicates", "articles.deadletter"]
# Three reports of one attack in June 2018 (lines of the ANT file).
LINES = {20105: "SK-internationalNews-2170-20180616", 20208: "SK-internationalNews-2186-20180617",
         20243: "FR-internationalNews-1870-20180617"}


def load_articles() -> list[dict]:
    """The three articles, renamed so that no two share a partition."""
    part = partitioner(PARTITIONS)
    taken: set[int] = set()
    out = []
    with gzip.open(ANT, "rb") as f:
        for n, line in enumerate(itertools.islice(f, min(LINES), max(LINES) + 1), min(LINES)):
            if n not in LINES:
                continue
            article = orjson.loads(line)
            assert article["id"] == LINES[n]
            new_id = next(i for i in (f"{article['id']}-{k}" for k in itertools.count())
                          if part(i) not in taken)
            taken.add(part(new_id))
            out.append({**article, "id": new_id})
    return out


def the_event(merged: list[dict], key: str) -> dict:
    """The merged event with this merge key among an output's merged events."""
    found = [e for e in merged if e["place"] and key == "|".join(
        (e["type"], Place(**e["place"]).key(), e["actors"][0] if e["actors"] else ""))]
    assert len(found) == 1, (key, merged)
    return found[0]


def test_reports_on_different_partitions_merge_into_one_event(
    broker: str, tmp_path: Path
) -> None:
    prefix = f"e{uuid.uuid4().hex[:8]}."
    settings = Settings(bootstrap_servers=broker, topic_prefix=prefix, partitions=PARTITIONS)
    env = {"MARSAD_PARTITIONS": str(PARTITIONS)}
    articles = load_articles()
    with ExitStack() as stack:
        start_workers(stack, broker, prefix,
                      ("normaliser", "extractor", "deduplicator", "deduplicator"),
                      log_dir=tmp_path, env=env)
        asyncio.run(produce(settings, [(a["id"].encode(), orjson.dumps(a)) for a in articles]))
        out = asyncio.run(consume(settings, FINALS, expected=len(articles), timeout=240))
        extracted = asyncio.run(consume(settings, ["articles.extracted"], expected=len(articles),
                                        timeout=30))
        # The records of the events the articles report, one per change.
        changes: dict[str, int] = {}
        for o in out:
            for e in o["value"]["merged_events"]:
                changes[e["event_id"]] = max(changes.get(e["event_id"], 0), e["report_count"])
        published = asyncio.run(consume(settings, ["events.merged"],
                                        expected=sum(changes.values()), timeout=30))
    logs = "\n".join(p.read_text()[-1500:] for p in tmp_path.glob("*.log"))
    assert sorted(o["key"] for o in out) == sorted(a["id"] for a in articles), logs
    assert not [o for o in out if o["topic"] == "articles.deadletter"], logs
    # The happening the three report (a precondition on the extractor's output).
    reports = {o["key"]: reports_from_article(o["value"]) for o in extracted}
    keys = set.intersection(*({merge_key(r) for r in rs} for rs in reports.values()))
    keys.discard(None)
    assert len(keys) == 1, reports
    (key,) = keys
    assert isinstance(key, str)
    events = {o["key"]: the_event(o["value"]["merged_events"], key) for o in out}
    # One merged event, named by every article whatever its partition.
    assert len({e["event_id"] for e in events.values()}) == 1, events
    latest = max(events.values(), key=lambda e: e["report_count"])
    assert latest["report_count"] == len(articles)
    assert sorted(latest["sources"]) == ["france24", "skynews"]
    # Per-source figures: each outlet's highest toll; the consensus is their median.
    killed = latest["casualties"]["killed"]
    by_source: dict[str, int] = {}
    for o in extracted:
        for r in reports[o["key"]]:
            if merge_key(r) == key and "killed" in r.casualties:
                source = o["value"]["source"]
                by_source[source] = max(by_source.get(source, 0), r.casualties["killed"])
    assert killed["by_source"] == by_source
    assert killed["consensus"] == int(median(sorted(by_source.values())) + 0.5)
    # The same articles through one process (one partition): the same merged event.
    codec = make_codec(Settings())
    pipe = Pipeline([build_stage(n, Settings(), codec) for n in STAGE_NAMES], codec)
    single = [o.value for a in articles for o in pipe.run(orjson.dumps(a))
              if o.topic in FINALS]
    alone = the_event(single[-1]["merged_events"], key)
    for field in ("report_count", "sources", "casualties", "type", "place", "date"):
        if field == "sources":
            assert sorted(alone[field]) == sorted(latest[field])
        else:
            assert alone[field] == latest[field], field
    # events.merged: the attack's revisions in order, the latest with every source.
    history = [o["value"] for o in published if o["key"] == latest["event_id"]]
    assert [r["revision"] for r in history] == [0, 1, 2], published
    record = history[-1]
    assert not record["closed"]
    assert {k: v for k, v in record.items()
            if k not in ("schema_version", "revision", "closed")} == {
        k: v for k, v in latest.items() if k != "is_new"}
    assert sorted(record["sources"]) == ["france24", "skynews"]
    assert record["casualties"]["killed"]["consensus"] == killed["consensus"]
