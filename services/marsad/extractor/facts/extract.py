"""Entry point of the facts step: :func:`extract_facts` and :func:`bench`."""

from __future__ import annotations

import logging
import time
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from marsad.extractor.facts.casualties import find_casualties, victim_kind
from marsad.extractor.facts.dates import find_dates
from marsad.extractor.facts.entities import index_entities
from marsad.extractor.facts.events import find_triggers, flags, link_roles
from marsad.extractor.facts.model import (
    Casualty,
    DateFact,
    EntityLike,
    Event,
    Facts,
    Quantity,
    Span,
)
from marsad.extractor.facts.numbers import counted_noun, find_numbers, lemma
from marsad.extractor.facts.quotes import find_quotes
from marsad.extractor.facts.text import Doc, make_doc

logger = logging.getLogger(__name__)

_SAME_EVENT_GAP = 3  # triggers of one type this close in a sentence are one event


def _date_tokens(doc: Doc, dates: Sequence[DateFact]) -> set[int]:
    out: set[int] = set()
    starts, ends = doc.starts, doc.ends
    for d in dates:
        # Tokens ending after the date starts and starting before it ends.
        out.update(range(bisect_right(ends, d.start), bisect_left(starts, d.end)))
    return out


def _nearest_date(doc: Doc, dates: Sequence[DateFact], sent: int, anchor: int) -> DateFact | None:
    """The date of the sentence closest to character offset ``anchor``."""
    lo, hi = doc.sentences[sent]
    cands = [d for d in dates if lo <= d.start < hi]
    if not cands:
        return None
    return min(cands, key=lambda d: abs(d.start - anchor))


def extract_facts(
    text: str,
    *,
    published_at: datetime | None,
    entities: Sequence[EntityLike] = (),
    sentences: Sequence[tuple[int, int]] | None = None,
) -> Facts:
    """Find dates, quantities, casualties, events and quotes in one article.

    Args:
        text: The normaliser's display text.
        published_at: Publication time; relative dates resolve against it
            and stay unresolved without it.
        entities: The recogniser's entities (mentions with offsets into ``text``).
        sentences: Sentence spans into ``text``; split on punctuation if ``None``.

    Returns:
        The facts, each list in text order, every offset into ``text``.
    """
    doc = make_doc(text, sentences)
    toks = doc.tokens
    dates = find_dates(doc, published_at)
    date_toks = _date_tokens(doc, dates)
    numbers = [n for n in find_numbers(doc) if not any(k in date_toks for k in range(n.i, n.j))]
    ents = index_entities(doc, entities)

    quantities: list[Quantity] = []
    for n in numbers:
        s, e = toks[n.i].start, toks[n.j - 1].end
        c = counted_noun(doc, n.j)
        counted = doc.text[toks[c].start:toks[c].end] if c is not None else None
        quantities.append(Quantity(s, e, doc.text[s:e], n.value, n.vague, counted,
                                   lemma(toks[c].form) if c is not None else None))

    casualties: list[Casualty] = []
    for f in find_casualties(doc, numbers, date_toks):
        s, e = toks[f.first].start, toks[f.last].end
        ctok = toks[f.trigger]
        sent = ctok.sent
        lo, hi = doc.sent_tokens[sent]
        place = next((m.entity for m in ents.mentions if lo <= m.i < hi and m.type == "LOC"), None)
        d = _nearest_date(doc, dates, sent, ctok.start)
        casualties.append(Casualty(
            s, e, doc.text[s:e], f.kind, f.count, f.low, f.high, f.qualifier,
            victim_kind(doc, f.victim), Span(ctok.start, ctok.end, doc.text[ctok.start:ctok.end]),
            place, d.ref if d else None,
        ))

    events: list[Event] = []
    last_assault_sent = -1
    last_of_type: dict[str, int] = {}
    for trig in find_triggers(doc):
        ttok = toks[trig.t]
        sent = ttok.sent
        if trig.type == "ASSAULT" and sent == last_assault_sent:
            continue  # "اشتباكات وقصف": one assault event per sentence
        prev = last_of_type.get(trig.type)
        last_of_type[trig.type] = trig.t
        if prev is not None and toks[prev].sent == sent and trig.t - prev <= _SAME_EVENT_GAP:
            continue  # "يفرض أي عقوبات": verb and masdar of one event
        roles = link_roles(doc, trig, ents, date_toks)
        negated, hypothetical, future = flags(doc, trig)
        d = _nearest_date(doc, dates, sent, ttok.start)
        lo, hi = doc.sentences[sent]
        cas: tuple[Casualty, ...] = ()
        if trig.type == "ASSAULT":
            last_assault_sent = sent
            cas = tuple(c for c in casualties if lo <= c.start < hi)
        events.append(Event(
            trig.type, Span(ttok.start, ttok.end, doc.text[ttok.start:ttok.end]),
            roles.actor.entity if roles.actor else None, roles.actor_span,
            roles.target.entity if roles.target else None, roles.target_span,
            roles.place.entity if roles.place else None, d.ref if d else None,
            negated, hypothetical, future, cas, (lo, hi),
        ))
    quotes = find_quotes(doc, ents)
    return Facts(tuple(dates), tuple(quantities), tuple(casualties), tuple(events), tuple(quotes))


def bench(articles: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    """Articles per second of :func:`extract_facts` on ``(text, published_at)`` pairs (one core).

    Entities are not given, so linking costs are not included.
    """
    parsed = [(t, datetime.fromisoformat(p.replace("Z", "+00:00")) if p else None)
              for t, p in articles]
    if parsed:
        extract_facts(parsed[0][0], published_at=parsed[0][1])  # load lexicons first
    t0 = time.perf_counter()
    c0 = time.process_time()
    chars = 0
    for text, pub in parsed:
        extract_facts(text, published_at=pub)
        chars += len(text)
    seconds = time.perf_counter() - t0 or 1e-9
    # CPU time is the fairer cost on a shared machine; wall time is what a worker sees.
    cpu = time.process_time() - c0 or 1e-9
    n = len(parsed)
    return {
        "articles": n,
        "seconds": round(seconds, 3),
        "articles_per_s": round(n / seconds, 1),
        "ms_per_article": round(1000 * seconds / max(n, 1), 3),
        "ms_per_1500_chars": round(1000 * seconds / max(chars, 1) * 1500, 3),
        "cpu_articles_per_s": round(n / cpu, 1),
        "cpu_ms_per_1500_chars": round(1000 * cpu / max(chars, 1) * 1500, 3),
    }
