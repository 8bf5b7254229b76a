"""The bad-input corpus through ``marsad process`` and the broker: nothing lost, nothing stuck.

Every case must end in ``articles.deadletter`` with its reason code, or come
out processed; the good articles interleaved with the bad ones all come out.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import orjson
import pytest

from marsad.normaliser.stage import derive_article_id
from marsad.pipeline import Pipeline
from marsad.runtime import STAGE_NAMES, build_stage, make_codec
from marsad.settings import Settings
from tests.bad_inputs import cases
from tests.conftest import REPO, SEEDS, free_port
from tests.integration.conftest import consume, produce, running_worker, settings_for

FINAL = ("events.enriched", "articles.duplicates", "articles.deadletter")
CASES = cases()


def interleaved() -> list[tuple[str, bytes, frozenset[str]]]:
    """Bad cases with a real seed article after each of the first ten."""
    goods = [line for line in SEEDS.read_bytes().splitlines() if line.strip()][:10]
    out: list[tuple[str, bytes, frozenset[str]]] = []
    for i, case in enumerate(CASES):
        out.append(case)
        if i < len(goods):
            out.append((f"seed-{i}", goods[i], frozenset({"ok"})))
    return out


@pytest.fixture(scope="module")
def stream() -> list[tuple[str, bytes, frozenset[str]]]:
    return interleaved()


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 50
    assert len({name for name, _, _ in CASES}) == len(CASES)


def test_process_path(stream: list[tuple[str, bytes, frozenset[str]]]) -> None:
    settings = Settings()
    codec = make_codec(settings)
    pipe = Pipeline([build_stage(n, settings, codec) for n in STAGE_NAMES], codec)
    failures = []
    for name, payload, expected in stream:
        finals = [o for o in pipe.run(payload) if o.topic in FINAL]
        assert len(finals) == 1, name
        got = finals[0].value["reason"] if finals[0].topic == "articles.deadletter" else "ok"
        if got not in expected:
            failures.append((name, got, sorted(expected)))
    assert not failures


def test_process_command_survives_bad_lines(tmp_path) -> None:
    """The CLI reads a JSONL file with bad lines and prints a dead letter for each."""
    # Blank lines are not messages in JSONL; lines with newlines cannot be one line.
    lines = [p for _, p, _ in CASES if p.strip() and b"\n" not in p and len(p) < 100_000]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    done = subprocess.run(
        [sys.executable, "-m", "marsad", "process", str(path), "--final-only"],
        capture_output=True, cwd=REPO, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    records = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == len(lines)


@pytest.mark.integration
def test_broker_path(
    broker: str, tmp_path_factory: pytest.TempPathFactory,
    stream: list[tuple[str, bytes, frozenset[str]]],
) -> None:
    prefix = f"bad{uuid.uuid4().hex[:8]}."
    settings = settings_for(broker, prefix)
    port = free_port()
    log_path = tmp_path_factory.mktemp("bad") / "worker.log"
    # The broker path cannot carry what Kafka itself refuses: the 10 MB case is
    # checked on the process path (too_large) and by the codec's unit tests.
    sendable = [c for c in stream if len(c[1]) < 1_000_000]
    with running_worker(broker, prefix, "all", port=port, log_path=log_path):
        asyncio.run(produce(settings, [(None, p) for _, p, _ in sendable]))
        outputs = asyncio.run(consume(settings, list(FINAL), expected=len(sendable), timeout=180))
    assert len(outputs) == len(sendable), log_path.read_text()[-3000:]
    # Map every output back to the raw offset it came from: dead letters name it,
    # processed articles carry their (given or derived) id as key.
    offset_of_id: dict[str, int] = {}
    for offset, (_, payload, _) in enumerate(sendable):
        try:
            value = orjson.loads(payload.removeprefix(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("text"), str):
            offset_of_id.setdefault(value.get("id") or derive_article_id(value["text"]), offset)
    seen: dict[int, str] = {}
    for o in outputs:
        v = o["value"]
        if o["topic"] == "articles.deadletter" and v["origin"]["topic"].endswith("articles.raw"):
            seen[v["origin"]["offset"]] = v["reason"]
        elif o["topic"] == "articles.deadletter":  # a later stage: the article id is known
            seen[offset_of_id[v["article_id"]]] = v["reason"]
        else:
            seen[offset_of_id[o["key"]]] = "ok"
    assert set(seen) == set(range(len(sendable)))
    failures = [(name, seen[i], sorted(exp)) for i, (name, _, exp) in enumerate(sendable)
                if seen[i] not in exp]
    assert not failures
