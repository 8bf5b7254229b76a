"""Precision and recall of the facts step on the hand-labelled ANT sentences.

The set (``tests/data/facts/ant_sentences.jsonl``) has a ``dev`` half, used
while writing the rules, and a ``test`` half, only measured.  Matching:

* dates: same span (overlap) and same ISO value;
* quantities: same value (multiset per sentence);
* casualties: same kind and count (``null`` count for "dozens");
* events: same type (multiset per sentence);
* quotes: one per speaker and sentence; a quote is found when the sentence
  has one; its speaker is right when the names share a word (or both unnamed).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from marsad.extractor.facts.extract import extract_facts
from marsad.extractor.facts.model import EntityLike
from marsad.extractor.facts.text import fold
from marsad.scores import PrecisionRecall

logger = logging.getLogger(__name__)

KINDS = ("dates", "quantities", "casualties", "events", "quotes", "quote_speakers")


@dataclass(slots=True)
class Score(PrecisionRecall):
    """Counts of one fact kind."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)


def load_set(path: Path) -> list[dict[str, Any]]:
    """Read the labelled JSONL."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _multiset(score: Score, gold: Iterable[Any], pred: Iterable[Any], n: int) -> None:
    g, p = Counter(gold), Counter(pred)
    both = g & p
    score.tp += sum(both.values())
    score.fp += sum((p - both).values())
    score.fn += sum((g - both).values())
    for item in (p - both).elements():
        score.errors.append(f"#{n} FP {item}")
    for item in (g - both).elements():
        score.errors.append(f"#{n} FN {item}")


def _gold_spans(text: str, dates: Sequence[dict[str, Any]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    pos: dict[str, int] = {}
    for d in dates:
        start = text.find(d["text"], pos.get(d["text"], 0))
        pos[d["text"]] = start + 1
        out.append((start, start + len(d["text"]), d["value"]))
    return out


def _speaker_words(name: str | None) -> set[str]:
    return {w for w in fold(name).split() if len(w) > 1} if name else set()


def score_sentence(item: dict[str, Any], facts: dict[str, Any], names: dict[str, str],
                   scores: dict[str, Score]) -> None:
    """Add one labelled sentence's counts to ``scores``."""
    n = item["n"]
    text = item["text"]
    gold_dates = _gold_spans(text, item["dates"])
    used: set[int] = set()
    s = scores["dates"]
    for d in facts["dates"]:
        hit = next((k for k, (a, b, v) in enumerate(gold_dates) if k not in used
                    and a < d["end"] and d["start"] < b and v == d["value"]), None)
        if hit is None:
            s.fp += 1
            s.errors.append(f"#{n} FP {d['text']} -> {d['value']}")
        else:
            used.add(hit)
            s.tp += 1
    for k, (a, b, v) in enumerate(gold_dates):
        if k not in used:
            s.fn += 1
            s.errors.append(f"#{n} FN {text[a:b]} -> {v}")
    _multiset(scores["quantities"], (round(float(q), 2) for q in item["quantities"]),
              (round(float(q["value"]), 2) for q in facts["quantities"]), n)
    _multiset(scores["casualties"], ((c["kind"], c["count"]) for c in item["casualties"]),
              ((c["kind"], c["count"]) for c in facts["casualties"]), n)
    _multiset(scores["events"], item["events"], (e["type"] for e in facts["events"]), n)
    # Quotes: one per distinct speaker in the sentence.
    pred: dict[str, set[str]] = {}
    for q in facts["quotes"]:
        label = names.get(q["speaker"] or "") or (q["speaker_span"] or {}).get("text") or ""
        pred.setdefault(fold(label), _speaker_words(label))
    gold = [g["speaker"] for g in item["quotes"]]
    sq, ss = scores["quotes"], scores["quote_speakers"]
    found = min(len(gold), len(pred))
    sq.tp += found
    sq.fp += len(pred) - found
    sq.fn += len(gold) - found
    if len(pred) > len(gold):
        sq.errors.append(f"#{n} FP quote(s) {sorted(pred)}")
    if len(gold) > len(pred):
        sq.errors.append(f"#{n} FN quote(s) {gold}")
    remaining = dict(pred)
    for g in gold:
        gw = _speaker_words(g)
        key = next((k for k, w in remaining.items() if (w & gw) or (not gw and not w)), None)
        if key is not None:
            ss.tp += 1
            del remaining[key]
        else:
            ss.fn += 1
            ss.errors.append(f"#{n} speaker {g!r} not in {sorted(pred)}")
    ss.fp += len(remaining)


def evaluate(items: Sequence[dict[str, Any]],
             entities_of: Callable[[str], Sequence[EntityLike]] | None = None
             ) -> dict[str, Score]:
    """Score the facts step on labelled sentences.

    Args:
        items: Labelled sentences (see :func:`load_set`).
        entities_of: Returns the entities of a sentence (e.g. the NER model);
            without it quotes and events get no entity links.
    """
    scores = {k: Score() for k in KINDS}
    for item in items:
        pub = item.get("published_at")
        published = datetime.fromisoformat(pub.replace("Z", "+00:00")) if pub else None
        ents = entities_of(item["text"]) if entities_of else ()
        facts = extract_facts(item["text"], published_at=published, entities=ents).to_json()
        names = {e.id: e.canonical for e in ents}
        score_sentence(item, facts, names, scores)
    return scores


def format_table(results: dict[str, dict[str, Score]]) -> str:
    """A plain-text table: one row per split and fact kind."""
    lines = [f"{'split':6} {'kind':15} {'P':>6} {'R':>6} {'tp':>4} {'fp':>4} {'fn':>4}"]
    for split, scores in results.items():
        for kind, s in scores.items():
            lines.append(f"{split:6} {kind:15} {s.precision:6.3f} {s.recall:6.3f} "
                         f"{s.tp:4d} {s.fp:4d} {s.fn:4d}")
    return "\n".join(lines)
