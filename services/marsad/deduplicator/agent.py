"""Faust wiring of the deduplicator: its state lives in a Faust table.

The table is backed by a changelog topic, so a restarted or rebalanced
worker rebuilds what it remembered before it processes the next article.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from marsad.runtime import build_stage
from marsad.worker import attach

if TYPE_CHECKING:
    import faust

    from marsad.worker import WorkerRuntime


def register(app: faust.App, runtime: WorkerRuntime) -> None:
    """Create the state table, build the stage on it and attach its agent."""
    assert runtime.codec is not None
    table = app.Table(
        "dedup-state",
        partitions=runtime.settings.partitions,
        key_type=str,  # keys come back as str after recovery from the changelog
    )
    attach(app, runtime, build_stage("deduplicator", runtime.settings, runtime.codec,
                                     dedup_store=table))
