"""Typed events (PLOVER plus APPEAL and DEFECT): trigger, actor, target, place, date, flags.

Triggers come from ``data/event_triggers.tsv``.  The actor is the entity
right after a verb (Arabic news favour verb-subject-object) or, failing
that, the entity just before it; after a masdar (انشقاق العميد …) the noun
that follows is the doer.  When the recogniser found no entity there, the
noun phrase itself is reported as ``actor_span`` with ``actor`` null.
"""

from __future__ import annotations

from dataclasses import dataclass

from marsad.extractor.facts import lexicon
from marsad.extractor.facts.entities import EntityIndex, MentionAt
from marsad.extractor.facts.model import Span
from marsad.extractor.facts.scan import EVENT, positions
from marsad.extractor.facts.text import LAM, SEEN, Doc, without_article

PRESENT_PREFIXES = ("\u064a", "\u062a", "\u0646", "\u0627")  # YEH TEH NOON ALEF: imperfect prefixes
_NP_MAX = 4
_PLURAL = "\u0627\u062a"  # ALEF TEH: the sound feminine plural ending -aat
# أن / إن after folding (ALEF NOON) and بأن (BEH ALEF NOON): a clause with its own subject follows.
_ANNA = frozenset({"\u0627\u0646", "\u0628\u0627\u0646"})


@dataclass(frozen=True, slots=True)
class Trigger:
    """An event trigger before linking.

    Attributes:
        t: Token index.
        type: Event type.
        pos: Part of speech (``verb``, ``masdar`` …).
        future_prefix: Written with the future prefix سـ.
        present: An imperfect (present-tense) verb form.
        purpose: Written with the proclitic لـ of purpose ("لدعم", "ليدعم": in order to
            support): an aim, not a happening.
    """

    t: int
    type: str
    pos: str
    future_prefix: bool
    present: bool
    purpose: bool = False


def find_triggers(doc: Doc) -> list[Trigger]:
    """Every token that is an event trigger."""
    table = lexicon.event_triggers()
    blockers = lexicon.trigger_blockers()
    out: list[Trigger] = []
    for t in positions(doc, EVENT):
        tok = doc.tokens[t]
        verb_keys = without_article(tok.keys)
        for i, k in enumerate(tok.keys):
            hit = table.get(k)
            if hit is not None and hit[1] != "masdar" and k not in verb_keys:
                # "التابع" is not the verb تابع; "التعاون" is the masdar تعاون.
                hit = lexicon.event_masdars().get(k)
            if hit is not None:
                if k in blockers and t > 0 and not blockers[k].isdisjoint(doc.tokens[t - 1].keys):
                    break
                out.append(Trigger(t, hit[0], hit[1], False, k[:1] in PRESENT_PREFIXES[:3],
                                   _purpose(doc, t, i)))
                break
            # سيطالب / ستفرض: future prefix on an imperfect verb.
            if len(k) > 3 and k[0] == SEEN and k[1] in PRESENT_PREFIXES[:3]:
                hit = table.get(k[1:])
                if hit is not None and hit[1] == "verb":
                    out.append(Trigger(t, hit[0], hit[1], True, True))
                    break
    return out


def _purpose(doc: Doc, t: int, i: int) -> bool:
    """Whether token ``t``'s key ``i`` (the trigger's) was read off the proclitic لـ of purpose.

    Only an indefinite singular: "لدعم الجيش" (to support the army) is an aim,
    but after لـ + ال (للدعوة) and with a plural ("لانتقادات") the lam governs a
    noun.  A few nouns are reached or applied, not aimed at ("توصل لاتفاق"), and
    a few words take لـ as their object ("تعرض لهجوم": came under attack, also
    with a subject between); both are listed in ``data/purpose_exceptions.tsv``.

    Args:
        doc: The document.
        t: Index of the trigger token.
        i: Index of its lookup key that matched.
    """
    keys = doc.tokens[t].keys
    k = keys[i]
    if i == 0 or keys[i - 1] != LAM + k or k.endswith(_PLURAL):
        return False
    exceptions = lexicon.purpose_exceptions()
    if k in exceptions["trigger"]:
        return False
    # The word governing the lam may stand up to three tokens back ("تعرض
    # الدبلوماسي لهجوم": the subject comes between), in the same sentence.
    sent = doc.tokens[t].sent
    return not any(b.sent == sent and not exceptions["before"].isdisjoint(b.keys)
                   for b in doc.tokens[max(0, t - 3):t])


