"""How right the event merger is: its rule scored on hand-labelled pairs of event reports.

Article deduplication has pair labels (``tests/data/dedup``); event merging
had none.  ``tests/data/events/merge_audit.tsv`` holds pairs of event
reports (an ANT article id and the start offset of the event's trigger, for
each side) with a reader's answer to "do the two marked triggers denote the
same real-world happening?" (``same``, ``different``, ``not_event`` when a
trigger is no happening at all, ``unclear``).  Two samples:

* ``merged``: pairs the merger joined in one stretch of the stream (one
  random pair of articles per merged event): what subscribers see, so the
  precision of the rule as it stands.
* ``pairs:duplicate`` / ``pairs:same_event``: report pairs of one type from
  article pairs a reader labelled as copies or as reports of the same
  happening (``tests/data/dedup/natural_pairs.tsv``), whether merged or
  not: where the rule's recall can be seen.

The reports are rebuilt by running the current extractor over the articles,
so a change to the extractor or to :func:`~marsad.deduplicator.events.linked`
is scored on the same labels.  A pair whose trigger the extractor no longer
finds counts as ``missing``.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marsad.deduplicator.events import (
    NOT_HAPPENED,
    EventReport,
    merge_key,
    reports_from_article,
    times_agree,
)

LABELS = ("same", "different", "not_event", "unclear")


@dataclass(frozen=True, slots=True)
class AuditItem:
    """One labelled pair of event reports.

    Attributes:
        n: Item number (the order the readers saw).
        sample: ``merged``, ``pairs:duplicate`` or ``pairs:same_event``.
        a: (article id, trigger start offset) of one report.
        b: The same for the other.
        label: The agreed label (see the module docstring).
    """

    n: int
    sample: str
    a: tuple[str, int]
    b: tuple[str, int]
    label: str


def load_items(path: Path) -> list[AuditItem]:
    """Read ``merge_audit.tsv`` (``#`` lines are comments; the header names the columns).

    Raises:
        ValueError: For a row with an unknown label.
    """
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("#")]
    items = []
    for row in csv.DictReader(lines, delimiter="\t"):
        if row["label"] not in LABELS:
            raise ValueError(f"{path}: item {row['n']}: unknown label {row['label']!r}")
        items.append(AuditItem(
            n=int(row["n"]), sample=row["sample"],
            a=(row["article_a"], int(row["start_a"])), b=(row["article_b"], int(row["start_b"])),
            label=row["label"],
        ))
    return items


def reports_by_trigger(article: Mapping[str, Any]) -> dict[tuple[str, int], EventReport]:
    """The article's event reports keyed by (article id, trigger start offset)."""
    events = [e for e in (article.get("facts") or {}).get("events") or ()
              if not any(e.get(flag) for flag in NOT_HAPPENED)]
    reports = reports_from_article(article)
    return {(str(article.get("id")), int(e["trigger"]["start"])): r
            for e, r in zip(events, reports, strict=True)}


def why_not(a: EventReport, b: EventReport, window_days: float = 3.0) -> str:
    """Why two reports are not linked.

    The first part of the merge key they differ in, ``time`` (days or
    publication times too far apart) or ``evidence`` (key and time agree, but
    no day, actor or shared sentence ties them).
    """
    if a.type != b.type:
        return "type"
    if (a.place is None) != (b.place is None):
        return "place on one only"
    if a.place is None:
        return "gist key" if merge_key(a) != merge_key(b) else _time_or_evidence(a, b, window_days)
    if b.place is not None and a.place.key() != b.place.key():
        return "place"
    if merge_key(a) != merge_key(b):
        return "actor"
    return _time_or_evidence(a, b, window_days)


def _time_or_evidence(a: EventReport, b: EventReport, window_days: float) -> str:
    return "evidence" if times_agree(a, b, window_days) else "time"


@dataclass(frozen=True, slots=True)
class SampleScore:
    """Figures of one sample.

    Attributes:
        counts: (linked, label) -> pairs.
        missing: Pairs with a trigger the extractor no longer finds.
        unlinked_same: Why ``same`` pairs were not linked: reason -> pairs.
    """

    counts: Mapping[tuple[bool, str], int]
    missing: int
    unlinked_same: Mapping[str, int]

    def _n(self, linked: bool | None, *labels: str) -> int:
        return sum(v for (k, lab), v in self.counts.items()
                   if lab in labels and (linked is None or k == linked))

    @property
    def precision(self) -> float | None:
        """Share of linked pairs that are one happening (``unclear`` left out)."""
        judged = self._n(True, "same", "different", "not_event")
        return None if judged == 0 else self._n(True, "same") / judged

    @property
    def merge_precision(self) -> float | None:
        """The same without pairs whose trigger is no happening (an extractor error)."""
        judged = self._n(True, "same", "different")
        return None if judged == 0 else self._n(True, "same") / judged

    @property
    def recall(self) -> float | None:
        """Share of ``same`` pairs that are linked."""
        same = self._n(None, "same")
        return None if same == 0 else self._n(True, "same") / same


def score(
    items: Iterable[AuditItem],
    reports: Mapping[tuple[str, int], EventReport],
    rule: Callable[[EventReport, EventReport], bool],
    window_days: float = 3.0,
    explain: bool = True,
) -> dict[str, SampleScore]:
    """Score a pairwise merge rule on the labelled items, per sample.

    Args:
        items: The labelled pairs.
        reports: Reports by (article id, trigger start), from :func:`reports_by_trigger`.
        rule: Whether two reports are merged (:func:`~marsad.deduplicator.events.linked`).
        window_days: The rule's, to tell why a pair is not linked.
        explain: Count why ``same`` pairs are not linked (:func:`why_not` explains
            the shipped rule; leave it off for another rule).
    """
    counts: dict[str, Counter[tuple[bool, str]]] = {}
    missing: Counter[str] = Counter()
    why: dict[str, Counter[str]] = {}
    for item in items:
        c = counts.setdefault(item.sample, Counter())
        w = why.setdefault(item.sample, Counter())
        ra, rb = reports.get(item.a), reports.get(item.b)
        if ra is None or rb is None:
            missing[item.sample] += 1
            continue
        is_linked = rule(ra, rb)
        c[is_linked, item.label] += 1
        if explain and item.label == "same" and not is_linked:
            w[why_not(ra, rb, window_days)] += 1
    return {s: SampleScore(dict(counts[s]), missing[s], dict(why[s])) for s in counts}


def format_scores(scores: Mapping[str, SampleScore]) -> str:
    """A readable table of :func:`score`'s result."""
    def pct(x: float | None) -> str:
        return "   -" if x is None else f"{x:.3f}"

    out = [f"{'sample':<20} {'pairs':>5} {'linked':>6} {'same':>5} {'P':>6} {'P merge':>7} "
           f"{'R':>6}  missing  unlinked same pairs, by the first key part that differs"]
    for name in sorted(scores):
        s = scores[name]
        pairs = sum(s.counts.values())
        linked = sum(v for (k, _), v in s.counts.items() if k)
        same = sum(v for (_, lab), v in s.counts.items() if lab == "same")
        why = ", ".join(f"{k} {v}" for k, v in
                        sorted(s.unlinked_same.items(), key=lambda kv: -kv[1]))
        out.append(f"{name:<20} {pairs:>5} {linked:>6} {same:>5} {pct(s.precision):>6} "
                   f"{pct(s.merge_precision):>7} {pct(s.recall):>6}  {s.missing:>7}  {why}")
    return "\n".join(out)
