"""``events.merged`` on the real broker: one record per change of a merged event.

One partition, one ``marsad worker all``.  Three real ANT reports of one
attack in Afghanistan (Sky News twice, France 24 once, June 2018) go in;
``events.merged`` must hold, under the attack's event id, revisions 0, 1
and 2, the latest listing both outlets with each one's highest toll and
their median as consensus, exactly as ``marsad process`` gives them.  The
worker's counter counts the records it published.  (Several partitions and
two deduplicator workers: ``test_dedup_events.py``.)
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import re
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

import orjson
import pytest

from marsad.pipeline import Pipeline
from marsad.runtime import STAGE_NAMES, build_stage, make_codec
from marsad.settings import Settings
from tests.conftest import ANT
from tests.integration.conftest import consume, produce, start_workers

pytestmark = pytest.mark.integration

# Lines of the ANT file: the same attack, reported three times.
LINES = {20105: "SK-internationalNews-2170-20180616", 20208: "SK-internationalNews-2186-20180617",
         20243: "FR-internationalNews-1870-20180617"}


def load_articles() -> list[dict]:
    with gzip.open(ANT, "rb") as f:
        rows = [orjson.loads(line) for n, line in enumerate(
            itertools.islice(f, min(LINES), max(LINES) + 1), min(LINES)) if n in LINES]
    assert [a["id"] for a in rows] == list(LINES.values())
    return rows


def test_the_latest_record_of_a_happening_lists_every_source_and_the_consensus(
    broker: str, tmp_path: Path
) -> None:
    prefix = f"m{uuid.uuid4().hex[:8]}."
    settings = Settings(bootstrap_servers=broker, topic_prefix=prefix)
    articles = load_articles()
    # What marsad process gives for the same articles, in the same order.
    codec = make_codec(Settings())
    pipe = Pipeline([build_stage(n, Settings(), codec) for n in STAGE_NAMES], codec)
    local = [(o.key, o.value) for a in articles for o in pipe.run(orjson.dumps(a))
             if o.topic == "events.merged"]
    with ExitStack() as stack:
        (port,) = start_workers(stack, broker, prefix, ("all",), log_dir=tmp_path)
        # One by one, so that the single partition gets them in this order.
        for a in articles:
            asyncio.run(produce(settings, [(a["id"].encode(), orjson.dumps(a))]))
        out = asyncio.run(consume(settings, ["events.merged"], expected=len(local),
                                  timeout=120))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
    logs = "\n".join(p.read_text()[-2000:] for p in tmp_path.glob("*.log"))
    assert [(o["key"], o["value"]) for o in out] == [
        (k, orjson.loads(orjson.dumps(v))) for k, v in local], logs
    # The attack: the event every article reports.
    by_key: dict[str, list[dict]] = {}
    for o in out:
        by_key.setdefault(o["key"], []).append(o["value"])
    (attack,) = [records for records in by_key.values()
                 if {a["id"] for a in articles} <= set(records[-1]["articles"])]
    assert [r["revision"] for r in attack] == [0, 1, 2]
    latest = attack[-1]
    assert latest["sources"] == ["skynews", "france24"]
    assert latest["report_count"] == 3
    killed = latest["casualties"]["killed"]
    assert killed["by_source"] == {"skynews": 30, "france24": 36}
    assert killed["consensus"] == 33
    # The counter: one sample per change kind, the records delivered.
    counted = {m.group(1): float(m.group(2)) for m in re.finditer(
        r'marsad_dedup_merged_events_published_total\{change="(\w+)",stage="deduplicator"\} '
        r"([0-9.]+)", metrics)}
    founded = sum(1 for o in out if o["value"]["revision"] == 0)
    assert counted == {"founded": founded, "joined": len(out) - founded}, metrics[-3000:]
