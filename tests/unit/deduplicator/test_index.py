"""LSH buckets kept out of the persistent store and rebuilt after a restart."""

from __future__ import annotations

import random

import pytest

from marsad.deduplicator.core import DedupConfig, Deduplicator
from marsad.deduplicator.corpus import load_fold, read_articles
from tests.conftest import ANT

fold = load_fold()


def stream() -> list[tuple[str, str, str | None, str | None]]:
    """800 real articles, with re-edited copies of some mixed in later."""
    rnd = random.Random(3)
    arts = list(read_articles(ANT, limit=800))
    out = [(a["id"], fold(a.get("text") or ""), a.get("source"), a.get("published_at"))
           for a in arts]
    for i in rnd.sample(range(len(arts)), 60):
        aid, text, _, published = out[i]
        words = text.split()
        cut = len(words) // 10
        copy = " ".join(words[cut:]) + " المصدر وكالات"  # first lines dropped, a byline added
        out.insert(min(len(out), i + rnd.randint(5, 200)), (aid + "-copy", copy, "other",
                                                            published))
    return out


def decide_all(dedup: Deduplicator, items) -> list[tuple]:
    return [
        (d.kind, d.duplicate_of, d.cluster_id, d.method)
        for d in (dedup.decide(a, t, source=s, published_at=p) for a, t, s, p in items)
    ]


@pytest.fixture(scope="module")
def items() -> list:
    return stream()


def test_a_separate_index_gives_the_same_decisions(items: list) -> None:
    cfg = DedupConfig()
    one_store = decide_all(Deduplicator(cfg, {}), items)
    store: dict = {}
    split = decide_all(Deduplicator(cfg, store, index={}), items)
    assert split == one_store
    assert sum(1 for k in one_store if k[0] == "duplicate") >= 30
    assert not any(k.startswith("b:") for k in store)  # buckets stayed out of the store


def test_rebuilt_index_recognises_articles_seen_before_a_restart(items: list) -> None:
    cfg = DedupConfig()
    half = len(items) // 2
    reference = decide_all(Deduplicator(cfg, {}), items)
    store: dict = {}
    decide_all(Deduplicator(cfg, store, index={}), items[:half])
    restarted = Deduplicator(cfg, store, index={})  # the in-memory index died with the process
    assert restarted.rebuild_index() > 0
    assert decide_all(restarted, items[half:]) == reference[half:]
