"""The Kafka side of ``marsad dedup-rekey``: read the old changelogs, write the new ones.

The records are recomputed by the pure functions of
:mod:`marsad.deduplicator.rekey`; this module checks that the job may run
(old workers stopped, their input consumed, new changelogs empty), reads
every old changelog to its end, writes the new ones with ``P'``
partitions, prepares the data topics and the new consumer group's offsets,
and says what it did.  Everything is checked and computed before the first
write, and the writes are verified (end offsets) before success is reported.
aiokafka is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from marsad.deduplicator import rekey
from marsad.settings import Settings
from marsad.topics import EXTRACTED, INTERNAL_TOPICS, RAW, kafka_client_options

log = logging.getLogger(__name__)

_READ_IDLE_SECONDS = 60.0

#: The topics the deduplicator's agents read, whose partition count must be ``P'``.
DATA_TOPICS: tuple[str, ...] = (EXTRACTED, *INTERNAL_TOPICS)


class RekeyRefused(rekey.RekeyError):
    """The job refuses to run: nothing was written (the message says what to do)."""


@dataclass(slots=True)
class Summary:
    """What the job did and what it cost.

    Per table: records in the old changelogs (``records``), live ones among
    them (``read``) and records written.
    """

    read: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    old_partitions: int = 0
    partitions: int = 0
    articles: int = 0
    topics_created: list[str] = field(default_factory=list)
    offsets_committed: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Plan:
    """The job's parameters.

    Attributes:
        from_app: ``MARSAD_APP_ID`` of the old workers.
        to_app: ``MARSAD_APP_ID`` the new workers will run with.
        partitions: ``P'``, the new ``MARSAD_PARTITIONS``.
        group: The stage selection the workers run (``marsad worker <group>``):
            ``deduplicator`` or ``all``; it is part of Faust's app id.
        to_prefix: ``MARSAD_TOPIC_PREFIX`` of the new deployment (None: the
            current one, whose data topics are then grown to ``P'``).
        force: Write into new changelogs that already hold data, and run
            although the old group has not consumed all its input or still
            lists members after their session timeout.
    """

    from_app: str
    to_app: str
    partitions: int
    group: str = "deduplicator"
    to_prefix: str | None = None
    force: bool = False


async def run(settings: Settings, plan: Plan, progress: Callable[[str], None]) -> Summary:
    """Carry the deduplicator's state over to ``plan.partitions`` partitions.

    The old app may have run the band-keyed deduplicator (any partition
    count) or the one-partition one, whose tables are recast first
    (:func:`rekey.from_single`).

    Args:
        settings: Broker connection, topic prefix, dedup settings (the
            workers'; the band keys are recomputed with them).
        plan: What to re-key.
        progress: Called with a line of progress at each step.

    Returns:
        The summary (records read and written per table).

    Raises:
        RekeyRefused: A check failed; nothing was written.
        rekey.RekeyError: The state cannot be carried over; nothing was written.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    from marsad.deduplicator.agent import partitioner
    from marsad.runtime import dedup_config

    wall, cpu = time.monotonic(), time.process_time()
    if plan.partitions < 2:
        raise RekeyRefused(
            "dedup-rekey writes the band-keyed tables (MARSAD_PARTITIONS > 1); with one "
            "partition the deduplicator keeps other tables (dedup-state, event-state, "
            "dedup-stories): not supported, start it with a new MARSAD_APP_ID instead "
            "(docs/deduplicator.md)")
    if plan.to_app == plan.from_app:
        raise RekeyRefused("--to-app must differ from --from-app (the new tables need new "
                           "changelog topics)")
    new_settings = settings.model_copy(update={
        "partitions": plan.partitions,
        "topic_prefix": settings.topic_prefix if plan.to_prefix is None else plan.to_prefix,
    })
    old_topics = {t: rekey.changelog_topic(plan.from_app, plan.group, t) for t in rekey.TABLES}
    single_topics = {t: rekey.changelog_topic(plan.from_app, plan.group, t)
                     for t in rekey.SINGLE_TABLES}
    single = False
    new_topics = {t: rekey.changelog_topic(plan.to_app, plan.group, t) for t in rekey.TABLES}
    summary = Summary(partitions=plan.partitions)
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in old_topics.values() if name not in existing]
        if missing and all(name in existing for name in single_topics.values()):
            # The one-partition deduplicator ran: its three tables are read instead.
            single, old_topics, missing = True, single_topics, []
        if missing:
            raise RekeyRefused(f"old changelog topics missing: {', '.join(missing)} (check "
                               "--from-app, --group and the broker)")
        counts = await _partition_counts(admin, list(old_topics.values()))
        if len(set(counts.values())) != 1:
            raise RekeyRefused(f"old changelogs have different partition counts: {counts}")
        summary.old_partitions = next(iter(counts.values()))
        progress(f"old app {plan.from_app}: {summary.old_partitions} partitions; "
                 f"new app {plan.to_app}: {plan.partitions}")
        await _check_group_stopped(admin, f"{plan.from_app}-{plan.group}",
                                   settings.session_timeout_seconds + 2, progress, plan.force)
        new_existing = [name for name in new_topics.values() if name in existing]
        if new_existing:
            new_counts = await _partition_counts(admin, new_existing)
            wrong = {t: n for t, n in new_counts.items() if n != plan.partitions}
            if wrong:
                raise RekeyRefused(f"new changelog topics exist with another partition count: "
                                   f"{wrong}; choose another --to-app")
        data = await _data_topic_plan(admin, new_settings, existing)
    finally:
        await admin.close()

    await _check_drained(settings, f"{plan.from_app}-{plan.group}", plan.force)
    if new_existing:
        held = await _record_counts(settings, new_existing)
        if sum(held.values()) and not plan.force:
            raise RekeyRefused(f"new changelog topics already hold data ({held}); choose "
                               "another --to-app, or --force to write over it")

    # Read and recompute everything before the first write.
    old: dict[str, rekey.State] = {}
    for table, topic in old_topics.items():
        records = await _read_changelog(settings, topic, summary.old_partitions)
        old[table] = rekey.latest(records)
        summary.read[table] = rekey.count(old[table])
        summary.records[table] = len(records)
        progress(f"read {topic}: {len(records)} records, {summary.read[table]} live")
    if single:
        articles, bands = rekey.from_single(old[rekey.SINGLE_STATE].get(0, {}),
                                            old[rekey.SINGLE_STORIES].get(0, {}))
        old = {rekey.ARTICLES: articles, rekey.BANDS: bands,
               rekey.EVENTS: old[rekey.SINGLE_EVENTS]}
        progress(f"recast the one-partition tables: {rekey.count(articles)} article and "
                 f"{rekey.count(bands)} signature records")
    cfg = dedup_config(settings)
    new = {
        rekey.ARTICLES: rekey.rekey_articles(old[rekey.ARTICLES], plan.partitions,
                                             partitioner(plan.partitions)),
        rekey.BANDS: rekey.rekey_bands(old[rekey.BANDS], plan.partitions,
                                       summary.old_partitions, rekey.band_keys_of(cfg)),
        rekey.EVENTS: rekey.rekey_events(old[rekey.EVENTS], plan.partitions),
    }
    summary.articles = sum(1 for part in old[rekey.ARTICLES].values() for k in part
                           if k.startswith("a:"))

    summary.topics_created = await _prepare_data_topics(new_settings, data)
    await _create_changelogs(settings, list(new_topics.values()), plan.partitions)
    for table, topic in new_topics.items():
        summary.written[table] = await _write(settings, topic, new[table])
        progress(f"wrote {topic}: {summary.written[table]} records")
    if plan.to_prefix is None or plan.to_prefix == settings.topic_prefix:
        summary.offsets_committed = await _commit_offsets(
            settings, f"{plan.from_app}-{plan.group}", f"{plan.to_app}-{plan.group}",
            plan.group)
        progress(f"group {plan.to_app}-{plan.group}: {summary.offsets_committed} offsets "
                 "committed (where the old group stopped; new partitions at their end)")
    summary.seconds = round(time.monotonic() - wall, 2)
    summary.cpu_seconds = round(time.process_time() - cpu, 2)
    return summary


async def _partition_counts(admin: Any, topics: list[str]) -> dict[str, int]:
    described = await admin.describe_topics(topics)
    return {t["topic"]: len(t["partitions"]) for t in described if t["partitions"]}


async def _check_group_stopped(admin: Any, group: str, wait: float,
                               progress: Callable[[str], None], force: bool) -> None:
    """Refuse while the old consumer group has members: their tables would still change.

    A worker that was just stopped may stay a member until its session times
    out, so members are given ``wait`` seconds to go.  The embedded broker
    keeps the last member of a group listed after it has left, so with
    ``force`` the job then goes on with a warning.
    """
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            response = await admin.describe_consumer_groups([group])
        except Exception as exc:  # a broker without DescribeGroups: say so, go on
            log.warning("could not check that group %s has no members (%s): make sure the "
                        "old workers are stopped", group, exc)
            return
        # (error_code, group, state, protocol_type, protocol, members)
        members = sum(len(desc[5] if isinstance(desc, tuple) else getattr(desc, "members", []))
                      for entry in response for desc in entry.groups)
        if not members:
            return
        if time.monotonic() >= deadline:
            if force:
                progress(f"--force: going on although group {group} lists {members} "
                         "member(s); the old workers must be stopped")
                return
            raise RekeyRefused(f"consumer group {group} still has {members} active "
                               "member(s): stop the old deduplicator workers first (if they "
                               "are stopped, the broker still lists them, as the embedded "
                               "broker does for a group's last member: --force goes on)")
        if not told:
            progress(f"consumer group {group} has {members} member(s): waiting up to "
                     f"{wait:.0f} s for stopped workers' sessions to end")
            told = True
        await asyncio.sleep(1.0)


async def _data_topic_plan(admin: Any, settings: Settings, existing: set[str]
                           ) -> dict[str, int | None]:
    """Each data topic's present partition count (None: missing); refuse what cannot be fixed."""
    names = [settings.topic(t) for t in DATA_TOPICS]
    present = [n for n in names if n in existing]
    counts = await _partition_counts(admin, present) if present else {}
    plan: dict[str, int | None] = {n: counts.get(n) for n in names}
    more = {n: c for n, c in plan.items() if c is not None and c > settings.partitions}
    if more:
        raise RekeyRefused(f"topics with more partitions than {settings.partitions}: {more}; "
                           "Kafka cannot remove partitions: give the new deployment new topics "
                           "(--to-prefix)")
    fewer = [n for n, c in plan.items() if c is not None and c < settings.partitions]
    if fewer and not await _can_grow(admin, fewer, settings.partitions):
        commands = "; ".join(
            f"kafka-topics --bootstrap-server {settings.bootstrap_servers} --alter --topic "
            f"{n} --partitions {settings.partitions}" for n in fewer)
        raise RekeyRefused(f"this broker cannot add partitions (no CreatePartitions): run "
                           f"{commands}, or give the new deployment new topics (--to-prefix)")
    return plan


async def _can_grow(admin: Any, topics: list[str], partitions: int) -> bool:
    """Whether the broker would add the partitions (asked with ``validate_only``)."""
    from aiokafka.admin import NewPartitions

    try:
        await admin.create_partitions(
            {t: NewPartitions(total_count=partitions) for t in topics}, validate_only=True)
    except Exception as exc:  # IncompatibleBrokerVersion and kin
        log.info("the broker will not add partitions: %s", exc)
        return False
    return True


async def _prepare_data_topics(settings: Settings, plan: dict[str, int | None]) -> list[str]:
    """Create the missing data topics with ``P'`` partitions and grow the smaller ones."""
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

    from marsad.topics import ALL_TOPICS, ensure_topics

    created = await ensure_topics(settings, ALL_TOPICS + INTERNAL_TOPICS)
    fewer = {n: NewPartitions(total_count=settings.partitions)
             for n, c in plan.items() if c is not None and c < settings.partitions}
    if fewer:
        admin = AIOKafkaAdminClient(**kafka_client_options(settings))
        await admin.start()
        try:
            await admin.create_partitions(fewer)
        finally:
            await admin.close()
        log.info("grew %s to %d partitions", ", ".join(fewer), settings.partitions)
    return created


async def _end_offsets(settings: Settings, topic: str, partitions: int) -> dict[int, int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {tp.partition: int(n) for tp, n in ends.items()}


async def _record_counts(settings: Settings, topics: list[str]) -> dict[str, int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        counts = await _partition_counts(admin, topics)
    finally:
        await admin.close()
    return {t: sum((await _end_offsets(settings, t, n)).values()) for t, n in counts.items()}


async def _check_drained(settings: Settings, group: str, force: bool) -> None:
    """Refuse when the old group has not consumed all of its input (articles would be lost)."""
    lag = await _lag(settings, group)
    if lag and not force:
        detail = ", ".join(f"{t}: {n}" for t, n in sorted(lag.items()))
        raise RekeyRefused(f"group {group} has not consumed all of its input ({detail} "
                           "messages left): let the old workers drain it first, or --force")


async def _lag(settings: Settings, group: str) -> dict[str, int]:
    """Messages of the deduplicator's input topics after the group's committed offsets."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from marsad.topics import partition_counts

    counts = await partition_counts(settings, DATA_TOPICS)
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    lag: dict[str, int] = {}
    try:
        for logical, n in counts.items():
            tps = [TopicPartition(settings.topic(logical), p) for p in range(n)]
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                done = await consumer.committed(tp) or 0
                if ends[tp] > done:
                    lag[tp.topic] = lag.get(tp.topic, 0) + ends[tp] - done
    finally:
        await consumer.stop()
    return lag


async def _read_changelog(settings: Settings, topic: str, partitions: int
                          ) -> list[tuple[int, str, Any]]:
    """Every record of a changelog, to its end offsets: ``(partition, key, value or None)``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    ends = await _end_offsets(settings, topic, partitions)
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    out: list[tuple[int, str, Any]] = []
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        todo = {tp for tp in tps if ends[tp.partition] > 0}
        deadline = time.monotonic() + _READ_IDLE_SECONDS
        while todo:
            if time.monotonic() > deadline:
                raise rekey.RekeyError(f"{topic}: no record for {_READ_IDLE_SECONDS:.0f} s "
                                       "before the end offsets; nothing written")
            batch = await consumer.getmany(*todo, timeout_ms=1000)
            if batch:
                deadline = time.monotonic() + _READ_IDLE_SECONDS
            for tp, records in batch.items():
                for rec in records:
                    if rec.offset >= ends[tp.partition]:
                        continue
                    # Faust writes table keys as JSON (a str key is a JSON string).
                    key = orjson.loads(rec.key) if rec.key is not None else ""
                    if not isinstance(key, str):
                        raise rekey.RekeyError(f"{topic}: a key that is not a string: {key!r}")
                    value = None if rec.value is None else orjson.loads(rec.value)
                    out.append((tp.partition, key, value))
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp.partition]:
                    todo.discard(tp)
    finally:
        await consumer.stop()
    return out


async def _create_changelogs(settings: Settings, topics: list[str], partitions: int) -> None:
    """The new tables' changelogs, as Faust would create them (compacted, ``P'`` partitions)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(name=t, num_partitions=partitions,
                           replication_factor=settings.replication_factor,
                           topic_configs={"cleanup.policy": "compact"})
                  for t in topics if t not in existing]
        if wanted:
            await admin.create_topics(wanted)
    finally:
        await admin.close()


async def _write(settings: Settings, topic: str, state: rekey.State) -> int:
    """Write every record to its partition and check that the broker holds them all."""
    from aiokafka import AIOKafkaProducer

    partitions = max(state, default=-1) + 1
    before = await _end_offsets(settings, topic, partitions) if partitions else {}
    producer = AIOKafkaProducer(
        **kafka_client_options(settings), acks="all",
        max_batch_size=settings.producer_batch_bytes,
        max_request_size=settings.max_output_bytes,
    )
    await producer.start()
    written = 0
    try:
        futures = []
        for part, records in sorted(state.items()):
            for key, value in records.items():
                futures.append(await producer.send(
                    topic, orjson.dumps(value), key=orjson.dumps(key), partition=part))
                written += 1
        for fut in futures:
            await fut
    finally:
        await producer.stop()
    after = await _end_offsets(settings, topic, partitions) if partitions else {}
    for part, records in state.items():
        if after[part] - before.get(part, 0) < len(records):
            raise rekey.RekeyError(f"{topic}[{part}]: {len(records)} records sent but the "
                                   f"broker's end offset moved by {after[part] - before[part]}")
    return written


async def _commit_offsets(settings: Settings, old_group: str, new_group: str, group: str
                          ) -> int:
    """Start the new group where the old one stopped (new partitions at their end).

    Without this the new group would read every retained message again from
    the earliest offset (``auto_offset_reset``) and decide it once more.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from marsad.topics import NORMALISED, partition_counts

    topics = DATA_TOPICS + ((RAW, NORMALISED) if group == "all" else ())
    counts = await partition_counts(settings, topics)
    old = AIOKafkaConsumer(**kafka_client_options(settings), group_id=old_group,
                           enable_auto_commit=False)
    new = AIOKafkaConsumer(**kafka_client_options(settings), group_id=new_group,
                           enable_auto_commit=False)
    await old.start()
    await new.start()
    offsets: dict[Any, int] = {}
    try:
        for logical, n in counts.items():
            tps = [TopicPartition(settings.topic(logical), p) for p in range(n)]
            ends = await new.end_offsets(tps)
            for tp in tps:
                done = await old.committed(tp)
                offsets[tp] = ends[tp] if done is None else done
        new.assign(list(offsets))
        await new.commit(offsets)
    finally:
        await old.stop()
        await new.stop()
    return len(offsets)
