"""The confirmation rule: Jaccard, or across outlets containment or ordered cover, on ANT pairs."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from marsad.deduplicator import minhash as mh
from marsad.deduplicator.banded import BANDS, BandedDeduplicator, Final
from marsad.deduplicator.core import (
    DedupConfig,
    Deduplicator,
    confirm,
    confirm_method,
    signature,
)
from marsad.deduplicator.corpus import load_fold, read_articles
from marsad.deduplicator.resemblance import (
    confirmation,
    containment,
    cross_outlet,
    ordered_cover,
    resemblance,
)
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
    # Separate reports whose shared phrases happen to keep their order (cover 0.63)
    # but share too little in all (estimated J 0.19): the ordered path's floor.
    ("SK-middleEast-746-20180402", "CN-middleEast-471-20180403"),
]
# Cross-outlet copies of one dispatch cut harder than the containment bar allows
# (estimated J 0.25-0.40, containment 0.5-0.6) that keep the dispatch's order.
ORDERED_DUPLICATES = [
    ("SK-technology-508-20180426", "FR-economy-31-20180426"),
    ("SK-internationalNews-554-20180323", "AL-technology-115-20180324"),
    ("SK-internationalNews-1316-20180502", "FR-internationalNews-1039-20180502"),
    ("SK-internationalNews-1655-20180519", "AL-internationalNews-1242-20180519"),
]
INIESTA = json.loads((REPO / "tests" / "data" / "dedup" / "iniesta_pair.json")
                     .read_text(encoding="utf-8"))["AL-sport-589-20180313"]


@pytest.fixture(scope="module")
def ant() -> dict[str, dict[str, Any]]:
    wanted = {i for pair in DUPLICATES + NEGATIVES + ORDERED_DUPLICATES for i in pair}
    return {a["id"]: a for a in read_articles(ANT) if a["id"] in wanted}


def _single(cfg: DedupConfig, arts: list[dict[str, Any]]) -> tuple[str, str | None]:
    kind, duplicate_of, _ = _single_method(cfg, arts)
    return kind, duplicate_of


def _single_method(cfg: DedupConfig, arts: list[dict[str, Any]]
                   ) -> tuple[str, str | None, str | None]:
    dedup = Deduplicator(cfg, clock=lambda: 1.6e9)
    for art in arts:
        last = dedup.decide(art["id"], fold(art["text"]), source=art["source"],
                            published_at=art["published_at"])
    return last.kind, last.duplicate_of, last.method


def _banded(cfg: DedupConfig, arts: list[dict[str, Any]]) -> tuple[str, str | None]:
    kind, duplicate_of, _ = _banded_method(cfg, arts)
    return kind, duplicate_of


def _banded_method(cfg: DedupConfig, arts: list[dict[str, Any]]
                   ) -> tuple[str, str | None, str | None]:
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
    return decision.kind, decision.duplicate_of, decision.method


@pytest.mark.parametrize(("first", "second"), DUPLICATES)
def test_cross_outlet_cut_or_relead_dispatch_is_a_near_duplicate_in_both_paths(
    ant: dict[str, dict[str, Any]], first: str, second: str
) -> None:
    arts = [ant[first], ant[second]]
    assert _single(DedupConfig(), arts) == ("duplicate", first)
    assert _banded(DedupConfig(), arts) == ("duplicate", first)
    # The Jaccard bar alone misses it: the containment rule is what finds it.
    assert _single(DedupConfig(containment=1.01, ordered_cover=1.01), arts) == ("unique", None)


@pytest.mark.parametrize(("first", "second"), ORDERED_DUPLICATES)
def test_cross_outlet_copy_in_dispatch_order_is_found_by_the_ordered_cover_in_both_paths(
    ant: dict[str, dict[str, Any]], first: str, second: str
) -> None:
    arts = [ant[first], ant[second]]
    assert _single_method(DedupConfig(), arts) == ("duplicate", first, "ordered")
    assert _banded_method(DedupConfig(), arts) == ("duplicate", first, "ordered")
    # Jaccard and containment miss it; the same outlet gets no ordered path either.
    assert _single(DedupConfig(ordered_cover=1.01), arts) == ("unique", None)
    same = [ant[first], {**ant[second], "source": ant[first]["source"]}]
    assert _single(DedupConfig(), same) == ("unique", None)
    assert _banded(DedupConfig(), same) == ("unique", None)


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


def test_the_ordered_cover_reads_the_same_from_a_signature_and_from_its_encoding(
    ant: dict[str, dict[str, Any]]
) -> None:
    cfg = DedupConfig()
    first, second = (ant[i] for i in ORDERED_DUPLICATES[0])
    a, b = signature(fold(first["text"]), cfg), signature(fold(second["text"]), cfg)
    assert a.order.size and b.order.size
    assert mh.Signature.decode_order(a.encode()).tolist() == a.order.tolist()
    scored = confirm_method(b, a.encode(), cfg, cross_outlet=True)
    assert scored[1] == "ordered" and scored[0] >= cfg.threshold
    assert confirm_method(b.encode(), a.encode(), cfg, cross_outlet=True) == scored
    assert confirm_method(b, a.encode(), cfg, cross_outlet=False)[1] == "minhash"


def _order(text: str) -> list[int]:
    # Every shingle kept, so a short real text gives a sample long enough to test.
    return signature(fold(text), DedupConfig(order_sample=1)).order.tolist()


_PARAS = INIESTA.split("\n")


@pytest.mark.parametrize(
    ("edited", "low", "high"),
    [
        # the same dispatch under an outlet's own opening line: all of it, in order
        ("\u0639\u0627\u062c\u0644: " + INIESTA, 1.0, 1.0),  # "urgent: " (AIN ALEF JEEM LAM)
        # the last paragraph cut: what is left is in order
        ("\n".join(_PARAS[:-1]), 1.0, 1.0),
        # paragraphs in reverse order: only the longest one keeps its order
        ("\n".join(reversed(_PARAS)), 0.2, 0.6),
        # words in reverse order: no shingle is shared at all
        (" ".join(reversed(INIESTA.split())), 0.0, 0.0),
    ],
)
def test_ordered_cover_of_real_edits(edited: str, low: float, high: float) -> None:
    assert len(_PARAS) >= 3
    cover = ordered_cover(_order(INIESTA), _order(edited))
    assert low <= cover <= high
    assert cover == ordered_cover(_order(edited), _order(INIESTA))


samples = st.lists(st.integers(0, 60), max_size=40, unique=True)


@settings(max_examples=300)
@given(samples, samples)
def test_ordered_cover_is_symmetric_bounded_and_at_most_the_sample_overlap(
    a: list[int], b: list[int]
) -> None:
    cover = ordered_cover(a, b)
    assert cover == ordered_cover(b, a)
    assert 0.0 <= cover <= 1.0
    if a and b:
        overlap = len(set(a) & set(b)) / min(len(a), len(b))
        assert cover <= overlap + 1e-12
        assert ordered_cover(a, a) == 1.0
        # A sample against its own reverse keeps one value in order.
        assert ordered_cover(a, a[::-1]) == pytest.approx(1 / len(a))
    else:
        assert cover == 0.0


@settings(max_examples=200)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(1, 5000),
       st.integers(1, 5000))
def test_the_ordered_path_is_monotone_and_named_only_when_it_alone_decides(
    j1: float, j2: float, cover: float, na: int, nb: int
) -> None:
    cfg = DedupConfig()
    bars = {"threshold": cfg.threshold, "containment_bar": cfg.containment,
            "containment_floor": cfg.containment_floor, "cover_bar": cfg.ordered_cover,
            "cover_floor": cfg.ordered_floor}
    lo, hi = sorted((j1, j2))
    score, method = confirmation(lo, na, nb, cross_outlet=True, cover=cover, **bars)
    assert score <= confirmation(hi, na, nb, cross_outlet=True, cover=cover, **bars)[0]
    assert score >= confirmation(lo, na, nb, cross_outlet=True, **bars)[0]
    plain = resemblance(lo, na, nb, cross_outlet=True, threshold=cfg.threshold,
                        containment_bar=cfg.containment,
                        containment_floor=cfg.containment_floor)
    assume(abs(cover - cfg.ordered_cover) > 1e-9)  # rounding at the bar itself
    by_rule = lo >= cfg.ordered_floor and cover >= cfg.ordered_cover
    assert (method == "ordered") == (plain < cfg.threshold and by_rule)
    assert (score >= cfg.threshold) == (plain >= cfg.threshold or by_rule)
    # Within one outlet the ordered cover never counts.
    assert confirmation(lo, na, nb, cross_outlet=False, cover=cover, **bars) == (lo, "minhash")


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=64),
       st.integers(0, 2**24 + 5))
def test_the_encoding_carries_values_and_shingle_count(values: list[int], count: int) -> None:
    sig = mh.Signature(np.array(values, dtype=np.uint32), count, "x")
    decoded, shingles = mh.Signature.decode(sig.encode())
    assert decoded.tolist() == values
    assert shingles == min(count, 2**24 - 1) == mh.Signature.decode_shingles(sig.encode())
    assert mh.Signature.decode_values(sig.encode()).tolist() == values


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=64),
       st.integers(0, 2**24 + 5),
       st.lists(st.integers(0, 2**32 - 1), max_size=80, unique=True))
def test_the_encoding_carries_the_order_sample_too(
    values: list[int], count: int, order: list[int]
) -> None:
    sig = mh.Signature(np.array(values, dtype=np.uint32), count, "x",
                       np.array(order, dtype=np.uint32))
    decoded, shingles, kept = mh.Signature.decode_all(sig.encode())
    assert decoded.tolist() == values and kept.tolist() == order
    assert shingles == min(count, 2**24 - 1)
    assert mh.Signature.decode(sig.encode())[0].tolist() == values
    assert mh.Signature.decode_values(sig.encode()).tolist() == values
    assert mh.Signature.decode_order(sig.encode()).tolist() == order


def test_an_encoding_without_the_count_still_decodes() -> None:
    # Signatures stored before the count was carried: values only, count unknown.
    old = mh.base64.b64encode(np.arange(8, dtype="<u4").tobytes()).decode("ascii")
    values, shingles = mh.Signature.decode(old)
    assert values.tolist() == list(range(8)) and shingles == 0
    assert containment(0.6, shingles, 100) == 0.0
    # Neither it nor one with the count (stored before the order sample) has a sample.
    assert mh.Signature.decode_order(old).size == 0
    with_count = mh.Signature(np.arange(8, dtype=np.uint32), 42, "x").encode()
    assert mh.Signature.decode_all(with_count)[1:2] == (42,)
    assert mh.Signature.decode_order(with_count).size == 0


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
