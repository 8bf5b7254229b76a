"""The band-keyed deduplicator: several partitions, messages delivered in any order.

A small simulator plays the three handlers over per-partition FIFO queues
(as Kafka keeps order within a partition only) and lets hypothesis pick
which partition's queue moves next: every interleaving must give each
article one decision, one story per group of copies with one founder, and
no cycle of duplicates.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.deduplicator import minhash as mh
from marsad.deduplicator.banded import (
    BANDS,
    EVENTS,
    NOTES,
    BandedDeduplicator,
    Final,
    Out,
    Publish,
    Send,
    band_partition,
    keys_in_partition,
)
from marsad.deduplicator.core import DedupConfig, Deduplicator
from marsad.deduplicator.corpus import load_fold
from marsad.deduplicator.events import (
    EventMerger,
    EventReport,
    merged_records,
    reports_from_article,
)
from tests.conftest import REPO
from tests.unit.deduplicator.test_events import DEIR_EZZOR, article

fold = load_fold()
SEED = (REPO / ".." / "shared" / "seeds" / "000_8bb0b02f1c03471e.txt").read_text("utf-8")
PAIR = json.loads((REPO / "tests" / "data" / "dedup" / "iniesta_pair.json").read_text("utf-8"))
INIESTA_AL = PAIR["AL-sport-589-20180313"]
INIESTA_SK = PAIR["SK-sport-246-20180313"]


def seed_without_opening() -> str:
    """Another outlet's cut of the seed: its first sentences dropped."""
    return ". ".join(SEED.split(".")[3:])


# (id, group, source, hour, text): two stories, each filed three times.
ARTICLES: list[tuple[str, str, str, int, str]] = [
    ("al-589", "iniesta", "alarabia", 8, INIESTA_AL),
    ("sk-246", "iniesta", "skynews", 9, INIESTA_SK),
    ("ap-001", "iniesta", "agency", 10, INIESTA_AL),
    ("seed", "syria", "alquds", 8, SEED),
    ("seed-cut", "syria", "alhayat", 11, seed_without_opening()),
    ("seed-again", "syria", "alquds", 9, SEED),
]


def part_of(partitions: int) -> Any:
    def partition_of(key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest()) % partitions

    return partition_of


# The same strike in Gaza, as four of the articles report it (outlets' tolls
# differ); sk-246 also reports a strike in Deir ez-Zor.
STRIKE = {"al-589": 25, "sk-246": 18, "seed": 37, "seed-cut": 41}


def strike_reports() -> dict[str, list[EventReport]]:
    """Event reports per article id: the Gaza strike, in the articles above that report it."""
    out: dict[str, list[EventReport]] = {}
    for aid, _, source, hour, _ in ARTICLES:
        published = f"2018-03-13T{hour:02d}:00:00+00:00"
        reports: list[EventReport] = []
        if aid in STRIKE:
            reports += reports_from_article(
                article(aid, source, published, STRIKE[aid], date="2018-03-13"))
        if aid == "sk-246":
            reports += reports_from_article(
                article(aid, source, published, 3, place=DEIR_EZZOR, date="2018-03-13"))
        out[aid] = reports
    return out


def deliver(core: BandedDeduplicator, topic: str, key: str, value: Any, partition: int,
            reports: list[EventReport] | None = None) -> list[Out]:
    """One message to the core handler of its topic (``extracted``: ``(text, source, time)``)."""
    if topic == "extracted":
        text, source, published = value
        return core.route(key, text, source=source, published_at=published,
                          payload={"id": key}, partition=partition, reports=reports)
    if topic == BANDS:
        return core.band(value, partition)
    if topic == EVENTS:
        return core.merge(value, partition)
    return core.note(value)


