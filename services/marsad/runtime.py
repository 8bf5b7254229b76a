"""Building the stages from settings, shared by the workers, ``process`` and ``bench``.

Models and lexicons are loaded here, at start-up, never at import time.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from marsad.codec import Codec
from marsad.settings import Settings
from marsad.stage import Stage
from marsad.topics import ALL_TOPICS

if TYPE_CHECKING:
    from marsad.deduplicator.core import DedupConfig

log = logging.getLogger(__name__)

#: Processor names in stream order.
STAGE_NAMES: tuple[str, ...] = ("normaliser", "extractor", "deduplicator")


def make_codec(settings: Settings) -> Codec:
    """Return a codec with validators for every topic."""
    return Codec(
        ALL_TOPICS,
        max_bytes=settings.max_message_bytes,
        full_validation=settings.full_validation,
    )


def build_stage(
    name: str,
    settings: Settings,
    codec: Codec,
    *,
    dedup_store: MutableMapping[str, Any] | None = None,
    event_store: MutableMapping[str, Any] | None = None,
    dedup_index: MutableMapping[str, Any] | None = None,
    story_store: MutableMapping[str, Any] | None = None,
) -> Stage:
    """Construct one processor, loading whatever model it needs.

    Args:
        name: ``normaliser``, ``extractor`` or ``deduplicator``.
        settings: The service settings.
        codec: Shared codec.
        dedup_store: State of the deduplicator (a Faust table in the stream).
        event_store: State of the event merger (another table in the stream).
        dedup_index: The deduplicator's LSH buckets, when kept apart from its store.
        story_store: The deduplicator's story founders (for re-publication).

    Raises:
        ValueError: For an unknown stage name.
    """
    stage = _construct(name, settings, codec, dedup_store, event_store, dedup_index, story_store)
    stage.time_limit_seconds = settings.article_time_limit_seconds
    return stage


def _construct(
    name: str,
    settings: Settings,
    codec: Codec,
    dedup_store: MutableMapping[str, Any] | None,
    event_store: MutableMapping[str, Any] | None,
    dedup_index: MutableMapping[str, Any] | None,
    story_store: MutableMapping[str, Any] | None = None,
) -> Stage:
    keep = settings.deadletter_original_bytes
    if name == "normaliser":
        from marsad.normaliser.stage import NormaliserStage

        return NormaliserStage(
            codec, profile=settings.normaliser_profile, deadletter_original_bytes=keep
        )
    if name == "extractor":
        from marsad.extractor.ner import load_recogniser
        from marsad.extractor.stage import ExtractorStage

        recogniser = load_recogniser(settings.ner_backend)
        return ExtractorStage(
            codec, recogniser, ner_backend=settings.ner_backend, deadletter_original_bytes=keep
        )
    if name == "deduplicator":
        from marsad.deduplicator.stage import DeduplicatorStage

        return DeduplicatorStage(
            codec, dedup_config(settings), dedup_store, event_store, index=dedup_index,
            story_store=story_store, deadletter_original_bytes=keep,
            closing_grace=settings.batch_size,
        )
    raise ValueError(f"unknown stage {name!r}; choose from {', '.join(STAGE_NAMES)}")


def dedup_config(settings: Settings) -> DedupConfig:
    """The deduplicator's parameters from the settings."""
    from marsad.deduplicator.core import DedupConfig

    return DedupConfig(
        threshold=settings.dedup_threshold,
        shingle=settings.dedup_shingle,
        permutations=settings.dedup_permutations,
        window_days=settings.dedup_window_days,
        followup_hours=settings.dedup_followup_hours,
        followup_threshold=settings.dedup_followup_threshold,
        containment=settings.dedup_containment,
        containment_floor=settings.dedup_containment_floor,
        order_sample=settings.dedup_order_sample,
        ordered_cover=settings.dedup_ordered_cover,
        ordered_floor=settings.dedup_ordered_floor,
    )


def select_stages(selection: str) -> tuple[str, ...]:
    """Turn ``all`` or a stage name into the stage names to run."""
    if selection == "all":
        return STAGE_NAMES
    if selection not in STAGE_NAMES:
        raise ValueError(f"unknown stage {selection!r}; choose all or {', '.join(STAGE_NAMES)}")
    return (selection,)
