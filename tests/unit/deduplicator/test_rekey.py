"""Re-keying the band-keyed state from P to P' partitions (``deduplicator/rekey.py``).

The simulator of ``test_banded`` is played here over stores that keep, as
Faust's changelogs do, each write in the partition of the message being
handled.  The first half of the stream runs with ``P`` partitions; its
changelogs are re-keyed to ``P'``; a deduplicator with ``P'`` partitions
restored from them takes the second half: every copy must join its
original's story, and every report its merged event.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.deduplicator.banded import (
    BandedDeduplicator,
    Final,
    Send,
    band_partition,
    event_partition,
    parse_signature_key,
    signature_key,
)
from marsad.deduplicator.core import DedupConfig
from marsad.deduplicator.events import EventMerger, record_merge_key, reports_from_article
from marsad.deduplicator.rekey import (
    RekeyError,
    State,
    band_keys_of,
    changelog_topic,
    count,
    from_single,
    latest,
    rekey_articles,
    rekey_bands,
    rekey_events,
)
from tests.unit.deduplicator.test_banded import ARTICLES, deliver, fold, part_of, strike_reports
from tests.unit.deduplicator.test_events import REPORTS, article

CONFIG = DedupConfig()
# The first half: one article of each story (and the strike's first reports).
FIRST = {"al-589", "seed"}


class ChangelogStore(MutableMapping[str, Any]):
    """A Faust table in one process: one dict, each write logged in the current partition."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.log: list[tuple[int, str, Any]] = []
        self.current = 0

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.log.append((self.current, key, value))

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.log.append((self.current, key, None))

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def restored(state: State) -> ChangelogStore:
    """A table restored from re-keyed changelogs (every partition on one worker)."""
    store = ChangelogStore()
    for part in sorted(state):
        store.current = part
        for key, value in state[part].items():
            store[key] = value
    return store


def play(core: BandedDeduplicator, stores: list[ChangelogStore], ids: set[str],
         rng: random.Random) -> dict[str, Final]:
    """The ``ids`` of ARTICLES through ``core``, queues moving in random order; their finals."""
    partition_of = part_of(core.partitions)
    reports = strike_reports()
    queues: dict[tuple[str, int], deque[tuple[str, Any]]] = {}

    def push(topic: str, key: str, value: Any, partition: int | None = None) -> None:
        where = partition_of(key) if partition is None else partition
        queues.setdefault((topic, where), deque()).append((key, value))

    for aid, _, source, hour, text in ARTICLES:
        if aid in ids:
            push("extracted", aid, (fold(text), source, f"2018-03-13T{hour:02d}:00:00+00:00"))
    finals: dict[str, Final] = {}
    while any(queues.values()):
        topic, partition = rng.choice(sorted(k for k, q in queues.items() if q))
        key, value = queues[(topic, partition)].popleft()
        for store in stores:
            store.current = partition
        outs = deliver(core, topic, key, value, partition,
                       reports[key] if topic == "extracted" else None)
        for out in outs:
            if isinstance(out, Send):
                push(out.topic, out.key, out.value, out.partition)
            elif isinstance(out, Final) and out.kind != "update":
                finals[out.decision.article_id] = out
    return finals


def first_half(partitions: int, seed: int) -> tuple[dict[str, Final], list[State]]:
    """The first half with ``partitions``: its finals and each table's live changelog records."""
    stores = [ChangelogStore(), ChangelogStore(), ChangelogStore()]
    core = BandedDeduplicator(CONFIG, partitions, stores[0], stores[1], {}, stores[2],
                              clock=lambda: 1.6e9)
    finals = play(core, stores, FIRST, random.Random(seed))
    return finals, [latest(store.log) for store in stores]


def rekeyed(old: list[State], before: int, after: int) -> list[State]:
    return [rekey_articles(old[0], after, part_of(after)),
            rekey_bands(old[1], after, before, band_keys_of(CONFIG)),
            rekey_events(old[2], after)]


def _plain(key: str) -> str:
    # A signature's key names the partition that keeps it; the id is what must survive.
    return "s:" + parse_signature_key(key)[1] if key.startswith("s:") else key


def live(state: State) -> dict[str, Any]:
    """The records apart from the window bookkeeping, all partitions together."""
    return {_plain(k): v for part in state.values() for k, v in part.items()
            if not k.startswith(("m:", "w:"))}


