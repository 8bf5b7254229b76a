"""Change the deduplicator from 2 (or 1) to 4 partitions without losing its state.

Two deduplicator workers with two partitions decide the first half of a
stream, then stop one after the other.  ``marsad dedup-rekey`` re-keys their
three tables' changelogs into a new app's, with four partitions, for a
new deployment on new topics (the embedded broker cannot add partitions to
a topic).  A deduplicator worker of the new app, with four partitions,
restores them and takes the second half: exact and edited copies of
first-half articles join their originals' stories, and another outlet's
report of an attack joins the merged event founded before the change.
The same holds when the first half was decided by the one-partition
deduplicator, whose tables have other shapes (``rekey.from_single``).

The articles go through the normaliser and the extractor in-process (the
``marsad process`` pipeline) and are produced to ``articles.extracted``: only
the deduplicator runs as workers here.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest

from marsad.pipeline import Pipeline
from marsad.runtime import build_stage, make_codec
from marsad.settings import Settings
from marsad.topics import ALL_TOPICS, EXTRACTED, INTERNAL_TOPICS, ensure_topics
from tests.conftest import free_port
from tests.integration.conftest import consume, running_worker, wait_ready
from tests.integration.test_dedup_restart_partitions import assert_second_half_joined, two_halves

pytestmark = pytest.mark.integration

FINALS = ["events.enriched", "articles.duplicates", "articles.deadletter"]


def extracted(articles: list[dict]) -> list[tuple[bytes, bytes]]:
    """The ``articles.extracted`` records of raw articles, through the first two stages."""
    settings = Settings()
    codec = make_codec(settings)
    pipeline = Pipeline([build_stage(n, settings, codec) for n in ("normaliser", "extractor")],
                        codec)
    out = []
    for article in articles:
        for msg in pipeline.run(orjson.dumps(article)):
            if msg.topic == EXTRACTED:
                out.append((msg.key.encode(), msg.data))
    assert len(out) == len(articles)
    return out


async def produce_extracted(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    from marsad.topics import kafka_client_options

    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all",
                                max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(settings.topic(EXTRACTED), v, key=k) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def rekey(broker: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MARSAD_BOOTSTRAP_SERVERS": broker, "MARSAD_TOPIC_PREFIX": prefix,
           "MARSAD_PRODUCER_BATCH_BYTES": "1"}
    return subprocess.run([sys.executable, "-m", "marsad", "dedup-rekey", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def deployments(broker: str, old_partitions: int) -> tuple[str, str, Settings, Settings]:
    """Old and new app ids and settings: the new one has 4 partitions and topics of its own."""
    tag = f"r{uuid.uuid4().hex[:8]}"
    old = Settings(bootstrap_servers=broker, topic_prefix=f"{tag}.", partitions=old_partitions)
    new = Settings(bootstrap_servers=broker, topic_prefix=f"{tag}.new.", partitions=4)
    asyncio.run(ensure_topics(old, ALL_TOPICS + INTERNAL_TOPICS))
    return f"{tag}-old", f"{tag}-new", old, new


def test_state_carried_over_from_two_to_four_partitions(broker: str, tmp_path: Path) -> None:
    old_app, new_app, old, new = deployments(broker, 2)
    old_prefix, new_prefix = old.topic_prefix, new.topic_prefix
    halves = two_halves(4)
    originals, sky, *_ = halves
    first_half = extracted([*originals, sky])
    old_env = {"MARSAD_PARTITIONS": "2", "MARSAD_APP_ID": old_app}
    port_a, log_a = free_port(), tmp_path / "dedup-old-a.log"
    with running_worker(broker, old_prefix, "deduplicator", port=port_a, log_path=log_a,
                        env=old_env) as worker_a:
        with running_worker(broker, old_prefix, "deduplicator", port=free_port(),
                            log_path=tmp_path / "dedup-old-b.log", env=old_env):
            asyncio.run(produce_extracted(old, first_half))
            first = asyncio.run(consume(old, FINALS, expected=len(first_half), timeout=120))
            busy = rekey(broker, old_prefix, "--from-app", old_app, "--to-app", new_app,
                         "--partitions", "4", "--to-prefix", new_prefix)
        # One after the other (the embedded broker can wedge a group whose
        # members all leave at once: test_dedup_restart_partitions).
        time.sleep(3)
        wait_ready(port_a, worker_a, log_a)
    assert busy.returncode == 2 and "active member" in busy.stderr, busy.stderr
    done = rekey(broker, old_prefix, "--from-app", old_app, "--to-app", new_app,
                 "--partitions", "4", "--to-prefix", new_prefix)
    assert done.returncode == 0, done.stderr
    assert "re-keyed 7 remembered article(s) from 2 to 4 partitions" in done.stdout, done.stdout
    again = rekey(broker, old_prefix, "--from-app", old_app, "--to-app", new_app,
                  "--partitions", "4", "--to-prefix", new_prefix)
    assert again.returncode == 2 and "already hold data" in again.stderr, again.stderr
    # The same topics would need more partitions, which the embedded broker cannot add.
    grow = rekey(broker, old_prefix, "--from-app", old_app, "--to-app", f"{new_app}-2",
                 "--partitions", "4")
    assert grow.returncode == 2 and "--alter --topic" in grow.stderr, grow.stderr
    one = rekey(broker, old_prefix, "--from-app", old_app, "--to-app", f"{new_app}-3",
                "--partitions", "1", "--to-prefix", new_prefix)
    assert one.returncode == 2 and "not supported" in one.stderr, one.stderr
    second_half_on_four(broker, new, new_app, halves, first, tmp_path)


def second_half_on_four(broker: str, new: Settings, new_app: str,
                        halves: tuple[list[dict], dict, dict, dict, dict], first: list[dict],
                        tmp_path: Path) -> None:
    """A deduplicator of ``new_app`` with 4 partitions takes the second half; check it joined."""
    originals, sky, france, exact, edited = halves
    first_half = [*originals, sky]
    second_half = extracted([*exact.values(), *edited.values(), france])
    new_env = {"MARSAD_PARTITIONS": "4", "MARSAD_APP_ID": new_app}
    with running_worker(broker, new.topic_prefix, "deduplicator", port=free_port(),
                        log_path=tmp_path / "dedup-new.log", env=new_env):
        asyncio.run(produce_extracted(new, second_half))
        # Per original: two notices and two re-publications (two new sources).
        expected = 4 * len(originals) + 1
        asyncio.run(consume(new, FINALS, expected=expected, timeout=120))
        out = asyncio.run(consume(new, FINALS, expected=expected + 1, timeout=5))
    logs = "\n".join(p.read_text()[-1500:] for p in tmp_path.glob("*.log"))
    rebuilt = re.findall(r"LSH index rebuilt from (\d+)", (tmp_path / "dedup-new.log").read_text())
    assert rebuilt and max(int(n) for n in rebuilt) == len(first_half), logs
    assert sorted(o["key"] for o in first) == sorted(a["id"] for a in first_half), logs
    assert not [o for o in out if o["topic"] == "articles.deadletter"], logs
    # The story's revisions go on from where they were (0 before the change).
    assert_second_half_joined(first, out, halves, [1, 2])


def test_state_carried_over_from_one_partition_to_four(broker: str, tmp_path: Path) -> None:
    """One machine's deduplicator (its own table shapes) moves to the band-keyed one."""
    old_app, new_app, old, new = deployments(broker, 1)
    old_prefix, new_prefix = old.topic_prefix, new.topic_prefix
    halves = two_halves(4)
    originals, sky, *_ = halves
    with running_worker(broker, old_prefix, "deduplicator", port=free_port(),
                        log_path=tmp_path / "dedup-old.log",
                        env={"MARSAD_PARTITIONS": "1", "MARSAD_APP_ID": old_app}):
        asyncio.run(produce_extracted(old, extracted([*originals, sky])))
        first = asyncio.run(consume(old, FINALS, expected=len(originals) + 1, timeout=120))
    # The embedded broker keeps the stopped worker listed as the group's member.
    done = rekey(broker, old_prefix, "--from-app", old_app, "--to-app", new_app,
                 "--partitions", "4", "--to-prefix", new_prefix, "--force")
    assert done.returncode == 0, done.stderr
    assert "--force: going on although group" in done.stderr, done.stderr
    assert "recast the one-partition tables" in done.stderr, done.stderr
    assert "re-keyed 7 remembered article(s) from 1 to 4 partitions" in done.stdout, done.stdout
    second_half_on_four(broker, new, new_app, halves, first, tmp_path)


