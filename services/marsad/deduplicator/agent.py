"""Faust wiring of the deduplicator: its state lives in Faust tables.

The tables are backed by changelog topics, so a restarted or rebalanced
worker rebuilds what it remembered before it processes the next article.

With one partition the single-process core runs in one agent.  With several
partitions no worker sees every article, so the band-keyed design of
:mod:`marsad.deduplicator.banded` runs in four agents: one on
``articles.extracted``, one on ``dedup.bands`` (routed by LSH band key), one
on ``dedup.events`` (routed by event merge key) and one on ``dedup.notes``
(keyed by article id, co-partitioned with ``articles.extracted``: the two
share the ``dedup-articles`` table).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from marsad.deduplicator.stage import DeduplicatorStage
from marsad.runtime import build_stage, dedup_config
from marsad.topics import MERGED
from marsad.worker import attach

log = logging.getLogger(__name__)

# A merged event's record is produced only once the table write it comes from
# is on the broker: after a crash the restored merger is then at least as far
# as any record published, and a redelivered report republishes the current
# revision instead of an older one (docs/deduplicator.md).
_MERGED_AFTER_STATE = frozenset({MERGED})

if TYPE_CHECKING:
    import faust

    from marsad.worker import WorkerRuntime


def register(app: faust.App, runtime: WorkerRuntime) -> None:
    """Create the state tables, build the stage(s) on them and attach the agent(s)."""
    if runtime.settings.partitions > 1:
        register_banded(app, runtime)
        return
    assert runtime.codec is not None
    partitions = runtime.settings.partitions
    # Two tables, because the article index and the event merger use key
    # prefixes of their own; str keys come back as str after recovery.
    articles = app.Table("dedup-state", partitions=partitions, key_type=str)
    events = app.Table("event-state", partitions=partitions, key_type=str)
    # Each story's founder, for re-publishing its event when a new source joins.
    stories = app.Table("dedup-stories", partitions=partitions, key_type=str)
    # The LSH buckets are derived from the stored signatures: kept in memory and
    # rebuilt once the table is restored, instead of costing one changelog
    # record per band per article.
    stage = build_stage(
        "deduplicator", runtime.settings, runtime.codec,
        dedup_store=articles, event_store=events, dedup_index={}, story_store=stories,
    )
    core = cast(DeduplicatorStage, stage).core

    async def rebuild() -> None:
        count = core.rebuild_index()
        log.info("deduplicator: LSH index rebuilt from %d remembered articles", count)

    articles.on_recover(rebuild)
    attach(app, runtime, stage, state_first=_MERGED_AFTER_STATE)


def partitioner(partitions: int) -> Callable[[str], int]:
    """The partition the producer sends a message with this key to (Kafka's default)."""
    from aiokafka.partitioner import murmur2

    def partition_of(key: str) -> int:
        return int((murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions)

    return partition_of


def routing_keys(partitions: int) -> list[str]:
    """For each partition, a short message key that Kafka's default partitioner sends there.

    Band messages carry their keys in the body; the message key only routes.
    """
    partition_of = partitioner(partitions)
    keys: dict[int, str] = {}
    n = 0
    while len(keys) < partitions:
        keys.setdefault(partition_of(f"p{n}"), f"p{n}")
        n += 1
    return [keys[p] for p in range(partitions)]


def register_banded(app: faust.App, runtime: WorkerRuntime) -> None:
    """The band-keyed deduplicator: four agents over three tables."""
    from marsad.deduplicator.banded import BandedDeduplicator
    from marsad.deduplicator.stage import BandRouteStage, BandStage, EventStage, NoteStage

    assert runtime.codec is not None
    settings, codec = runtime.settings, runtime.codec
    partitions = settings.partitions
    articles = app.Table("dedup-articles", partitions=partitions, key_type=str)
    bands = app.Table("dedup-bands", partitions=partitions, key_type=str)
    # Written by the dedup.events agent only, so partitioned like that topic (by
    # merge key); not the one-partition "event-state", whose keys are laid out
    # differently.
    events = app.Table("merged-events", partitions=partitions, key_type=str)
    core = BandedDeduplicator(dedup_config(settings), partitions, articles, bands, {}, events,
                              closing_grace=settings.batch_size)
    keep = settings.deadletter_original_bytes
    stages = [
        BandRouteStage(codec, core, routing_keys(partitions), deadletter_original_bytes=keep),
        BandStage(codec, core, deadletter_original_bytes=keep),
        EventStage(codec, core, deadletter_original_bytes=keep),
        NoteStage(codec, core, deadletter_original_bytes=keep),
    ]

    async def rebuild() -> None:
        count = core.rebuild_index()
        log.info("deduplicator: LSH index rebuilt from %d remembered signatures", count)

    bands.on_recover(rebuild)

    def report_undecided(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        waiting = core.undecided()
        if waiting:
            some = ", ".join(f"{aid} (bands {b}, events {e})"
                             for aid, (b, e) in sorted(waiting.items())[:5])
            log.warning("deduplicator: stopping with %d article(s) still waiting for "
                        "replies, e.g. %s", len(waiting), some)

    # mode's Signal.connect is typed for a required ``signal`` keyword (as in worker.py).
    app.on_before_shutdown.connect(cast(Any, report_undecided))
    for stage in stages:
        stage.time_limit_seconds = settings.article_time_limit_seconds
        attach(app, runtime, stage, state_first=_MERGED_AFTER_STATE)
