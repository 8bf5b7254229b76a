"""Stop the deduplicator halfway through a stream and start it again: it still knows what it saw.

Its article records come back from the table's changelog topic; its LSH
buckets, kept in memory, are rebuilt from them. So exact copies and edited
near copies of articles published before the restart are still recognised.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import time
import uuid
from pathlib import Path

import orjson
import pytest

from tests.conftest import ANT, free_port
from tests.integration.conftest import consume, produce, running_worker, settings_for

pytestmark = pytest.mark.integration


def near_copy(article: dict) -> dict:
    """Another outlet's re-edit: the opening words dropped, a closing line added, a new id."""
    words = article["text"].split()
    return {**article, "id": article["id"] + "-edit", "source": "other-outlet",
            "text": " ".join(words[15:]) + " وأفادت وكالات الأنباء بذلك في وقت لاحق."}


def test_duplicates_of_articles_seen_before_a_restart(broker: str, tmp_path: Path) -> None:
    prefix = f"r{uuid.uuid4().hex[:8]}."
    settings = settings_for(broker, prefix)
    # Consecutive ANT articles (a few hours of news): the deduplicator remembers a
    # window of days behind the newest article it has seen.
    firsts = []
    with gzip.open(ANT, "rb") as f:
        for line in itertools.islice(f, 20_000, 20_200):
            article = orjson.loads(line)
            if len(article.get("text") or "") > 800 and len(firsts) < 12:
                firsts.append(article)
    finals = ["events.enriched", "articles.duplicates", "articles.deadletter"]
    port = free_port()
    with running_worker(broker, prefix, "all", port=port, log_path=tmp_path / "w1.log"):
        asyncio.run(produce(settings, [(None, orjson.dumps(a)) for a in firsts]))
        before = asyncio.run(consume(settings, finals, expected=len(firsts)))
    assert len(before) == len(firsts)
    exact = [{**a, "id": a["id"] + "-again", "source": "third-outlet"} for a in firsts[:4]]
    edited = [near_copy(a) for a in firsts[4:8] if len(a["text"]) > 600]
    with running_worker(broker, prefix, "all", port=port, log_path=tmp_path / "w2.log") as _:
        asyncio.run(produce(settings, [(None, orjson.dumps(a)) for a in exact + edited]))
        # Each copy's notice, and its story's event again when it brought a new source.
        wanted = {c["id"] for c in exact + edited}
        deadline = time.monotonic() + 180
        while True:
            after = asyncio.run(consume(settings, finals, expected=10**6, timeout=5))
            keys = {o["key"] for o in after if o["topic"] == "articles.duplicates"}
            if wanted <= keys or time.monotonic() > deadline:
                break
    log = (tmp_path / "w2.log").read_text()
    assert "LSH index rebuilt from" in log
    dups = {o["key"]: o["value"] for o in after if o["topic"] == "articles.duplicates"}
    # The story each original joined before the restart (two of the originals
    # may already be copies of each other: real outlets file one story twice).
    cluster_of = {o["key"]: o["value"]["story"]["cluster_id"] for o in before}
    for copy in exact:
        assert dups[copy["id"]]["story"]["cluster_id"] == cluster_of[
            copy["id"].removesuffix("-again")]
        assert dups[copy["id"]]["dedup"]["method"] == "exact"
    assert edited
    for copy in edited:
        assert copy["id"] in dups, (copy["id"], log[-2000:])
        assert dups[copy["id"]]["story"]["cluster_id"] == cluster_of[
            copy["id"].removesuffix("-edit")]
        assert dups[copy["id"]]["dedup"]["method"] == "minhash"
    # Stories joined by a new source after the restart were published again,
    # with the revision the notice names.
    for copy in exact + edited:
        notice = dups[copy["id"]]
        again = [o["value"] for o in after if o["topic"] == "events.enriched"
                 and o["key"] == notice["dedup"]["representative"]
                 and o["value"]["story"]["revision"] == notice["story"]["revision"]]
        assert notice["story"]["revision"] >= 1 and len(again) == 1, notice["story"]
