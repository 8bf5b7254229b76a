"""The whole pipeline over the real embedded broker: nothing lost, duplicates and bad input handled.

One worker (``marsad worker all``) on a topic prefix of its own serves every
test in this module: the seeds, bad messages interleaved with them and one
seed re-sent under another id are published once, and each test checks one
promise against what came out.
"""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator

import orjson
import pytest

from marsad.pipeline import Pipeline
from marsad.runtime import STAGE_NAMES, build_stage, make_codec
from marsad.settings import Settings
from tests.conftest import SEEDS, free_port
from tests.integration.conftest import consume, produce, running_worker, settings_for

pytestmark = pytest.mark.integration

FINAL = ["events.enriched", "articles.duplicates", "articles.deadletter"]


def seed_lines() -> list[bytes]:
    return [line for line in SEEDS.read_bytes().splitlines() if line.strip()]


def bad_messages() -> list[tuple[bytes, str]]:
    """Malformed JSON, a missing text and a non-UTF-8 payload, with the reason each must get."""
    return [
        (b'{"id": "bad-json", "text": "\xd9\x85\xd8\xb1\xd8\xb5\xd8\xaf"', "invalid_json"),
        ('{"id": "no-text", "title": "خبر بلا نص"}'.encode(), "schema_violation"),
        (b'{"id": "bad-utf8", "text": "\xff\xfe\xfd"}', "invalid_utf8"),
        (b"[1, 2, 3]", "not_an_object"),
        (b'{"id": "english", "text": "This article is written in English only."}',
         "not_arabic"),
    ]


@pytest.fixture(scope="module")
def pipeline_run(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Publish seeds, a re-sent seed under a new id and bad messages; collect the outputs."""
    prefix = f"p{uuid.uuid4().hex[:8]}."
    settings = settings_for(broker, prefix)
    port = free_port()
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    seeds = seed_lines()
    # Re-send the newest seed: the deduplicator remembers a window of days behind
    # the newest article it has seen, and the 2012 seed is long out of it.
    newest = max((orjson.loads(s) for s in seeds), key=lambda a: a.get("published_at") or "")
    resent = orjson.dumps({**newest, "id": "resent-copy", "source": "another-outlet"})
    bad = bad_messages()
    # Good and bad messages interleaved: bad ones must not hold the good ones up.
    messages: list[bytes] = []
    for i, line in enumerate(seeds):
        messages.append(line)
        if i < len(bad):
            messages.append(bad[i][0])
    messages.append(resent)
    with running_worker(broker, prefix, "all", port=port, log_path=log_path):
        asyncio.run(produce(settings, [(None, m) for m in messages]))
        # One more: the copy's new source re-publishes its story's event.
        outputs = asyncio.run(consume(settings, FINAL, expected=len(messages) + 1))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
            metrics_text = r.read().decode()
    yield {
        "settings": settings, "messages": messages, "seeds": seeds, "bad": bad,
        "outputs": outputs, "metrics": metrics_text, "log": log_path, "newest": newest,
    }


def test_every_article_comes_out_once(pipeline_run: dict) -> None:
    outputs, messages = pipeline_run["outputs"], pipeline_run["messages"]
    assert len(outputs) == len(messages) + 1, pipeline_run["log"].read_text()[-3000:]
    good_ids = [orjson.loads(s)["id"] for s in pipeline_run["seeds"]] + ["resent-copy"]
    decided = [o for o in outputs if o["topic"] == "articles.duplicates"
               or (o["topic"] == "events.enriched" and not o["value"]["story"]["revision"])]
    out_keys = Counter(o["key"] for o in decided)
    for article_id in good_ids:
        assert out_keys[article_id] == 1, article_id
    # The re-publication: the resent copy's original, with the story's new figures.
    (again,) = [o for o in outputs if o["topic"] == "events.enriched"
                and o["value"]["story"]["revision"] == 1]
    assert again["key"] == pipeline_run["newest"]["id"]
    assert again["value"]["story"]["article_count"] == 2


def test_resent_article_is_a_duplicate(pipeline_run: dict) -> None:
    dups = {o["key"]: o["value"] for o in pipeline_run["outputs"]
            if o["topic"] == "articles.duplicates"}
    newest = pipeline_run["newest"]
    assert "resent-copy" in dups
    assert dups["resent-copy"]["duplicate_of"] == newest["id"]
    assert dups["resent-copy"]["dedup"]["method"] == "exact"
    assert set(dups["resent-copy"]["story"]["sources"]) >= {newest["source"], "another-outlet"}


def test_bad_messages_are_dead_lettered_with_reason(pipeline_run: dict) -> None:
    dead = [o["value"] for o in pipeline_run["outputs"] if o["topic"] == "articles.deadletter"]
    reasons = Counter(d["reason"] for d in dead)
    expected = Counter(reason for _, reason in pipeline_run["bad"])
    assert reasons == expected
    import base64

    originals = {base64.b64decode(d["original_b64"]) for d in dead}
    assert originals == {m for m, _ in pipeline_run["bad"]}
    assert all(d["stage"] == "normaliser" for d in dead)
    assert all(d["origin"]["topic"].endswith("articles.raw") for d in dead)


def test_worker_metrics_count_what_happened(pipeline_run: dict) -> None:
    text = pipeline_run["metrics"]
    n = len(pipeline_run["messages"])
    assert f'marsad_messages_in_total{{stage="normaliser"}} {float(n)}' in text
    assert 'marsad_deadletters_total{reason="invalid_utf8",stage="normaliser"} 1.0' in text
    dups = sum(1 for o in pipeline_run["outputs"] if o["topic"] == "articles.duplicates")
    assert dups >= 1
    assert (f'marsad_messages_out_total{{outcome="duplicate",stage="deduplicator"}} {float(dups)}'
            in text)
    assert "marsad_end_to_end_latency_seconds_count" in text


def test_process_command_gives_the_same_records(pipeline_run: dict) -> None:
    """``marsad process`` (no broker) and the broker path agree record for record."""
    settings = Settings(topic_prefix=pipeline_run["settings"].topic_prefix)
    codec = make_codec(settings)
    pipe = Pipeline([build_stage(n, settings, codec) for n in STAGE_NAMES], codec)
    local = [o for m in pipeline_run["messages"] for o in pipe.run(m)]
    local_final = {(o.topic, o.key): o.value for o in local
                   if o.topic in ("events.enriched", "articles.duplicates")}
    broker_final = {(o["topic"], o["key"]): o["value"] for o in pipeline_run["outputs"]
                    if o["topic"] in ("events.enriched", "articles.duplicates")}
    assert local_final.keys() == broker_final.keys()
    for k, value in local_final.items():
        assert orjson.loads(orjson.dumps(value)) == broker_final[k], k
    local_reasons = Counter(o.value["reason"] for o in local if o.topic == "articles.deadletter")
    broker_reasons = Counter(o["value"]["reason"] for o in pipeline_run["outputs"]
                             if o["topic"] == "articles.deadletter")
    assert local_reasons == broker_reasons




def test_worker_reports_ready_in_its_metrics(pipeline_run: dict) -> None:
    assert "marsad_ready 1.0" in pipeline_run["metrics"]
