"""One lexicon lookup per distinct word: which finders a token can start.

Each finder (dates, numbers, casualties, events, quotes) used to test every
token against its own lexicon.  Here one cached bit mask per folded word
says which lexicons know it, so each finder visits only its candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache

from marsad.extractor.facts import lexicon
from marsad.extractor.facts.text import SEEN, Doc, keys

DATE, NUMBER, EVENT, CASUALTY, SPEECH = 1, 2, 4, 8, 16
# YEH TEH NOON: the imperfect prefixes a future سـ attaches to.
_PRESENT = ("\u064a", "\u062a", "\u0646")


@cache
def _table() -> dict[str, int]:
    from marsad.extractor.facts.dates import start_words

    table: dict[str, int] = {}

    def add(words: Iterable[str], bit: int) -> None:
        for w in words:
            table[w] = table.get(w, 0) | bit

    add(start_words(), DATE)
    add((k[0] for k in lexicon.number_words()), NUMBER)
    triggers = lexicon.event_triggers()
    add(triggers, EVENT)
    # سيطالب / ستفرض: the future prefix on an imperfect verb.
    add((SEEN + f for f, (_t, pos) in triggers.items() if pos == "verb" and f[:1] in _PRESENT),
        EVENT)
    add(lexicon.casualty_triggers(), CASUALTY)
    add(lexicon.speech_verbs(), SPEECH)
    return table


@lru_cache(maxsize=131072)
def form_mask(form: str) -> int:
    """Bits of every lexicon that knows one of the word's lookup keys (digits: dates, numbers)."""
    table = _table()
    mask = DATE | NUMBER if form[:1].isdigit() else 0
    for k in keys(form):
        mask |= table.get(k, 0)
    return mask


def mark(doc: Doc) -> None:
    """Fill ``doc.masks`` (one bit mask per token)."""
    doc.masks = [form_mask(t.form) for t in doc.tokens]


def positions(doc: Doc, bit: int) -> list[int]:
    """Indices of the tokens whose mask has ``bit`` (all tokens if the doc is not marked)."""
    if not doc.masks:
        mark(doc)
    return [i for i, m in enumerate(doc.masks) if m & bit]
