"""Readiness: the worker's own state and a probe of the broker, over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from prometheus_client import CollectorRegistry

from marsad.http import HealthState
from marsad.metrics import Metrics
from marsad.settings import Settings
from marsad.worker import probe_broker
from tests.conftest import free_port


def test_ready_needs_both_the_worker_and_the_broker() -> None:
    metrics = Metrics(CollectorRegistry())
    health = HealthState(metrics.ready)
    assert not health.ready
    health.set(True, "3 partitions assigned")
    assert health.ready
    assert metrics.registry.get_sample_value("marsad_ready") == 1
    health.set_broker(False)
    assert not health.ready
    assert "Kafka" in health.reason
    assert metrics.registry.get_sample_value("marsad_ready") == 0
    health.set_broker(True)
    assert health.ready and health.reason == "3 partitions assigned"


async def _probe_once(bootstrap: str) -> bool:
    health = HealthState()
    health.set(True, "assigned")
    task = asyncio.create_task(probe_broker(Settings(bootstrap_servers=bootstrap), health, 60))
    await asyncio.sleep(0.3)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return health.ready


def test_probe_sees_a_listening_broker_and_a_missing_one() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert asyncio.run(_probe_once(f"127.0.0.1:{port}"))
    assert not asyncio.run(_probe_once(f"127.0.0.1:{free_port()}"))
    # Any one reachable server of the list is enough.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert asyncio.run(_probe_once(f"127.0.0.1:{free_port()},127.0.0.1:{port}"))