@settings(max_examples=15, deadline=None)
@given(partitions=st.integers(2, 5), seed=st.integers(0, 2**32 - 1))
def test_each_band_partitions_changelog_holds_every_signature_it_reads(
    partitions: int, seed: int,
) -> None:
    # One worker holding every partition shares one in-memory table; a worker
    # that takes a single partition over restores that partition's changelog
    # only, so each partition must have written the signatures of its buckets.
    _, old = first_half(partitions, seed)
    bands = old[1]
    keys_of = band_keys_of(CONFIG)
    values = {parse_signature_key(k)[1]: v for part in bands.values()
              for k, v in part.items() if k.startswith("s:")}
    assert set(values) == FIRST
    for aid, value in values.items():
        for p in {band_partition(k, partitions) for k in keys_of(value)}:
            assert signature_key(p, aid) in bands.get(p, {}), (aid, p)


@settings(max_examples=25, deadline=None)
@given(before=st.integers(2, 5), after=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_every_record_lands_where_a_worker_with_the_new_count_looks_for_it(
    before: int, after: int, seed: int,
) -> None:
    _, old = first_half(before, seed)
    articles, bands, events = rekeyed(old, before, after)
    where = part_of(after)
    keys_of = band_keys_of(CONFIG)
    for part, records in articles.items():
        for key, value in records.items():
            if key.startswith(("a:", "p:", "v:")):
                assert where(key[2:]) == part, key
            elif key.startswith("c:"):
                assert where(value["ids"][0]) == part, key
    signatures = {_plain(k) for part in bands.values() for k in part if k.startswith("s:")}
    for key in signatures:
        value = live(old[1])[key]
        holders = {p for p, records in bands.items() if signature_key(p, key[2:]) in records}
        assert all(parse_signature_key(k)[0] == p
                   for p, records in bands.items() for k in records if k.startswith("s:"))
        assert holders == {band_partition(k, after) for k in keys_of(value)}, key
    for part, records in events.items():
        for key, value in records.items():
            if key.startswith("k:"):
                assert event_partition(key[2:], after) == part
            elif key.startswith("e:"):
                assert event_partition(record_merge_key(value), after) == part
    # Nothing lost, nothing added, nothing in two places (signatures apart).
    for old_state, new_state in zip(old, (articles, bands, events), strict=True):
        assert live(new_state) == live(old_state)
    for state in (articles, events):
        assert count(state) - sum(1 for p in state.values() for k in p
                                  if k.startswith(("m:", "w:"))) == len(live(state))
    # The window of each partition lists each of its ids once, under hours it names.
    for state, prefix in ((articles, "a:"), (bands, "s:"), (events, "e:")):
        for part, records in state.items():
            ids = sorted(_plain(k)[2:] for k in records if k.startswith(prefix))
            listed = sorted(i for k, v in records.items() if k.startswith("w:") for i in v)
            assert listed == ids
            hours = sorted(int(k.rsplit(":", 1)[1]) for k in records if k.startswith("w:"))
            assert records[f"m:{part}"] == {"top": max(hours), "hours": hours}


@settings(max_examples=20, deadline=None)
@given(before=st.integers(2, 4), after=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_copies_after_the_rekeying_join_the_stories_founded_before(
    before: int, after: int, seed: int,
) -> None:
    finals, old = first_half(before, seed)
    assert {f.kind for f in finals.values()} == {"unique"}
    stores = [restored(state) for state in rekeyed(old, before, after)]
    core = BandedDeduplicator(CONFIG, after, stores[0], stores[1], {}, stores[2],
                              clock=lambda: 1.6e9)
    assert core.rebuild_index() == len(FIRST)
    later = play(core, stores, {a[0] for a in ARTICLES} - FIRST, random.Random(seed + 1))
    founder = {group: finals[aid].decision.cluster_id for aid, group, *_ in ARTICLES
               if aid in FIRST}
    for aid, group, *_ in ARTICLES:
        if aid not in FIRST:
            assert later[aid].kind == "duplicate", aid
            assert later[aid].decision.cluster_id == founder[group], aid
    # The strike founded before the change is joined by the reports after it.
    before_events = {e["event_id"] for f in finals.values() for e in f.payload["merged"]}
    strike = [e["report_count"] for f in later.values() for e in f.payload["merged"]
              if e["event_id"] in before_events]
    assert sorted(strike) == [3, 4]


def test_an_article_still_waiting_for_replies_is_refused() -> None:
    old = {0: {"a:x1": {"t": 1.6e9, "o": "bbc", "exp": [0, 1], "rep": {}, "st": "wait"}}}
    with pytest.raises(RekeyError, match="still wait"):
        rekey_articles(old, 4, part_of(4))


@pytest.mark.parametrize(("table", "rekey"), [
    ("dedup-articles", lambda old: rekey_articles(old, 4, part_of(4))),
    ("merged-events", lambda old: rekey_events(old, 4)),
])
def test_an_unknown_record_is_refused_not_dropped(table: str, rekey: Any) -> None:
    with pytest.raises(RekeyError, match=f"{table}: a record with an unknown key 'z:1'"):
        rekey({0: {"z:1": {}}})


def test_signatures_computed_with_other_settings_are_refused() -> None:
    # With many partitions a signature sits in few of them: keys of another
    # hash family lead elsewhere.
    _, old = first_half(64, 7)
    rekey_bands(old[1], 4, 64, band_keys_of(CONFIG))
    with pytest.raises(RekeyError, match="none of its band keys lead"):
        rekey_bands(old[1], 4, 64, band_keys_of(DedupConfig(seed=2)))


@pytest.mark.parametrize(("records", "expected"), [
    ([(0, "a:x", {"t": 1}), (0, "a:x", {"t": 2})], {0: {"a:x": {"t": 2}}}),
    ([(0, "a:x", {"t": 1}), (0, "a:x", None)], {0: {}}),
    ([(0, "a:x", {"t": 1}), (0, "a:x", None), (0, "a:x", {"t": 3})], {0: {"a:x": {"t": 3}}}),
    ([(0, "s:x", {"t": 1}), (1, "s:x", {"t": 1}), (1, "s:x", None)],
     {0: {"s:x": {"t": 1}}, 1: {}}),
])
def test_latest_keeps_the_last_value_per_partition_and_honours_deletions(
    records: list[tuple[int, str, Any]], expected: State,
) -> None:
    assert latest(records) == expected


def test_changelog_topic_is_the_one_faust_names() -> None:
    assert changelog_topic("marsad", "deduplicator", "dedup-bands") == (
        "marsad-deduplicator-dedup-bands-changelog")



def test_the_command_takes_the_old_and_new_app_and_the_partition_count() -> None:
    from marsad.cli import build_parser
    from marsad.deduplicator.commands import cmd_rekey

    args = build_parser().parse_args(["dedup-rekey", "--from-app", "marsad", "--to-app",
                                      "marsad-p4", "--partitions", "4"])
    assert (args.func, args.from_app, args.to_app, args.partitions, args.group,
            args.to_prefix, args.force) == (cmd_rekey, "marsad", "marsad-p4", 4,
                                            "deduplicator", None, False)



def test_closings_not_yet_known_published_follow_their_events() -> None:
    # Partition 1 of 2 evicted the 14 May strike and stopped before its
    # closing was surely published: after re-keying to 4 partitions the
    # closing sits in the outbox of the strike's new partition, and that
    # partition's next worker publishes it.
    store: dict[str, Any] = {}
    merger = EventMerger(store, window_days=2, closing_grace=3)
    first = merger.add(reports_from_article(article(*REPORTS[0]))[0], partition=1)
    (later,) = reports_from_article(article("a9", "BBC", "2018-05-20T10:00:00+00:00", 3,
                                            date="2018-05-20"))
    merger.add(later, partition=1)
    assert first is not None and "o:1" in store
    new = rekey_events({1: store}, 4)
    target = event_partition(record_merge_key(store["o:1"][0][1]), 4)
    assert [k for part in new.values() for k in part if k.startswith("o:")] == [f"o:{target}"]
    restored = EventMerger(dict(new[target]), window_days=2, closing_grace=3)
    assert [e.event_id for e in restored.take_closed(target)] == [first.event_id]


def single_first_half() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, str]]:
    """The first half through the one-partition deduplicator (its three tables, its clusters)."""
    from marsad.deduplicator.core import Deduplicator
    from marsad.deduplicator.stage import DeduplicatorStage

    stage = DeduplicatorStage(None, CONFIG)  # type: ignore[arg-type]  # no codec: no decoding
    reports = strike_reports()
    clusters = {}
    for aid, _, source, hour, text in ARTICLES:
        if aid in FIRST:
            published = f"2018-03-13T{hour:02d}:00:00+00:00"
            decision = stage.core.decide(aid, fold(text), source=source, published_at=published)
            stage.story_records(decision, {"meta": {"id": aid, "published_at": published},
                                           "event": {}, "merged": []})
            for report in reports[aid]:
                stage.merger.add(report)
            stage.merger.take_closed()
            clusters[aid] = decision.cluster_id
    assert isinstance(stage.core, Deduplicator)
    return (dict(stage.core.store), dict(stage.stories), dict(stage.merger.store), clusters)


