"""A real Prometheus server scrapes a running worker; throughput is read back through its API."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SEEDS, free_port
from tests.integration.conftest import consume, produce, running_worker, settings_for

pytestmark = pytest.mark.integration


def query(prom_port: int, promql: str) -> list[dict]:
    url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_reads_throughput(
    broker: str, prefix: str, prometheus_bin: str, tmp_path: Path
) -> None:
    worker_port, prom_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: marsad\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{worker_port}']}}]\n"
    )
    prom = subprocess.Popen(
        [prometheus_bin, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prom.log").open("wb"),
    )
    settings = settings_for(broker, prefix)
    lines = [line for line in SEEDS.read_bytes().splitlines() if line.strip()]
    try:
        with running_worker(broker, prefix, "all", port=worker_port,
                            log_path=tmp_path / "worker.log"):
            # Two waves a few seconds apart, so the rate window holds a real increase.
            asyncio.run(produce(settings, [(None, m) for m in lines[:10]]))
            time.sleep(3)
            asyncio.run(produce(settings, [(None, m) for m in lines[10:]]))
            out = asyncio.run(consume(settings, ["events.enriched", "articles.duplicates",
                                                 "articles.deadletter"], expected=len(lines)))
            assert len(out) == len(lines)
            deadline = time.monotonic() + 60
            total = rate = 0.0
            while time.monotonic() < deadline:
                res = query(prom_port, 'sum(marsad_messages_in_total{stage="normaliser"})')
                total = float(res[0]["value"][1]) if res else 0.0
                res = query(prom_port,
                            'sum(rate(marsad_messages_in_total{stage="normaliser"}[30s]))')
                rate = float(res[0]["value"][1]) if res else 0.0
                if total == len(lines) and rate > 0:
                    break
                time.sleep(1)
            assert total == len(lines)
            assert rate > 0
            up = query(prom_port, 'up{job="marsad"}')
            assert up and up[0]["value"][1] == "1"
    finally:
        prom.terminate()
        prom.wait(timeout=10)
