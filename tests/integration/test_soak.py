"""Backpressure soak: a steady stream faster than the slowest stage, memory stays flat.

The three stages run as separate workers.  Articles are published at a steady
rate (``MARSAD_SOAK_RATE``, 50/s by default) for ``MARSAD_SOAK_SECONDS`` (60 s
in CI, 600 s for the full run), every 25th one blown up to ~300 KB of real
text, which makes the extractor fall behind.  The backlog must pile up in
Kafka, not in any worker: each worker's resident memory (VmRSS) is sampled
every 2 s, and the median of the last third of the run (after warm-up) is
compared with the median of the first third.

The figures are printed (``pytest -s``) and written to
``var/reliability/soak.json`` for docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import orjson
import pytest

from marsad.settings import Settings
from marsad.soak import STAGES, SoakResult, WorkerProcess, soak, soak_payloads, worker_env
from marsad.topics import ALL_TOPICS, ensure_topics
from tests.conftest import ANT, REPO, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECONDS = float(os.environ.get("MARSAD_SOAK_SECONDS", "60"))
RATE = float(os.environ.get("MARSAD_SOAK_RATE", "50"))
WARMUP = min(60.0, SECONDS / 3)
#: Allowed growth of the median RSS from the first to the last third.  Generous
#: for a short run on a shared machine; the deduplicator remembers every
#: article of its window by design, so it gets more room.
#: A 60 s CI run is mostly warm-up (models load, first large articles set
#: the working set), so short runs get the generous bound everywhere.
BOUND = (
    {"normaliser": 0.25, "extractor": 0.25, "deduplicator": 0.50}
    if SECONDS >= 300 else dict.fromkeys(("normaliser", "extractor", "deduplicator"), 0.50)
)
OUT = REPO / "var" / "reliability"


@pytest.fixture(scope="module")
def soak_run(broker: str, tmp_path_factory: pytest.TempPathFactory) -> SoakResult:
    prefix = f"soak{uuid.uuid4().hex[:6]}."
    settings = Settings(bootstrap_servers=broker, topic_prefix=prefix, app_id=f"{prefix}marsad")
    logs = tmp_path_factory.mktemp("soak")
    env = worker_env(dict(os.environ), settings)
    workers = {s: WorkerProcess(s, env, free_port(), logs / f"{s}.log") for s in STAGES}
    payloads = soak_payloads(ANT, int(SECONDS * RATE) + 1, big_every=25, big_bytes=300_000)
    asyncio.run(ensure_topics(settings, ALL_TOPICS))
    try:
        for w in workers.values():
            w.start()
        for w in workers.values():
            w.wait_ready()
        result = asyncio.run(soak(settings, workers, payloads, seconds=SECONDS, rate=RATE,
                                  warmup_seconds=WARMUP))
    finally:
        for w in workers.values():
            w.stop()
    # Stages load their models on the first article, which reaches the last
    # stage late in a short run: start comparing once something came out.
    first_out = next((x.t for x in result.samples if x.done > 0), 0.0)
    result.warmup_seconds = min(max(result.warmup_seconds, first_out + 10), SECONDS / 2)
    summary = result.to_json()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "soak.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print(f"\nsoak {SECONDS:.0f} s at {RATE:g}/s: published {summary['published']}, "
          f"done {summary['done']}; {orjson.dumps(summary['stages']).decode()}")
    return result


def test_every_worker_was_sampled_throughout(soak_run: SoakResult) -> None:
    assert len(soak_run.samples) >= SECONDS / 2 / 2
    for s in soak_run.samples:
        assert set(s.rss_kib) == set(STAGES)
    assert soak_run.restarts == dict.fromkeys(STAGES, 0)


def test_the_slow_stage_built_a_backlog_in_kafka(soak_run: SoakResult) -> None:
    """The run really stressed the pipeline: input arrived faster than it came out."""
    last = soak_run.samples[-1]
    assert last.published >= 0.9 * SECONDS * RATE
    assert last.done < last.published


@pytest.mark.parametrize("stage", STAGES)
def test_resident_memory_stays_flat(soak_run: SoakResult, stage: str) -> None:
    before = soak_run.phase_median(stage, first=True)
    after = soak_run.phase_median(stage, first=False)
    assert before > 0
    assert soak_run.growth(stage) < BOUND[stage], (stage, before, after)


def test_summary_written(soak_run: SoakResult) -> None:
    path = Path(OUT / "soak.json")
    assert path.exists()
    assert set(orjson.loads(path.read_bytes())["stages"]) == set(STAGES)


def test_growth_compares_first_and_last_third_after_warmup() -> None:
    from marsad.soak import Sample

    r = SoakResult(seconds=90, rate=1, warmup_seconds=30)
    # Warm-up samples (t < 30) are left out even though they are much smaller.
    rss = [10] * 3 + [100, 100, 100, 110, 110, 110, 150, 150, 150]
    r.samples = [Sample(t=10.0 * i, rss_kib={"x": v}, published=i, done=i)
                 for i, v in enumerate(rss)]
    assert r.phase_median("x", first=True) == 100
    assert r.phase_median("x", first=False) == 150
    assert r.growth("x") == 0.5
    assert r.to_json()["stages"]["x"]["rss_max_kib"] == 150


def test_rss_of_this_process_is_read_from_proc() -> None:
    from marsad.soak import rss_kib

    value = rss_kib(os.getpid())
    assert value is not None and 10_000 < value < 10_000_000
    assert rss_kib(2**22 + 12345) is None
