"""Corpus-wide checks over the whole ANT corpus (slow; CI runs them)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from marsad.normaliser import core, corpus, display, glue

REPO = Path(__file__).resolve().parents[3]
ANT = REPO / ".." / "shared" / "data" / "ant" / "articles.jsonl.gz"
SCHEMA = REPO / "schemas" / "defs" / "normalisation.v1.json"

pytestmark = pytest.mark.skipif(not ANT.exists(), reason="ANT corpus not available")


@pytest.mark.slow
def test_fold_equals_camel_chain_on_every_article() -> None:
    """Our fold of the original text is exactly camel's chain, article by article."""
    n = 0
    for art in corpus.iter_articles(ANT):
        text = art.get("text") or ""
        assert core.fold(text) == core.camel_chain(text), art["id"]
        n += 1
    assert n == 31525


@pytest.mark.slow
def test_matching_text_equals_camel_or_documented_difference() -> None:
    """normalise().matching vs the camel chain: equal, or explained by a documented rule.

    Documented rules (each also a unit test): whitespace tidied, glued words
    split, invisible characters deleted (camel turns some into spaces),
    space before a comma removed, boilerplate lines and markup removed.
    """
    cmp = corpus.compare_corpus(ANT)
    print(json.dumps({"total": cmp.total, "equal": cmp.equal, "documented": cmp.documented,
                      "other": cmp.other, "by_rule": dict(cmp.by_rule)}))
    assert cmp.total == 31525
    assert cmp.other == 0, cmp.examples
    # Most articles need no documented rule at all.
    assert cmp.equal > 0.85 * cmp.total
    assert set(cmp.by_rule) <= {"glue", "invisible", "space_before_comma", "boilerplate",
                                "html", "separators"}


@pytest.mark.slow
def test_glue_repair_is_rare_on_the_corpus() -> None:
    """The split rule is conservative: a few hundred splits over 31,525 articles."""
    splits = 0
    for art in corpus.iter_articles(ANT):
        disp, _ = display.build_display(art.get("text") or "")
        splits += len(glue.find_splits(disp))
    assert 50 < splits < 1000


@pytest.mark.slow
def test_corpus_sample_validates_and_maps_back() -> None:
    validator = Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    rejected = {"empty_text": 0, "not_arabic": 0}
    for art in itertools.islice(corpus.iter_articles(ANT), 0, None, 60):
        text = art.get("text") or ""
        result = core.normalise(text)
        validator.validate(result.to_json())
        if result.reject_reason:
            rejected[result.reject_reason] += 1
            continue
        # Every token maps back to an original stretch whose fold contains the
        # token's fold (offsets point at what the publisher wrote).
        for s, e in result.tokens[::25]:
            o0, o1 = result.display_map.to_original(s, e)
            token = core.fold(result.display[s:e])
            assert token.replace(" ", "") in core.fold(text[o0:o1]).replace(" ", ""), art["id"]
        title = art.get("title") or ""
        validator.validate(core.normalise(title).to_json())
    assert rejected["not_arabic"] == 0


@pytest.mark.slow
def test_empty_ant_articles_are_rejected() -> None:
    """The two empty ANT texts are flagged (checked on the first ones that are empty)."""
    empties = [a for a in itertools.islice(corpus.iter_articles(ANT), 31525)
               if not (a.get("text") or "").strip()][:2]
    for art in empties:
        assert core.normalise(art.get("text") or "").reject_reason == "empty_text"
