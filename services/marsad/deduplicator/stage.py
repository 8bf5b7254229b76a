"""The deduplicator stage: ``articles.extracted`` -> ``events.enriched`` or ``articles.duplicates``.

Asks the pure core (:mod:`marsad.deduplicator.core`) whether the article's
matching text was seen before, exactly or nearly, and publishes either the
enriched event of a new story or a duplicate notice pointing at the article
it repeats.  The core keeps its state in the mapping it is given: a dict in
batch mode, Faust tables backed by changelog topics in the stream.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from marsad.codec import Codec
from marsad.deduplicator.core import DedupConfig, Deduplicator
from marsad.deduplicator.events import EventMerger, reports_from_article
from marsad.stage import Incoming, Outgoing, Stage
from marsad.topics import DUPLICATES, ENRICHED, EXTRACTED

_META = ("id", "source", "url", "title", "published_at", "published_at_error")


class DeduplicatorStage(Stage):
    """One decision per article: a new story, or a duplicate of one seen before.

    Args:
        codec: Codec with a validator for ``articles.extracted``.
        config: Thresholds of the near-duplicate search.
        store: Where the core remembers articles (must survive restarts in the stream).
        event_store: Where merged events are remembered (a second table in the stream).
        index: Where the LSH buckets live when not in ``store``: in the stream an
            in-memory dict rebuilt after recovery (see ``Deduplicator.rebuild_index``).
        deadletter_original_bytes: How many bytes of a bad message a dead letter keeps.
    """

    name = "deduplicator"
    source = EXTRACTED

    def __init__(
        self,
        codec: Codec,
        config: DedupConfig,
        store: MutableMapping[str, Any] | None = None,
        event_store: MutableMapping[str, Any] | None = None,
        *,
        index: MutableMapping[str, Any] | None = None,
        deadletter_original_bytes: int = 262_144,
    ) -> None:
        super().__init__(codec, deadletter_original_bytes=deadletter_original_bytes)
        self.core = Deduplicator(config, {} if store is None else store, index=index)
        self.merger = EventMerger({} if event_store is None else event_store)

    def process(self, msg: Incoming) -> list[Outgoing]:
        """Decide whether one extracted article is new."""
        article = self.codec.decode(EXTRACTED, msg.value)
        norm = article["normalisation"]
        decision = self.core.decide(
            article["id"],
            norm["matching"],
            source=article["source"],
            published_at=article["published_at"],
        )
        meta: dict[str, Any] = {"schema_version": 1, **{k: article[k] for k in _META}}
        merged = self.merge_events(article)
        story = {
            "cluster_id": decision.cluster_id,
            "article_count": decision.cluster_size,
            "sources": list(decision.sources),
        }
        if decision.kind == "duplicate" and decision.duplicate_of is not None:
            notice = {
                **meta,
                "duplicate_of": decision.duplicate_of,
                "story": story,
                "dedup": decision.to_json(),
                "merged_events": merged,
            }
            return [Outgoing(DUPLICATES, article["id"], notice)]
        event = {
            **meta,
            "text": article["text"],
            "display_text": norm["display"],
            "title_display": article["title_display"],
            "entities": article["entities"],
            "facts": article["facts"],
            "story": story,
            "dedup": decision.to_json(),
            "merged_events": merged,
        }
        return [Outgoing(ENRICHED, article["id"], event)]

    def merge_events(self, article: dict[str, Any]) -> list[dict[str, Any]]:
        """Link the article's events to the merged events of other reports of them."""
        merged: dict[str, dict[str, Any]] = {}
        for report in reports_from_article(article):
            result = self.merger.add(report)
            if result is not None:
                merged[result.event_id] = result.to_json()
        return list(merged.values())
