"""Precision and recall shared by the evaluation commands."""

from __future__ import annotations

import pytest

from marsad.deduplicator.evaluation import Counts
from marsad.extractor.facts.evaluate import Score


@pytest.mark.parametrize(
    ("tp", "fp", "fn", "precision", "recall"),
    [
        (8, 2, 0, 0.8, 1.0),
        (3, 0, 1, 1.0, 0.75),
        (0, 0, 0, 1.0, 1.0),  # nothing predicted, nothing to find
        (0, 4, 2, 0.0, 0.0),
    ],
)
def test_rates(tp: int, fp: int, fn: int, precision: float, recall: float) -> None:
    for record in (Counts(tp=tp, fp=fp, fn=fn), Score(tp=tp, fp=fp, fn=fn)):
        assert (record.precision, record.recall) == pytest.approx((precision, recall))
