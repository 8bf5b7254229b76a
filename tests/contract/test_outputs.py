"""Every record the stages produce for real articles validates against its topic's schema."""

from __future__ import annotations

import gzip
import itertools

import orjson
import pytest

from marsad.pipeline import Pipeline
from marsad.runtime import STAGE_NAMES, build_stage, make_codec
from marsad.settings import Settings
from tests.conftest import ANT, SEEDS


@pytest.fixture(scope="module")
def outputs() -> list:
    settings = Settings(full_validation=True)
    codec = make_codec(settings)
    pipe = Pipeline([build_stage(n, settings, codec) for n in STAGE_NAMES], codec)
    lines = [line for line in SEEDS.read_bytes().splitlines() if line.strip()]
    with gzip.open(ANT, "rb") as f:
        lines += [line.rstrip(b"\n") for line in itertools.islice(f, 0, 4000, 40)]
    return [(o, codec) for line in lines for o in pipe.run(line)]


def test_outputs_validate(outputs: list) -> None:
    topics = set()
    for out, codec in outputs:
        codec.validate(out.topic, orjson.loads(orjson.dumps(out.value)))
        topics.add(out.topic)
    assert {"articles.normalised", "articles.extracted", "events.enriched"} <= topics


def test_every_output_is_keyed_by_article_id(outputs: list) -> None:
    for out, _ in outputs:
        if out.topic != "articles.deadletter":
            assert out.key == out.value["id"]
