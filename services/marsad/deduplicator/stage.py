"""The deduplicator stage: ``articles.extracted`` -> ``events.enriched`` or ``articles.duplicates``.

Asks the pure core (:mod:`marsad.deduplicator.core`) whether the article's
matching text was seen before, exactly or nearly, and publishes either the
enriched event of a new story or a duplicate notice pointing at the article
it repeats; when the duplicate brings a new source, the story's event is
published again with the next ``story.revision`` (as the band-keyed wiring
does).  Each merged event the article's reports belong to is published on
``events.merged`` as it stands after them, keyed by its event id.  The core
keeps its state in the mapping it is given: a dict in batch mode, Faust
tables backed by changelog topics in the stream.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping, Sequence
from typing import Any

import orjson

from marsad.codec import Codec, DecodeError
from marsad.deduplicator.banded import (
    BandedDeduplicator,
    Out,
    Publish,
    Send,
    advance_window,
    pack_payload,
    unpack_payload,
)
from marsad.deduplicator.core import Decision, DedupConfig, Deduplicator, parse_time
from marsad.deduplicator.events import (
    EventMerger,
    MergedEvent,
    closed_record,
    merged_records,
    reports_from_article,
)
from marsad.stage import Incoming, Outgoing, Stage
from marsad.topics import (
    DEDUP_BANDS,
    DEDUP_EVENTS,
    DEDUP_NOTES,
    DUPLICATES,
    ENRICHED,
    EXTRACTED,
    MERGED,
)

_META = ("id", "source", "url", "title", "published_at", "published_at_error")
# A published_at this far past the clock is a typo: it must not move the window.
_FUTURE_SLACK = 86_400.0


class DeduplicatorStage(Stage):
    """One decision per article: a new story, or a duplicate of one seen before.

    Args:
        codec: Codec with a validator for ``articles.extracted``.
        config: Thresholds of the near-duplicate search.
        store: Where the core remembers articles (must survive restarts in the stream).
        event_store: Where merged events are remembered (a second table in the stream).
        index: Where the LSH buckets live when not in ``store``: in the stream an
            in-memory dict rebuilt after recovery (see ``Deduplicator.rebuild_index``).
        story_store: Where each story's founder keeps its output fields and the
            story's revision, for re-publication (a third table in the stream):
            ``f:<cluster>`` records, forgotten with the founder after the window.
        deadletter_original_bytes: How many bytes of a bad message a dead letter keeps.
        closing_grace: Messages after which a closing record is surely published
            (the wiring's batch size; see :class:`EventMerger`).
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
        story_store: MutableMapping[str, Any] | None = None,
        deadletter_original_bytes: int = 262_144,
        closing_grace: int = 1_000,
    ) -> None:
        super().__init__(codec, deadletter_original_bytes=deadletter_original_bytes)
        self.core = Deduplicator(config, {} if store is None else store, index=index)
        self.merger = EventMerger({} if event_store is None else event_store,
                                  closing_grace=closing_grace)
        self.stories: MutableMapping[str, Any] = {} if story_store is None else story_store

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
        events = self.merge_events(article)
        merged: dict[str, dict[str, Any]] = {}
        for event in events:
            merged[event.event_id] = event.to_json()
        payload = output_payload(article, list(merged.values()))
        outs = self.story_records(decision, payload, msg.partition)
        outs.extend(Outgoing(MERGED, rec["event_id"], rec) for rec in merged_records(events))
        outs.extend(Outgoing(MERGED, e.event_id, closed_record(e))
                    for e in self.merger.take_closed())
        return outs

    def story_records(
        self, decision: Decision, payload: dict[str, Any], partition: int = 0
    ) -> list[Outgoing]:
        """The decision's record, and the story's event again when a new source joined it.

        The founder's output fields are kept (``f:<cluster>``) so that its
        event can be re-published with the story's new figures and the next
        revision; a redelivered article repeats its record, never the
        re-publication.  Once the founder is out of the window its record
        is forgotten: later copies carry no revision and re-publish nothing.
        """
        key = "f:" + decision.cluster_id
        story = self.stories.get(key)
        if decision.redelivered:
            return [output_record(decision, payload, None if story is None else story["rev"])]
        if decision.kind == "unique":
            self._remember_founder(decision, payload, partition)
            return [output_record(decision, payload, 0)]
        if story is None:
            return [output_record(decision, payload)]
        if not decision.new_source:
            return [output_record(decision, payload, int(story["rev"]))]
        story = {**story, "rev": int(story["rev"]) + 1}
        self.stories[key] = story
        root = Decision(
            kind="unique", article_id=decision.representative, cluster_id=decision.cluster_id,
            duplicate_of=None, similarity=None, method=None,
            cluster_size=decision.cluster_size, sources=decision.sources,
            config=decision.config, representative=decision.representative,
        )
        return [output_record(decision, payload, story["rev"]),
                output_record(root, unpack_payload(story["pl"]), story["rev"])]

    def _remember_founder(
        self, decision: Decision, payload: dict[str, Any], partition: int
    ) -> None:
        now = time.time()
        published = payload["meta"].get("published_at")
        ts = parse_time(published) if decision.config.time_basis == "published" else None
        ts = now if ts is None else min(ts, now + _FUTURE_SLACK)
        for gone in advance_window(self.stories, partition, ts, decision.config.window_days,
                                   decision.cluster_id):
            self.stories.pop("f:" + gone, None)
        self.stories["f:" + decision.cluster_id] = {"rev": 0, "pl": pack_payload(payload)}

    def merge_events(self, article: dict[str, Any]) -> list[MergedEvent]:
        """Link the article's events to the merged events of other reports of them.

        Returns:
            The merged event after each of the article's reports that has a
            merge key, in report order (an event appears once per report).
        """
        results = (self.merger.add(report) for report in reports_from_article(article))
        return [r for r in results if r is not None]


