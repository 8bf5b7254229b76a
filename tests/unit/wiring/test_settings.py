"""Settings come from MARSAD_* variables, are frozen and keep secrets secret."""

from __future__ import annotations

import pydantic
import pytest

from marsad.settings import Settings


def test_defaults_are_one_machine() -> None:
    s = Settings(_env_file=None)
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.metrics_host == "127.0.0.1"  # nothing opened to the network by default


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARSAD_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("MARSAD_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("MARSAD_PARTITIONS", "12")
    s = Settings()
    assert s.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert s.partitions == 12
    assert s.topic("articles.raw") == "staging.articles.raw"


def test_frozen() -> None:
    s = Settings()
    with pytest.raises(pydantic.ValidationError):
        s.partitions = 3  # type: ignore[misc]


def test_password_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARSAD_SASL_PASSWORD", "hunter2-secret")
    s = Settings()
    assert "hunter2-secret" not in repr(s)
    assert "hunter2-secret" not in str(s.model_dump())
    assert s.sasl_password is not None
    assert s.sasl_password.get_secret_value() == "hunter2-secret"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARSAD_PARTITIONS", "0")
    with pytest.raises(pydantic.ValidationError):
        Settings()
