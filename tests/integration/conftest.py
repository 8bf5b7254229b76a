"""Helpers for integration tests: real workers as subprocesses, real Kafka clients."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import orjson

from marsad.settings import Settings
from tests.conftest import free_port


@contextmanager
def running_worker(
    bootstrap: str, prefix: str, stage: str = "all", *, port: int, log_path: Path,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``marsad worker STAGE`` against the broker until the block ends."""
    full_env = {
        **os.environ,
        "MARSAD_BOOTSTRAP_SERVERS": bootstrap,
        "MARSAD_TOPIC_PREFIX": prefix,
        "MARSAD_APP_ID": f"{prefix}marsad",
        "MARSAD_METRICS_PORT": str(port),
        # The embedded broker misreports a topic's end after multi-record batches,
        # which would cut table restores short (see Settings.producer_batch_bytes).
        "MARSAD_PRODUCER_BATCH_BYTES": "1",
        **(env or {}),
    }
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marsad", "worker", stage], env=full_env,
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(port, proc, log_path)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_workers(
    stack: ExitStack, bootstrap: str, prefix: str, stages: Sequence[str], *, log_dir: Path,
    env: dict[str, str] | None = None,
) -> list[int]:
    """Start one ``marsad worker`` per stage name, in order, each with its own port and log.

    They run until ``stack`` closes; a stage named twice runs two workers of it.

    Returns:
        The workers' metrics ports, in the order of ``stages``.
    """
    ports = [free_port() for _ in stages]
    for stage, port in zip(stages, ports, strict=True):
        stack.enter_context(running_worker(
            bootstrap, prefix, stage, port=port, log_path=log_dir / f"{stage}-{port}.log", env=env,
        ))
    return ports


def wait_ready(
    port: int, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 90
) -> None:
    """Poll the worker's /ready endpoint until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"worker not ready after {timeout} s:\n{log_path.read_text()[-4000:]}")


def settings_for(bootstrap: str, prefix: str) -> Settings:
    return Settings(bootstrap_servers=bootstrap, topic_prefix=prefix)


async def produce(settings: Settings, values: list[tuple[bytes | None, bytes]]) -> None:
    """Send (key, value) pairs to articles.raw and wait for the broker's acks."""
    from aiokafka import AIOKafkaProducer

    from marsad.topics import ALL_TOPICS, RAW, ensure_topics, kafka_client_options

    await ensure_topics(settings, ALL_TOPICS)
    producer = AIOKafkaProducer(
        **kafka_client_options(settings), acks="all", max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        futures = [await producer.send(settings.topic(RAW), v, key=k) for k, v in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def consume(
    settings: Settings, topics: list[str], expected: int, timeout: float = 120
) -> list[dict[str, Any]]:
    """Read topics from the start until ``expected`` messages arrived (or time runs out)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *[settings.topic(t) for t in topics], bootstrap_servers=settings.bootstrap_servers,
        group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for rec in records:
                    out.append({
                        "topic": rec.topic.removeprefix(settings.topic_prefix),
                        "key": rec.key.decode() if rec.key else None,
                        "value": orjson.loads(rec.value),
                    })
    finally:
        await consumer.stop()
    return out
