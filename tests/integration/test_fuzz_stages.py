"""Hypothesis throws arbitrary messages at each real stage: one output each, never an exception."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad.pipeline import Pipeline
from marsad.runtime import STAGE_NAMES, build_stage, make_codec
from marsad.settings import Settings
from marsad.stage import Incoming

# Text that looks like scraped Arabic news: Arabic letters, diacritics, tatweel,
# digits of three scripts, punctuation, markup, invisible and bidi characters.
ALPHABET = st.sampled_from(
    [chr(c) for c in range(0x0621, 0x064B)]      # Arabic letters
    + [chr(c) for c in range(0x064B, 0x0653)]    # harakat (diacritics)
    + ["\u0640"]                                  # tatweel
    + [chr(c) for c in range(0x0660, 0x066A)]    # Arabic-Indic digits
    + [chr(c) for c in range(0x06F0, 0x06FA)]    # Persian digits
    + list("0123456789 .,:;!?()[]«»\"'-/\n\t<>&")
    + ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202b", "\u202c", "\ufeff", "\u00a0"]
    + list("abcxyzABC")
)
arabicish = st.text(alphabet=ALPHABET, max_size=400)
markup = st.builds(lambda a, b: f"<p>{a}</p><br/>{b}", arabicish, arabicish)
article = st.fixed_dictionaries(
    {"text": st.one_of(arabicish, markup, st.text(max_size=200))},
    optional={
        "id": st.one_of(st.none(), st.text(min_size=1, max_size=30)),
        "title": st.one_of(st.none(), arabicish),
        "source": st.one_of(st.none(), st.text(max_size=20)),
        "published_at": st.one_of(
            st.none(), st.text(max_size=30),
            st.datetimes().map(lambda d: d.isoformat() + "Z"),
        ),
    },
)

SETTINGS = Settings(full_validation=True)  # every output checked against its whole schema
CODEC = make_codec(SETTINGS)
STAGES = {n: build_stage(n, SETTINGS, CODEC) for n in STAGE_NAMES}
NEXT = {"normaliser": "articles.normalised", "extractor": "articles.extracted",
        "deduplicator": ("events.enriched", "articles.duplicates")}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(article)
def test_whole_pipeline_on_arbitrary_articles(value: dict) -> None:
    pipe = Pipeline(STAGES.values(), CODEC)
    outs = list(pipe.run(orjson.dumps(value)))
    finals = [o for o in outs if o.topic in ("events.enriched", "articles.duplicates",
                                             "articles.deadletter")]
    # One decision, first; a copy bringing a new source also re-publishes its story's
    # event after it.  (The stages keep their state across examples, so an article
    # may come again: its decision then carries its story's current revision.)
    assert finals
    decided = finals[:1]
    assert len(finals) - 1 <= (decided[0].topic == "articles.duplicates")
    for o in outs:
        CODEC.validate(o.topic, orjson.loads(orjson.dumps(o.value)))
    if decided[0].topic == "articles.deadletter":
        assert decided[0].value["reason"] != "processing_error", decided[0].value["detail"]


@pytest.mark.parametrize("name", STAGE_NAMES)
@settings(max_examples=60, deadline=None)
@given(payload=st.one_of(st.binary(max_size=200), article.map(orjson.dumps)))
def test_each_stage_alone_never_raises(name: str, payload: bytes) -> None:
    outs = STAGES[name].handle(Incoming(value=payload, topic=STAGES[name].source))
    assert len(outs) == 1
    assert outs[0].topic in (NEXT[name] if isinstance(NEXT[name], tuple) else (NEXT[name],)) \
        or outs[0].topic == "articles.deadletter"
