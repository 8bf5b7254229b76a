"""The workaround for Faust's lossy recovery: on the pinned version only, and in the right order."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

from marsad import faust_patches


def test_the_installed_faust_has_the_method_the_patch_was_written_for() -> None:
    # A faust-streaming upgrade changes this: review the patch against the new
    # upstream method (is the bug still there?) before updating the digest.
    assert faust_patches.upstream_digest() == faust_patches.UPSTREAM_SHA256


def test_apply_replaces_the_method_once() -> None:
    from faust.tables.recovery import Recovery

    assert faust_patches.apply()
    assert Recovery.on_recovery_completed is faust_patches.on_recovery_completed
    assert faust_patches.apply()  # again: nothing changes
    assert faust_patches.upstream_digest() == faust_patches.UPSTREAM_SHA256


def fake_recovery(generation: int) -> tuple[Any, mock.Mock]:
    """A Recovery-shaped object whose collaborators record the order of the calls."""
    calls = mock.Mock()
    app = mock.Mock()
    app.consumer_generation_id = generation
    app.on_rebalance_complete.send = mock.AsyncMock()
    app._fetcher.maybe_start = mock.AsyncMock()
    app.flow_control.resume = calls.flow_control_resume
    app.consumer.assignment.return_value = {"articles.extracted-0", "changelog-0"}
    app.consumer.resume_partitions = calls.resume_partitions
    app.consumer.perform_seek = calls.perform_seek
    app.consumer.resume_flow = calls.resume_flow
    app.assignor.assigned_standbys.return_value = []
    app.conf.broker_request_timeout = 1.0
    recovery = mock.Mock()
    recovery.app = app
    recovery.tables.values.return_value = []  # no table: no recovery callbacks
    recovery._is_changelog_tp = lambda tp: tp.startswith("changelog")

    async def wait(coro: Any, timeout: float) -> Any:
        return await coro if asyncio.iscoroutine(coro) else coro

    recovery._wait = wait
    return recovery, calls


def test_the_queues_are_cleared_before_the_source_partitions_can_fetch() -> None:
    recovery, calls = fake_recovery(generation=3)
    asyncio.run(faust_patches.on_recovery_completed(recovery, generation_id=3))
    order = [c[0] for c in calls.mock_calls]
    assert order == ["flow_control_resume", "resume_partitions", "perform_seek", "resume_flow"]
    calls.resume_partitions.assert_called_once_with({"articles.extracted-0"})
    recovery.completed.set.assert_called_once_with()


def test_a_new_rebalance_during_the_callbacks_resumes_nothing() -> None:
    recovery, calls = fake_recovery(generation=4)
    asyncio.run(faust_patches.on_recovery_completed(recovery, generation_id=3))
    assert calls.mock_calls == []
    recovery.completed.set.assert_not_called()
