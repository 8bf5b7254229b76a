"""One frozen settings object for every marsad service, built from ``MARSAD_*`` variables.

This is the only module that reads the environment (through pydantic-settings).
Everything else receives a :class:`Settings` instance, so tests build their own
with keyword arguments instead of patching ``os.environ``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Settings(BaseSettings):
    """Configuration of a marsad worker, CLI command or test run.

    Every field can be set with an environment variable named ``MARSAD_`` plus
    the field name in upper case, e.g. ``MARSAD_BOOTSTRAP_SERVERS``.
    """

    model_config = SettingsConfigDict(env_prefix="MARSAD_", frozen=True, extra="ignore")

    # --- Kafka -----------------------------------------------------------------
    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    topic_prefix: str = Field("", description="Prepended to every topic name, e.g. 'staging.'.")
    partitions: int = Field(1, ge=1, description="Partitions of topics created at start-up.")
    replication_factor: int = Field(1, ge=1, description="Replication of created topics.")
    app_id: str = Field("marsad", description="Faust application id (consumer group prefix).")
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = Field(None, description="CA bundle for TLS connections.")
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # Low timeouts make a worker join its group in seconds instead of ~30 s on
    # the embedded broker; raise them for a busy production cluster.
    rebalance_timeout_seconds: float = Field(5.0, gt=0)
    session_timeout_seconds: float = Field(10.0, gt=0)
    batch_size: int = Field(200, ge=1, description="Messages taken per agent batch.")
    # tansu 0.6 answers ListOffsets with the base offset of a partition's last
    # record batch, not its end, and Faust restores tables up to that offset:
    # with the embedded broker, 1 (one record per batch) keeps restores whole.
    producer_batch_bytes: int = Field(
        16384, ge=1, description="Producer batch size in bytes (1 with the embedded broker)."
    )
    batch_wait_seconds: float = Field(0.05, gt=0, description="Longest wait to fill a batch.")

    # --- HTTP (metrics and health) -----------------------------------------------
    metrics_host: str = Field("127.0.0.1", description="Bind address of /metrics and /health.")
    metrics_port: int = Field(9100, ge=0, le=65535, description="0 disables the endpoint.")

    # --- Limits ------------------------------------------------------------------
    max_message_bytes: int = Field(
        1_000_000, ge=1024, description="Raw messages larger than this are dead-lettered unread."
    )
    full_validation: bool = Field(
        False,
        description="Validate internal records against their whole schema, not only the top.",
    )
    max_output_bytes: int = Field(
        8_388_608, ge=1024, description="Largest record a stage produces (topic max.message.bytes)."
    )
    article_time_limit_seconds: float = Field(
        10.0, gt=0, description="Longest time one article may take in a stage (then: timeout)."
    )
    deadletter_original_bytes: int = Field(
        262_144, ge=0, description="How much of a bad message's bytes a dead letter keeps."
    )

    # --- Stages --------------------------------------------------------------------
    normaliser_profile: str = Field(
        "default", description="Folds applied to the matching text (comma-separated)."
    )
    ner_backend: Literal["builtin", "camel", "neural"] = "builtin"
    # 0.5 over 3-word shingles, measured on the ANT evaluation set (see README):
    # 0.8 over 5 words missed a third of re-edited copies.
    dedup_threshold: float = Field(0.5, gt=0, le=1, description="Near-duplicate Jaccard bar.")
    dedup_shingle: int = Field(3, ge=1, description="Words per shingle.")
    dedup_permutations: int = Field(128, ge=8, description="MinHash permutations.")
    dedup_window_days: float = Field(7.0, gt=0, description="How long articles are remembered.")
    dedup_followup_hours: float = Field(
        8.0, ge=0, description="Older than this, a same-outlet story needs the stricter bar."
    )
    dedup_followup_threshold: float = Field(0.8, gt=0, le=1, description="That stricter bar.")
    dedup_containment: float = Field(
        0.65,
        gt=0,
        description="Across outlets, estimated containment of the shorter text from which a "
        "candidate is a near duplicate (above 1: off).",
    )
    dedup_containment_floor: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Estimated Jaccard a candidate needs before its containment counts.",
    )
    dedup_order_sample: int = Field(
        8,
        ge=0,
        description="Each article keeps about one shingle in this many, in text order, for the "
        "ordered cover (0: none, no ordered-cover path).",
    )
    dedup_ordered_cover: float = Field(
        0.6,
        gt=0,
        description="Across outlets, share of the smaller order sample found in the other in "
        "the same order from which a candidate is a near duplicate (above 1: off).",
    )
    dedup_ordered_floor: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Estimated Jaccard a candidate needs before its ordered cover counts.",
    )

    data_dir: str = Field("var", description="Where Faust keeps local files (relative to cwd).")
    log_level: str = "INFO"

    def topic(self, name: str) -> str:
        """Return the physical topic name for a logical one (adds the prefix)."""
        return f"{self.topic_prefix}{name}"
