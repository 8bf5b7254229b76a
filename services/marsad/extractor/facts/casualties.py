"""Casualty counts: killed, injured, arrested, displaced, kidnapped, missing.

A casualty word (verb such as قتل، noun such as مقتل، or a victim noun such
as قتلى) is paired with the number next to it in the same sentence:
``قتل الجمعة 29 شخصا`` (verb, date, count, victims), ``مقتل 5 مدنيين``,
``29 قتيلا``, ``عشرات القتلى``, ``حصيلة القتلى إلى 50``.  Qualifiers
around the number (على الأقل، نحو، أكثر من) give bounds.  A count is never
taken from past a casualty word of another kind (``مقتل فلسطيني وإصابة 14``:
one killed, 14 injured), and two words of one kind in a row (``لقوا مصرعهم``,
``ألقت القبض``) are one casualty phrase.
"""

from __future__ import annotations

from dataclasses import dataclass

from marsad.extractor.facts import lexicon
from marsad.extractor.facts.numbers import Num, lemma
from marsad.extractor.facts.scan import CASUALTY, positions
from marsad.extractor.facts.text import ALEF_LAM, WAW, Doc, without_article

# "عدد" (number) and "حصيلة" (toll) before a victim noun: the count follows (حصيلة القتلى 50).
_TOLL_WORDS = frozenset({"\u0639\u062f\u062f", "\u062d\u0635\u064a\u0644\u0647"})
# Words that may sit between a casualty verb and its count: إلى (to) in "ارتفع عدد القتلى إلى".
_BRIDGE = frozenset({"\u0627\u0644\u064a", "\u0628\u0644\u063a", "\u0627\u0631\u062a\u0641\u0639"})
_MAX_GAP = 4
_ON = frozenset({"\u0639\u0644\u064a"})  # على "on" in "القبض على رجل"
# و "and", او "or" (folded) standing alone between two coordinated casualty words.
_CONJUNCTIONS = frozenset({"\u0648", "\u0627\u0648"})
# قد، لقد: the particle that may stand between the victims and the verb ("16 شخصا قد قتلوا").
_PARTICLES = frozenset({"\u0642\u062f", "\u0644\u0642\u062f"})


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


#: No casualty count reaches this; larger "counts" are ids, phone numbers, junk.
_IMPLAUSIBLE = 1e10


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
    """Pair casualty words with counts; each number is used once (or by two coordinated words)."""
    toks = doc.tokens
    triggers = lexicon.casualty_triggers()
    by_start = {n.i: n for n in numbers}
    by_end = {n.j: n for n in numbers}
    owner: dict[int, int] = {}  # number start -> trigger token that took it
    out: list[Found] = []
    pending: list[tuple[int, str]] = []  # countless triggers waiting for a coordinated partner
    hits = _hits(doc, triggers)
    # The search for a count ahead stops at a casualty word of another kind.
    stops = {kind: {k for k, hit in hits.items() if hit[0] != kind}
             for kind in {hit[0] for hit in hits.values()}}
    counted: set[int] = set()  # casualty words that found a count
    for t, (kind, role) in hits.items():
        # The second word of one casualty phrase (لقي حتفه، ألقت القبض، أوقف واعتقل) counts only
        # when the first found nothing, and is never coordinated with the next word.
        second = hits.get(t - 1, ("", ""))[0] == kind
        if second and t - 1 in counted:
            continue
        tok = toks[t]
        sent = tok.sent
        num: Num | None = None
        victim: int | None = None
        if role == "victim_noun":
            prev = by_end.get(t)
            if prev is not None and prev.i not in owner:
                num = prev
            elif t > 0 and toks[t - 1].keys[-1] in _TOLL_WORDS:
                num = _toll(doc, t + 1, by_start, owner, sent)
        else:
            num = _ahead(doc, t + 1, by_start, owner, date_tokens, sent, stops[kind])
            if num is None and _after_toll_word(doc, t):
                # "ارتفع عدد الفلسطينيين الذين قتلوا … إلى 141": the count ends the clause.
                num = _toll(doc, t + 1, by_start, owner, sent, reach=14, need_bridge=True)
            if num is None:
                num, victim = _behind(doc, t, by_end, owner)
            if num is None:
                num, victim = _single(doc, t, sent)
        if num is None:
            pending = [p for p in pending if t - p[0] <= 2] + ([] if second else [(t, kind)])
            continue
        if num.value >= _IMPLAUSIBLE:
            continue  # a scraped run of digits, not a toll (and beyond 64-bit JSON integers)
        if victim is None:
            v = num.j
            if v < len(toks) and toks[v].sent == sent and v != t \
                    and any(k in lexicon.victims() for k in toks[v].keys):
                victim = v
        owner.setdefault(num.i, t)
        counted.add(t)
        qual, qa, qb = qualifier_of(doc, num) if not num.dual else ("exact", num.i, num.j - 1)
        count, low, high = bounds(num, qual)
        first = min(t, qa)
        last = max(t, qb, victim if victim is not None else -1)
        out.append(Found(kind, t, num, victim, count, low, high, qual, first, last))
        # "مقتل وجرح العشرات": the count belongs to both coordinated words.
        for pt, pkind in pending:
            if pkind != kind and _coordinated(doc, pt, t):
                out.append(Found(pkind, pt, num, victim, count, low, high, qual,
                                 min(pt, qa), last))
        pending = []
    out.sort(key=lambda f: f.first)
    return out


