"""Every record the stages produce for real articles validates against its topic's schema."""

from __future__ import annotations

import gzip
import itertools

import orjson
import pytest

from marsad.pipeline import Pipeline
from marsad.runtime import STAGE_NAMES, build_stage, make_codec
from marsad.settings import Settings
from tests.conftest import ANT, SEEDS


@pytest.fixture(scope="module")
def outputs() -> list:
    settings = Settings(full_validation=True)
    codec = make_codec(settings)
    pipe = Pipeline([build_stage(n, settings, codec) for n in STAGE_NAMES], codec)
    lines = [line for line in SEEDS.read_bytes().splitlines() if line.strip()]
    with gzip.open(ANT, "rb") as f:
        lines += [line.rstrip(b"\n") for line in itertools.islice(f, 0, 4000, 40)]
    return [(o, codec) for line in lines for o in pipe.run(line)]


def test_outputs_validate(outputs: list) -> None:
    topics = set()
    for out, codec in outputs:
        codec.validate(out.topic, orjson.loads(orjson.dumps(out.value)))
        topics.add(out.topic)
    assert {"articles.normalised", "articles.extracted", "events.enriched",
            "events.merged"} <= topics


def test_every_output_is_keyed_by_article_id(outputs: list) -> None:
    for out, _ in outputs:
        if out.topic == "events.merged":
            assert out.key == out.value["event_id"]
        elif out.topic != "articles.deadletter":
            assert out.key == out.value["id"]


def test_merged_event_records_match_the_merged_events_articles_carry(outputs: list) -> None:
    """The latest events.merged record of each event is the newest state an article carries."""
    latest: dict[str, dict] = {}
    carried: dict[str, dict] = {}
    for out, _ in outputs:
        if out.topic == "events.merged":
            previous = latest.get(out.key)
            assert previous is None or previous["revision"] <= out.value["revision"]
            latest[out.key] = out.value
        elif out.topic in ("events.enriched", "articles.duplicates"):
            for event in out.value["merged_events"]:
                carried[event["event_id"]] = event
    assert latest and set(latest) == set(carried)
    closed = 0
    for eid, record in latest.items():
        # A closing record (the event left the window) is one revision past its last report.
        closed += record["closed"]
        assert record["revision"] == record["report_count"] - 1 + record["closed"]
        assert {**carried[eid], "schema_version": 1, "revision": record["revision"],
                "closed": record["closed"]} == {**record, "is_new": carried[eid]["is_new"]}
    # The sample spans months of ANT, so events leave the 3-day window.
    assert 0 < closed < len(latest)
