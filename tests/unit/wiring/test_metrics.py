"""Metrics: base units, a registry of one's own, few label values."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from marsad.metrics import Metrics


def test_fresh_registry_per_instance() -> None:
    a, b = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    a.messages_in.labels("normaliser").inc(3)
    assert b.registry.get_sample_value("marsad_messages_in_total", {"stage": "normaliser"}) is None
    assert a.registry.get_sample_value("marsad_messages_in_total", {"stage": "normaliser"}) == 3


def test_names_end_in_base_units() -> None:
    m = Metrics(CollectorRegistry())
    m.processing_seconds.labels("extractor").observe(0.002)
    m.messages_out.labels("deduplicator", "unique").inc()
    m.deadletters.labels("normaliser", "invalid_json").inc()
    text = generate_latest(m.registry).decode()
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
             if line and not line.startswith("#")}
    for name in names:
        assert name.endswith(("_total", "_seconds_bucket", "_seconds_count", "_seconds_sum",
                              "_created", "_messages_bucket", "_messages_count", "_messages_sum",
                              "marsad_ready")), name