@settings(max_examples=10, deadline=None)
@given(after=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_a_one_partition_state_carries_over_to_the_band_keyed_tables(after: int, seed: int) -> None:
    # One machine decided the first half; after the move to ``after``
    # partitions the copies join the stories founded before, under the same
    # cluster ids, and the strike's later reports join its merged event.
    state, stories, events, founded = single_first_half()
    articles, bands = from_single(state, stories)
    new = [rekey_articles(articles, after, part_of(after)),
           rekey_bands(bands, after, 1, band_keys_of(CONFIG)),
           rekey_events({0: events}, after)]
    stores = [restored(part) for part in new]
    core = BandedDeduplicator(CONFIG, after, stores[0], stores[1], {}, stores[2],
                              clock=lambda: 1.6e9)
    assert core.rebuild_index() == len(FIRST)
    later = play(core, stores, {a[0] for a in ARTICLES} - FIRST, random.Random(seed))
    founder = {group: founded[aid] for aid, group, *_ in ARTICLES if aid in FIRST}
    founder_source = {group: source for aid, group, source, *_ in ARTICLES if aid in FIRST}
    for aid, group, *_ in ARTICLES:
        if aid not in FIRST:
            assert later[aid].kind == "duplicate", aid
            assert later[aid].decision.cluster_id == founder[group], aid
            # The story itself came over, not only its id: the founder's outlet is in it.
            assert founder_source[group] in later[aid].decision.sources, aid
    before = {k[2:] for k in events if k.startswith("e:")}
    strike = [e["report_count"] for f in later.values() for e in f.payload["merged"]
              if e["event_id"] in before]
    assert sorted(strike) == [3, 4]


def test_exact_copies_of_one_machine_take_a_signature_of_the_same_words() -> None:
    state = {
        "a:x1": {"t": 1.6e9, "h": 444444, "x": "e1", "g": "AAAA", "o": "bbc", "c": "c1",
                 "d": None, "s": None, "m": None},
        "a:x2": {"t": 1.6e9 + 60, "h": 444444, "x": "e1", "g": None, "o": "cnn", "c": "c1",
                 "d": "x1", "s": 1.0, "m": "exact"},
        "c:c1": {"r": "x1", "n": 2, "src": ["bbc", "cnn"], "t": 1.6e9 + 60},
        "x:e1": "x2",
    }
    stories = {"f:c1": {"rev": 1, "pl": "payload"}}
    (articles,), (bands,) = (a.values() for a in from_single(state, stories))
    assert articles["a:x1"] == {"t": 1.6e9, "o": "bbc", "c": "c1", "r": "x1", "st": "root",
                                "pl": "payload"}
    assert articles["a:x2"] == {"t": 1.6e9 + 60, "o": "cnn", "c": "c1", "r": "x1", "st": "dup",
                                "d": "x1"}
    assert articles["c:c1"] == {"n": 2, "src": ["bbc", "cnn"], "ids": ["x1", "x2"], "rev": 1}
    assert bands["s:x1"]["g"] == bands["s:x2"]["g"] == "AAAA"
    assert articles["w:0:444444"] == ["x1", "x2"]


def test_a_story_whose_root_left_the_window_gets_its_oldest_member_as_root() -> None:
    state = {
        "a:x2": {"t": 1.6e9 + 60, "h": 444444, "x": "e2", "g": "BBBB", "o": "cnn", "c": "c1",
                 "d": "x1", "s": 0.9, "m": "minhash"},
        "a:x3": {"t": 1.6e9 + 90, "h": 444444, "x": "e3", "g": "CCCC", "o": "afp", "c": "c1",
                 "d": "x1", "s": 0.9, "m": "minhash"},
        "c:c1": {"r": "x1", "n": 3, "src": ["bbc", "cnn", "afp"], "t": 1.6e9 + 90},
    }
    (articles,), _ = (a.values() for a in from_single(state, {}))
    assert articles["a:x2"]["st"] == "root" and "pl" not in articles["a:x2"]
    assert articles["a:x3"] == {"t": 1.6e9 + 90, "o": "afp", "c": "c1", "r": "x2", "st": "dup",
                                "d": "x1"}
    assert articles["c:c1"]["ids"] == ["x2", "x3"] and articles["c:c1"]["n"] == 3


def test_an_unknown_one_partition_record_is_refused() -> None:
    with pytest.raises(RekeyError, match="dedup-state: a record with an unknown key 'z:1'"):
        from_single({"z:1": {}}, {})
