"""Topic names of the pipeline and their creation with the Kafka admin client.

The embedded broker (tansu) does not auto-create topics, and a production
cluster should not either, so every worker creates the topics it needs at
start-up; creating a topic that exists already is not an error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from marsad.settings import Settings

log = logging.getLogger(__name__)

RAW = "articles.raw"
NORMALISED = "articles.normalised"
EXTRACTED = "articles.extracted"
ENRICHED = "events.enriched"
DUPLICATES = "articles.duplicates"
DEADLETTER = "articles.deadletter"
# One record per change of a merged event (a happening reported by one or more
# articles), keyed by its event id: a compacted topic keeps its latest state.
MERGED = "events.merged"

#: Every logical topic, in the order the stream passes them.
ALL_TOPICS: tuple[str, ...] = (
    RAW, NORMALISED, EXTRACTED, ENRICHED, DUPLICATES, DEADLETTER, MERGED,
)

#: Topic configs beyond ``max.message.bytes``, by logical topic.  ``events.merged``
#: is keyed by event id and each record holds the event's whole state, so log
#: compaction loses nothing a subscriber needs.  (The embedded tansu 0.6 accepts
#: and reports the setting but keeps every record.)
TOPIC_CONFIGS: dict[str, dict[str, str]] = {MERGED: {"cleanup.policy": "compact"}}

# Internal topics of the deduplicator with several partitions (docs/deduplicator.md):
# band messages routed by LSH band key, event reports routed by merge key, and
# notes keyed by article id (co-partitioned with articles.extracted).  Same
# partition count as the others.
DEDUP_BANDS = "dedup.bands"
DEDUP_EVENTS = "dedup.events"
DEDUP_NOTES = "dedup.notes"
INTERNAL_TOPICS: tuple[str, ...] = (DEDUP_BANDS, DEDUP_EVENTS, DEDUP_NOTES)


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Return the aiokafka keyword arguments for connection and security settings."""
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        opts["ssl_context"] = create_ssl_context(
            cafile=settings.ssl_cafile,
            certfile=settings.ssl_certfile,
            keyfile=settings.ssl_keyfile,
        )
    if settings.security_protocol.startswith("SASL"):
        opts["sasl_mechanism"] = settings.sasl_mechanism
        opts["sasl_plain_username"] = settings.sasl_username
        opts["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return opts


async def ensure_topics(
    settings: Settings,
    names: tuple[str, ...] = ALL_TOPICS,
    *,
    attempts: int | None = 30,
    backoff_seconds: float = 1.0,
) -> list[str]:
    """Create the pipeline's topics if they are missing, retrying while the broker is down.

    Args:
        settings: Connection, prefix, partition and replication settings.
        names: Logical topic names to create.
        attempts: How many times to try reaching the broker before giving up
            (``None``: keep trying, as a worker waiting for its broker does).
        backoff_seconds: First wait between attempts; doubles up to 10 s.

    Returns:
        The physical names of the topics that were created by this call.

    Raises:
        ConnectionError: The broker could not be reached after ``attempts`` tries.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaConnectionError, KafkaError

    wanted = [settings.topic(n) for n in names]
    configs = {settings.topic(n): TOPIC_CONFIGS.get(n, {}) for n in names}
    wait = backoff_seconds
    attempt = 0
    while True:
        attempt += 1
        admin = AIOKafkaAdminClient(**kafka_client_options(settings))
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                response = await admin.create_topics(
                    [
                        NewTopic(
                            name=t,
                            num_partitions=settings.partitions,
                            replication_factor=settings.replication_factor,
                            topic_configs={
                                "max.message.bytes": str(settings.max_output_bytes),
                                **configs[t],
                            },
                        )
                        for t in missing
                    ]
                )
                # The admin client returns per-topic error codes instead of raising;
                # 36 (TOPIC_ALREADY_EXISTS) means another worker won the race.
                for entry in getattr(response, "topic_errors", None) or []:
                    name, code = entry[0], entry[1]
                    if code not in (0, 36):
                        raise KafkaError(f"creating topic {name} failed with error code {code}")
                log.info("created topics %s", ", ".join(missing))
            return missing
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if attempts is not None and attempt >= attempts:
                raise ConnectionError(
                    f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}"
                ) from exc
            log.warning(
                "Kafka at %s not reachable (%s); attempt %d, retrying in %.1f s",
                settings.bootstrap_servers, exc, attempt, wait,
            )
            await asyncio.sleep(wait)
            wait = min(wait * 2, 10.0)
        finally:
            await admin.close()


async def partition_counts(settings: Settings, names: tuple[str, ...]) -> dict[str, int]:
    """Partitions of each existing topic among ``names`` (logical names; missing ones left out)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    try:
        await admin.start()
        topics = await admin.describe_topics([settings.topic(n) for n in names])
    finally:
        await admin.close()
    logical = {settings.topic(n): n for n in names}
    return {
        logical[t["topic"]]: len(t["partitions"])
        for t in topics
        if t["topic"] in logical and t["partitions"]
    }


def partition_mismatches(settings: Settings, counts: dict[str, int]) -> list[str]:
    """The topics whose partition count is not ``settings.partitions``, described for a log.

    The band-keyed deduplicator sends each message to the partition it
    computes modulo ``settings.partitions``: with topics of another count,
    replies would go astray and articles wait forever for them.
    """
    return [f"{settings.topic(t)} has {n}" for t, n in sorted(counts.items())
            if n != settings.partitions]