def simulate(
    partitions: int, rng: random.Random, redeliver: float = 0.0, sent: list[Send] | None = None,
    reports: dict[str, list[EventReport]] | None = None,
    publications: list[Publish] | None = None,
) -> tuple[list[Final], BandedDeduplicator]:
    """Run every article through the handlers, choosing the next queue at random.

    ``redeliver`` is the chance that a message is delivered twice (as
    at-least-once delivery does after a crash); ``sent`` collects every
    internal message; ``reports`` gives each article its event reports
    (None: no event merging); ``publications`` collects the ``events.merged``
    records in the order they are produced.
    """
    partition_of = part_of(partitions)
    core = BandedDeduplicator(DedupConfig(), partitions, clock=lambda: 1.6e9)
    queues: dict[tuple[str, int], deque[tuple[str, Any]]] = {}

    def push(topic: str, key: str, value: Any, partition: int | None = None) -> None:
        where = partition_of(key) if partition is None else partition
        queue = queues.setdefault((topic, where), deque())
        queue.append((key, value))
        if rng.random() < redeliver:
            queue.append((key, value))

    for aid, _, source, hour, text in ARTICLES:
        push("extracted", aid, (fold(text), source, f"2018-03-13T{hour:02d}:00:00+00:00"))
    finals: list[Final] = []
    steps = 0
    while any(queues.values()):
        steps += 1
        assert steps < 10_000, "messages keep circulating"
        topic, partition = rng.choice(sorted(k for k, q in queues.items() if q))
        key, value = queues[(topic, partition)].popleft()
        outs = deliver(core, topic, key, value, partition,
                       reports[key] if reports is not None and topic == "extracted" else None)
        for out in outs:
            if isinstance(out, Send):
                push(out.topic, out.key, out.value, out.partition)
                if sent is not None:
                    sent.append(out)
            elif isinstance(out, Publish):
                if publications is not None:
                    publications.append(out)
            else:
                finals.append(out)
    return finals, core


