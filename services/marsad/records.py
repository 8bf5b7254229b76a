"""Typed records of the messages on each topic.

The JSON Schemas in ``schemas/`` are the source of truth; these ``TypedDict``
classes mirror them for the type checker, and ``tests/contract`` checks that
their keys and required keys match the schemas exactly.
"""

from typing import Any, NotRequired, TypedDict


class RawArticle(TypedDict):
    """A message on ``articles.raw``: only ``text`` is required."""

    text: str
    id: NotRequired[str | None]
    source: NotRequired[str | None]
    url: NotRequired[str | None]
    title: NotRequired[str | None]
    published_at: NotRequired[str | None]


class _Meta(TypedDict):
    schema_version: int
    id: str
    source: str | None
    url: str | None
    title: str | None
    published_at: str | None
    published_at_error: str | None


class NormalisedArticle(_Meta):
    """A message on ``articles.normalised``."""

    text: str
    title_display: str | None
    normalisation: dict[str, Any]


class ExtractedArticle(NormalisedArticle):
    """A message on ``articles.extracted``; offsets point into ``text``."""

    entities: list[dict[str, Any]]
    facts: dict[str, Any]
    extractor: dict[str, str]


class Story(TypedDict):
    """The story cluster an article belongs to."""

    cluster_id: str
    article_count: int
    sources: list[str]


class EnrichedEvent(_Meta):
    """A message on ``events.enriched``: one per unique article."""

    text: str
    display_text: str
    title_display: str | None
    entities: list[dict[str, Any]]
    facts: dict[str, Any]
    story: Story
    dedup: dict[str, Any]
    merged_events: list[dict[str, Any]]


class DuplicateNotice(_Meta):
    """A message on ``articles.duplicates``."""

    duplicate_of: str
    story: Story
    dedup: dict[str, Any]
    merged_events: list[dict[str, Any]]


class Place(TypedDict):
    """Where a merged event happened."""

    name: str
    geonames_id: int | None
    country: str | None


class MergedEventRecord(TypedDict):
    """A message on ``events.merged``: a merged event's state after one change."""

    schema_version: int
    event_id: str
    revision: int
    closed: NotRequired[bool]
    type: str
    place: Place | None
    date: str | None
    actors: list[str]
    targets: list[str]
    first_seen: str
    last_seen: str
    report_count: int
    sources: list[str]
    articles: list[str]
    casualties: dict[str, dict[str, Any]]


class Origin(TypedDict):
    """Where a dead-lettered message was read."""

    topic: str
    partition: int
    offset: int
    key_b64: str | None


class DeadLetter(TypedDict):
    """A message on ``articles.deadletter``."""

    schema_version: int
    reason: str
    stage: str
    detail: str
    article_id: str | None
    origin: Origin
    original_b64: str
    original_size: int
    original_truncated: bool


#: Logical topic -> record type, for the contract test and documentation.
RECORDS: dict[str, type] = {
    "articles.raw": RawArticle,
    "articles.normalised": NormalisedArticle,
    "articles.extracted": ExtractedArticle,
    "events.enriched": EnrichedEvent,
    "articles.duplicates": DuplicateNotice,
    "articles.deadletter": DeadLetter,
    "events.merged": MergedEventRecord,
}
