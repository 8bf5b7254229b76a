"""Faust wiring of the extractor: one agent running its stage on its input topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from marsad.runtime import build_stage
from marsad.worker import attach

if TYPE_CHECKING:
    import faust

    from marsad.worker import WorkerRuntime


def register(app: faust.App, runtime: WorkerRuntime) -> None:
    """Build the stage (loading its models) and attach its agent to ``app``."""
    assert runtime.codec is not None
    attach(app, runtime, build_stage("extractor", runtime.settings, runtime.codec))
