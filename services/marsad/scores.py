"""Precision and recall from counts, shared by the evaluation commands."""

from __future__ import annotations


class PrecisionRecall:
    """Mixin for a record with ``tp``, ``fp`` and ``fn`` counts.

    Both rates are 1.0 when their denominator is empty (nothing predicted, or
    nothing to find), so an empty task does not drag an average down.
    """

    __slots__ = ()
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """TP / (TP + FP)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
