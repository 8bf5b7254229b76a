"""docker-compose.yml and deploy/ cannot run here (no Docker engine): parse and check them."""

from __future__ import annotations

import json
import re

import yaml

from marsad.metrics import Metrics
from marsad.settings import Settings
from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_kafka_runs_in_kraft_mode() -> None:
    env = SERVICES["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "ZOOKEEPER" not in " ".join(env).upper()
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # workers create their topics


def test_each_stage_is_a_service_with_valid_settings() -> None:
    for stage in ("normaliser", "extractor", "deduplicator"):
        svc = SERVICES[stage]
        assert svc["command"] == ["worker", stage]
        env = {k.removeprefix("MARSAD_").lower(): v for k, v in svc["environment"].items()}
        settings = Settings(**env)  # every variable must be one the services understand
        host = settings.bootstrap_servers.split(":")[0]
        assert host in SERVICES
        assert settings.metrics_host == "0.0.0.0"


def test_prometheus_scrapes_every_stage() -> None:
    prom = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    [job] = prom["scrape_configs"]
    [sd] = job["dns_sd_configs"]
    assert set(sd["names"]) == {"normaliser", "extractor", "deduplicator"}
    assert sd["port"] == int(SERVICES["normaliser"]["environment"]["MARSAD_METRICS_PORT"])
    mounted = " ".join(SERVICES["prometheus"]["volumes"])
    assert "deploy/prometheus.yml" in mounted


def test_dashboard_queries_name_real_metrics() -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    Metrics(registry)
    known = {m.name for m in registry.collect()}
    known |= {f"{n}_total" for n in known} | {f"{n}_bucket" for n in known} | {"up"}
    dash = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "marsad.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        for name in re.findall(r"\b(marsad_[a-z_]+|up)\b", expr):
            assert name in known, (name, expr)


def test_dockerfile_installs_cpu_torch_before_the_package() -> None:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    assert text.index("torch==2.13.0") < text.index("pip install -c requirements.lock")
    assert "TORCH_INDEX_URL" in text
