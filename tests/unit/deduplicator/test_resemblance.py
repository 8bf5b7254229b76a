"""The confirmation rule: Jaccard, or containment across outlets, on real ANT pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from marsad.deduplicator import minhash as mh
from marsad.deduplicator.banded import BANDS, BandedDeduplicator, Final
from marsad.deduplicator.core import DedupConfig, Deduplicator, confirm, signature
from marsad.deduplicator.corpus import load_fold, read_articles
from marsad.deduplicator.resemblance import containment, cross_outlet, resemblance
from tests.conftest import REPO

ANT = REPO / ".." / "shared" / "data" / "ant" / "articles.jsonl.gz"
fold = load_fold()

# Hand-labelled pairs of tests/data/dedup/natural_pairs.tsv (earlier article first).
# Cross-outlet copies of one dispatch that the Jaccard bar alone misses (estimated J
# 0.37-0.48: one outlet cut the dispatch or added its own lede and background).
DUPLICATES = [
    ("SK-internationalNews-804-20180405", "AL-internationalNews-797-20180405"),
    ("SK-technology-337-20180405", "AL-technology-147-20180405"),
    ("SK-internationalNews-389-20180316", "AL-internationalNews-496-20180316"),
    ("CN-middleEast-661-20180418", "SK-middleEast-1112-20180418"),
]
# Hard negatives sharing much of the shorter text: separately written reports quoting
# the same statements or tweets (same_event, cross-outlet), and one outlet's stories
# sharing its own background paragraphs the same day (different, same outlet).
NEGATIVES = [
    ("SK-internationalNews-17-20180217", "AL-internationalNews-16-20180218"),
    ("SK-sport-2431-20180809", "FR-internationalNews-2639-20180809"),
    ("SK-middleEast-900-20180410", "AL-internationalNews-872-20180410"),
    ("AL-internationalNews-324-20180303", "CN-middleEast-158-20180303"),
    ("SK-middleEast-286-20180314", "SK-middleEast-290-20180314"),
    ("CN-middleEast-1498-20181012", "CN-middleEast-1499-20181012"),
]


@pytest.fixture(scope="module")
def ant() -> dict[str, dict[str, Any]]:
    wanted = {i for pair in DUPLICATES + NEGATIVES for i in pair}
    return {a["id"]: a for a in read_articles(ANT) if a["id"] in wanted}


def _single(cfg: DedupConfig, arts: list[dict[str, Any]]) -> tuple[str, str | None]:
    dedup = Deduplicator(cfg, clock=lambda: 1.6e9)
    for art in arts:
        last = dedup.decide(art["id"], fold(art["text"]), source=art["source"],
                            published_at=art["published_at"])
    return last.kind, last.duplicate_of


def _banded(cfg: DedupConfig, arts: list[dict[str, Any]]) -> tuple[str, str | None]:
    core = BandedDeduplicator(cfg, 1, clock=lambda: 1.6e9)
    decision = None
    for art in arts:
        pending = list(core.route(art["id"], fold(art["text"]), source=art["source"],
                                  published_at=art["published_at"], payload={}))
        while pending:
            out = pending.pop(0)
            if isinstance(out, Final):
                if out.kind != "update":
                    decision = out.decision
            else:
                pending.extend(core.band(out.value, 0) if out.topic == BANDS
                               else core.note(out.value))
    assert decision is not None
    return decision.kind, decision.duplicate_of


@pytest.mark.parametrize(("first", "second"), DUPLICATES)
def test_cross_outlet_cut_or_relead_dispatch_is_a_near_duplicate_in_both_paths(
    ant: dict[str, dict[str, Any]], first: str, second: str
) -> None:
    arts = [ant[first], ant[second]]
    assert _single(DedupConfig(), arts) == ("duplicate", first)
    assert _banded(DedupConfig(), arts) == ("duplicate", first)
    # The Jaccard bar alone misses it: the containment rule is what finds it.
    assert _single(DedupConfig(containment=1.01), arts) == ("unique", None)


@pytest.mark.parametrize(("first", "second"), DUPLICATES)
def test_containment_does_not_count_within_one_outlet(
    ant: dict[str, dict[str, Any]], first: str, second: str
) -> None:
    arts = [ant[first], {**ant[second], "source": ant[first]["source"]}]
    assert _single(DedupConfig(), arts) == ("unique", None)
    assert _banded(DedupConfig(), arts) == ("unique", None)


@pytest.mark.parametrize(("first", "second"), NEGATIVES)
def test_hard_negatives_sharing_material_stay_apart_in_both_paths(
    ant: dict[str, dict[str, Any]], first: str, second: str
) -> None:
    arts = [ant[first], ant[second]]
    assert _single(DedupConfig(), arts) == ("unique", None)
    assert _banded(DedupConfig(), arts) == ("unique", None)


def test_confirm_scores_a_stored_candidate_from_its_encoding(
    ant: dict[str, dict[str, Any]]
) -> None:
    cfg = DedupConfig()
    first, second = (ant[i] for i in DUPLICATES[0])
    a, b = signature(fold(first["text"]), cfg), signature(fold(second["text"]), cfg)
    jaccard = mh.estimated_jaccard(a.values, b.values)
    assert jaccard < cfg.threshold
    assert confirm(b, a.encode()) == jaccard  # no config: the bare Jaccard estimate
    assert confirm(b, a.encode(), cfg, cross_outlet=False) == jaccard
    across = confirm(b, a.encode(), cfg, cross_outlet=True)
    assert across >= cfg.threshold
    # The band partition gets the new article's encoding, not its Signature.
    assert confirm(b.encode(), a.encode(), cfg, cross_outlet=True) == across


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=64),
       st.integers(0, 2**24 + 5))
def test_the_encoding_carries_values_and_shingle_count(values: list[int], count: int) -> None:
    sig = mh.Signature(np.array(values, dtype=np.uint32), count, "x")
    decoded, shingles = mh.Signature.decode(sig.encode())
    assert decoded.tolist() == values
    assert shingles == min(count, 2**24 - 1) == mh.Signature.decode_shingles(sig.encode())
    assert mh.Signature.decode_values(sig.encode()).tolist() == values


def test_an_encoding_without_the_count_still_decodes() -> None:
    # Signatures stored before the count was carried: values only, count unknown.
    old = mh.base64.b64encode(np.arange(8, dtype="<u4").tobytes()).decode("ascii")
    values, shingles = mh.Signature.decode(old)
    assert values.tolist() == list(range(8)) and shingles == 0
    assert containment(0.6, shingles, 100) == 0.0


jaccards = st.floats(0.0, 1.0)
counts = st.integers(1, 5000)


@settings(max_examples=200)
@given(jaccards, jaccards, counts, counts, st.booleans())
def test_score_is_symmetric_monotone_and_never_below_jaccard(
    j1: float, j2: float, na: int, nb: int, cross: bool
) -> None:
    cfg = DedupConfig()

    def score(j: float, a: int, b: int) -> float:
        return resemblance(j, a, b, cross_outlet=cross, threshold=cfg.threshold,
                           containment_bar=cfg.containment,
                           containment_floor=cfg.containment_floor)

    lo, hi = sorted((j1, j2))
    assert score(lo, na, nb) == score(lo, nb, na)
    assert lo <= score(lo, na, nb) <= score(hi, na, nb) <= 1.0
    if not cross:
        assert score(lo, na, nb) == lo


@settings(max_examples=200)
@given(jaccards, counts, counts)
def test_score_reaches_the_bar_exactly_by_the_rule(j: float, na: int, nb: int) -> None:
    cfg = DedupConfig()
    c = containment(j, na, nb)
    assert 0.0 <= c <= 1.0
    assume(abs(c - cfg.containment) > 1e-9)  # rounding at the bar itself
    accepted = resemblance(j, na, nb, cross_outlet=True, threshold=cfg.threshold,
                           containment_bar=cfg.containment,
                           containment_floor=cfg.containment_floor) >= cfg.threshold
    rule = j >= cfg.threshold or (j >= cfg.containment_floor and c >= cfg.containment)
    assert accepted == rule


@pytest.mark.parametrize(
    ("jaccard", "a", "b", "expected"),
    [
        (1.0, 100, 100, 1.0),  # the same set
        (0.5, 100, 200, 1.0),  # the smaller set inside the larger: |A & B| = 100
        (0.25, 100, 100, 0.4),  # equal sizes: 2J / (1 + J)
        (0.0, 100, 100, 0.0),
    ],
)
def test_containment_of_the_smaller_set(jaccard: float, a: int, b: int, expected: float) -> None:
    assert containment(jaccard, a, b) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("alarabia", "skynews", True), ("skynews", "skynews", False),
     ("", "skynews", False), (None, "skynews", False), (None, None, False)],
)
def test_only_two_known_different_sources_are_cross_outlet(
    a: str | None, b: str | None, expected: bool
) -> None:
    assert cross_outlet(a, b) is expected
    assert cross_outlet(b, a) is expected
