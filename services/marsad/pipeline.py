"""The three stages chained in one process with no broker (``marsad process``, benchmarks).

Each output is encoded and decoded again exactly as it would be on Kafka, so
``marsad process`` and the broker path give the same records for the same
input.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

from marsad.codec import Codec
from marsad.stage import Incoming, Outgoing, Stage
from marsad.topics import RAW


class Pipeline:
    """Runs messages through the stages in stream order.

    Args:
        stages: Stages keyed by their input topic (logical name).
        codec: Codec used to encode intermediate records as on the wire.
    """

    def __init__(self, stages: Iterable[Stage], codec: Codec) -> None:
        self.by_source: Mapping[str, Stage] = {s.source: s for s in stages}
        self.codec = codec
        self._offsets: defaultdict[str, int] = defaultdict(int)

    def run(self, value: bytes, *, topic: str = RAW) -> Iterator[Outgoing]:
        """Feed one raw message and yield every message the stages produce, in order."""
        queue = [Incoming(value=value, topic=topic, offset=self._next_offset(topic))]
        while queue:
            msg = queue.pop(0)
            stage = self.by_source.get(msg.topic)
            if stage is None:
                continue
            for out in stage.handle(msg):
                yield out
                if out.topic in self.by_source:
                    queue.append(
                        Incoming(
                            value=out.data,
                            key=out.key.encode("utf-8"),
                            topic=out.topic,
                            offset=self._next_offset(out.topic),
                        )
                    )

    def _next_offset(self, topic: str) -> int:
        offset = self._offsets[topic]
        self._offsets[topic] = offset + 1
        return offset
