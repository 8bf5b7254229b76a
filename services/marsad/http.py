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
    """What ``/ready`` reports: set by the worker as partitions come and go.

    Args:
        gauge: Optional Prometheus gauge mirroring readiness (1 or 0).
    """

    def __init__(self, gauge: Gauge | None = None) -> None:
        self.ready = False
        self.reason = "starting"
        self._gauge = gauge

    def set(self, ready: bool, reason: str) -> None:
        """Record readiness and why."""
        if ready != self.ready or reason != self.reason:
            log.info("readiness: %s (%s)", "ready" if ready else "not ready", reason)
        self.ready, self.reason = ready, reason
        if self._gauge is not None:
            self._gauge.set(1 if ready else 0)


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
