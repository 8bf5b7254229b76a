"""The one-partition deduplicator stage re-publishes a story's event when a new source joins.

Real ANT articles go through the three stages in one process (as ``marsad
process`` runs them); copies of one follow, from another outlet and from
its own outlet, and one copy is delivered twice.  Subscribers must see what
the band-keyed wiring gives them: revision 0 on the founder's event, the
event again with the next revision and the story's figures for each new
source, and nothing re-published for a copy that adds no source or for a
redelivery.
"""

from __future__ import annotations

import gzip
import itertools
from typing import Any

import orjson
import pytest

from marsad.deduplicator.stage import DeduplicatorStage
from marsad.pipeline import Pipeline
from marsad.runtime import STAGE_NAMES, build_stage, make_codec
from marsad.settings import Settings
from tests.conftest import ANT

FINALS = ("events.enriched", "articles.duplicates", "articles.deadletter")


@pytest.fixture(scope="module")
def articles() -> list[dict[str, Any]]:
    with gzip.open(ANT, "rb") as f:
        rows = [orjson.loads(line) for line in itertools.islice(f, 20_000, 20_060)]
    return [a for a in rows if len(a.get("text") or "") > 800][:2]


def run(messages: list[dict[str, Any]]) -> tuple[list[list[tuple[str, str, dict[str, Any]]]],
                                                 DeduplicatorStage]:
    settings = Settings()
    codec = make_codec(settings)
    stages = [build_stage(n, settings, codec) for n in STAGE_NAMES]
    pipe = Pipeline(stages, codec)
    outs = [[(o.topic, o.key, o.value) for o in pipe.run(orjson.dumps(m)) if o.topic in FINALS]
            for m in messages]
    dedup = stages[-1]
    assert isinstance(dedup, DeduplicatorStage)
    return outs, dedup


def test_a_new_source_republishes_the_story_event_with_the_next_revision(
    articles: list[dict[str, Any]],
) -> None:
    original, other = articles
    elsewhere = {**original, "id": original["id"] + "-x", "source": "another-outlet"}
    same_outlet = {**original, "id": original["id"] + "-y"}
    third = {**original, "id": original["id"] + "-z", "source": "third-outlet"}
    outs, _ = run([original, other, elsewhere, same_outlet, elsewhere, third])
    [(topic, key, founder)] = outs[0]
    assert (topic, key, founder["story"]["revision"]) == ("events.enriched", original["id"], 0)
    assert [o[0] for o in outs[1]] == ["events.enriched"]
    # Another outlet's copy: its notice, then the founder's event again, revision 1.
    (notice, again) = outs[2]
    assert notice[:2] == ("articles.duplicates", elsewhere["id"])
    assert notice[2]["story"]["revision"] == 1
    assert again[:2] == ("events.enriched", original["id"])
    story = again[2]["story"]
    assert (story["revision"], story["article_count"]) == (1, 2)
    assert story["sources"] == [original["source"], "another-outlet"]
    # The founder's own fields, unchanged: only the story moved on.
    for field in ("text", "entities", "facts", "merged_events", "published_at"):
        assert again[2][field] == founder[field], field
    assert again[2]["dedup"]["article_id"] == original["id"]
    # A copy from the founder's outlet adds no source: its notice only.
    [(topic, key, value)] = outs[3]
    assert (topic, key, value["story"]["revision"]) == ("articles.duplicates",
                                                         same_outlet["id"], 1)
    # A redelivered copy repeats its notice, flagged, and re-publishes nothing.
    [(topic, key, value)] = outs[4]
    assert (topic, key, value["dedup"]["redelivered"]) == ("articles.duplicates",
                                                            elsewhere["id"], True)
    # A third outlet: revision 2.
    assert [(o[0], o[2]["story"]["revision"]) for o in outs[5]] == [
        ("articles.duplicates", 2), ("events.enriched", 2)]


