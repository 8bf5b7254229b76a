"""Crash test: ``kill -9`` each stage's worker mid-stream; nothing is lost, no story counted twice.

N real ANT articles (``MARSAD_CRASH_ARTICLES``, 1,500 by default; the full
run uses 10,000) go to ``articles.raw`` keyed by id.  The three stages run as
separate workers (``marsad worker normaliser|extractor|deduplicator``, one
consumer group each).  Each worker in turn is killed with SIGKILL while it is
in the middle of the stream (no shutdown, no offset commit, no flush) and
restarted.  Then:

* every input id appears downstream (``events.enriched`` ∪
  ``articles.duplicates`` ∪ ``articles.deadletter``): lost = 0;
* a redelivered article gets the same decision again, flagged ``redelivered``
  when the deduplicator had remembered it, and no story's ``article_count``
  exceeds the number of distinct articles in it;
* no merged event's record on ``events.merged`` comes after a record of it
  with a higher revision, and a repeated revision repeats the same record.

The counts are printed (``pytest -s``) and written to
``var/reliability/crash.json`` for docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from marsad.settings import Settings
from marsad.soak import STAGES, WorkerProcess, article_lines, end_offsets, read_topic, worker_env
from marsad.topics import (
    ALL_TOPICS,
    DEADLETTER,
    DUPLICATES,
    ENRICHED,
    EXTRACTED,
    MERGED,
    NORMALISED,
    ensure_topics,
)
from tests.conftest import ANT, REPO, free_port
from tests.integration.conftest import produce

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = int(os.environ.get("MARSAD_CRASH_ARTICLES", "1500"))
FINAL = (ENRICHED, DUPLICATES, DEADLETTER)
#: Which topic shows a stage's progress, and at what share of N it is killed.
KILL_AT = {
    "normaliser": (NORMALISED, 0.30),
    "extractor": (EXTRACTED, 0.45),
    "deduplicator": (FINAL, 0.60),
}
OUT = REPO / "var" / "reliability"


async def _produce(settings: Settings, items: list[tuple[str, bytes]]) -> None:
    """Publish (article id, raw line) pairs keyed by id."""
    await produce(settings, [(aid.encode(), line) for aid, line in items])


def _count(settings: Settings, topics: tuple[str, ...]) -> int:
    return sum(asyncio.run(end_offsets(settings, topics)).values())


def _wait_for(settings: Settings, topics: tuple[str, ...], target: int, timeout: float,
              workers: dict[str, WorkerProcess]) -> int:
    deadline = time.monotonic() + timeout
    n = _count(settings, topics)
    while n < target and time.monotonic() < deadline:
        for w in workers.values():
            assert w.alive(), w.log_tail()
        time.sleep(0.25)
        n = _count(settings, topics)
    return n


def _wait_ids(settings: Settings, want: set[str], timeout: float,
              workers: dict[str, WorkerProcess]) -> int:
    """Wait until every wanted id is on a final topic (redeliveries do not count twice)."""
    deadline = time.monotonic() + timeout
    while True:
        got = {k for t in FINAL for k, _ in asyncio.run(read_topic(settings, t))}
        if want <= got or time.monotonic() > deadline:
            return len(want & got)
        for w in workers.values():
            assert w.alive(), w.log_tail()
        time.sleep(5)


@pytest.fixture(scope="module")
def crash_run(broker: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import uuid

    prefix = f"crash{uuid.uuid4().hex[:6]}."
    settings = Settings(bootstrap_servers=broker, topic_prefix=prefix,
                        app_id=f"{prefix}marsad")
    logs = tmp_path_factory.mktemp("crash")
    env = worker_env(dict(os.environ), settings)
    workers = {s: WorkerProcess(s, env, free_port(), logs / f"{s}.log") for s in STAGES}
    items = list(article_lines(ANT, N))
    assert len(items) == N
    ids = [aid for aid, _ in items]
    asyncio.run(ensure_topics(settings, ALL_TOPICS))
    kills: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        for w in workers.values():
            w.start()
        for w in workers.values():
            w.wait_ready()
        asyncio.run(_produce(settings, items))
        for stage in STAGES:
            topics, share = KILL_AT[stage]
            topics = topics if isinstance(topics, tuple) else (topics,)
            target = int(N * share)
            at = _wait_for(settings, topics, target, timeout=60 + N * 0.5, workers=workers)
            assert at >= target, f"{stage} did not reach {target} in time:\n" + \
                workers[stage].log_tail()
            workers[stage].kill9()
            killed_at = _count(settings, topics)
            time.sleep(1)
            workers[stage].start()
            ready_after = workers[stage].wait_ready()
            kills.append({"stage": stage, "progress_topic_count_at_kill": killed_at,
                          "target": target, "ready_after_restart_s": round(ready_after, 1)})
        done = _wait_ids(settings, set(ids), timeout=120 + N * 0.5, workers=workers)
        # Redeliveries may still be in flight after the last input came out.
        time.sleep(5)
        elapsed = time.monotonic() - started
    finally:
        for w in workers.values():
            w.stop()
    finals = {t: asyncio.run(read_topic(settings, t, keep_value=True)) for t in FINAL}
    inter = {t: asyncio.run(read_topic(settings, t)) for t in (NORMALISED, EXTRACTED)}
    merged = asyncio.run(read_topic(settings, MERGED, keep_value=True))
    return {"ids": ids, "finals": finals, "inter": inter, "kills": kills, "done": done,
            "elapsed": elapsed, "workers": workers, "merged": merged}


def _final_ids(finals: dict[str, list[tuple[str | None, Any]]]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for topic, records in finals.items():
        for key, value in records:
            aid = value.get("article_id") if topic == DEADLETTER else value.get("id")
            seen[aid or key or ""] += 1
    return seen


def test_every_article_comes_out_after_kills(crash_run: dict[str, Any]) -> None:
    ids = crash_run["ids"]
    seen = _final_ids(crash_run["finals"])
    lost = [i for i in ids if i not in seen]
    stray = [k for k in seen if k not in set(ids)]
    redelivered = {t: len(r) - len({k for k, _ in r})
                   for t, r in {**crash_run["inter"], **crash_run["finals"]}.items()}
    summary = {
        "sent": len(ids),
        "killed": crash_run["kills"],
        "final_messages": {t: len(r) for t, r in crash_run["finals"].items()},
        "distinct_ids_out": len(seen),
        "redelivered_messages_per_topic": redelivered,
        "flagged_redelivered_by_deduplicator": sum(
            1 for t in (ENRICHED, DUPLICATES) for _, v in crash_run["finals"][t]
            if v["dedup"].get("redelivered")
        ),
        "lost": len(lost),
        "stray": len(stray),
        "elapsed_s": round(crash_run["elapsed"], 1),
        "restarts": {s: w.starts - 1 for s, w in crash_run["workers"].items()},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "crash.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print("\ncrash test:", orjson.dumps(summary).decode())
    assert len(crash_run["kills"]) == 3
    assert not lost, f"{len(lost)} lost, e.g. {lost[:5]}"
    assert not stray, stray[:5]


def test_kills_caused_redelivery_at_least_once(crash_run: dict[str, Any]) -> None:
    """The kills were real: some input was processed twice somewhere (offsets not committed)."""
    every = {**crash_run["inter"], **crash_run["finals"]}
    redelivered = sum(len(r) - len({k for k, _ in r}) for r in every.values())
    assert redelivered > 0


def test_redelivered_articles_keep_their_first_decision(crash_run: dict[str, Any]) -> None:
    decisions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic in (ENRICHED, DUPLICATES):
        for key, value in crash_run["finals"][topic]:
            decisions[key or ""].append({**value["dedup"], "topic": topic})
    for aid, ds in decisions.items():
        if len(ds) < 2:
            continue
        first = ds[0]
        for again in ds[1:]:
            assert (again["topic"], again["kind"], again["cluster_id"], again["duplicate_of"]) \
                == (first["topic"], first["kind"], first["cluster_id"], first["duplicate_of"]), aid


def test_no_story_counted_twice(crash_run: dict[str, Any]) -> None:
    members: dict[str, set[str]] = defaultdict(set)
    reported: dict[str, int] = defaultdict(int)
    for topic in (ENRICHED, DUPLICATES):
        for key, value in crash_run["finals"][topic]:
            cid = value["story"]["cluster_id"]
            members[cid].add(key or "")
            reported[cid] = max(reported[cid], int(value["story"]["article_count"]))
    inflated = {c: (reported[c], len(members[c])) for c in members
                if reported[c] > len(members[c])}
    assert not inflated, list(inflated.items())[:5]


def test_workers_logged_their_restart(crash_run: dict[str, Any]) -> None:
    for stage, w in crash_run["workers"].items():
        assert w.starts == 2, stage
        assert Path(w.log_path).read_text().count("===== start") == 2


def test_merged_event_revisions_never_go_back(crash_run: dict[str, Any]) -> None:
    """After the kills, each merged event's records come in revision order on events.merged.

    The deduplicator puts a batch's table writes on the broker before the
    records built from them, so the state restored after a kill is never
    older than a published record: a redelivered report repeats the
    current revision, with the same content; and a report redelivered after
    its event left the merger's window is not merged (it would found the
    event again under its old id, at revision 0).
    """
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, value in crash_run["merged"]:
        assert key == value["event_id"]
        history[key].append(value)
    assert history
    repeated = 0
    for key, records in history.items():
        revisions = [r["revision"] for r in records]
        # (A revision may be missing: state put on the broker whose records were
        # not produced before the kill is published as it stands afterwards.)
        assert revisions == sorted(revisions), (key, revisions)
        seen: dict[int, dict[str, Any]] = {}
        for r in records:
            assert seen.setdefault(r["revision"], r) == r, key
        repeated += len(records) - len(seen)
    print(f"\nevents.merged: {len(history)} events, {len(crash_run['merged'])} records, "
          f"{repeated} repeated")
