"""A workaround for a faust-streaming bug that loses messages after a table recovery.

faust-streaming 0.15.3, ``faust.tables.recovery.Recovery.on_recovery_completed``:
when a worker with tables has restored them after a rebalance, it resumes
the source partitions and seeks them to their committed offsets while the
consumer's flow is already active (the recovery resumed it to read the
changelogs), and only then calls ``app.flow_control.resume()``, which
clears every stream's and channel's queue (they are created with
``clear_on_resume``).  Messages fetched in between are dropped, although
the consumer's position has already moved past them: they are never
processed.  The deduplicator's restart and re-keying integration tests lost
the first records of a partition this way, about one run in three in CI.

:func:`apply` replaces the method with upstream's, the one change being that
the queues are cleared before the source partitions are resumed: a message
fetched while the partitions are sought is then processed (at worst twice,
when the seek moves back over it, which the stages handle as a redelivery)
instead of dropped.  It patches only the version it was written for: if
upstream's method differs, it logs a warning and leaves Faust as it is
(``tests/unit/wiring/test_faust_patches.py`` fails too, to prompt a review).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from typing import Any

log = logging.getLogger(__name__)

#: SHA-256 of the source of the upstream method this replaces (faust-streaming 0.15.3).
UPSTREAM_SHA256 = "6ef567acf072e46da3fccbccc6d662371f634f622c3d510972d5df81f70ae3ac"

#: Upstream's method, once replaced by :func:`apply`.
_upstream: Any = None


def upstream_digest() -> str:
    """SHA-256 of the source of upstream's ``Recovery.on_recovery_completed`` as installed."""
    from faust.tables.recovery import Recovery

    method = Recovery.on_recovery_completed if _upstream is None else _upstream
    return hashlib.sha256(inspect.getsource(method).encode("utf-8")).hexdigest()


async def on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """Upstream's ``Recovery.on_recovery_completed``, with the queues cleared first."""
    consumer = self.app.consumer
    self.log.info("Restore complete!")
    await self.app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callback_coros = [
        asyncio.ensure_future(
            table.on_recovery_completed(
                self.actives_for_table[table],
                self.standbys_for_table[table],
            )
        )
        for table in self.tables.values()
    ]
    if callback_coros:
        await asyncio.wait(callback_coros)
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning("Recovery rebalancing again app id %s param %s",
                         self.app.consumer_generation_id, generation_id)
        return
    # The fix: clear the queues of messages from before the rebalance now,
    # while no source partition can fetch, not after the seek below (by then
    # the active flow may have queued messages the consumer will not fetch again).
    self.app.flow_control.resume()
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(
            consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout
        )
    self.completed.set()
    self.log.dev("Resume stream partitions")
    consumer.resume_flow()
    # finally make sure the fetcher is running.
    await self.app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not self.app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    self.app.on_rebalance_end()
    self.log.info("Worker ready")


def apply() -> bool:
    """Install the fixed method on Faust's ``Recovery`` (once); False when left alone."""
    global _upstream
    if _upstream is not None:
        return True
    from faust.tables.recovery import Recovery

    digest = upstream_digest()
    if digest != UPSTREAM_SHA256:
        log.warning("faust's Recovery.on_recovery_completed is not the one marsad.faust_patches "
                    "was written for (sha256 %s): not patched, messages may be lost after a "
                    "table recovery", digest[:12])
        return False
    _upstream = Recovery.on_recovery_completed
    Recovery.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]
    return True