def test_founders_are_forgotten_after_the_window(articles: list[dict[str, Any]]) -> None:
    original, other = articles
    # Years later (the window is 7 days): only the newer founder is kept.
    later = {**other, "published_at": "2024-01-01T00:00:00Z"}
    outs, dedup = run([original, later])
    founders = [k for k in dedup.stories if k.startswith("f:")]
    assert founders == ["f:" + outs[1][0][2]["story"]["cluster_id"]]


def test_a_founder_is_kept_compressed_and_comes_back_whole(articles: list[dict[str, Any]]) -> None:
    from marsad.deduplicator.banded import pack_payload, unpack_payload

    original, _ = articles
    outs, dedup = run([original])
    [packed] = [v["pl"] for k, v in dedup.stories.items() if k.startswith("f:")]
    payload = unpack_payload(packed)
    assert payload["event"]["text"] == original["text"]
    assert payload["event"]["entities"] == outs[0][0][2]["entities"]
    plain = orjson.dumps(payload).decode("utf-8")
    # Arabic text held twice compresses well: well under half the plain string.
    assert len(packed) < len(plain.encode("utf-8")) / 2
    assert unpack_payload(pack_payload(payload)) == payload
    # Records kept by earlier versions still read.
    assert unpack_payload(plain) == payload
    assert unpack_payload(payload) is payload


# Three real reports of one attack in Afghanistan, June 2018 (lines of the ANT
# file): Sky News twice (its toll rising from 20 to 30), France 24 once (36).
ATTACK = {20105: "SK-internationalNews-2170-20180616",
          20208: "SK-internationalNews-2186-20180617",
          20243: "FR-internationalNews-1870-20180617"}


@pytest.fixture(scope="module")
def attack() -> list[dict[str, Any]]:
    with gzip.open(ANT, "rb") as f:
        rows = [orjson.loads(line) for n, line in enumerate(
            itertools.islice(f, min(ATTACK), max(ATTACK) + 1), min(ATTACK)) if n in ATTACK]
    assert [a["id"] for a in rows] == list(ATTACK.values())
    return rows


def test_each_change_of_a_merged_event_is_published_under_its_id(
    attack: list[dict[str, Any]],
) -> None:
    settings = Settings()
    codec = make_codec(settings)
    pipe = Pipeline([build_stage(n, settings, codec) for n in STAGE_NAMES], codec)
    # The three reports, then the first one delivered again (as after a crash).
    outs = [[o for o in pipe.run(orjson.dumps(a)) if o.topic != "articles.normalised"
             and o.topic != "articles.extracted"] for a in [*attack, attack[0]]]
    for article_outs in outs:
        (record,) = [o for o in article_outs if o.topic in FINALS]
        published = [o for o in article_outs if o.topic == "events.merged"]
        # One record per merged event the article's record carries, keyed by its id.
        assert [o.key for o in published] == [e["event_id"] for e in
                                              record.value["merged_events"]]
        for o, event in zip(published, record.value["merged_events"], strict=True):
            assert o.value == {"schema_version": 1, "revision": event["report_count"] - 1,
                               "closed": False,
                               **{k: v for k, v in event.items() if k != "is_new"}}
    # The attack: the one event all three articles report.
    ids = set.intersection(*({o.key for o in a if o.topic == "events.merged"} for a in outs))
    (attack_id,) = ids
    history = [o.value for a in outs for o in a if o.key == attack_id]
    assert [r["revision"] for r in history] == [0, 1, 2, 2]  # the redelivery repeats 2
    latest = history[-1]
    assert history[2] == latest
    assert (latest["type"], latest["place"]["name"], latest["place"]["geonames_id"]) == (
        "ASSAULT", "افغانستان", 1149361)
    assert latest["sources"] == ["skynews", "france24"]
    assert latest["articles"] == list(ATTACK.values())
    killed = latest["casualties"]["killed"]
    assert killed["by_source"] == {"skynews": 30, "france24": 36}
    assert (killed["consensus"], killed["min"], killed["max"]) == (33, 30, 36)
    assert latest["first_seen"] < latest["last_seen"]
