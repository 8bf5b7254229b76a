"""The one place where bytes become records and records become bytes.

Every stage decodes its input through :class:`Codec` and so validates it
against the topic's JSON Schema at the boundary; whatever fails becomes a
:class:`DecodeError` with a stable reason code that the stage turns into a
dead letter.  Schemas are loaded from ``schemas/`` when a codec is built, never
at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

#: Stable reason codes of dead letters (the dead-letter schema's enum matches it).
REASONS: tuple[str, ...] = (
    "too_large",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "schema_violation",
    "empty_text",
    "not_arabic",
    "timeout",
    "processing_error",
)

SCHEMA_BASE = "https://marsad.example/schemas/"


def default_schema_dir() -> Path:
    """Return the repository's ``schemas/`` folder (the source of truth for contracts)."""
    return Path(__file__).resolve().parents[2] / "schemas"


class DecodeError(ValueError):
    """A message that cannot be used, with a reason code for the dead-letter topic."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown dead-letter reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def schema_id(topic: str) -> str:
    """Return the ``$id`` of the current schema of a logical topic."""
    return f"{SCHEMA_BASE}{topic}.v1.json"


def load_schemas(schema_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Read every JSON Schema under ``schema_dir``, keyed by its ``$id``."""
    root = schema_dir or default_schema_dir()
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*.json")):
        doc = orjson.loads(path.read_bytes())
        schemas[doc["$id"]] = doc
    if not schemas:
        raise FileNotFoundError(f"no JSON Schemas found under {root}")
    return schemas


def _check_refs(schemas: dict[str, dict[str, Any]]) -> None:
    """Fail at start-up, not on the first message, when a ``$ref`` names a missing schema."""
    missing: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.split("#")[0] and ref.split("#")[0] not in schemas:
                missing.add(ref.split("#")[0])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schemas)
    if missing:
        raise FileNotFoundError(f"schemas referenced but not found: {', '.join(sorted(missing))}")


def _shallow(schema: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return a topic schema whose referenced parts are checked for their type only.

    Validating every token span and entity mention of an internal record costs
    tens of milliseconds with jsonschema, far more than the stage itself; the
    records a stage reads from another stage are produced by code the contract
    tests hold to the full schema, so at run time their top level is enough.
    """

    def ref_type(ref: str) -> dict[str, Any]:
        document, _, pointer = ref.partition("#")
        node: Any = schemas[document]
        for part in [p for p in pointer.split("/") if p]:
            node = node[part]
        return {"type": node["type"]} if "type" in node else {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"].split("#")[0]:
                return ref_type(node["$ref"])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return dict(walk(schema))


class Codec:
    """JSON codec with schema validation for the pipeline's topics.

    Args:
        topics: Logical topic names to build validators for.
        schema_dir: Folder of JSON Schemas; defaults to the repository's ``schemas/``.
        max_bytes: Messages of ``limited`` topics larger than this are rejected before parsing.
        limited: Topics written by publishers: size-limited and always validated in
            full.  Our own records grow to a few times the raw article.
        full_validation: Validate records of the other (internal) topics in full too;
            by default only their top level is (see :func:`_shallow`).
    """

    def __init__(
        self,
        topics: Iterable[str],
        *,
        schema_dir: Path | None = None,
        max_bytes: int = 1_000_000,
        limited: Iterable[str] = ("articles.raw",),
        full_validation: bool = False,
    ) -> None:
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource

        schemas = load_schemas(schema_dir)
        _check_refs(schemas)
        registry: Registry[Any] = Registry().with_resources(
            (sid, Resource.from_contents(doc)) for sid, doc in schemas.items()
        )
        self.max_bytes = max_bytes
        self.limited = frozenset(limited)
        self._validators = {
            t: Draft202012Validator(
                schemas[schema_id(t)]
                if full_validation or t in self.limited
                else _shallow(schemas[schema_id(t)], schemas),
                registry=registry,
            )
            for t in topics
        }

    def decode(self, topic: str, data: bytes | None) -> dict[str, Any]:
        """Parse and validate one message value.

        Raises:
            DecodeError: With reason ``too_large``, ``invalid_utf8``, ``invalid_json``,
                ``not_an_object`` or ``schema_violation``.
        """
        if data is None:
            raise DecodeError("invalid_json", "message has no value (tombstone)")
        if topic in self.limited and len(data) > self.max_bytes:
            raise DecodeError(
                "too_large", f"{len(data)} bytes is over the limit of {self.max_bytes}"
            )
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("invalid_utf8", str(exc)) from None
        if data.startswith(b"\xef\xbb\xbf"):
            # A UTF-8 byte-order mark is what some Windows tools write first; it
            # carries no meaning, and JSON parsers refuse it.
            data = data[3:]
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise DecodeError("invalid_json", str(exc)) from None
        if not isinstance(value, dict):
            raise DecodeError("not_an_object", f"top-level JSON is {type(value).__name__}")
        self.validate(topic, value)
        return value

    def validate(self, topic: str, value: dict[str, Any]) -> None:
        """Check a record against its topic's schema.

        Raises:
            DecodeError: ``schema_violation`` naming the first failing path.
        """
        error = next(iter(self._validators[topic].iter_errors(value)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise DecodeError("schema_violation", f"{where}: {error.message[:300]}")

    def encode(self, value: dict[str, Any]) -> bytes:
        """Serialise a record as compact UTF-8 JSON (Arabic kept as is, not escaped)."""
        return orjson.dumps(value)