def flags(doc: Doc, trig: Trigger) -> tuple[bool, bool, bool]:
    """(negated, hypothetical, future) from markers before the trigger in its sentence."""
    toks = doc.tokens
    table = lexicon.markers()
    negated = False
    hypothetical = trig.purpose
    future = trig.future_prefix
    sent = toks[trig.t].sent
    for k in range(trig.t - 1, max(-1, trig.t - 5), -1):
        if toks[k].sent != sent:
            break
        distance = trig.t - k
        hit = next((table[key] for key in toks[k].keys[:2] if key in table), None)
        if hit is None:
            continue
        flag, window = hit
        if distance > window:
            continue
        if flag == "negated":
            negated = True
        elif flag == "hypothetical" or (flag == "hypothetical_present" and trig.present):
            hypothetical = True
        elif flag == "future":
            future = True
    return negated, hypothetical, future


def noun_phrase(doc: Doc, i: int, stop: set[int]) -> Span | None:
    """A short noun phrase starting at token ``i`` (up to a function word or punctuation)."""
    toks = doc.tokens
    fw = lexicon.function_words()
    if i >= len(toks):
        return None
    sent = toks[i].sent
    j = i
    while j < len(toks) and j - i < _NP_MAX and toks[j].sent == sent and j not in stop:
        f = toks[j].form
        if not f.isalpha() or f in fw or (toks[j].keys[-1] in lexicon.event_triggers() and j > i):
            break
        j += 1
    if j == i:
        return None
    return Span(toks[i].start, toks[j - 1].end, doc.text[toks[i].start:toks[j - 1].end])


@dataclass(frozen=True, slots=True)
class Roles:
    """Linked roles of one event."""

    actor: MentionAt | None
    actor_span: Span | None
    target: MentionAt | None
    target_span: Span | None
    place: MentionAt | None


def link_roles(doc: Doc, trig: Trigger, ents: EntityIndex, date_tokens: set[int]) -> Roles:
    """Find actor, target and place of a trigger inside its sentence."""
    toks = doc.tokens
    t = trig.t
    sent = toks[t].sent
    lo, hi = doc.sent_tokens[sent]
    fw = lexicon.function_words()
    in_sent = [m for m in ents.mentions if lo <= m.i < hi]
    place = None
    for m in in_sent:
        if m.type == "LOC" and m.i > 0 and (toks[m.i - 1].form in fw and fw[toks[m.i - 1].form]
                                            == "place"):
            place = m
            break
    actor: MentionAt | None = None
    actor_span: Span | None = None
    after = [m for m in in_sent if m.i > t and m is not place]
    before = [m for m in in_sent if m.j <= t and m is not place]
    subject_before = next((m for m in before if m.j == t), None)
    if trig.pos == "verb" and subject_before is not None:
        # "أن الحريري سيلتقي": a subject right before the verb (SVO) is the actor.
        actor = subject_before
    elif trig.pos == "verb" and t >= lo + 2 and toks[t - 2].form in _ANNA \
            and toks[t - 1].form.isalpha() and toks[t - 1].form not in fw:
        # "أن المشاركين يطالبون …": the noun between أن and the verb is its subject.
        actor_span = Span(toks[t - 1].start, toks[t - 1].end,
                          doc.text[toks[t - 1].start:toks[t - 1].end])
    elif trig.pos in ("verb", "masdar"):
        near = [m for m in after if m.i - t <= 3 and not _prep_before(doc, m.i)]
        if near:
            actor = near[0]
        elif trig.pos == "verb" and before and t - before[-1].j <= 4:
            actor = before[-1]
        if actor is None and t + 1 < hi and (t + 1) not in date_tokens:
            actor_span = noun_phrase(doc, t + 1, date_tokens)
    if actor is not None:
        actor_span = actor.span
    target: MentionAt | None = None
    for m in after:
        if m is actor or m.i - t > 12:
            continue
        if actor_span is not None and toks[m.i].start < actor_span.end:
            continue
        target = m
        break
    target_span = target.span if target else None
    if place is None:
        place = next((m for m in in_sent if m.type == "LOC" and m is not actor
                      and m is not target), None)
    return Roles(actor, actor_span, target, target_span, place)


def _prep_before(doc: Doc, i: int) -> bool:
    fw = lexicon.function_words()
    return i > 0 and doc.tokens[i - 1].form in fw and fw[doc.tokens[i - 1].form] in ("prep",
                                                                                      "place")
