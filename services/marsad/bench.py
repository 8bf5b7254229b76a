"""``marsad bench``: throughput of each stage and of the whole pipeline, with baselines.

Machines here are noisy, so every figure comes with a baseline measured in the
same process on the same articles (the camel-tools chain for the normaliser,
a bare JSON decode/encode for every stage, raw aiokafka for the broker path)
and the ratio between the two is what to compare across runs.  Benchmarks
report; they never fail a build.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import logging
import platform
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from marsad.pipeline import Pipeline
from marsad.runtime import STAGE_NAMES, build_stage, make_codec
from marsad.settings import Settings
from marsad.stage import Incoming, Stage

log = logging.getLogger(__name__)


def load_articles(path: str, limit: int) -> list[bytes]:
    """Read the first ``limit`` lines of a JSONL(.gz) corpus as raw messages."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return [line.rstrip(b"\n") for line in itertools.islice(f, limit) if line.strip()]


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def time_stage(stage: Stage, inputs: list[bytes]) -> tuple[float, float, list[bytes]]:
    """Run a stage over encoded inputs.

    Returns:
        Wall seconds, CPU seconds of this process (the fairer cost on a shared
        machine) and the encoded outputs for the next stage.
    """
    outputs: list[bytes] = []
    started, cpu = time.perf_counter(), time.process_time()
    for i, value in enumerate(inputs):
        for out in stage.handle(Incoming(value=value, topic=stage.source, offset=i)):
            if out.topic != "articles.deadletter":
                outputs.append(out.data)
    return time.perf_counter() - started, time.process_time() - cpu, outputs


def time_json_baseline(inputs: list[bytes]) -> float:
    """Seconds for a bare decode + encode of the same messages: the framework floor."""
    started = time.perf_counter()
    for value in inputs:
        orjson.dumps(orjson.loads(value))
    return time.perf_counter() - started


def bench_stages(
    settings: Settings, articles: list[bytes], warm: list[bytes] | None = None
) -> list[dict[str, Any]]:
    """Per-stage articles/s on the given raw articles, each next to its JSON baseline.

    Args:
        settings: Service settings.
        articles: The measured raw articles.
        warm: Other raw articles each stage processes first, untimed, so the
            figures are those of a worker that has been running (the NER
            decoder caches per-word scores); ``None`` warms on 20 articles only.
    """
    codec = make_codec(settings)
    rows = []
    inputs = articles
    warm_inputs = warm or articles[:20]
    mb = sum(len(a) for a in articles) / 1e6
    for name in STAGE_NAMES:
        stage = build_stage(name, settings, codec)
        # The warm-up loads lazy lexicons and models (and fills caches).
        warm_inputs = time_stage(stage, warm_inputs)[2]
        stage = build_stage(name, settings, codec) if name == "deduplicator" else stage
        seconds, cpu, outputs = time_stage(stage, inputs)
        base = time_json_baseline(inputs)
        rows.append({
            "stage": name,
            "articles": len(inputs),
            "seconds": round(seconds, 3),
            "articles_per_s": round(_rate(len(inputs), seconds), 1),
            "articles_per_cpu_s": round(_rate(len(inputs), cpu), 1),
            "mb_per_s": round(mb / seconds, 2) if seconds else None,
            "json_baseline_per_s": round(_rate(len(inputs), base), 1),
            "ratio_to_json_baseline": round(base / seconds, 4) if seconds else None,
        })
        inputs = outputs
    pipe = Pipeline([build_stage(n, settings, codec) for n in STAGE_NAMES], codec)
    for a in warm or articles[:20]:
        for _ in pipe.run(a):
            pass
    started, cpu0 = time.perf_counter(), time.process_time()
    for a in articles:
        for _ in pipe.run(a):
            pass
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
    rows.append({
        "stage": "pipeline (in-process)",
        "articles": len(articles),
        "seconds": round(seconds, 3),
        "articles_per_s": round(_rate(len(articles), seconds), 1),
        "articles_per_cpu_s": round(_rate(len(articles), cpu), 1),
        "mb_per_s": round(mb / seconds, 2),
    })
    return rows


