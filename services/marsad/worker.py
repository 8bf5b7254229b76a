"""Faust wiring shared by the three agents: the app, the batch loop, producing, the worker.

Each agent reads raw bytes (no Faust serializer, so a malformed message reaches
our codec and becomes a dead letter instead of an error inside Faust), hands
every message to its :class:`~marsad.stage.Stage`, produces the results and
waits until the broker has them before Faust acknowledges the batch
(``take_events`` acks after the loop body): at-least-once delivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import faust
from faust.streams import Stream
from prometheus_client import CollectorRegistry

from marsad.codec import Codec
from marsad.http import HealthState, HttpEndpoint
from marsad.metrics import Metrics
from marsad.runtime import make_codec
from marsad.settings import Settings
from marsad.stage import Incoming, Outgoing, Stage
from marsad.topics import (
    ALL_TOPICS,
    DEADLETTER,
    DUPLICATES,
    ENRICHED,
    EXTRACTED,
    INTERNAL_TOPICS,
    MERGED,
    ensure_topics,
    partition_counts,
    partition_mismatches,
)

log = logging.getLogger(__name__)

#: Header carrying the raw message's timestamp (ms) through the stages, for
#: end-to-end latency; values stay free of wall-clock fields so that the broker
#: path and ``marsad process`` produce identical records.
RAW_TS_HEADER = "marsad-raw-ts"
_FINAL_TOPICS = frozenset({ENRICHED, DUPLICATES, DEADLETTER})
_OUTCOME = {ENRICHED: "unique", DUPLICATES: "duplicate", DEADLETTER: "deadletter"}


@dataclass
class WorkerRuntime:
    """What the agents of one worker process share."""

    settings: Settings
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    codec: Codec | None = None
    probe_task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.registry)
        self.health = HealthState(self.metrics.ready)


def create_app(settings: Settings, stages: Sequence[str]) -> faust.App:
    """Build the Faust app for the selected stages.

    Each selection gets its own consumer group (``marsad-normaliser``,
    ``marsad-all`` …): Faust's partition assignor expects every member of a
    group to run the same agents.
    """
    group = "all" if len(stages) > 1 else stages[0]
    broker_credentials = None
    if settings.security_protocol != "PLAINTEXT":
        broker_credentials = _credentials(settings)
    return faust.App(
        f"{settings.app_id}-{group}",
        broker=[f"kafka://{h.strip()}" for h in settings.bootstrap_servers.split(",")],
        broker_credentials=broker_credentials,
        store="memory://",
        datadir=f"{settings.data_dir}/{{conf.id}}",  # Faust formats it with conf=
        web_enabled=False,  # our own endpoint serves /metrics, /health and /ready only
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_rebalance_timeout=settings.rebalance_timeout_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Normalised and extracted records are a few times the raw article; the
        # topics are created with a matching max.message.bytes.
        producer_max_request_size=settings.max_output_bytes,
        producer_max_batch_size=settings.producer_batch_bytes,
        stream_wait_empty=False,
        # Faust prefetches up to 4096 unprocessed messages per stream by default:
        # a slow stage then holds thousands of large records in memory (the
        # soak test measured +320 MB in the extractor).  Two batches is enough
        # to keep the batch loop fed; the rest of the backlog waits in Kafka.
        stream_buffer_maxsize=2 * settings.batch_size,
    )


def _credentials(settings: Settings) -> Any:
    """Map TLS/SASL settings to Faust credentials (secrets never logged)."""
    from aiokafka.helpers import create_ssl_context

    ssl_context = None
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        ssl_context = create_ssl_context(
            cafile=settings.ssl_cafile,
            certfile=settings.ssl_certfile,
            keyfile=settings.ssl_keyfile,
        )
    if settings.security_protocol == "SSL":
        return faust.SSLCredentials(ssl_context)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
    return faust.SASLCredentials(
        username=settings.sasl_username or "",
        password=password,
        mechanism=settings.sasl_mechanism,
        ssl_context=ssl_context,
    )


def _raw_timestamp_ms(message: Any) -> int | None:
    """Return the raw article's timestamp in ms from our header or the message itself."""
    headers = message.headers or ()
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:
        if key == RAW_TS_HEADER and value:
            try:
                return int(value)
            except ValueError:
                return None
    ts = message.timestamp
    return int(ts * 1000) if ts else None


@dataclass(frozen=True, slots=True)
class Pending:
    """An output waiting to be produced, with what it came from (for a dead letter)."""

    out: Outgoing
    raw_ts: int | None
    incoming: Incoming
    stage: Stage


def _is_permanent(exc: BaseException) -> bool:
    """True for send errors that no retry can fix (a message too large for the broker)."""
    from aiokafka.errors import KafkaError

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, KafkaError):
            return not cause.retriable
        cause = cause.__cause__
    return False


