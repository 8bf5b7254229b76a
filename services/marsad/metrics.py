"""Prometheus metrics of the pipeline, in base units (seconds, totals).

Modelled on faust's ``sensors/prometheus.py``, but the registry is passed in so
that every test builds a fresh one, and label values are few and fixed (stage,
outcome, reason, topic, change): never an article id or a source name.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Processing a single article takes from tens of microseconds (normaliser) to
# tens of milliseconds (a 20,000-character article through NER).
_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                  0.5, 1.0, 2.5)
# End-to-end latency is dominated by batching and consumer-group hops.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """The collectors every stage updates.

    Args:
        registry: Where to register; production code passes the process-wide
            registry, tests a fresh ``CollectorRegistry()``.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages_in = Counter(
            "marsad_messages_in_total",
            "Messages a stage read from its input topic.",
            ["stage"],
            registry=registry,
        )
        self.messages_out = Counter(
            "marsad_messages_out_total",
            "Messages a stage produced, by outcome (ok, unique, duplicate, deadletter).",
            ["stage", "outcome"],
            registry=registry,
        )
        self.deadletters = Counter(
            "marsad_deadletters_total",
            "Messages sent to the dead-letter topic, by stage and reason code.",
            ["stage", "reason"],
            registry=registry,
        )
        self.processing_seconds = Histogram(
            "marsad_processing_seconds",
            "Time a stage spent on one message (decode, core, encode).",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=registry,
        )
        self.end_to_end_seconds = Histogram(
            "marsad_end_to_end_latency_seconds",
            "From the raw message's Kafka timestamp to the final topic.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "marsad_batch_messages",
            "Messages handled per agent batch.",
            ["stage"],
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=registry,
        )
        self.merged_events_published = Counter(
            "marsad_dedup_merged_events_published_total",
            "Records of merged events delivered to events.merged, by stage and change "
            "(founded: revision 0; joined: a report joined it; closed: it left the window).",
            ["stage", "change"],
            registry=registry,
        )
        self.ready = Gauge(
            "marsad_ready",
            "1 when the worker has partitions assigned and its broker is reachable.",
            registry=registry,
        )
