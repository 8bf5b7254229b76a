"""Near copies on other partitions, two deduplicator workers: every copy still meets its original.

Four partitions, a normaliser, an extractor and TWO deduplicator workers
(``marsad worker deduplicator`` twice, one consumer group): no process sees
every article.  Originals go first; then for each an exact copy and an
edited near copy from other outlets, with ids chosen so that each copy's
partition differs from its original's.  Each copy must come out once as a
duplicate in its original's story, each original once as a new story, and
the story's event again (next revision) for each source that joined.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import urllib.request
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import orjson
import pytest

from marsad.deduplicator.agent import partitioner
from marsad.settings import Settings
from tests.conftest import ANT
from tests.integration.conftest import consume, produce, start_workers

pytestmark = pytest.mark.integration

PARTITIONS = 4
FINALS = ["events.enriched", "articles.duplicates", "articles.deadletter"]


def near_copy(article: dict, new_id: str) -> dict:
    """Another outlet's re-edit: the opening words dropped, a closing line added."""
    words = article["text"].split()
    return {**article, "id": new_id, "source": "other-outlet",
            "text": " ".join(words[15:]) + " وأفادت وكالات الأنباء بذلك في وقت لاحق."}


def id_elsewhere(base: str, avoid: int) -> str:
    """An id derived from ``base`` whose partition is not ``avoid``."""
    part = partitioner(PARTITIONS)
    for n in itertools.count():
        candidate = f"{base}-{n}"
        if part(candidate) != avoid:
            return candidate
    raise AssertionError("unreachable")


def metric(port: int, name: str, stage: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(f'{name}{{stage="{stage}"}}'):
                return float(line.split()[-1])
    return 0.0


def test_copies_on_other_partitions_join_their_original_story(
    broker: str, tmp_path: Path
) -> None:
    prefix = f"m{uuid.uuid4().hex[:8]}."
    settings = Settings(bootstrap_servers=broker, topic_prefix=prefix, partitions=PARTITIONS)
    env = {"MARSAD_PARTITIONS": str(PARTITIONS)}
    originals: list[dict] = []
    openings: set[str] = set()
    with gzip.open(ANT, "rb") as f:
        # A few hours of news: the deduplicator remembers a window of days
        # behind the newest article it has seen.
        for line in itertools.islice(f, 20_000, 20_300):
            article = orjson.loads(line)
            text = article.get("text") or ""
            if len(text) > 800 and text[:80] not in openings and len(originals) < 6:
                openings.add(text[:80])
                originals.append(article)
    part = partitioner(PARTITIONS)
    exact = {a["id"]: {**a, "id": id_elsewhere(a["id"] + "-again", part(a["id"])),
                       "source": "third-outlet"} for a in originals}
    edited = {a["id"]: near_copy(a, id_elsewhere(a["id"] + "-edit", part(a["id"])))
              for a in originals}
    with ExitStack() as stack:
        ports = start_workers(stack, broker, prefix,
                              ("normaliser", "extractor", "deduplicator", "deduplicator"),
                              log_dir=tmp_path, env=env)
        asyncio.run(produce(settings, [(a["id"].encode(), orjson.dumps(a)) for a in originals]))
        first = asyncio.run(consume(settings, FINALS, expected=len(originals), timeout=240))
        copies = [*exact.values(), *edited.values()]
        asyncio.run(produce(settings, [(c["id"].encode(), orjson.dumps(c)) for c in copies]))
        # Per original: its event, two duplicate notices and two re-publications.
        out = asyncio.run(consume(settings, FINALS, expected=5 * len(originals), timeout=180))
        seen_by = [metric(p, "marsad_messages_in_total", "dedup-bands") for p in ports[2:]]
    logs = "\n".join(p.read_text()[-1500:] for p in tmp_path.glob("*.log"))
    assert len(first) == len(originals), logs
    assert all(o["topic"] == "events.enriched" for o in first), first
    # Both deduplicator workers had band partitions to serve.
    assert all(n > 0 for n in seen_by), seen_by
    assert not [o for o in out if o["topic"] == "articles.deadletter"], logs
    enriched = [o for o in out if o["topic"] == "events.enriched"]
    dups = [o for o in out if o["topic"] == "articles.duplicates"]
    # Every copy reported once, as a duplicate in its original's story.
    assert Counter(o["key"] for o in dups) == Counter(c["id"] for c in copies), logs
    cluster = {o["key"]: o["value"]["story"]["cluster_id"] for o in first}
    for orig_id in cluster:
        for copy in (exact[orig_id], edited[orig_id]):
            notice = next(o["value"] for o in dups if o["key"] == copy["id"])
            assert notice["story"]["cluster_id"] == cluster[orig_id]
        assert next(o["value"] for o in dups if o["key"] == exact[orig_id]["id"])[
            "dedup"]["method"] == "exact"
    # Each original's event: revision 0 once, then once per new source.
    for orig_id in cluster:
        versions = sorted(o["value"]["story"]["revision"] for o in enriched
                          if o["key"] == orig_id)
        assert versions == [0, 1, 2], (orig_id, versions)
        latest = max((o["value"] for o in enriched if o["key"] == orig_id),
                     key=lambda v: v["story"]["revision"])
        assert latest["story"]["article_count"] == 3
        assert set(latest["story"]["sources"]) == {
            exact[orig_id]["source"], edited[orig_id]["source"],
            next(a["source"] for a in originals if a["id"] == orig_id)}
