"""The people-facing commands: publish articles, tail a topic readably, run the demo.

These talk to Kafka with plain aiokafka clients; the processors themselves run
as Faust workers (:mod:`marsad.worker`).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from marsad.settings import Settings
from marsad.topics import (
    ALL_TOPICS,
    DEADLETTER,
    DUPLICATES,
    ENRICHED,
    RAW,
    ensure_topics,
    kafka_client_options,
)

log = logging.getLogger(__name__)


def read_lines(path: str) -> Iterator[bytes]:
    """Yield the non-blank lines of a JSONL file (``.gz`` too) or of stdin (``-``), as bytes."""
    if path == "-":
        yield from _non_blank(sys.stdin.buffer)
        return
    opener: Any = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as stream:
        yield from _non_blank(stream)


def _non_blank(stream: IO[bytes]) -> Iterator[bytes]:
    for line in stream:
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield line


def _key_of(line: bytes) -> bytes | None:
    """Return the article id of a raw line as Kafka key, if the line has one."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"]).encode("utf-8")
    return None


async def publish(
    settings: Settings,
    path: str,
    *,
    rate: float | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> int:
    """Send JSONL lines to ``articles.raw`` as they are (bad lines are the workers' business).

    Args:
        settings: Connection settings.
        path: JSONL file, ``.jsonl.gz`` or ``-`` for stdin.
        rate: Articles per second at most (``None``: as fast as possible).
        limit: Stop after this many lines.
        progress: Show a progress bar on stderr.

    Returns:
        The number of messages the broker acknowledged.
    """
    from aiokafka import AIOKafkaProducer
    from tqdm import tqdm

    await ensure_topics(settings, ALL_TOPICS)
    producer = AIOKafkaProducer(
        **kafka_client_options(settings), acks="all", linger_ms=5, max_request_size=8_388_608
    )
    await producer.start()
    sent = 0
    bar = tqdm(unit=" articles", disable=not progress, file=sys.stderr, desc="publish")
    started = time.monotonic()
    try:
        pending = []
        for i, line in enumerate(read_lines(path)):
            if limit is not None and i >= limit:
                break
            if rate:
                ahead = started + i / rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            pending.append(await producer.send(settings.topic(RAW), line, key=_key_of(line)))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                sent += len(pending)
                bar.update(len(pending))
                pending = []
        await asyncio.gather(*pending)
        sent += len(pending)
        bar.update(len(pending))
    finally:
        bar.close()
        await producer.stop()
    return sent


# --- readable output ---------------------------------------------------------


def _span_list(items: list[dict[str, Any]], fmt: str, limit: int = 12) -> str:
    shown = [fmt.format_map(_Safe(i)) for i in items[:limit]]
    more = f" … (+{len(items) - limit})" if len(items) > limit else ""
    return "; ".join(shown) + more


class _Safe(dict[str, Any]):
    """``format_map`` helper: missing keys print as empty strings."""

    def __missing__(self, key: str) -> str:
        return ""


def render(topic: str, key: str | None, value: Any) -> str:
    """Format one message for people: Arabic kept readable, not escaped."""
    if not isinstance(value, dict):
        return f"[{topic}] {key}: {value!r}"
    lines = [f"━━ {topic} · {key}"]
    if topic.endswith(DEADLETTER):
        lines.append(
            f"  reason: {value.get('reason')} at {value.get('stage')}: {value.get('detail')}"
        )
        origin = value.get("origin") or {}
        lines.append(
            f"  from {origin.get('topic')}[{origin.get('partition')}]@{origin.get('offset')}, "
            f"{value.get('original_size')} bytes"
        )
        return "\n".join(lines)
    title = value.get("title_display") or value.get("title") or ""
    source, date = value.get("source") or "?", value.get("published_at") or "no date"
    lines.append(f"  {title}  ({source}, {date})")
    story = value.get("story")
    if story:
        lines.append(
            f"  story {story['cluster_id']}: {story['article_count']} article(s) from "
            f"{', '.join(story['sources']) or '?'}"
        )
    if topic.endswith(DUPLICATES):
        dedup = value.get("dedup") or {}
        lines.append(
            f"  duplicate of {value.get('duplicate_of')} ({dedup.get('method')}, "
            f"similarity {dedup.get('similarity')})"
        )
        return "\n".join(lines)
    entities = value.get("entities") or []
    by_type: dict[str, list[str]] = {}
    for e in entities:
        label = e.get("canonical", "")
        if e.get("title"):
            label = f"{e['title']} {label}"
        if e.get("country"):
            label += f" [{e['country']}]"
        by_type.setdefault(e.get("type", "?"), []).append(label)
    for etype in ("PERS", "LOC", "ORG", "MISC"):
        if by_type.get(etype):
            lines.append(f"  {etype:5} " + "، ".join(by_type[etype][:15]))
    facts = value.get("facts") or {}
    names = {e.get("id"): e.get("canonical") for e in entities}
    events = facts.get("events") or []
    for ev in events[:12]:
        actor = names.get(ev.get("actor"), "")
        target = names.get(ev.get("target"), "")
        trig = (ev.get("trigger") or {}).get("text", "")
        date = (ev.get("date") or {}).get("value") or ""
        flags = [f for f in ("negated", "hypothetical", "future") if ev.get(f)]
        lines.append(
            f"  EVENT {ev.get('type'):9} {trig} | {actor} → {target} {date} "
            + (f"({', '.join(flags)})" if flags else "")
        )
    if facts.get("casualties"):
        lines.append("  CASUALTIES " + _span_list(facts["casualties"], "{kind} {count} ({text})"))
    if facts.get("dates"):
        lines.append("  DATES " + _span_list(facts["dates"], "{text} → {value}"))
    if facts.get("quantities"):
        lines.append("  QUANTITIES " + _span_list(facts["quantities"], "{text} = {value}"))
    for q in (facts.get("quotes") or [])[:6]:
        speaker = names.get(q.get("speaker"), "") or "?"
        lines.append(f"  QUOTE {speaker}: «{(q.get('quote') or q.get('text') or '')[:160]}»")
    return "\n".join(lines)


async def tail(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool = True,
    limit: int | None = None,
    idle_timeout: float | None = None,
    raw: bool = False,
    out: IO[str] | None = None,
) -> int:
    """Print messages of a topic as they arrive.

    Args:
        settings: Connection settings.
        topic: Logical topic name (the prefix is added).
        from_beginning: Start at the earliest offset instead of the end.
        limit: Stop after this many messages.
        idle_timeout: Stop when nothing arrived for this many seconds.
        raw: Print one JSON object a line instead of the readable form.
        out: Where to write (stdout by default).

    Returns:
        The number of messages printed.
    """
    from aiokafka import AIOKafkaConsumer

    out = out or sys.stdout
    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        **kafka_client_options(settings),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    count = 0
    last = time.monotonic()
    try:
        while limit is None or count < limit:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                if idle_timeout is not None and time.monotonic() - last > idle_timeout:
                    break
                continue
            last = time.monotonic()
            for records in batch.values():
                for rec in records:
                    key = rec.key.decode("utf-8", "replace") if rec.key else None
                    try:
                        value = orjson.loads(rec.value) if rec.value is not None else None
                    except orjson.JSONDecodeError:
                        value = rec.value
                    if raw:
                        out.write(orjson.dumps({"topic": rec.topic, "key": key, "value": value},
                                               default=str).decode() + "\n")
                    else:
                        out.write(render(rec.topic, key, value) + "\n")
                    count += 1
                    if limit is not None and count >= limit:
                        break
            out.flush()
    finally:
        await consumer.stop()
    return count


async def count_final(settings: Settings, expected: int, *, timeout: float) -> int:
    """Read the subscriber topics from the start until ``expected`` messages came (or timeout).

    Counting records by reading them, not from end offsets: the embedded broker
    reports the base offset of the last batch as the end of a topic, which
    undercounts.

    Returns:
        How many messages were there when it stopped.
    """
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *[settings.topic(t) for t in final_topics()],
        **kafka_client_options(settings),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    count = 0
    deadline = time.monotonic() + timeout
    try:
        while count < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            count += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()
    return count


def final_topics() -> tuple[str, ...]:
    """Topics a subscriber reads."""
    return (ENRICHED, DUPLICATES, DEADLETTER)


def seed_file() -> Path:
    """Return the repository's seed JSONL file."""
    return Path(__file__).resolve().parents[2] / "seeds" / "articles.jsonl"