def test_the_new_group_starts_where_the_old_one_stopped(broker: str) -> None:
    """On the same topics the new group's offsets are the old group's; new partitions: end."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from marsad.deduplicator.rekey_kafka import _commit_offsets, _lag

    prefix = f"o{uuid.uuid4().hex[:8]}."
    settings = Settings(bootstrap_servers=broker, topic_prefix=prefix, partitions=2)
    asyncio.run(ensure_topics(settings, ALL_TOPICS + INTERNAL_TOPICS))
    records = extracted([{"id": f"a{n}", "source": "bbc", "title": "خبر",
                          "text": "قال الرئيس إن الحكومة ستعقد اجتماعا في القاهرة غدا."}
                         for n in range(6)])
    asyncio.run(produce_extracted(settings, records))
    topic = settings.topic(EXTRACTED)
    tps = [TopicPartition(topic, p) for p in range(2)]

    async def commit_old() -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker, group_id=f"{prefix}old-x",
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            # The old group read partition 0 to its end, partition 1 not at all.
            await consumer.commit({tps[0]: ends[tps[0]]})
        finally:
            await consumer.stop()
        return {tp.partition: n for tp, n in ends.items()}

    async def committed(group: str) -> dict[str, int | None]:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker, group_id=group,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            return {f"{tp.topic}:{tp.partition}": await consumer.committed(tp)
                    for tp in [*tps, TopicPartition(settings.topic("dedup.notes"), 1)]}
        finally:
            await consumer.stop()

    ends = asyncio.run(commit_old())
    assert asyncio.run(_lag(settings, f"{prefix}old-x")) == {topic: ends[1]}
    count = asyncio.run(_commit_offsets(settings, f"{prefix}old-x", f"{prefix}new-x",
                                        "deduplicator"))
    assert count == 2 * 4  # articles.extracted and the three dedup.* topics
    assert asyncio.run(committed(f"{prefix}new-x")) == {
        f"{topic}:0": ends[0], f"{topic}:1": ends[1], f"{prefix}dedup.notes:1": 0}
