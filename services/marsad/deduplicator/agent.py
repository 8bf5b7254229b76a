"""Faust wiring of the deduplicator: its state lives in a Faust table.

The table is backed by a changelog topic, so a restarted or rebalanced
worker rebuilds what it remembered before it processes the next article.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from marsad.deduplicator.stage import DeduplicatorStage
from marsad.runtime import build_stage
from marsad.worker import attach

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import faust

    from marsad.worker import WorkerRuntime


def register(app: faust.App, runtime: WorkerRuntime) -> None:
    """Create the state tables, build the stage on them and attach its agent."""
    assert runtime.codec is not None
    partitions = runtime.settings.partitions
    # Two tables, because the article index and the event merger use key
    # prefixes of their own; str keys come back as str after recovery.
    articles = app.Table("dedup-state", partitions=partitions, key_type=str)
    events = app.Table("event-state", partitions=partitions, key_type=str)
    # The LSH buckets are derived from the stored signatures: kept in memory and
    # rebuilt once the table is restored, instead of costing one changelog
    # record per band per article.
    stage = build_stage(
        "deduplicator", runtime.settings, runtime.codec,
        dedup_store=articles, event_store=events, dedup_index={},
    )
    core = cast(DeduplicatorStage, stage).core

    async def rebuild() -> None:
        count = core.rebuild_index()
        log.info("deduplicator: LSH index rebuilt from %d remembered articles", count)

    articles.on_recover(rebuild)
    attach(app, runtime, stage)
