"""Schemas are the source of truth: well-formed, versioned, matched by the records in code."""

from __future__ import annotations

import typing
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from marsad.codec import default_schema_dir, load_schemas, schema_id
from marsad.records import RECORDS
from marsad.topics import ALL_TOPICS, INTERNAL_TOPICS, MERGED

SCHEMAS = load_schemas()


@pytest.mark.parametrize("sid", sorted(SCHEMAS))
def test_schema_is_valid_2020_12_with_id_and_version(sid: str) -> None:
    doc = SCHEMAS[sid]
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)
    assert ".v1.json" in sid
    assert doc.get("version", "").startswith("1.")


def test_one_schema_per_topic() -> None:
    files = {p.name for p in default_schema_dir().glob("*.json")}
    assert files == {f"{t}.v1.json" for t in ALL_TOPICS + INTERNAL_TOPICS}


@pytest.mark.parametrize("topic", ALL_TOPICS)
def test_record_keys_match_schema(topic: str) -> None:
    schema = SCHEMAS[schema_id(topic)]
    record = RECORDS[topic]
    hints = typing.get_type_hints(record)
    assert set(hints) == set(schema["properties"]), topic
    required = set(record.__required_keys__)  # type: ignore[attr-defined]
    assert required == set(schema.get("required", [])), topic


def test_every_ref_resolves() -> None:
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(SCHEMAS)
    for ref in refs:
        document = ref.split("#")[0]
        assert not document or document in SCHEMAS, ref  # "" is a reference inside one file


def test_raw_schema_requires_only_text() -> None:
    raw = orjson.loads((default_schema_dir() / "articles.raw.v1.json").read_bytes())
    assert raw["required"] == ["text"]


def test_internal_deduplicator_messages_match_their_schemas() -> None:
    """Every message the band-keyed deduplicator sends, in a run with copies, validates.

    So do the ``events.merged`` records its event partitions publish.
    """
    import random

    from marsad.deduplicator.banded import Publish, Send
    from tests.unit.deduplicator.test_banded import simulate, strike_reports

    registry: Registry[Any] = Registry().with_resources(
        (sid, Resource.from_contents(doc)) for sid, doc in SCHEMAS.items())
    sent: list[Send] = []
    published: list[Publish] = []
    simulate(3, random.Random(7), sent=sent, reports=strike_reports(), publications=published)
    assert {s.topic for s in sent} == set(INTERNAL_TOPICS)
    merged = Draft202012Validator(SCHEMAS[schema_id(MERGED)], registry=registry)
    assert published
    for p in published:
        errors = list(merged.iter_errors(orjson.loads(orjson.dumps(p.value))))
        assert not errors, (p.value, errors[0].message)
    kinds = set()
    for s in sent:
        validator = Draft202012Validator(SCHEMAS[schema_id(s.topic)], registry=registry)
        errors = list(validator.iter_errors(orjson.loads(orjson.dumps(s.value))))
        assert not errors, (s.topic, s.value.get("k"), errors[0].message)
        kinds.add(s.value["k"])
    assert kinds == {"band", "reports", "cands", "merged", "join", "resolved"}
