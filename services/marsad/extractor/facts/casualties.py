"""Casualty counts: killed, injured, arrested, displaced, kidnapped, missing.

A casualty word (verb such as قتل، noun such as مقتل، or a victim noun such
as قتلى) is paired with the number next to it in the same sentence:
``قتل الجمعة 29 شخصا`` (verb, date, count, victims), ``مقتل 5 مدنيين``,
``29 قتيلا``, ``عشرات القتلى``, ``حصيلة القتلى إلى 50``.  Qualifiers
around the number (على الأقل، نحو، أكثر من) give bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

from marsad.extractor.facts import lexicon
from marsad.extractor.facts.numbers import Num, lemma
from marsad.extractor.facts.text import ALEF_LAM, Doc

# "عدد" (number) and "حصيلة" (toll) before a victim noun: the count follows (حصيلة القتلى 50).
_TOLL_WORDS = frozenset({"\u0639\u062f\u062f", "\u062d\u0635\u064a\u0644\u0647"})
# Words that may sit between a casualty verb and its count: إلى (to) in "ارتفع عدد القتلى إلى".
_BRIDGE = frozenset({"\u0627\u0644\u064a", "\u0628\u0644\u063a", "\u0627\u0631\u062a\u0641\u0639"})
_MAX_GAP = 4


@dataclass(frozen=True, slots=True)
class Found:
    """A casualty before spans are attached: token indices and values."""

    kind: str
    trigger: int
    num: Num | None
    victim: int | None
    count: int | None
    low: int | None
    high: int | None
    qualifier: str
    first: int
    last: int


def qualifier_of(doc: Doc, num: Num) -> tuple[str, int, int]:
    """The qualifier around ``num`` and the token range it covers (first, last inclusive)."""
    toks = doc.tokens
    table = lexicon.qualifiers()
    for length in (4, 3, 2, 1):
        a = num.i - length
        if a < 0 or toks[a].sent != toks[num.i].sent:
            continue
        phrase = tuple(t.form for t in toks[a + 1: num.i])
        for k in toks[a].keys:
            hit = table.get((k, *phrase))
            if hit and hit[1] == "before":
                return hit[0], a, num.j - 1
    for start in (num.j, num.j + 1):
        for length in (3, 2, 1):
            b = start + length
            if b > len(toks):
                continue
            phrase = tuple(t.form for t in toks[start:b])
            hit = table.get(phrase)
            if hit and hit[1] == "after":
                return hit[0], num.i, b - 1
    return ("vague" if num.vague else "exact"), num.i, num.j - 1


def bounds(num: Num, qualifier: str) -> tuple[int | None, int | None, int | None]:
    """(count, min, max) of a number under a qualifier."""
    v = int(num.value)
    if num.vague:
        return None, v, int(num.upper) if num.upper is not None else None
    if qualifier == "at_least":
        return v, v, None
    if qualifier == "more_than":
        return v, v + 1, None
    if qualifier == "less_than":
        return v, None, v - 1
    if qualifier == "about":
        return v, None, None
    return v, v, v


def find_casualties(doc: Doc, numbers: list[Num], date_tokens: set[int]) -> list[Found]:
    """Pair casualty words with counts; each number is used at most once."""
    toks = doc.tokens
    triggers = lexicon.casualty_triggers()
    victims = lexicon.victims()
    by_start = {n.i: n for n in numbers}
    by_end = {n.j: n for n in numbers}
    used: set[int] = set()
    out: list[Found] = []
    for t, tok in enumerate(toks):
        hit = next((triggers[k] for k in tok.keys if k in triggers), None)
        if hit is None:
            continue
        kind, role = hit
        sent = tok.sent
        num: Num | None = None
        if role == "victim_noun":
            prev = by_end.get(t)
            if prev is not None and prev.i not in used:
                num = prev
            elif t > 0 and toks[t - 1].keys[-1] in _TOLL_WORDS:
                num = _ahead(doc, t + 1, by_start, used, date_tokens, sent, bridge=True)
            if num is None and t > 0 and (by_end.get(t - 1) is not None) \
                    and toks[t - 1].form in lexicon.function_words():
                num = None
        else:
            num = _ahead(doc, t + 1, by_start, used, date_tokens, sent, bridge=False)
        victim = None
        if num is not None:
            v = num.j
            if v < len(toks) and toks[v].sent == sent and (v == t) is False:
                if any(k in victims for k in toks[v].keys):
                    victim = v
        elif role != "victim_noun" and t + 1 < len(toks) and toks[t + 1].sent == sent:
            # "مقتل شخصين" (a dual victim noun is a count of 2); "قتل جندي" (one).
            nxt = toks[t + 1]
            vk = next((k for k in nxt.keys if k in victims), None)
            if vk is not None and not nxt.form.startswith(ALEF_LAM):
                n_val = 2.0 if vk.endswith("\u064a\u0646") and _is_dual(vk) else 1.0
                num = Num(t + 1, t + 2, n_val, dual=n_val == 2.0)
                victim = t + 1
        if num is None:
            continue
        if num.vague and role != "victim_noun" and victim is None:
            pass
        used.add(num.i)
        qual, qa, qb = qualifier_of(doc, num) if not num.dual else ("exact", num.i, num.j - 1)
        count, low, high = bounds(num, qual)
        first = min(t, qa)
        last = max(t, qb, victim if victim is not None else -1)
        out.append(Found(kind, t, num, victim, count, low, high, qual, first, last))
    return out


def _is_dual(key: str) -> bool:
    """Dual nouns listed in the victims lexicon end in -ayn; plurals in -iyyin are not duals."""
    # مدنيين (civilians, plural) ends in YEH YEH NOON; duals (شخصين، جنديين) do not double the yeh
    # except nisba duals, which the lexicon lists only in their plural reading.
    return not key.endswith("\u064a\u064a\u0646") or key in ("\u062c\u0646\u062f\u064a\u064a\u0646",)


def _ahead(doc: Doc, k: int, by_start: dict[int, Num], used: set[int], date_tokens: set[int],
           sent: int, *, bridge: bool) -> Num | None:
    """First free number within a few tokens after ``k``, skipping dates and qualifiers."""
    toks = doc.tokens
    qual_words = {w for phrase in lexicon.qualifiers() for w in phrase}
    gap = 0
    while k < len(toks) and toks[k].sent == sent and gap <= _MAX_GAP:
        num = by_start.get(k)
        if num is not None:
            return None if num.i in used else num
        form = toks[k].form
        if k in date_tokens or form in qual_words or (bridge and toks[k].keys[-1] in _BRIDGE):
            k += 1
            continue
        if form in ("\u0645\u0627",):  # ما in "ما لا يقل عن"
            k += 1
            continue
        # Anything else ends the search after one skipped word (e.g. a passive subject marker).
        gap += 2
        k += 1
    return None


def victim_kind(doc: Doc, idx: int | None) -> str | None:
    """The victims lexicon's kind for token ``idx``."""
    if idx is None:
        return None
    victims = lexicon.victims()
    for k in doc.tokens[idx].keys:
        if k in victims:
            return victims[k]
    lem = lemma(doc.tokens[idx].form)
    return victims.get(lem)
