"""Confirmation of a near-duplicate candidate: Jaccard, or containment across outlets.

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

The result is ONE score on the Jaccard scale, so the rest of the pipeline
(``required_similarity``, ``choose``) compares it with one threshold:
containment is mapped linearly so that its bar lands on the Jaccard bar.
"""

from __future__ import annotations


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


def resemblance(
    jaccard: float,
    shingles_a: int,
    shingles_b: int,
    *,
    cross_outlet: bool,
    threshold: float,
    containment_bar: float,
    containment_floor: float,
) -> float:
    """The confirmation score of a candidate pair, on the Jaccard scale.

    The score is at least ``threshold`` exactly when the pair is a near
    duplicate by the rule in the module docstring.  It never decreases when
    ``jaccard`` grows (containment grows with it) and is symmetric in the
    two counts.

    Args:
        jaccard: Estimated Jaccard similarity.
        shingles_a: Distinct shingles of the new article.
        shingles_b: Distinct shingles of the candidate.
        cross_outlet: Both sources are known and differ.
        threshold: The Jaccard bar.
        containment_bar: The containment bar across outlets (above 1: no
            containment path).
        containment_floor: The Jaccard a pair needs before its containment counts.

    Returns:
        ``max(jaccard, threshold * containment / containment_bar)`` when the
        containment path applies, else ``jaccard``.
    """
    if not cross_outlet or jaccard < containment_floor or containment_bar > 1.0:
        return jaccard
    scaled = threshold * containment(jaccard, shingles_a, shingles_b) / containment_bar
    return max(jaccard, min(1.0, scaled))