@settings(max_examples=40, deadline=None)
@given(partitions=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_any_interleaving_gives_one_story_per_group_with_one_founder(
    partitions: int, seed: int
) -> None:
    finals, _ = simulate(partitions, random.Random(seed))
    decided = [f for f in finals if f.kind != "update"]
    # One decision per article, no more.
    assert sorted(f.decision.article_id for f in decided) == sorted(a[0] for a in ARTICLES)
    group = {a[0]: a[1] for a in ARTICLES}
    cluster = {f.decision.article_id: f.decision.cluster_id for f in decided}
    for name in {"iniesta", "syria"}:
        members = [aid for aid, g in group.items() if g == name]
        assert len({cluster[m] for m in members}) == 1, (name, cluster)
        founders = [f for f in decided if f.kind == "unique" and group[f.decision.article_id]
                    == name]
        assert len(founders) == 1
    assert cluster["al-589"] != cluster["seed"]
    # Following duplicate_of never comes back to where it started.
    target = {f.decision.article_id: f.decision.duplicate_of for f in decided}
    for start in target:
        seen, node = set(), start
        while node is not None:
            assert node not in seen
            seen.add(node)
            node = target[node]


@settings(max_examples=30, deadline=None)
@given(partitions=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_redelivered_messages_change_no_decision_and_count_nothing_twice(
    partitions: int, seed: int
) -> None:
    finals, core = simulate(partitions, random.Random(seed), redeliver=0.3)
    decided: dict[str, set[tuple[str, str]]] = {}
    for f in finals:
        if f.kind != "update":
            decided.setdefault(f.decision.article_id, set()).add(
                (f.kind, f.decision.cluster_id))
    assert sorted(decided) == sorted(a[0] for a in ARTICLES)
    assert all(len(v) == 1 for v in decided.values()), decided
    counts = sorted(int(v["n"]) for k, v in core.articles.items() if k.startswith("c:"))
    assert counts == [3, 3]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_story_event_is_republished_when_a_new_source_joins(seed: int) -> None:
    finals, _ = simulate(3, random.Random(seed))
    for name, sources in (("iniesta", 3), ("syria", 2)):
        ids = [a[0] for a in ARTICLES if a[1] == name]
        founder = next(f for f in finals if f.kind == "unique" and f.decision.article_id in ids)
        updates = [f for f in finals if f.kind == "update"
                   and f.decision.cluster_id == founder.decision.cluster_id]
        # One re-publication per source after the founder's, each a new revision.
        assert [u.revision for u in updates] == list(range(1, sources))
        assert all(u.decision.article_id == founder.decision.article_id for u in updates)
        assert len(updates[-1].decision.sources) == sources
        assert updates[-1].payload == {"id": founder.decision.article_id}


def test_one_partition_in_order_agrees_with_the_single_process_core() -> None:
    core = BandedDeduplicator(DedupConfig(), 1, clock=lambda: 1.6e9)
    single = Deduplicator(DedupConfig(), clock=lambda: 1.6e9)
    for aid, _, source, hour, text in ARTICLES:
        published = f"2018-03-13T{hour:02d}:00:00+00:00"
        finals = run_one(core, aid, text, source, published)
        mine = next(f.decision for f in finals if f.kind != "update")
        theirs = single.decide(aid, fold(text), source=source, published_at=published)
        assert (mine.kind, mine.cluster_id, mine.cluster_size, mine.sources) == (
            theirs.kind, theirs.cluster_id, theirs.cluster_size, theirs.sources)
        assert mine.method == theirs.method


@pytest.mark.parametrize(
    ("seen_in", "shared", "me", "other", "handles"),
    [
        ({0, 2}, {0, 2}, (5.0, "b"), (9.0, "a"), True),  # came second everywhere: handles it
        (set(), {0, 2}, (9.0, "a"), (5.0, "b"), False),  # came first everywhere: the other does
        ({0}, {0, 2}, (9.0, "a"), (5.0, "b"), True),  # mixed: the later (time, id) does
        ({0}, {0, 2}, (5.0, "b"), (9.0, "a"), False),
        ({2}, {0, 2}, (5.0, "b"), (5.0, "a"), True),  # same time: the larger id
    ],
)
def test_who_handles_a_pair(
    seen_in: set[int], shared: set[int], me: tuple[float, str], other: tuple[float, str],
    handles: bool,
) -> None:
    core = BandedDeduplicator(DedupConfig(), 2)
    assert core.handles(me, other, seen_in, shared) is handles
    # The other side, which saw the pair in the remaining partitions, agrees.
    assert core.handles(other, me, shared - seen_in, shared) is not handles


def run_one(core: BandedDeduplicator, aid: str, text: str, source: str, published: str,
            ) -> list[Final]:
    """All messages of one article on a one-partition stream, in order."""
    return drain(core, core.route(aid, fold(text), source=source, published_at=published,
                                  payload={}))


def drain(core: BandedDeduplicator, outs: Sequence[Out]) -> list[Final]:
    """Deliver ``outs`` and every message they lead to on a one-partition stream, in order."""
    pending = list(outs)
    finals: list[Final] = []
    while pending:
        out = pending.pop(0)
        if isinstance(out, Final):
            finals.append(out)
        elif isinstance(out, Send):
            pending.extend(core.band(out.value, 0) if out.topic == BANDS else core.note(out.value))
    return finals


def test_articles_outside_the_window_are_forgotten_everywhere() -> None:
    core = BandedDeduplicator(DedupConfig(window_days=2), 1, clock=lambda: 1.6e9)
    run_one(core, "seed", SEED, "alquds", "2018-03-01T08:00:00+00:00")
    run_one(core, "al-589", INIESTA_AL, "alarabia", "2018-03-02T08:00:00+00:00")
    assert core.remembered() == (2, 2)
    # Ten days on: both fall out of the window, with their buckets and stories.
    finals = run_one(core, "seed-again", SEED, "alquds", "2018-03-12T08:00:00+00:00")
    assert [f.kind for f in finals] == ["unique"]
    assert core.remembered() == (1, 1)
    assert not [k for k in core.articles if k.startswith("c:")
                and k != "c:" + finals[0].decision.cluster_id]
    members = {m for v in core.index.values() for m in ([v] if isinstance(v, str) else v)}
    assert members == {"seed-again"}


@pytest.mark.parametrize("partitions", [2, 4, 7])
def test_routing_keys_reach_their_partition_through_kafkas_partitioner(partitions: int) -> None:
    from aiokafka.partitioner import DefaultPartitioner

    from marsad.deduplicator.agent import routing_keys

    every = list(range(partitions))
    reached = [DefaultPartitioner()(k.encode(), every, every) for k in routing_keys(partitions)]
    assert reached == every


def test_an_undecided_article_survives_the_sweep_that_its_lateness_triggers() -> None:
    core = BandedDeduplicator(DedupConfig(window_days=2), 1, clock=lambda: 1.6e9)
    # An old article routed, then a much newer one before the old one's replies came.
    late = core.route("seed", fold(SEED), source="alquds",
                      published_at="2018-03-01T08:00:00+00:00", payload={})
    run_one(core, "al-589", INIESTA_AL, "alarabia", "2018-03-12T08:00:00+00:00")
    finals = drain(core, late)
    assert [(f.kind, f.decision.article_id) for f in finals] == [("unique", "seed")]


@settings(max_examples=40, deadline=None)
@given(partitions=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       redeliver=st.sampled_from([0.0, 0.3]))
def test_reports_of_one_happening_meet_in_one_merged_event_whatever_the_partitions(
    partitions: int, seed: int, redeliver: float
) -> None:
    finals, _ = simulate(partitions, random.Random(seed), redeliver, reports=strike_reports())
    merged = {f.decision.article_id: f.payload["merged"] for f in finals if f.kind != "update"}
    assert sorted(merged) == sorted(a[0] for a in ARTICLES)
    # Articles that report nothing carry no merged event.
    assert merged["ap-001"] == [] and merged["seed-again"] == []
    # sk-246's two events, in the order it reports them.
    assert [e["place"]["name"] for e in merged["sk-246"]] == ["غزه", "دير الزور"]
    strike = [next(e for e in merged[aid] if e["place"]["name"] == "غزه") for aid in STRIKE]
    # Whatever partition each article is on: one merged event for the strike.
    assert len({e["event_id"] for e in strike}) == 1
    latest = max(strike, key=lambda e: e["report_count"])
    assert latest["report_count"] == len(STRIKE)  # a redelivered report counts once
    assert set(latest["sources"]) == {"alarabia", "skynews", "alquds", "alhayat"}
    killed = latest["casualties"]["killed"]
    assert killed["by_source"] == {"alarabia": 25, "skynews": 18, "alquds": 37, "alhayat": 41}
    assert killed["consensus"] == 31  # median of 18, 25, 37, 41, rounded half up
    if not redeliver:
        # One report founded it.  (A redelivered report brings a second note
        # with the state of its time, which may already count later reports.)
        assert [e["report_count"] for e in strike].count(1) == 1


def test_event_reports_go_to_the_partition_of_their_merge_key() -> None:
    from marsad.deduplicator.banded import event_partition
    from marsad.deduplicator.events import merge_key

    core = BandedDeduplicator(DedupConfig(), 4, clock=lambda: 1.6e9)
    reports = strike_reports()["sk-246"]
    outs = core.route("sk-246", fold(INIESTA_SK), source="skynews",
                      published_at="2018-03-13T09:00:00+00:00", payload={}, reports=reports)
    events = [o for o in outs if isinstance(o, Send) and o.topic == EVENTS]
    keys = [merge_key(r) for r in reports]
    assert None not in keys
    wanted: dict[int, list[int]] = {}
    for n, key in enumerate(keys):
        wanted.setdefault(event_partition(key, 4), []).append(n)  # type: ignore[arg-type]
    # One message per partition holding a report's key, carrying exactly those reports.
    assert {o.partition: [r["n"] for r in o.value["r"]] for o in events} == wanted
    for o in events:
        assert [EventReport.from_message(r) for r in o.value["r"]] == [
            reports[r["n"]] for r in o.value["r"]]


def test_an_article_is_decided_only_when_its_merged_events_are_back() -> None:
    core = BandedDeduplicator(DedupConfig(), 1, clock=lambda: 1.6e9)
    (report,) = strike_reports()["al-589"]
    outs = core.route("al-589", fold(INIESTA_AL), source="alarabia",
                      published_at="2018-03-13T08:00:00+00:00", payload={}, reports=[report])
    (band,) = [o for o in outs if isinstance(o, Send) and o.topic == BANDS]
    (event,) = [o for o in outs if isinstance(o, Send) and o.topic == EVENTS]
    (cands,) = core.band(band.value, 0)
    assert isinstance(cands, Send)
    assert core.note(cands.value) == []  # the merged events are still out
    (reply, publish) = core.merge(event.value, 0)
    assert isinstance(reply, Send)
    # The event partition publishes the merged event it founded.
    assert isinstance(publish, Publish)
    assert (publish.value["revision"], publish.value["sources"]) == (0, ["alarabia"])
    (final,) = core.note(reply.value)
    assert isinstance(final, Final) and final.kind == "unique"
    assert [e["sources"] for e in final.payload["merged"]] == [["alarabia"]]
    assert not [k for k in core.articles if k.startswith("v:")]


def test_an_event_partition_closes_the_events_its_window_leaves_behind() -> None:
    core = BandedDeduplicator(DedupConfig(), 2, clock=lambda: 1.6e9)

    def merge(aid: str, published: str, reports: list[EventReport]) -> list[Out]:
        outs = core.route(aid, fold(INIESTA_AL), source="alarabia", published_at=published,
                          payload={}, reports=reports)
        (event,) = [o for o in outs if isinstance(o, Send) and o.topic == EVENTS]
        return core.merge(event.value, event.partition)

    (strike,) = strike_reports()["al-589"]
    (_, founded) = merge("al-589", "2018-03-13T08:00:00+00:00", [strike])
    assert isinstance(founded, Publish) and founded.value["closed"] is False
    # A week later another strike at the same place (same merge key, so the same
    # event partition) moves that partition's window past the first one.
    later = replace(strike, article_id="sk-999", published_at="2018-03-20T08:00:00+00:00",
                    date="2018-03-20")
    publishes = [o for o in merge("sk-999", "2018-03-20T08:00:00+00:00", [later])
                 if isinstance(o, Publish)]
    assert [p.value["closed"] for p in publishes] == [False, True]
    (closed,) = [p for p in publishes if p.value["closed"]]
    assert closed.key == founded.key
    assert closed.value["revision"] == founded.value["revision"] + 1
    assert {k: v for k, v in closed.value.items() if k not in ("revision", "closed")} == {
        k: v for k, v in founded.value.items() if k not in ("revision", "closed")}


@settings(max_examples=40, deadline=None)
@given(partitions=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       redeliver=st.sampled_from([0.0, 0.3]))
def test_merged_events_are_published_with_revisions_that_never_go_back(
    partitions: int, seed: int, redeliver: float
) -> None:
    published: list[Publish] = []
    finals, _ = simulate(partitions, random.Random(seed), redeliver, reports=strike_reports(),
                         publications=published)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for p in published:
        assert p.key == p.value["event_id"]
        by_key.setdefault(p.key, []).append(p.value)
    # The Gaza strike (four articles) and the Deir ez-Zor one (sk-246).
    assert len(by_key) == 2
    for records in by_key.values():
        revisions = [r["revision"] for r in records]
        # Every revision, in order; a redelivered report repeats the latest one.
        assert revisions == sorted(revisions)
        assert sorted(set(revisions)) == list(range(revisions[-1] + 1))
        for r in records:
            assert r == next(x for x in records if x["revision"] == r["revision"])
    strike = max(by_key.values(), key=len)[-1]
    assert strike["report_count"] == len(STRIKE) and strike["revision"] == len(STRIKE) - 1
    assert sorted(strike["sources"]) == sorted(s for a, _, s, _, _ in ARTICLES if a in STRIKE)
    killed = strike["casualties"]["killed"]
    assert killed["consensus"] == 31  # median of 18, 25, 37 and 41
    # What the articles carry agrees with the latest record.
    carried = [e for f in finals if f.kind != "update" for e in f.payload["merged"]
               if e["event_id"] == strike["event_id"]]
    assert max(carried, key=lambda e: e["report_count"])["casualties"] == strike["casualties"]


def test_one_partition_publishes_what_the_single_process_merger_gives() -> None:
    published: list[Publish] = []
    simulate(1, random.Random(3), reports=strike_reports(), publications=published)
    merger = EventMerger(clock=lambda: 1.6e9)
    expected = [rec for reports in strike_reports().values()
                for rec in merged_records([m for m in map(merger.add, reports) if m])]
    assert [p.value for p in published] == expected


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 2**32 - 1), min_size=128, max_size=128),
    exact=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    partitions=st.integers(1, 9),
    bands=st.sampled_from([42, 32, 16]),
)
def test_keys_in_partition_are_the_filtered_bucket_keys(
    values: list[int], exact: str, partitions: int, bands: int,
) -> None:
    config = DedupConfig(bands=bands)
    sig = np.array(values, dtype=np.uint32)
    every = [*mh.band_key_strings(sig, bands, config.seed), "x" + exact]
    for p in range(partitions):
        assert keys_in_partition(sig, exact, config, partitions, p) == [
            k for k in every if band_partition(k, partitions) == p
        ]


def test_an_article_waits_for_each_band_and_event_partition_until_it_replies() -> None:
    # What a stopping worker lists: the partitions an undecided article has not heard from.
    core = BandedDeduplicator(DedupConfig(), 4)
    aid, _, source, hour, text = ARTICLES[0]
    outs = core.route(aid, fold(text), source=source,
                      published_at=f"2018-03-13T{hour:02d}:00:00+00:00", payload={"id": aid},
                      reports=strike_reports()[aid])
    sends = [o for o in outs if isinstance(o, Send)]
    bands = sorted(o.partition for o in sends if o.topic == BANDS)
    events = sorted(o.partition for o in sends if o.topic == EVENTS)
    assert bands and events
    assert core.undecided() == {aid: (bands, events)}
    replies = [r for o in sends for r in deliver(core, o.topic, o.key, o.value, o.partition or 0)
               if isinstance(r, Send) and r.topic == NOTES]
    for reply in replies[:-1]:
        core.note(reply.value)
    assert len(core.undecided()[aid][0]) + len(core.undecided()[aid][1]) == 1
    core.note(replies[-1].value)
    assert core.undecided() == {}