def bench_cores(articles: list[bytes], warm: list[bytes] | None = None) -> dict[str, Any]:
    """The pure cores' own benchmarks (normaliser vs camel-tools, NER, facts, dedup).

    ``warm`` articles go through the NER recogniser first, untimed (see
    :func:`bench_stages`).
    """
    from marsad.normaliser import core as ncore

    decoded = [orjson.loads(a) for a in articles]
    texts = [d.get("text") or "" for d in decoded]
    published = [d.get("published_at") for d in decoded]
    results: dict[str, Any] = {}
    for name, fn in (
        ("normaliser", lambda: ncore.bench(texts)),
        ("ner", lambda: _ner_bench(texts, warm or [])),
        ("facts", lambda: _optional("marsad.extractor.facts",
                                    list(zip(texts, map(_iso_or_none, published), strict=True)))),
        ("deduplicator", lambda: _optional("marsad.deduplicator.core",
                                           [ncore.fold(t) for t in texts])),
    ):
        try:
            results[name] = fn()
        except Exception as exc:  # a missing bench must not hide the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


def _iso_or_none(value: Any) -> str | None:
    """``published_at`` as the ISO form the facts bench resolves dates against."""
    from marsad.normaliser.dates import parse_published_at

    return parse_published_at(value)[0] if isinstance(value, str) else None


def _ner_bench(texts: list[str], warm: list[bytes]) -> Any:
    from marsad.extractor.ner import bench, load_recogniser

    rec = load_recogniser()
    for a in warm:
        rec.find_entities(orjson.loads(a).get("text") or "")
    return bench(texts, rec)


def _optional(module: str, data: Any) -> Any:
    mod = __import__(module, fromlist=["bench"])
    return mod.bench(data)


