"""``marsad topics`` creates every topic a worker needs, with the configured partitions."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from marsad.settings import Settings
from marsad.topics import ALL_TOPICS, INTERNAL_TOPICS, kafka_client_options

pytestmark = pytest.mark.integration


async def _partitions(settings: Settings) -> dict[str, int]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(**kafka_client_options(settings))
    await consumer.start()
    try:
        names = [settings.topic(n) for n in ALL_TOPICS + INTERNAL_TOPICS]
        await consumer._client.force_metadata_update()
        return {n: len(consumer.partitions_for_topic(n) or ()) for n in names}
    finally:
        await consumer.stop()


def test_topics_command_creates_internal_topics_too(broker: str, prefix: str) -> None:
    env = {**os.environ, "MARSAD_BOOTSTRAP_SERVERS": broker, "MARSAD_TOPIC_PREFIX": prefix,
           "MARSAD_PARTITIONS": "3"}
    out = subprocess.run([sys.executable, "-m", "marsad", "topics"], env=env, check=True,
                         capture_output=True, text=True, timeout=120)
    assert "dedup.bands" in out.stdout and "dedup.notes" in out.stdout
    settings = Settings(bootstrap_servers=broker, topic_prefix=prefix)
    counts = asyncio.run(_partitions(settings))
    assert counts == dict.fromkeys(counts, 3), counts
    # A second run finds them all.
    again = subprocess.run([sys.executable, "-m", "marsad", "topics"], env=env, check=True,
                           capture_output=True, text=True, timeout=120)
    assert "nothing (all exist)" in again.stdout