async def produce(app: faust.App, runtime: WorkerRuntime, pending: list[Pending]) -> None:
    """Send every output and wait until the broker acknowledged all of them.

    A failed send is retried with backoff for as long as it takes: returning
    before the broker has the output would let Faust acknowledge an input
    whose result is lost.  An output the broker can never take (larger than
    its message size limit) is replaced by a dead letter of its input instead
    of blocking the partition forever.
    """
    settings, metrics = runtime.settings, runtime.metrics

    async def send(item: Pending) -> Any:
        headers = (
            [(RAW_TS_HEADER, str(item.raw_ts).encode())] if item.raw_ts is not None else None
        )
        return await app.producer.send(
            settings.topic(item.out.topic),
            item.out.key.encode("utf-8"),
            item.out.data,
            None,
            None,
            headers,
        )

    todo = pending
    delivered: list[Pending] = []
    wait = 0.5
    while todo:
        futures = []
        for item in todo:
            try:
                futures.append(await send(item))
            except Exception as exc:  # refused before it was queued: handled below
                future = asyncio.get_running_loop().create_future()
                future.set_exception(exc)
                futures.append(future)
        results = await asyncio.gather(*futures, return_exceptions=True)
        transient: list[Pending] = []
        converted: list[Pending] = []
        first_error: BaseException | None = None
        for item, result in zip(todo, results, strict=True):
            if not isinstance(result, BaseException):
                delivered.append(item)
            elif _is_permanent(result) and item.out.topic != DEADLETTER:
                log.warning("%s: %s cannot be produced (%s); dead-lettering its input",
                            item.stage.name, item.out.key, result)
                dead = item.stage.deadletter(
                    item.incoming, "too_large", f"output refused by Kafka: {result}"[:2000],
                    item.out.key,
                )
                metrics.deadletters.labels(item.stage.name, "too_large").inc()
                converted.append(Pending(dead, item.raw_ts, item.incoming, item.stage))
            else:
                transient.append(item)
                first_error = first_error or result
        if transient:
            log.warning(
                "%d of %d messages not acknowledged by Kafka (%s); retrying in %.1f s",
                len(transient), len(todo), first_error, wait,
            )
            runtime.health.set(False, "producer cannot reach Kafka")
            await asyncio.sleep(wait)
            wait = min(wait * 2, 10.0)
        elif todo is not pending and not runtime.health.ready:
            runtime.health.set(True, "producer recovered")
        todo = transient + converted
    now_ms = time.time() * 1000
    for item in delivered:
        if item.out.topic in _FINAL_TOPICS and item.raw_ts is not None:
            metrics.end_to_end_seconds.observe(max(0.0, (now_ms - item.raw_ts) / 1000))
        elif item.out.topic == MERGED:
            if item.out.value.get("closed"):
                change = "closed"
            else:
                change = "founded" if item.out.value.get("revision") == 0 else "joined"
            metrics.merged_events_published.labels(item.stage.name, change).inc()


def attach(
    app: faust.App, runtime: WorkerRuntime, stage: Stage,
    *, state_first: frozenset[str] = frozenset(),
) -> None:
    """Define the Faust agent that runs ``stage`` on its input topic.

    Args:
        app: The Faust app.
        runtime: What the worker's agents share.
        stage: The stage to run.
        state_first: Topics whose records describe state kept in the stage's
            tables: a batch producing any of them first waits until the
            batch's table writes are on the broker (their changelogs), so that
            after a crash the restored state is never older than a record
            already published (a redelivered message then repeats the state's
            record, never an older one).
    """
    settings, metrics = runtime.settings, runtime.metrics
    topic = app.topic(
        settings.topic(stage.source), key_serializer="raw", value_serializer="raw"
    )
    processing = metrics.processing_seconds.labels(stage.name)
    received = metrics.messages_in.labels(stage.name)

    async def agent(source: faust.StreamT[bytes]) -> None:
        # The concrete Stream has take_events and _set_current_event; StreamT does not.
        stream = cast(Stream[bytes], source)
        async for events in stream.take_events(
            settings.batch_size, within=settings.batch_wait_seconds
        ):
            metrics.batch_size.labels(stage.name).observe(len(events))
            outputs: list[Pending] = []
            for event in events:
                m = event.message
                incoming = Incoming(
                    value=m.value, key=m.key, topic=m.topic, partition=m.partition, offset=m.offset
                )
                # Table writes find their changelog partition through the current
                # event; take_events does not set it for each event of a batch.
                # Restore it before the next await: the stream's background reader
                # records stream.current_event as the event to acknowledge, and
                # crashes ("Take buffer found current_event is None") on None.
                previous = stream.current_event
                stream._set_current_event(event)
                started = time.perf_counter()
                try:
                    results = stage.handle(incoming)
                finally:
                    stream._set_current_event(previous)
                processing.observe(time.perf_counter() - started)
                received.inc()
                raw_ts = _raw_timestamp_ms(m)
                for out in results:
                    outcome = _OUTCOME.get(out.topic, "ok")
                    metrics.messages_out.labels(stage.name, outcome).inc()
                    if out.topic == DEADLETTER:
                        metrics.deadletters.labels(stage.name, out.value["reason"]).inc()
                        log.warning(
                            "%s dead-lettered %s[%d]@%d: %s (%s)", stage.name, m.topic,
                            m.partition, m.offset, out.value["reason"], out.value["detail"][:200],
                        )
                    outputs.append(Pending(out, raw_ts, incoming, stage))
                # Long batches of CPU work would starve heartbeats and fetches.
                await asyncio.sleep(0)
            if state_first and any(p.out.topic in state_first for p in outputs):
                # Changelog writes wait in the producer's buffer; flushing it
                # puts them on the broker before the records built from them.
                await app.producer.flush()
            await produce(app, runtime, outputs)

    app.agent(topic, name=stage.name)(agent)