async def _raw_kafka_baseline(settings: Settings, articles: list[bytes]) -> float:
    """Seconds to produce and consume the articles with bare aiokafka: the broker's floor."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=5,
                                max_request_size=8_388_608)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers,
                                auto_offset_reset="earliest", group_id=None)
    await producer.start()
    await consumer.start()
    started = time.perf_counter()
    try:
        futures = [await producer.send(topic, a) for a in articles]
        await asyncio.gather(*futures)
        got = 0
        while got < len(articles):
            batch = await consumer.getmany(timeout_ms=1000)
            got += sum(len(v) for v in batch.values())
        return time.perf_counter() - started
    finally:
        await producer.stop()
        await consumer.stop()


def bench_broker(settings: Settings, articles: list[bytes]) -> dict[str, Any]:
    """End-to-end articles/s through the embedded broker and a ``worker all`` process."""
    import os

    from marsad.broker import ensure_broker
    from marsad.console import count_final, publish

    broker = ensure_broker(settings.bootstrap_servers)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    run_settings = settings.model_copy(update={"topic_prefix": prefix})
    # A group of its own: a consumer group must not mix members of other runs.
    env = {**os.environ, "MARSAD_TOPIC_PREFIX": prefix, "MARSAD_METRICS_PORT": "0",
           "MARSAD_APP_ID": f"{prefix}marsad", "MARSAD_PRODUCER_BATCH_BYTES": "1",
           "MARSAD_BOOTSTRAP_SERVERS": settings.bootstrap_servers, "MARSAD_LOG_LEVEL": "WARNING"}
    tmp = Path(f"/tmp/marsad-bench-{prefix}jsonl")  # noqa: S108 - scratch file for publish
    tmp.write_bytes(b"\n".join(articles) + b"\n")
    worker = subprocess.Popen([sys.executable, "-m", "marsad", "worker", "all"], env=env)
    try:
        baseline = asyncio.run(_raw_kafka_baseline(settings, articles))
        # Wait for the worker to join its group before the clock starts.
        asyncio.run(publish(run_settings, str(tmp), limit=1, progress=False))
        asyncio.run(count_final(run_settings, 1, timeout=120))
        started = time.perf_counter()
        asyncio.run(publish(run_settings, str(tmp), progress=False))
        done = asyncio.run(count_final(run_settings, len(articles) + 1, timeout=1800)) - 1
        seconds = time.perf_counter() - started
        return {
            "articles": len(articles),
            "completed": done,
            "seconds": round(seconds, 2),
            "articles_per_s": round(_rate(done, seconds), 1),
            "raw_aiokafka_per_s": round(_rate(len(articles), baseline), 1),
            "ratio_to_raw_aiokafka": round(baseline / seconds, 4),
        }
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        tmp.unlink(missing_ok=True)
        if broker is not None:
            broker.terminate()


# The issues' speed targets: (label, figure, target, unit).
TARGETS: tuple[tuple[str, str, float, str], ...] = (
    ("normaliser vs camel-tools chain (#3)", "normaliser_ratio", 10.0, "x"),
    ("NER + linking (#4)", "ner_per_cpu_s", 300.0, "articles/s"),
    ("extractor stage, NER + facts (#5)", "extractor_per_cpu_s", 200.0, "articles/s"),
    ("deduplicator core (#6)", "dedup_per_cpu_s", 3000.0, "articles/s"),
)


def target_figures(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures the issues set targets on, from a bench report (CPU time, one core)."""
    cores = report.get("cores", {})
    stages = {r["stage"]: r for r in report.get("stages", [])}
    found = {
        "normaliser_ratio": cores.get("normaliser", {}).get("speedup_normalise"),
        "ner_per_cpu_s": cores.get("ner", {}).get("articles_per_cpu_second"),
        "extractor_per_cpu_s": stages.get("extractor", {}).get("articles_per_cpu_s"),
        "dedup_per_cpu_s": cores.get("deduplicator", {}).get("articles_per_s"),
    }
    rows = []
    for label, key, target, unit in TARGETS:
        value = found.get(key)
        rows.append({
            "figure": label,
            "measured": "n/a" if value is None else round(float(value), 1),
            "target": f">= {target:g} {unit}",
            "met": "n/a" if value is None else ("yes" if float(value) >= target else "NO"),
        })
    return rows


def print_table(rows: list[dict[str, Any]], cols: list[str]) -> None:
    """Print rows as an aligned text table."""
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    """Run the benchmarks, print tables and write the JSON report."""
    loaded = load_articles(args.data, args.limit + args.warmup)
    articles, warm = loaded[: args.limit], loaded[args.limit :]
    print(f"{len(articles)} articles from {args.data} ({sum(map(len, articles)) / 1e6:.1f} MB), "
          f"after a warm-up on {len(warm)} others")
    report: dict[str, Any] = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "warmup_articles": len(warm),
        "stages": bench_stages(settings, articles, warm or None),
    }
    print("\nPer stage, in-process (one core), each next to a bare JSON decode+encode:")
    print_table(report["stages"], ["stage", "articles", "seconds", "articles_per_s",
                                   "articles_per_cpu_s", "mb_per_s", "json_baseline_per_s",
                                   "ratio_to_json_baseline"])
    report["cores"] = bench_cores(articles, warm or None)
    print("\nPure cores:")
    for name, figures in report["cores"].items():
        print(f"  {name}: {orjson.dumps(figures).decode()}")
    report["targets"] = target_figures(report)
    print("\nTargets (CPU time, one core; this machine is shared, so re-run before trusting one):")
    print_table(report["targets"], ["figure", "measured", "target", "met"])
    if args.broker:
        report["broker"] = bench_broker(settings, articles[: args.broker_limit])
        print("\nEnd to end through the embedded broker (worker all, one process):")
        print_table([report["broker"]], list(report["broker"]))
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(f"\npeak RSS of this process: {report['peak_rss_mb']} MB")
    Path(args.json_out).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"written to {args.json_out}")
    return 0
