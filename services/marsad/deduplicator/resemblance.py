"""Confirmation of a near-duplicate candidate: Jaccard, or across outlets containment or order.

A candidate pair found in an LSH bucket is confirmed from what both sides
store per article: the MinHash signature and the number of distinct
shingles.  Two numbers follow from those:

* the estimated Jaccard similarity ``J`` (share of equal MinHash values);
* the estimated containment ``C`` of the smaller shingle set in the larger:
  ``|A & B| = J * (|A| + |B|) / (1 + J)`` divided by ``min(|A|, |B|)``.

Jaccard alone misses the commonest natural near copy: one outlet runs an
agency dispatch whole, another cuts it or adds its own lede and background,
so most of the shorter text is in the longer while the union is much larger
than the overlap.  Containment catches those, but the same outlet reusing
its own background paragraphs in a follow-up story scores high on it too;
the hand-labelled pairs (``tests/data/dedup``) show the separation holds
across outlets only.  Hence the rule: Jaccard at the bar, OR (different
outlets AND containment at its own bar AND Jaccard at a floor that keeps out
a short text whose few shingles all occur in a long digest).

A third path catches what both miss: two outlets running one dispatch,
one of them cut harder or with a longer lede of its own, so that even the
containment is middling (0.45-0.65), where separately written reports of
one event also fall (they share quoted statements and stock phrases).
What tells them apart is order: a copy keeps the dispatch's sentences in
their order, two reports share phrases scattered in different orders.  Each
article stores a content-chosen sample of its shingles in text order
(:func:`marsad.deduplicator.minhash.order_sample`, about one in eight); the
**ordered cover** is the share of the smaller sample found in the other in
the same order (a longest common subsequence).  Across outlets, an ordered
cover at its own bar with Jaccard at its own floor makes a near duplicate.

The result is ONE score on the Jaccard scale, so the rest of the pipeline
(``required_similarity``, ``choose``) compares it with one threshold:
containment is mapped linearly so that its bar lands on the Jaccard bar.
The ordered cover confirms but does not rank: it lifts the score to the bar
at most, so a candidate that Jaccard or containment confirm is preferred,
and the cover need not be computed for them (it is the costly part).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# The method a decision names when the ordered cover made the score.
ORDERED = "ordered"
MINHASH = "minhash"


def cross_outlet(source_a: str | None, source_b: str | None) -> bool:
    """Both sources are known (not missing, not empty) and differ."""
    return bool(source_a) and bool(source_b) and source_a != source_b


def containment(jaccard: float, shingles_a: int, shingles_b: int) -> float:
    """Estimated share of the smaller shingle set that occurs in the other one.

    Args:
        jaccard: Estimated Jaccard similarity of the two sets.
        shingles_a: Distinct shingles of one text.
        shingles_b: Distinct shingles of the other.

    Returns:
        A value in [0, 1]; 0 when a count is unknown (0) or there is no overlap.
    """
    if jaccard <= 0.0 or shingles_a <= 0 or shingles_b <= 0:
        return 0.0
    shared = jaccard * (shingles_a + shingles_b) / (1.0 + jaccard)
    return min(1.0, shared / min(shingles_a, shingles_b))


def ordered_cover(a: npt.NDArray[np.uint32] | Sequence[int],
                  b: npt.NDArray[np.uint32] | Sequence[int]) -> float:
    """Share of the smaller order sample found in the other in the same order.

    The samples hold distinct values in text order, so the longest chain of
    values in both in the same order is the longest increasing run of the
    matched positions (patience sorting, ``O(n log n)``).

    Args:
        a: One text's order sample (distinct values, text order).
        b: The other's.

    Returns:
        A value in [0, 1], symmetric in ``a`` and ``b``; 0 when a sample is empty.
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    where = {int(v): i for i, v in enumerate(b)}
    tails: list[int] = []
    for v in a:
        j = where.get(int(v))
        if j is None:
            continue
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
        else:
            tails[k] = j
    return len(tails) / len(a)


def resemblance(
    jaccard: float,
    shingles_a: int,
    shingles_b: int,
    *,
    cross_outlet: bool,
    threshold: float,
    containment_bar: float,
    containment_floor: float,
    cover: float = 0.0,
    cover_bar: float = 1.01,
    cover_floor: float = 1.0,
) -> float:
    """The confirmation score of a candidate pair, on the Jaccard scale.

    The score is at least ``threshold`` exactly when the pair is a near
    duplicate by the rule in the module docstring.  It never decreases when
    ``jaccard`` or ``cover`` grows (containment grows with the former) and
    is symmetric in the two counts.

    Args:
        jaccard: Estimated Jaccard similarity.
        shingles_a: Distinct shingles of the new article.
        shingles_b: Distinct shingles of the candidate.
        cross_outlet: Both sources are known and differ.
        threshold: The Jaccard bar.
        containment_bar: The containment bar across outlets (above 1: no
            containment path).
        containment_floor: The Jaccard a pair needs before its containment counts.
        cover: The pair's :func:`ordered_cover` (0 when unknown).
        cover_bar: The ordered-cover bar across outlets (above 1: no such path).
        cover_floor: The Jaccard a pair needs before its ordered cover counts.

    Returns:
        ``max(jaccard, threshold * containment / containment_bar,
        min(threshold, threshold * cover / cover_bar))`` over the paths that apply.
    """
    return confirmation(
        jaccard, shingles_a, shingles_b, cross_outlet=cross_outlet, threshold=threshold,
        containment_bar=containment_bar, containment_floor=containment_floor,
        cover=cover, cover_bar=cover_bar, cover_floor=cover_floor,
    )[0]


def cover_applies(jaccard: float, *, cross_outlet: bool, cover_bar: float,
                  cover_floor: float) -> bool:
    """Whether the ordered-cover path can apply (so the cover is worth computing)."""
    return cross_outlet and cover_bar <= 1.0 and jaccard >= cover_floor


def confirmation(
    jaccard: float,
    shingles_a: int,
    shingles_b: int,
    *,
    cross_outlet: bool,
    threshold: float,
    containment_bar: float,
    containment_floor: float,
    cover: float = 0.0,
    cover_bar: float = 1.01,
    cover_floor: float = 1.0,
) -> tuple[float, str]:
    """:func:`resemblance` and the method that made it.

    Returns:
        ``(score, method)``: ``(threshold, "ordered")`` when only the ordered
        cover confirms the pair (Jaccard and containment stay under the bar),
        else the score of those two and ``minhash``.
    """
    score = jaccard
    if cross_outlet and jaccard >= containment_floor and containment_bar <= 1.0:
        scaled = threshold * containment(jaccard, shingles_a, shingles_b) / containment_bar
        score = max(score, min(1.0, scaled))
    if score < threshold and cover >= cover_bar and cover_applies(
        jaccard, cross_outlet=cross_outlet, cover_bar=cover_bar, cover_floor=cover_floor
    ):
        return threshold, ORDERED
    return score, MINHASH
