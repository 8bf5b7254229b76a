"""One lexicon lookup per distinct word: which finders a token can start.

Each finder (dates, numbers, casualties, events, quotes) used to test every
token against its own lexicon.  Here one cached bit mask per folded word
says which lexicons know it, so each finder visits only its candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache
from itertools import compress

from marsad.extractor.facts import lexicon
from marsad.extractor.facts.text import SEEN, Doc, keys

DATE, NUMBER, EVENT, CASUALTY, SPEECH = 1, 2, 4, 8, 16
# YEH TEH NOON: the imperfect prefixes a future سـ attaches to.
_PRESENT = ("\u064a", "\u062a", "\u0646")
# Masks of every word seen, shared by all documents; cleared when it grows past this.
_MASKS_MAX = 200_000
_MASKS: dict[str, int] = {}


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
    """Fill ``doc.masks`` (one bit mask per token) through one shared dictionary."""
    forms = doc.forms or [t.form for t in doc.tokens]
    cache = _MASKS
    masks = list(map(cache.get, forms))
    if None in masks:
        if len(cache) > _MASKS_MAX:
            cache.clear()
        for n, f in enumerate(forms):
            if masks[n] is None:
                masks[n] = cache[f] = form_mask(f)
    doc.masks = masks  # type: ignore[assignment]  # every None was replaced


def positions(doc: Doc, bit: int) -> list[int]:
    """Indices of the tokens whose mask has ``bit`` (all tokens if the doc is not marked)."""
    if not doc.masks:
        mark(doc)
    masks = doc.masks
    # Most tokens know no lexicon: filter the few that do, not every token per bit.
    return [i for i in compress(range(len(masks)), masks) if masks[i] & bit]
