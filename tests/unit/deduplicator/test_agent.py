"""The deduplicator's agents put their table writes on the broker before ``events.merged``.

``worker.attach(..., state_first=...)`` is driven here with a fake Faust app
and stream that record the order of the producer's calls: a batch whose
outputs include a merged event's record flushes the producer (which holds
the batch's changelog writes) before that record is sent; a batch without
one does not wait.  The records the broker acknowledged are counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from marsad.codec import Codec
from marsad.settings import Settings
from marsad.stage import Incoming, Outgoing, Stage
from marsad.topics import ALL_TOPICS, ENRICHED, MERGED
from marsad.worker import WorkerRuntime, attach


class Scripted(Stage):
    """Returns the outputs given for each input value."""

    name = "deduplicator"
    source = "articles.extracted"

    def __init__(self, outputs: dict[bytes, list[Outgoing]]) -> None:
        super().__init__(Codec(ALL_TOPICS), time_limit_seconds=None)
        self.outputs = outputs

    def process(self, msg: Incoming) -> list[Outgoing]:
        return self.outputs[msg.value or b""]


@dataclass
class FakeProducer:
    calls: list[str] = field(default_factory=list)

    async def flush(self) -> None:
        self.calls.append("flush")

    async def send(self, topic: str, key: bytes, value: bytes, *args: Any) -> asyncio.Future[None]:
        self.calls.append(f"send {topic}")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


@dataclass
class FakeApp:
    producer: FakeProducer = field(default_factory=FakeProducer)
    agents: list[Callable[..., Any]] = field(default_factory=list)

    def topic(self, *args: Any, **kwargs: Any) -> str:
        return "topic"

    def agent(self, topic: str, name: str) -> Callable[[Callable[..., Any]], None]:
        return self.agents.append


@dataclass
class Message:
    value: bytes
    key: bytes = b"k"
    topic: str = "articles.extracted"
    partition: int = 0
    offset: int = 0
    headers: tuple[()] = ()
    timestamp: float | None = None


@dataclass
class Event:
    message: Message


class FakeStream:
    def __init__(self, batches: list[list[bytes]]) -> None:
        self.batches = batches
        self.current_event: Event | None = None

    async def take_events(self, size: int, within: float) -> AsyncIterator[list[Event]]:
        for batch in self.batches:
            yield [Event(Message(v)) for v in batch]

    def _set_current_event(self, event: Event | None) -> None:
        self.current_event = event


def record(revision: int) -> dict[str, Any]:
    return {"event_id": "vea1f5881ed4a99ea", "revision": revision}


@pytest.mark.parametrize(
    ("state_first", "expected"),
    [
        # The batch with a merged event's record: flushed first, then sent.
        (frozenset({MERGED}), ["send events.enriched",
                               "flush", "send events.enriched", "send events.merged"]),
        # Without the option nothing waits.
        (frozenset(), ["send events.enriched", "send events.enriched", "send events.merged"]),
    ],
)
def test_merged_records_wait_for_the_batch_state(
    state_first: frozenset[str], expected: list[str]
) -> None:
    stage = Scripted({
        b"plain": [Outgoing(ENRICHED, "a1", {"id": "a1"})],
        b"merging": [Outgoing(ENRICHED, "a2", {"id": "a2"}),
                     Outgoing(MERGED, "vea1f5881ed4a99ea", record(0))],
    })
    app = FakeApp()
    runtime = WorkerRuntime(Settings())
    attach(app, runtime, stage, state_first=state_first)  # type: ignore[arg-type]
    (agent,) = app.agents
    asyncio.run(agent(FakeStream([[b"plain"], [b"merging"]])))
    assert app.producer.calls == expected
    founded = runtime.metrics.merged_events_published.labels("deduplicator", "founded")
    assert founded._value.get() == 1.0



def test_merged_records_are_counted_by_change() -> None:
    stage = Scripted({b"merging": [
        Outgoing(MERGED, "v1", {**record(0), "closed": False}),
        Outgoing(MERGED, "v2", {**record(3), "closed": False}),
        Outgoing(MERGED, "v3", {**record(4), "closed": True}),
        Outgoing(MERGED, "v4", {**record(0), "closed": True}),
    ]})
    app = FakeApp()
    runtime = WorkerRuntime(Settings())
    attach(app, runtime, stage, state_first=frozenset({MERGED}))  # type: ignore[arg-type]
    (agent,) = app.agents
    asyncio.run(agent(FakeStream([[b"merging"]])))
    counter = runtime.metrics.merged_events_published
    counts = {c: counter.labels("deduplicator", c)._value.get()
              for c in ("founded", "joined", "closed")}
    # A closing record counts as closed whatever its revision.
    assert counts == {"founded": 1.0, "joined": 1.0, "closed": 2.0}
