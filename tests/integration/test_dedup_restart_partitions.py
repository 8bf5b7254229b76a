"""Stop the band-keyed deduplicator halfway through a stream and start it again.

Four partitions; the normaliser and the extractor keep running, the two
deduplicator workers are stopped one after the other once the first half of the stream was
decided and the second half is produced while none runs.  A single worker
started afterwards restores every partition's tables from their changelogs
(article records, stories, signatures, merged events) and rebuilds the LSH
buckets from the signatures.  So exact copies and edited near copies, on
other partitions than their originals, of articles decided before the
restart still join their stories; a new outlet's report of an attack
reported before the restart joins its merged event; and nothing decided
before the restart is published again (a clean stop commits every offset
it processed: see docs/deduplicator.md for what a crash may repeat).
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import orjson
import pytest

from marsad.deduplicator.agent import partitioner
from marsad.settings import Settings
from tests.conftest import ANT, free_port
from tests.integration.conftest import consume, produce, running_worker, wait_ready
from tests.integration.test_dedup_events import LINES
from tests.integration.test_dedup_partitions import id_elsewhere, near_copy

pytestmark = pytest.mark.integration

PARTITIONS = 4
FINALS = ["events.enriched", "articles.duplicates", "articles.deadletter"]


@contextmanager
def dedup_workers(broker: str, prefix: str, count: int, tmp_path: Path, tag: str
                  ) -> Iterator[list[Path]]:
    """``count`` deduplicator workers on four partitions until the block ends; their logs."""
    logs = [tmp_path / f"dedup-{tag}-{n}.log" for n in range(count)]
    with ExitStack() as stack:
        for log in logs:
            stack.enter_context(running_worker(
                broker, prefix, "deduplicator", port=free_port(), log_path=log,
                env={"MARSAD_PARTITIONS": str(PARTITIONS)},
            ))
        yield logs


def two_halves(partitions: int) -> tuple[list[dict], dict, dict, dict[str, dict], dict[str, dict]]:
    """A stream cut in two around a stop (or a change of the partition count).

    Before: six long ANT originals and Sky News' report of an attack. After:
    an exact copy (another outlet) and a near copy of each original, and
    France 24's report of the same attack, each on another partition than
    the article it must meet.

    Returns:
        ``(originals, sky, france, exact copies by original id, near copies by original id)``.
    """
    originals: list[dict] = []
    openings: set[str] = set()
    reports: dict[int, dict] = {}
    with gzip.open(ANT, "rb") as f:
        for n, line in enumerate(itertools.islice(f, 20_000, 20_300), 20_000):
            article = orjson.loads(line)
            text = article.get("text") or ""
            if n in LINES:
                reports[n] = article
            elif len(text) > 800 and text[:80] not in openings and len(originals) < 6:
                openings.add(text[:80])
                originals.append(article)
    sky, france = reports[min(LINES)], reports[max(LINES)]
    part = partitioner(partitions)
    france = {**france, "id": id_elsewhere(france["id"], part(sky["id"]))}
    exact = {a["id"]: {**a, "id": id_elsewhere(a["id"] + "-again", part(a["id"])),
                       "source": "third-outlet"} for a in originals}
    edited = {a["id"]: near_copy(a, id_elsewhere(a["id"] + "-edit", part(a["id"])))
              for a in originals}
    return originals, sky, france, exact, edited


def assert_second_half_joined(
    first: list[dict], out: list[dict], halves: tuple[list[dict], dict, dict, dict, dict],
    revisions: list[int],
) -> None:
    """Check that the second half of :func:`two_halves` met what the first half left.

    Every copy is reported once, as a duplicate in its original's story (the
    exact copy by hash, the edited one by MinHash); each original's story
    was published with ``revisions`` in all; France 24's report joined the
    merged event that Sky News' report founded.

    Args:
        first: The records of the first half (``topic``, ``key``, ``value``).
        out: The records the second half gave (the first half's may be among them).
        halves: What :func:`two_halves` returned.
        revisions: The story revisions each original must have on ``events.enriched``.
    """
    originals, sky, france, exact, edited = halves
    dups = [o for o in out if o["topic"] == "articles.duplicates"]
    copies = [*exact.values(), *edited.values()]
    missing = set(Counter(c["id"] for c in copies) - Counter(o["key"] for o in dups))
    # Which way it failed: decided as unique, or not decided at all (see the worker logs).
    unique = sorted({o["key"] for o in out if o["topic"] == "events.enriched"} & missing)
    assert Counter(o["key"] for o in dups) == Counter(c["id"] for c in copies), (
        f"no duplicate notice for {sorted(missing)}; published as unique: {unique}")
    cluster = {o["key"]: o["value"]["story"]["cluster_id"] for o in first}
    enriched = [o for o in out if o["topic"] == "events.enriched"]
    for orig in originals:
        for copy, method in ((exact[orig["id"]], "exact"), (edited[orig["id"]], "minhash")):
            notice = next(o["value"] for o in dups if o["key"] == copy["id"])
            assert notice["story"]["cluster_id"] == cluster[orig["id"]]
            assert notice["dedup"]["method"] == method
        versions = sorted(o["value"]["story"]["revision"] for o in enriched
                          if o["key"] == orig["id"])
        assert versions == revisions, (orig["id"], versions)
    (sky_out,) = [o["value"] for o in first if o["key"] == sky["id"]]
    (france_out,) = [o["value"] for o in out if o["key"] == france["id"]]
    sky_events = {e["event_id"] for e in sky_out["merged_events"]}
    joined = [e for e in france_out["merged_events"] if e["event_id"] in sky_events]
    assert joined, (sky_out["merged_events"], france_out["merged_events"])
    assert sorted(joined[0]["sources"]) == ["france24", "skynews"]


def test_banded_deduplicator_remembers_across_a_restart(broker: str, tmp_path: Path) -> None:
    prefix = f"q{uuid.uuid4().hex[:8]}."
    settings = Settings(bootstrap_servers=broker, topic_prefix=prefix, partitions=PARTITIONS)
    env = {"MARSAD_PARTITIONS": str(PARTITIONS)}
    halves = two_halves(PARTITIONS)
    originals, sky, france, exact, edited = halves
    copies = [*exact.values(), *edited.values()]
    before_ids = [a["id"] for a in originals] + [sky["id"]]
    with ExitStack() as stack:
        for stage in ("normaliser", "extractor"):
            stack.enter_context(running_worker(
                broker, prefix, stage, port=free_port(), log_path=tmp_path / f"{stage}.log",
                env=env,
            ))
        env_a = {"MARSAD_PARTITIONS": str(PARTITIONS)}
        port_a, log_a = free_port(), tmp_path / "dedup-before-0.log"
        with running_worker(broker, prefix, "deduplicator", port=port_a, log_path=log_a,
                            env=env_a) as worker_a:
            with dedup_workers(broker, prefix, 1, tmp_path, "before-second"):
                asyncio.run(produce(settings, [(a["id"].encode(), orjson.dumps(a))
                                               for a in [*originals, sky]]))
                first = asyncio.run(consume(settings, FINALS, expected=len(before_ids),
                                            timeout=240))
            # One after the other, as a rolling stop does: the first worker
            # takes every partition over before it stops too.  (Stopping both
            # at once can leave the embedded broker's group with a departed
            # leader, and the next member then re-joins the same generation
            # forever; its coordinator, not the deduplicator, is at fault.)
            time.sleep(3)
            wait_ready(port_a, worker_a, log_a)
        # The second half arrives while no deduplicator runs.
        asyncio.run(produce(settings, [(c["id"].encode(), orjson.dumps(c))
                                       for c in [*copies, france]]))
        with dedup_workers(broker, prefix, 1, tmp_path, "after") as logs:
            # Per original: its event, then two notices and two re-publications.
            expected = 5 * len(originals) + 2
            asyncio.run(consume(settings, FINALS, expected=expected, timeout=240))
            # Anything published twice would come on top: give it time to show.
            out = asyncio.run(consume(settings, FINALS, expected=expected + 1, timeout=10))
    after_log = logs[0].read_text()
    all_logs = "\n".join(p.read_text()[-1500:] for p in tmp_path.glob("*.log"))
    assert sorted(o["key"] for o in first) == sorted(before_ids), all_logs
    rebuilt = [int(n) for n in re.findall(r"LSH index rebuilt from (\d+)", after_log)]
    assert rebuilt and max(rebuilt) > 0, after_log[-3000:]
    assert not [o for o in out if o["topic"] == "articles.deadletter"], all_logs
    # Nothing published twice: revision 0 before the restart, one per new source after;
    # the attack: France 24's report joins the merged event Sky News founded before.
    assert_second_half_joined(first, out, halves, [0, 1, 2])
    enriched = [o for o in out if o["topic"] == "events.enriched"]
    assert Counter(o["key"] for o in enriched if o["key"] in (sky["id"], france["id"])) == {
        sky["id"]: 1, france["id"]: 1}
