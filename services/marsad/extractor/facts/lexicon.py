"""Lexicons of the facts step, read lazily from the TSV files in ``data/``.

Every word is folded (:func:`marsad.extractor.facts.text.fold`) on load so
lookups use the same keys as the tokens.  Each loader is cached: the first
call reads the file, later calls are free.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from marsad.extractor.facts.text import fold

logger = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data"


def _rows(name: str) -> list[list[str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return [r for r in csv.reader(fh, delimiter="\t") if r and not r[0].startswith("#")]


def _phrase(words: str) -> tuple[str, ...]:
    return tuple(fold(w) for w in words.split())


@dataclass(frozen=True, slots=True)
class Month:
    """A month name: number (1-12), calendar, and whether it needs a number beside it."""

    month: int
    calendar: str
    needs_number: bool


@cache
def months() -> dict[tuple[str, ...], Month]:
    """Month names (one or two words, folded) -> :class:`Month`."""
    return {
        _phrase(r[0]): Month(int(r[1]), r[2], r[3] == "1") for r in _rows("months.tsv")
    }


@cache
def weekdays() -> dict[str, int]:
    """Folded weekday name (with and without ال) -> ISO weekday."""
    out: dict[str, int] = {}
    for name, num in _rows("weekdays.tsv"):
        f = fold(name)
        out[f] = int(num)
        out[f[2:]] = int(num)
    return out


@cache
def relative() -> dict[tuple[str, ...], tuple[str, int]]:
    """Relative date phrases -> (unit, offset)."""
    return {_phrase(r[0]): (r[1], int(r[2])) for r in _rows("relative.tsv")}


@cache
def time_units() -> dict[str, tuple[str, int]]:
    """Time unit words -> (unit, implicit count: 2 for duals, else 0)."""
    return {fold(r[0]): (r[1], int(r[2])) for r in _rows("units.tsv")}


@cache
def date_modifiers() -> dict[str, str]:
    """Words narrowing a month (منتصف، أواخر …) -> qualifier."""
    return {fold(r[0]): r[1] for r in _rows("date_modifiers.tsv") if " " not in r[0]}


@cache
def number_words() -> dict[tuple[str, ...], tuple[float, str]]:
    """Number words (one or two words) -> (value, role)."""
    return {_phrase(r[0]): (float(r[1]), r[2]) for r in _rows("numbers.tsv")}


@cache
def qualifiers() -> dict[tuple[str, ...], tuple[str, str]]:
    """Count qualifiers -> (qualifier, position before|after)."""
    return {_phrase(r[0]): (r[1], r[2]) for r in _rows("qualifiers.tsv")}


@cache
def casualty_triggers() -> dict[str, tuple[str, str]]:
    """Casualty words -> (kind, role)."""
    return {fold(r[0]): (r[1], r[2]) for r in _rows("casualty_triggers.tsv")}


@cache
def victims() -> dict[str, str]:
    """Victim nouns -> victim kind."""
    return {fold(r[0]): r[1] for r in _rows("victims.tsv")}


@cache
def victim_number() -> dict[str, str]:
    """Victim nouns -> grammatical number (``sg``, ``du``, ``pl``)."""
    return {fold(r[0]): r[2] for r in _rows("victims.tsv")}


@cache
def event_triggers() -> dict[str, tuple[str, str]]:
    """Event trigger forms -> (type, part of speech); the first listing of a form wins."""
    out: dict[str, tuple[str, str]] = {}
    for etype, pos, forms in _rows("event_triggers.tsv"):
        for form in forms.split():
            out.setdefault(fold(form), (etype, pos))
    return out


@cache
def event_masdars() -> dict[str, tuple[str, str]]:
    """Masdar (verbal noun) triggers only: the reading of a form written with ال."""
    out: dict[str, tuple[str, str]] = {}
    for etype, pos, forms in _rows("event_triggers.tsv"):
        if pos == "masdar":
            for form in forms.split():
                out.setdefault(fold(form), (etype, pos))
    return out


@cache
def trigger_blockers() -> dict[str, frozenset[str]]:
    """Trigger forms -> words that, just before them, make them no event (طائرة مسيرة)."""
    return {fold(r[0]): frozenset(fold(w) for w in r[1].split())
            for r in _rows("trigger_blockers.tsv")}


@cache
def purpose_exceptions() -> dict[str, frozenset[str]]:
    """When لـ on a trigger is no aim.

    Returns:
        ``trigger``: forms reached or applied ("توصل لاتفاق": reached an agreement);
        ``before``: words right before the trigger taking لـ as object ("تعرض لهجوم").
    """
    out: dict[str, set[str]] = {"trigger": set(), "before": set()}
    for kind, word in _rows("purpose_exceptions.tsv"):
        out[kind].add(fold(word))
    return {kind: frozenset(words) for kind, words in out.items()}


@cache
def speech_verbs() -> frozenset[str]:
    """Speech verbs introducing quotes."""
    return frozenset(fold(r[0]) for r in _rows("speech_verbs.tsv"))


@cache
def markers() -> dict[str, tuple[str, int]]:
    """Negation, hypothetical and future markers -> (flag, window in tokens)."""
    return {fold(r[0]): (r[1], int(r[2])) for r in _rows("markers.tsv")}


def load_lexicons() -> None:
    """Read every lexicon now (e.g. at worker start) instead of on the first article."""
    for loader in (months, weekdays, relative, time_units, date_modifiers, number_words,
                   qualifiers, casualty_triggers, victims, victim_number, event_triggers,
                   trigger_blockers, purpose_exceptions, speech_verbs,
                   markers, function_words, date_anchors, weekday_blockers,
                   ordinals, year_prepositions):
        loader()
    logger.debug("facts lexicons loaded from %s", DATA)


@cache
def function_words() -> dict[str, str]:
    """Function words -> role (``prep``, ``place``, ``stop``)."""
    return {fold(r[0]): r[1] for r in _rows("function_words.tsv")}


@cache
def date_anchors() -> dict[str, int]:
    """منذ/قبل/بعد -> direction of a relative date."""
    return {fold(r[0]): int(r[1]) for r in _rows("date_anchors.tsv")}


@cache
def weekday_blockers() -> frozenset[str]:
    """Words that make a following weekday name a non-date (صلاة الجمعة)."""
    return frozenset(fold(r[0]) for r in _rows("weekday_blockers.tsv"))


@cache
def ordinals() -> dict[str, tuple[int, str]]:
    """Ordinal day words -> (value, role)."""
    return {fold(r[0]): (int(r[1]), r[2]) for r in _rows("ordinals.tsv")}


@cache
def year_prepositions() -> frozenset[str]:
    """Words after which a bare four-digit number is a year."""
    return frozenset(fold(r[0]) for r in _rows("year_prepositions.tsv"))