def _hits(doc: Doc, triggers: dict[str, tuple[str, str]]) -> dict[int, tuple[str, str]]:
    """Casualty words of ``doc`` in order: token index -> (kind, role)."""
    toks = doc.tokens
    out: dict[int, tuple[str, str]] = {}
    for t in positions(doc, CASUALTY):
        keys = toks[t].keys
        verb_keys = without_article(keys)
        # Verbs never take the article: "القتل" is not the verb قتل.
        hit = next((triggers[k] for k in keys if k in triggers
                    and (triggers[k][1] != "verb" or k in verb_keys)), None)
        if hit is not None:
            out[t] = hit
    return out


def _coordinated(doc: Doc, a: int, b: int) -> bool:
    """Casualty words ``a`` < ``b`` joined directly: "مقتل وجرح", "قتل أو جرح".

    Any other word between them (the victims of the first: "مقتل مسعف وإصابة 14") means the
    second word's count is not the first's.
    """
    if b - a == 1:
        return doc.tokens[b].form.startswith(WAW)
    return b - a == 2 and doc.tokens[a + 1].form in _CONJUNCTIONS


def _toll(doc: Doc, k: int, by_start: dict[int, Num], owner: dict[int, int],
          sent: int, *, reach: int = 9, need_bridge: bool = False) -> Num | None:
    """The count after "حصيلة القتلى … إلى 50" / "عدد القتلى 50"."""
    toks = doc.tokens
    for m in range(k, min(len(toks), k + reach)):
        if toks[m].sent != sent:
            return None
        num = by_start.get(m)
        if num is not None and num.i not in owner:
            bridged = toks[m - 1].keys[-1] in _BRIDGE or toks[m - 1].form in _BRIDGE
            if bridged or (m == k and not need_bridge):
                return num
            return None
    return None


def _after_toll_word(doc: Doc, t: int) -> bool:
    """عدد/حصيلة shortly before token ``t`` in its sentence."""
    toks = doc.tokens
    for k in range(t - 1, max(-1, t - 5), -1):
        if toks[k].sent != toks[t].sent:
            return False
        if toks[k].keys[-1] in _TOLL_WORDS:
            return True
    return False


def _behind(doc: Doc, t: int, by_end: dict[int, Num],
            owner: dict[int, int]) -> tuple[Num | None, int | None]:
    """"1600 شخص قتلوا" / "5 قتلوا": the count and victims come before the verb."""
    toks = doc.tokens
    if t > 0 and toks[t - 1].form in _PARTICLES:
        t -= 1  # "16 شخصا قد لقوا مصرعهم"
    num = by_end.get(t)
    if num is not None and num.i not in owner:
        return num, None
    if t > 0 and any(k in lexicon.victims() for k in toks[t - 1].keys):
        num = by_end.get(t - 1)
        if num is not None and num.i not in owner:
            return num, t - 1
    return None, None


def _single(doc: Doc, t: int, sent: int) -> tuple[Num | None, int | None]:
    """"قتل مدني" (one), "مقتل شرطيين" (two), "القبض على رجل" (one)."""
    toks = doc.tokens
    k = t + 1
    if k < len(toks) and toks[k].form in _ON:
        k += 1
    if k >= len(toks) or toks[k].sent != sent or toks[k].form.startswith(ALEF_LAM):
        return None, None
    number = lexicon.victim_number()
    key = next((key for key in toks[k].keys if key in number), None)
    if key is None or number[key] == "pl":
        return None, None
    value = 2.0 if number[key] == "du" else 1.0
    return Num(k, k + 1, value, dual=value == 2.0), k


def _ahead(doc: Doc, k: int, by_start: dict[int, Num], owner: dict[int, int],
           date_tokens: set[int], sent: int, stops: set[int]) -> Num | None:
    """First free number within a few tokens after ``k``, skipping dates and qualifiers.

    The search ends at a token in ``stops``: a count never belongs to a casualty word past
    one of another kind (in "مقتل فلسطيني وإصابة 14" the 14 are the injured).
    """
    toks = doc.tokens
    qual_words = {w for phrase in lexicon.qualifiers() for w in phrase}
    gap = 0
    while k < len(toks) and toks[k].sent == sent and gap <= _MAX_GAP:
        num = by_start.get(k)
        if num is not None:
            return None if num.i in owner else num
        if k in stops:
            return None
        form = toks[k].form
        if k in date_tokens or form in qual_words:
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
