"""The stage base: one bad message becomes one dead letter, never an exception."""

from __future__ import annotations

import base64

import pytest

from marsad.codec import Codec
from marsad.pipeline import Pipeline
from marsad.stage import Incoming, Outgoing, Rejected, Stage
from marsad.topics import ALL_TOPICS


class Boom(Stage):
    """A stage whose core fails in the ways real cores can."""

    name = "normaliser"
    source = "articles.raw"

    def process(self, msg: Incoming) -> list[Outgoing]:
        value = self.codec.decode("articles.raw", msg.value)
        if value["text"] == "crash":
            raise ZeroDivisionError("division by zero")
        if value["text"] == "reject":
            raise Rejected("not_arabic", "no Arabic letters", "a-1")
        return [Outgoing("articles.normalised", "k", {"ok": True})]


@pytest.fixture(scope="module")
def stage() -> Boom:
    return Boom(Codec(ALL_TOPICS), deadletter_original_bytes=8)


@pytest.mark.parametrize(
    ("payload", "reason", "article_id"),
    [
        (b'{"text": "crash"}', "processing_error", None),
        (b'{"text": "reject"}', "not_arabic", "a-1"),
        (b"{not json", "invalid_json", None),
    ],
)
def test_failures_become_dead_letters(
    stage: Boom, payload: bytes, reason: str, article_id: str | None
) -> None:
    msg = Incoming(value=payload, key=b"key-1", topic="x.articles.raw", partition=2, offset=41)
    [out] = stage.handle(msg)
    assert out.topic == "articles.deadletter"
    assert out.value["reason"] == reason
    assert out.value["article_id"] == article_id
    assert out.value["origin"] == {
        "topic": "x.articles.raw", "partition": 2, "offset": 41,
        "key_b64": base64.b64encode(b"key-1").decode(),
    }
    # The original is kept, truncated to the configured size and flagged.
    assert base64.b64decode(out.value["original_b64"]) == payload[:8]
    assert out.value["original_size"] == len(payload)
    assert out.value["original_truncated"] is (len(payload) > 8)


def test_dead_letters_validate_against_their_schema(stage: Boom) -> None:
    codec = Codec(ALL_TOPICS)
    for payload in (b'{"text": "crash"}', b"\xff", b"[]"):
        [out] = stage.handle(Incoming(value=payload))
        codec.validate("articles.deadletter", out.value)


def test_pipeline_feeds_outputs_to_the_next_stage(stage: Boom) -> None:
    class Next(Stage):
        name = "extractor"
        source = "articles.normalised"

        def process(self, msg: Incoming) -> list[Outgoing]:
            return [Outgoing("articles.extracted", msg.key.decode() if msg.key else "", {"n": 1})]

    codec = Codec(ALL_TOPICS)
    pipe = Pipeline([stage, Next(codec)], codec)
    outs = list(pipe.run(b'{"text": "fine"}'))
    assert [o.topic for o in outs] == ["articles.normalised", "articles.extracted"]
    assert outs[1].key == "k"


def test_a_stage_that_hangs_is_cut_off() -> None:
    import time

    class Slow(Stage):
        name = "extractor"
        source = "articles.normalised"

        def process(self, msg: Incoming) -> list[Outgoing]:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # CPU-bound, like a backtracking regex
                pass
            return []

    # Uninterrupted, the loop would return no output at all.
    [out] = Slow(Codec(ALL_TOPICS), time_limit_seconds=0.2).handle(Incoming(value=b"{}"))
    assert out.value["reason"] == "timeout"
