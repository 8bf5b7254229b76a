"""The worker's small HTTP endpoint: ``/metrics``, ``/health`` and ``/ready``, nothing else.

It binds to ``MARSAD_METRICS_HOST`` (loopback by default) so a worker outside a
container does not open a port to the network unless told to.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

log = logging.getLogger(__name__)


class HealthState:
    """What ``/ready`` reports: the worker's own state and whether Kafka answers.

    The worker sets its state as topics, partitions and sends come and go; a
    probe sets whether the broker accepts connections, so an idle worker whose
    broker went away turns not-ready too.

    Args:
        gauge: Optional Prometheus gauge mirroring readiness (1 or 0).
    """

    def __init__(self, gauge: Gauge | None = None) -> None:
        self._ready = False
        self._reason = "starting"
        self.broker_reachable = True
        self._gauge = gauge

    @property
    def ready(self) -> bool:
        """True when the worker is ready and its broker reachable."""
        return self._ready and self.broker_reachable

    @property
    def reason(self) -> str:
        """Why the worker is (not) ready."""
        return self._reason if self.broker_reachable else "Kafka does not accept connections"

    def set(self, ready: bool, reason: str) -> None:
        """Record the worker's own readiness and why."""
        before = (self.ready, self.reason)
        self._ready, self._reason = ready, reason
        self._changed(before)

    def set_broker(self, reachable: bool) -> None:
        """Record what the broker probe saw."""
        before = (self.ready, self.reason)
        self.broker_reachable = reachable
        self._changed(before)

    def _changed(self, before: tuple[bool, str]) -> None:
        if (self.ready, self.reason) != before:
            log.info("readiness: %s (%s)", "ready" if self.ready else "not ready", self.reason)
        if self._gauge is not None:
            self._gauge.set(1 if self.ready else 0)


class HttpEndpoint:
    """Serve metrics and health over HTTP on one address.

    Args:
        registry: The Prometheus registry to expose.
        health: Readiness state shared with the worker.
        host: Bind address.
        port: Bind port (0 picks a free one; see :attr:`port` after start).
    """

    def __init__(
        self, registry: CollectorRegistry, health: HealthState, host: str, port: int
    ) -> None:
        self.registry, self.health, self.host, self.port = registry, health, host, port
        self._runner: web.AppRunner | None = None

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _ready(self, _: web.Request) -> web.Response:
        status = 200 if self.health.ready else 503
        return web.json_response(
            {"ready": self.health.ready, "reason": self.health.reason}, status=status
        )

    async def start(self) -> None:
        """Bind and start serving."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        app.router.add_get("/ready", self._ready)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self._runner.addresses:  # the real port when 0 asked for any free one
            self.port = int(self._runner.addresses[0][1])
        log.info("serving /metrics, /health and /ready on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