def build_app(runtime: WorkerRuntime, stages: Sequence[str]) -> faust.App:
    """Create the app and attach the agents of the selected stages."""
    from marsad.deduplicator import agent as dedup_agent
    from marsad.extractor import agent as extractor_agent
    from marsad.normaliser import agent as normaliser_agent

    runtime.codec = make_codec(runtime.settings)
    app = create_app(runtime.settings, stages)
    registrars = {
        "normaliser": normaliser_agent.register,
        "extractor": extractor_agent.register,
        "deduplicator": dedup_agent.register,
    }
    for name in stages:
        registrars[name](app, runtime)

    def _assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        assigned = args[0] if args else kwargs.get("assigned", ())
        runtime.health.set(True, f"{len(assigned)} partitions assigned")

    def _revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        runtime.health.set(False, "rebalancing")

    # mode's Signal.connect is typed for a required ``signal`` keyword the
    # receivers above accept anyway.
    app.on_partitions_assigned.connect(cast(Any, _assigned))
    app.on_partitions_revoked.connect(cast(Any, _revoked))

    return app


async def probe_broker(settings: Settings, health: HealthState, interval: float = 5.0) -> None:
    """Check every ``interval`` seconds that a bootstrap broker accepts connections.

    Faust and aiokafka notice a lost broker only when a request times out, so
    an idle worker would keep answering ready; a TCP connect is cheap and says
    enough for a readiness probe.
    """
    from marsad.broker import broker_address

    servers = [broker_address(s) for s in settings.bootstrap_servers.split(",") if s.strip()]
    while True:
        reachable = False
        for host, port in servers:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
            except (OSError, TimeoutError):
                continue
            writer.close()
            reachable = True
            break
        health.set_broker(reachable)
        await asyncio.sleep(interval)


def run_worker(settings: Settings, stages: Sequence[str], *, loglevel: str = "info") -> int:
    """Create topics, start the HTTP endpoint and run a Faust worker until stopped."""
    from marsad import faust_patches

    faust_patches.apply()
    runtime = WorkerRuntime(settings)
    # Faust creates only the last level of its data directory.
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    app = build_app(runtime, stages)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    endpoint = None
    if settings.metrics_port:
        endpoint = HttpEndpoint(
            runtime.registry, runtime.health, settings.metrics_host, settings.metrics_port
        )
        loop.run_until_complete(endpoint.start())
    # Kept referenced for the process's lifetime; it ends with the loop.
    runtime.probe_task = loop.create_task(probe_broker(settings, runtime.health))
    runtime.health.set(False, "waiting for Kafka to create topics")
    loop.run_until_complete(
        ensure_topics(settings, ALL_TOPICS + INTERNAL_TOPICS, attempts=None)
    )
    if "deduplicator" in stages:
        # Its tables and internal routing assume MARSAD_PARTITIONS partitions;
        # topics created earlier with another count keep theirs.
        counts = loop.run_until_complete(
            partition_counts(settings, (EXTRACTED, *INTERNAL_TOPICS))
        )
        wrong = partition_mismatches(settings, counts)
        if wrong:
            log.error(
                "MARSAD_PARTITIONS is %d but %s partitions: changing the partition count "
                "needs new topics or a new MARSAD_APP_ID (docs/deduplicator.md)",
                settings.partitions, ", ".join(wrong),
            )
            if endpoint is not None:
                loop.run_until_complete(endpoint.stop())
            return 2
    runtime.health.set(False, "joining consumer group")
    worker = faust.Worker(app, loglevel=loglevel, loop=loop, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        if endpoint is not None and not loop.is_closed():
            loop.run_until_complete(endpoint.stop())
    return 0