def output_payload(article: dict[str, Any], merged: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields of an extracted article that its output record carries."""
    norm = article["normalisation"]
    return {
        "meta": {"schema_version": 1, **{k: article[k] for k in _META}},
        "event": {
            "text": article["text"],
            "display_text": norm["display"],
            "title_display": article["title_display"],
            "entities": article["entities"],
            "facts": article["facts"],
        },
        "merged": merged,
    }


def output_record(
    decision: Decision, payload: dict[str, Any], revision: int | None = None
) -> Outgoing:
    """The enriched event (unique) or the duplicate notice of one decision.

    Args:
        decision: The decision (its cluster figures go into ``story``).
        payload: From :func:`output_payload`.
        revision: The story's revision: 0 when founded, +1 each time a new
            source joins it (the story's event is then re-published); None
            when unknown (the founder is out of the window).
    """
    story: dict[str, Any] = {
        "cluster_id": decision.cluster_id,
        "article_count": decision.cluster_size,
        "sources": list(decision.sources),
    }
    if revision is not None:
        story["revision"] = revision
    meta = payload["meta"]
    if decision.kind == "duplicate" and decision.duplicate_of is not None:
        notice = {
            **meta,
            "duplicate_of": decision.duplicate_of,
            "story": story,
            "dedup": decision.to_json(),
            "merged_events": payload["merged"],
        }
        return Outgoing(DUPLICATES, decision.article_id, notice)
    event = {
        **meta,
        **payload["event"],
        "story": story,
        "dedup": decision.to_json(),
        "merged_events": payload["merged"],
    }
    return Outgoing(ENRICHED, decision.article_id, event)


def _internal(outs: list[Out], route_keys: Sequence[str] = ()) -> list[Outgoing]:
    result: list[Outgoing] = []
    for out in outs:
        if isinstance(out, Send):
            key = out.key if out.partition is None else route_keys[out.partition]
            result.append(Outgoing(out.topic, key, out.value))
        elif isinstance(out, Publish):
            result.append(Outgoing(MERGED, out.key, out.value))
        else:
            result.append(output_record(out.decision, out.payload, out.revision))
    return result


class BandRouteStage(Stage):
    """Band-keyed wiring, step 1: ``articles.extracted`` -> ``dedup.bands``, ``dedup.events``.

    The article's event reports go to the partitions of their merge keys
    (``dedup.events``), where reports from every article meet; the merged
    events come back to the article before it is decided (see ``banded``).

    Args:
        codec: Codec with a validator for ``articles.extracted``.
        core: The band-keyed deduplicator shared with the other steps.
        route_keys: For each partition of ``dedup.bands`` and ``dedup.events``,
            a message key the producer's partitioner sends there.
        deadletter_original_bytes: How many bytes of a bad message a dead letter keeps.
    """

    name = "deduplicator"
    source = EXTRACTED

    def __init__(
        self,
        codec: Codec,
        core: BandedDeduplicator,
        route_keys: Sequence[str],
        *,
        deadletter_original_bytes: int = 262_144,
    ) -> None:
        super().__init__(codec, deadletter_original_bytes=deadletter_original_bytes)
        self.core = core
        self.route_keys = list(route_keys)

    def process(self, msg: Incoming) -> list[Outgoing]:
        """Start the decision on one article: its band and event messages."""
        article = self.codec.decode(EXTRACTED, msg.value)
        outs = self.core.route(
            article["id"],
            article["normalisation"]["matching"],
            source=article["source"],
            published_at=article["published_at"],
            payload=output_payload(article, []),
            partition=msg.partition,
            reports=reports_from_article(article),
        )
        return _internal(outs, self.route_keys)


class _BandedStep(Stage):
    """A later step of the band-keyed wiring: it shares the first step's core."""

    def __init__(self, codec: Codec, core: BandedDeduplicator, **kwargs: Any) -> None:
        super().__init__(codec, **kwargs)
        self.core = core


class BandStage(_BandedStep):
    """Band-keyed wiring, step 2: ``dedup.bands`` -> ``dedup.notes`` (candidates)."""

    name = "dedup-bands"
    source = DEDUP_BANDS

    def process(self, msg: Incoming) -> list[Outgoing]:
        """Look one article up in this partition's buckets."""
        return _internal(self.core.band(_internal_record(msg), msg.partition))


class EventStage(_BandedStep):
    """Band-keyed wiring, step 4: ``dedup.events`` -> ``dedup.notes`` and ``events.merged``."""

    name = "dedup-events"
    source = DEDUP_EVENTS

    def process(self, msg: Incoming) -> list[Outgoing]:
        """Merge one article's reports whose merge keys fall into this partition."""
        return _internal(self.core.merge(_internal_record(msg), msg.partition))


class NoteStage(_BandedStep):
    """Band-keyed wiring, step 3: ``dedup.notes`` -> decisions, joins, final records."""

    name = "dedup-notes"
    source = DEDUP_NOTES

    def process(self, msg: Incoming) -> list[Outgoing]:
        """Handle one note (candidates, merged events, a join or a resolution)."""
        return _internal(self.core.note(_internal_record(msg)))


def _internal_record(msg: Incoming) -> dict[str, Any]:
    # Internal topics are written by this module only: parse, no schema check.
    try:
        value = orjson.loads(msg.value or b"")
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid_json", str(exc)) from None
    if not isinstance(value, dict):
        raise DecodeError("not_an_object", "internal record is not an object")
    return value
