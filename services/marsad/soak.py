"""Reliability harness: workers as processes, topic inventories, resident memory, the soak run.

``marsad soak`` runs the three stages as separate ``marsad worker`` processes
against a broker, publishes articles at a steady rate for a fixed time and
samples each worker's resident memory (``VmRSS`` of ``/proc/PID/status``), to
show that a slow stage builds a backlog in Kafka, not in another process's
memory.  The crash and outage tests drive the same helpers.

Nothing here is imported by the workers themselves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from marsad.settings import Settings

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("normaliser", "extractor", "deduplicator")


# --- processes ---------------------------------------------------------------------------


def rss_kib(pid: int) -> int | None:
    """Return the resident set size of a process in KiB (``None`` once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def http_status(port: int, path: str) -> int | None:
    """Return the HTTP status of ``http://127.0.0.1:port/path`` (``None``: no answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def metric_value(port: int, line_prefix: str) -> float | None:
    """Return the value of the first ``/metrics`` sample starting with ``line_prefix``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


@dataclass
class WorkerProcess:
    """One ``marsad worker STAGE`` subprocess with its own metrics port and log file.

    Args:
        stage: ``all`` or one stage name.
        env: Complete environment of the child (its ``MARSAD_*`` settings included).
        port: Port of its ``/metrics``, ``/health`` and ``/ready`` endpoint.
        log_path: File the child's stdout and stderr are appended to.
    """

    stage: str
    env: Mapping[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        """Start the worker (again)."""
        env = {**self.env, "MARSAD_METRICS_PORT": str(self.port)}
        with open(self.log_path, "ab") as out:
            out.write(f"\n===== start {self.starts + 1} of {self.stage} =====\n".encode())
            out.flush()
            self.proc = subprocess.Popen(  # noqa: S603 - our own entry point
                [sys.executable, "-m", "marsad", "worker", self.stage],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        self.starts += 1

    @property
    def pid(self) -> int:
        """Process id of the running child."""
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        """True while the child runs."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the child's log, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 120) -> float:
        """Poll ``/ready`` until it answers 200; return the seconds it took.

        Raises:
            RuntimeError: The worker exited.
            TimeoutError: It was not ready in time.
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if not self.alive():
                code = self.proc.returncode if self.proc else None
                raise RuntimeError(f"{self.stage} worker exited {code}:\n{self.log_tail()}")
            if http_status(self.port, "/ready") == 200:
                return time.monotonic() - started
            time.sleep(0.25)
        raise TimeoutError(f"{self.stage} worker not ready after {timeout} s:\n{self.log_tail()}")

    def kill9(self) -> None:
        """Kill the worker with SIGKILL: no shutdown, no commit, no flush."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 20) -> None:
        """Stop the worker with SIGTERM (SIGKILL if it does not exit in time)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def worker_env(base: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """Return ``base`` with the connection and topic settings a child worker needs."""
    return {
        **base,
        "MARSAD_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "MARSAD_TOPIC_PREFIX": settings.topic_prefix,
        "MARSAD_APP_ID": settings.app_id,
        "MARSAD_PARTITIONS": str(settings.partitions),
        "MARSAD_DATA_DIR": settings.data_dir,
        # One record per batch: the embedded broker reports a multi-record batch's
        # base offset as a topic's end (see Settings.producer_batch_bytes).
        "MARSAD_PRODUCER_BATCH_BYTES": "1",
    }


# --- topics -------------------------------------------------------------------------------


async def end_offsets(settings: Settings, topics: Sequence[str]) -> dict[str, int]:
    """Return the number of messages on each logical topic (sum of partition end offsets)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from marsad.topics import kafka_client_options

    consumer = AIOKafkaConsumer(**kafka_client_options(settings), group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        out: dict[str, int] = {}
        for t in topics:
            parts = consumer.partitions_for_topic(settings.topic(t)) or set()
            tps = [TopicPartition(settings.topic(t), p) for p in parts]
            out[t] = sum((await consumer.end_offsets(tps)).values()) if tps else 0
        return out
    finally:
        await consumer.stop()


async def read_topic(
    settings: Settings, topic: str, *, keep_value: bool = False, timeout: float = 120
) -> list[tuple[str | None, Any]]:
    """Read a topic from the start to its current end: ``(key, value or None)`` pairs.

    Values are parsed JSON when ``keep_value`` is set and dropped otherwise, so
    inventories of intermediate topics stay small.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from marsad.topics import kafka_client_options

    name = settings.topic(topic)
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    out: list[tuple[str | None, Any]] = []
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in tps]
            if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                break
            for records in (await consumer.getmany(timeout_ms=500, max_records=2000)).values():
                for r in records:
                    key = r.key.decode("utf-8", "replace") if r.key else None
                    out.append((key, orjson.loads(r.value) if keep_value else None))
    finally:
        await consumer.stop()
    return out


def article_lines(path: Path, limit: int, *, skip: int = 0) -> Iterator[tuple[str, bytes]]:
    """Yield ``(id, raw JSON line)`` of articles with an id from a JSONL(.gz) corpus."""
    from marsad.console import read_lines

    seen: set[str] = set()
    n = 0
    for i, line in enumerate(read_lines(str(path))):
        if i < skip:
            continue
        try:
            article_id = orjson.loads(line).get("id")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if not isinstance(article_id, str) or not article_id or article_id in seen:
            continue
        seen.add(article_id)
        yield article_id, line
        n += 1
        if n >= limit:
            return


# --- soak ------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One observation of the running workers."""

    t: float
    rss_kib: dict[str, int]
    published: int
    #: Articles past the extractor (``articles.extracted`` plus dead letters).
    done: int


@dataclass
class SoakResult:
    """What a soak run measured."""

    seconds: float
    rate: float
    warmup_seconds: float
    samples: list[Sample] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)

    def phase_median(self, stage: str, first: bool) -> float:
        """Median RSS (KiB) of ``stage`` in the first or last third after warm-up."""
        rows = [s for s in self.samples if s.t >= self.warmup_seconds and stage in s.rss_kib]
        third = max(1, len(rows) // 3)
        part = rows[:third] if first else rows[-third:]
        return float(statistics.median(s.rss_kib[stage] for s in part)) if part else 0.0

    def growth(self, stage: str) -> float:
        """Relative RSS growth of ``stage`` from the first to the last third (0.05 = +5 %)."""
        before = self.phase_median(stage, True)
        return (self.phase_median(stage, False) - before) / before if before else 0.0

    def to_json(self) -> dict[str, Any]:
        """Summary and raw samples as JSON."""
        return {
            "seconds": self.seconds,
            "rate": self.rate,
            "warmup_seconds": self.warmup_seconds,
            "published": self.samples[-1].published if self.samples else 0,
            "done": self.samples[-1].done if self.samples else 0,
            "restarts": self.restarts,
            "stages": {
                stage: {
                    "rss_first_third_kib": self.phase_median(stage, True),
                    "rss_last_third_kib": self.phase_median(stage, False),
                    "growth": round(self.growth(stage), 4),
                    "rss_max_kib": max((s.rss_kib.get(stage, 0) for s in self.samples), default=0),
                }
                for stage in sorted({k for s in self.samples for k in s.rss_kib})
            },
            "samples": [
                {"t": round(s.t, 1), "rss_kib": s.rss_kib, "published": s.published,
                 "done": s.done}
                for s in self.samples
            ],
        }


def soak_payloads(path: Path, count: int, *, big_every: int, big_bytes: int) -> list[bytes]:
    """Articles to publish, every ``big_every``-th one blown up to about ``big_bytes``.

    The big ones are real articles glued together (still under the size limit):
    they are what makes the downstream stages slow.
    """
    from itertools import cycle

    lines = [line for _, line in article_lines(path, count)]
    out: list[bytes] = []
    texts = cycle([orjson.loads(line)["text"] for line in lines[:200]])
    for i, line in enumerate(lines):
        if big_every and i % big_every == big_every - 1:
            article = orjson.loads(line)
            body = [article["text"]]
            size = len(article["text"].encode())
            while size < big_bytes:
                body.append(next(texts))
                size += len(body[-1].encode())
            article["id"] = f"{article['id']}-big"
            article["text"] = "\n\n".join(body)
            out.append(orjson.dumps(article))
        else:
            out.append(line)
    return out


async def _publish_steadily(
    settings: Settings, payloads: list[bytes], rate: float, seconds: float, counter: list[int]
) -> None:
    from aiokafka import AIOKafkaProducer

    from marsad.topics import RAW, kafka_client_options

    producer = AIOKafkaProducer(
        **kafka_client_options(settings), acks="all", max_request_size=2 * 1024 * 1024
    )
    await producer.start()
    try:
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < seconds:
            due = int((time.monotonic() - started) * rate) + 1
            while counter[0] < due:
                line = payloads[i % len(payloads)]
                if i >= len(payloads):  # cycle the corpus under fresh ids
                    article = orjson.loads(line)
                    article["id"] = f"{article['id']}~{i // len(payloads)}"
                    line = orjson.dumps(article)
                key = orjson.loads(line)["id"].encode()
                await producer.send(settings.topic(RAW), line, key=key)
                counter[0] += 1
                i += 1
            await asyncio.sleep(0.05)
        await producer.flush()
    finally:
        await producer.stop()


async def soak(
    settings: Settings,
    workers: Mapping[str, WorkerProcess],
    payloads: list[bytes],
    *,
    seconds: float,
    rate: float,
    sample_every: float = 2.0,
    warmup_seconds: float = 30.0,
) -> SoakResult:
    """Publish at ``rate`` articles/s for ``seconds`` while sampling the workers' memory.

    The workers must be running (and ready); a worker that dies fails the run.
    """
    from marsad.topics import DEADLETTER, EXTRACTED

    result = SoakResult(seconds=seconds, rate=rate, warmup_seconds=warmup_seconds)
    counter = [0]
    publisher = asyncio.create_task(
        _publish_steadily(settings, payloads, rate, seconds, counter)
    )
    started = time.monotonic()
    try:
        while not publisher.done():
            await asyncio.sleep(sample_every)
            for name, w in workers.items():
                if not w.alive():
                    raise RuntimeError(f"{name} worker died during the soak:\n{w.log_tail()}")
            rss = {n: v for n, w in workers.items() if (v := rss_kib(w.pid)) is not None}
            # Done: past the extractor, the slow stage (its output and the dead
            # letters).  The final topics would over-count: a story's event is
            # published again when a new source joins it.
            ends = await end_offsets(settings, (EXTRACTED, DEADLETTER))
            result.samples.append(
                Sample(time.monotonic() - started, rss, counter[0], sum(ends.values()))
            )
            log.info("t=%.0f s published=%d done=%d rss_kib=%s",
                     result.samples[-1].t, counter[0], result.samples[-1].done, rss)
        await publisher
    finally:
        publisher.cancel()
    result.restarts = {n: w.starts - 1 for n, w in workers.items()}
    return result


# --- command ------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add ``marsad soak`` to the CLI."""
    p = subparsers.add_parser(
        "soak", help="three workers, a steady stream for N seconds, resident memory sampled"
    )
    p.add_argument("--data", default="../shared/data/ant/articles.jsonl.gz")
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--rate", type=float, default=4.0, help="articles per second")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds left out of the medians")
    p.add_argument("--big-every", type=int, default=25, help="every Nth article is blown up")
    p.add_argument("--big-bytes", type=int, default=300_000)
    p.add_argument("--log-dir", default="var/soak")
    p.add_argument("--json-out", default="var/soak/soak-results.json")
    p.set_defaults(func=cmd_soak)


def cmd_soak(args: Any, settings: Settings) -> int:
    """Run the soak against ``MARSAD_BOOTSTRAP_SERVERS`` (the embedded broker if none answers)."""
    import uuid

    from marsad.broker import ensure_broker
    from marsad.topics import ALL_TOPICS, ensure_topics

    broker = ensure_broker(settings.bootstrap_servers)
    prefix = f"soak{uuid.uuid4().hex[:6]}."
    run = settings.model_copy(update={"topic_prefix": prefix, "app_id": f"{prefix}marsad"})
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    # Children inherit PATH and any MARSAD_* configuration of this shell.
    env = worker_env(dict(os.environ), run)
    workers = {
        s: WorkerProcess(s, env, 9300 + i, log_dir / f"{s}.log") for i, s in enumerate(STAGES)
    }
    payloads = soak_payloads(Path(args.data), int(args.seconds * args.rate) + 1,
                             big_every=args.big_every, big_bytes=args.big_bytes)
    try:
        asyncio.run(ensure_topics(run, ALL_TOPICS))
        for w in workers.values():
            w.start()
        for w in workers.values():
            w.wait_ready()
        result = asyncio.run(soak(run, workers, payloads, seconds=args.seconds, rate=args.rate,
                                  warmup_seconds=args.warmup))
    finally:
        for w in workers.values():
            w.stop()
        if broker is not None:
            broker.terminate()
    summary = result.to_json()
    Path(args.json_out).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print(f"soak {args.seconds:.0f} s at {args.rate:g}/s: published {summary['published']}, "
          f"done {summary['done']}")
    for stage, row in summary["stages"].items():
        print(f"  {stage:<13} RSS first third {row['rss_first_third_kib'] / 1024:7.1f} MiB  "
              f"last third {row['rss_last_third_kib'] / 1024:7.1f} MiB  "
              f"growth {row['growth']:+.1%}  max {row['rss_max_kib'] / 1024:7.1f} MiB")
    return 0
