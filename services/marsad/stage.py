"""What every processor has in common, with no Faust or Kafka imports.

A stage turns one :class:`Incoming` message into the list of :class:`Outgoing`
messages it should produce.  The Faust agents, ``marsad process`` and
``marsad bench`` all call :meth:`Stage.handle`, so the three paths cannot
drift apart.  ``handle`` never raises: anything that goes wrong with one
message becomes a dead letter with a reason code.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from marsad.codec import Codec, DecodeError
from marsad.topics import DEADLETTER, RAW

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message as read from a topic (or a line of a JSONL file)."""

    value: bytes | None
    key: bytes | None = None
    topic: str = ""
    partition: int = 0
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to produce: a logical topic, the article id as key, a record.

    ``data`` is the encoded record, filled in by :meth:`Stage.handle`: encoding
    happens under the stage's protection, so a record that cannot be encoded
    becomes a dead letter there instead of failing later in the producer.
    """

    topic: str
    key: str
    value: dict[str, Any]
    data: bytes = b""


class Rejected(DecodeError):
    """A decoded article that the stage refuses, with the article id when known."""

    def __init__(self, reason: str, detail: str, article_id: str | None = None) -> None:
        super().__init__(reason, detail)
        self.article_id = article_id


class StageTimeout(Exception):
    """Raised inside a stage when one message takes longer than the per-article limit."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block with :class:`StageTimeout` after ``seconds`` of wall time.

    A pathological article (a megabyte of one letter, a regular expression that
    backtracks) must not stall its partition.  The cores are synchronous Python,
    so the only way to stop them from outside is a signal; ``SIGALRM`` is
    delivered to the main thread, where the Faust worker and ``marsad process``
    run.  Elsewhere (no limit possible) the block runs unguarded.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    armed = True

    def expire(signum: int, frame: FrameType | None) -> None:
        if armed:
            raise StageTimeout(f"over the limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Stage(ABC):
    """Base of the three processors.

    Args:
        codec: Codec with validators for the stage's input topic.
        deadletter_original_bytes: How many bytes of a bad message a dead letter keeps.
        time_limit_seconds: Longest time one message may take (``None``: no limit).
    """

    #: Name used in metrics, logs and dead letters.
    name: str = ""
    #: Logical input topic.
    source: str = ""

    def __init__(
        self,
        codec: Codec,
        *,
        deadletter_original_bytes: int = 262_144,
        time_limit_seconds: float | None = 10.0,
    ) -> None:
        self.codec = codec
        self.deadletter_original_bytes = deadletter_original_bytes
        self.time_limit_seconds = time_limit_seconds

    def handle(self, msg: Incoming) -> list[Outgoing]:
        """Process one message; bad input yields a dead letter instead of raising."""
        try:
            with time_limit(self.time_limit_seconds):
                return [self._encoded(out) for out in self.process(msg)]
        except StageTimeout as exc:
            log.warning(
                "%s gave up on %s[%d]@%d: %s", self.name, msg.topic, msg.partition, msg.offset, exc
            )
            return [self.deadletter(msg, "timeout", str(exc))]
        except Rejected as exc:
            return [self.deadletter(msg, exc.reason, exc.detail, exc.article_id)]
        except DecodeError as exc:
            return [self.deadletter(msg, exc.reason, exc.detail)]
        except Exception as exc:  # a bug or a pathological input must not stop the stream
            log.exception(
                "%s failed on %s[%d]@%d", self.name, msg.topic, msg.partition, msg.offset
            )
            return [self.deadletter(msg, "processing_error", f"{type(exc).__name__}: {exc}")]

    def _encoded(self, out: Outgoing) -> Outgoing:
        return Outgoing(out.topic, out.key, out.value, self.codec.encode(out.value))

    @abstractmethod
    def process(self, msg: Incoming) -> list[Outgoing]:
        """Decode, run the core and build the output records (may raise)."""

    def deadletter(
        self, msg: Incoming, reason: str, detail: str, article_id: str | None = None
    ) -> Outgoing:
        """Build the dead letter for a message that could not be processed."""
        if article_id is None and msg.key and self.source != RAW:
            # Past the first stage every key is an article id (the topics' contract).
            article_id = msg.key.decode("utf-8", "replace")
        original = msg.value or b""
        kept = original[: self.deadletter_original_bytes]
        key = article_id or (msg.key.decode("utf-8", "replace") if msg.key else None)
        value = {
            "schema_version": 1,
            "reason": reason,
            "stage": self.name,
            "detail": detail[:2000],
            "article_id": article_id,
            "origin": {
                "topic": msg.topic,
                "partition": msg.partition,
                "offset": msg.offset,
                "key_b64": base64.b64encode(msg.key).decode("ascii") if msg.key else None,
            },
            "original_b64": base64.b64encode(kept).decode("ascii"),
            "original_size": len(original),
            "original_truncated": len(kept) < len(original),
        }
        # Dead letters of one origin offset share a key so that a redelivered bad
        # message overwrites rather than piles up under log compaction.
        return self._encoded(
            Outgoing(DEADLETTER, key or f"{msg.topic}/{msg.partition}/{msg.offset}", value)
        )
