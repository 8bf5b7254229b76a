"""Numbers in digits and in words, and the noun they count.

A number is read from tokens (:class:`marsad.extractor.facts.text.Doc`):
digits (ASCII, Arabic-Indic and Persian digits are folded to ASCII) with
decimal or thousands separators and an optional scale word (``2.5 مليون``),
or number words combined the Arabic way (``خمسة وعشرين``، ``ثلاثة آلاف``،
``عشرات الآلاف``).
"""

from __future__ import annotations

from dataclasses import dataclass

from marsad.extractor.facts import lexicon
from marsad.extractor.facts.text import ALEF_LAM, WAW, Doc

ALEF = "\u0627"  # ARABIC LETTER ALEF
YEH_NOON = "\u064a\u0646"  # -iin plural/dual ending
WAW_NOON = "\u0648\u0646"  # -uun plural ending
ALEF_TEH = "\u0627\u062a"  # -aat plural ending
PERCENT = "%"
LAM_LAM = "\u0644\u0644"  # li- + al- written LAM LAM
# "في المئة" / "بالمئة" (per cent) after a number.
_PERCENT_WORDS = frozenset({"\u0627\u0644\u0645\u0626\u0647",  # المئه
                            "\u0627\u0644\u0645\u0627\u0626\u0647"})  # المائه


@dataclass(frozen=True, slots=True)
class Num:
    """A number found in the tokens.

    Attributes:
        i: Index of its first token.
        j: Index one past its last token.
        value: The value (the minimum for vague words).
        vague: ``عشرات``/``مئات``/``آلاف`` without a number before them.
        upper: For vague words, the largest value they can mean.
        words: Written in words rather than digits.
        dual: Value 2 came from a dual noun (``شخصين``), not a number.
    """

    i: int
    j: int
    value: float
    vague: bool = False
    upper: float | None = None
    words: bool = False
    dual: bool = False


def parse_digits(form: str) -> float | None:
    """Value of a digit token: ``1,500`` -> 1500, ``2.5`` and ``2,5`` -> 2.5."""
    if "," in form:
        parts = form.split(",")
        if all(len(p) == 3 for p in parts[1:]):
            return float("".join(parts))
        form = form.replace(",", ".")
    try:
        return float(form)
    except ValueError:
        return None


def number_word(doc: Doc, i: int) -> tuple[float, str, int] | None:
    """Return ``(value, role, tokens used)`` if a number word starts at token ``i``."""
    words = lexicon.number_words()
    toks = doc.tokens
    if i >= len(toks):
        return None
    if i + 1 < len(toks):
        for k in toks[i].keys:
            hit = words.get((k, toks[i + 1].form))
            if hit:
                return hit[0], hit[1], 2
    for k in toks[i].keys:
        hit = words.get((k,))
        if hit:
            return hit[0], hit[1], 1
    return None


def read_number(doc: Doc, i: int) -> Num | None:
    """Read a number starting at token ``i`` (digits or words), or return ``None``."""
    toks = doc.tokens
    if i >= len(toks):
        return None
    sent = toks[i].sent
    if doc.is_digit(i):
        value = parse_digits(toks[i].form)
        if value is None:
            return None
        j = i + 1
        w = number_word(doc, j) if j < len(toks) and toks[j].sent == sent else None
        if w and w[1] in ("scale", "vague") and w[0] >= 1000:
            value *= w[0]
            j += w[2]
        return Num(i, j, value)
    first = number_word(doc, i)
    if first is None:
        return None
    total = 0.0
    current = 0.0
    j = i
    vague = False
    upper: float | None = None
    while j < len(toks) and toks[j].sent == sent:
        w = number_word(doc, j)
        if w is None:
            # "خمسة و عشرين" with the conjunction written apart.
            if toks[j].form == WAW and j > i and (w2 := number_word(doc, j + 1)) \
                    and w2[1] in ("unit", "ten"):
                j += 1
                continue
            break
        value, role, used = w
        if j > i and role in ("unit", "teen", "hundred") and not toks[j].form.startswith(WAW) \
                and current:
            break  # two numbers side by side ("ثلاثة أربعة") are two quantities
        if role == "scale" or (role == "vague" and (current or total)):
            current = (current or 1.0) * value
            total += current
            current = 0.0
            if vague and upper is not None:
                upper *= value
        elif role == "vague":
            vague = True
            current = value
            upper = value * 10 - 1 if value >= 100 else 99.0
        elif role == "fraction":
            # "نصف مليون" counts; a bare "نصف النهائي" is not a quantity.
            nxt = number_word(doc, j + used)
            if j > i or nxt is None or nxt[1] != "scale":
                break
            current = value
        else:
            current += value
            # "ستة عشر": a unit and عشر/عشرة make a teen.
            if role == "unit" and value < 10 and j + used < len(toks):
                w2 = number_word(doc, j + used)
                if w2 is not None and w2[0] == 10 and toks[j + used].form[:1] != WAW:
                    current += 10
                    used += 1
        j += used
    total += current
    if total <= 0 or j == i:
        return None
    return Num(i, j, total, vague=vague, upper=upper, words=True)


def lemma(form: str) -> str:
    """Rough lemma of a folded noun: no article, no tanwin alef, no -iin/-uun/-aat."""
    keys = [k for k in _strip_keys(form)]
    base = keys[-1]
    for suffix in (YEH_NOON, WAW_NOON, ALEF_TEH):
        if base.endswith(suffix) and len(base) - len(suffix) >= 3:
            return base[: -len(suffix)]
    if base.endswith(ALEF) and len(base) >= 4:
        return base[:-1]
    return base


def _strip_keys(form: str) -> list[str]:
    out = [form]
    if form.startswith(ALEF_LAM) and len(form) > 4:
        out.append(form[2:])
    return out


def counted_noun(doc: Doc, j: int) -> int | None:
    """Index of the noun a number ending before token ``j`` counts, if there is one."""
    toks = doc.tokens
    fw = lexicon.function_words()
    if j >= len(toks) or toks[j].sent != toks[j - 1].sent:
        return None
    t = toks[j]
    if t.form == PERCENT:
        return j
    if t.form in fw:
        # "عشرات من المدنيين": the partitive من (MEEM NOON) carries the counted noun.
        if t.form == "\u0645\u0646" and j + 1 < len(toks) and toks[j + 1].sent == t.sent:
            return j + 1 if _wordlike(toks[j + 1].form) else None
        if t.form == "\u0641\u064a" and j + 1 < len(toks) and toks[j + 1].form in _PERCENT_WORDS:
            return j + 1
        return None
    # "للموسم" (li- + al-) starts a prepositional phrase, not a counted noun.
    if t.form.startswith(LAM_LAM):
        return None
    return j if _wordlike(t.form) else None


def _wordlike(form: str) -> bool:
    return len(form) >= 2 and form[0].isalpha() and not form[0].isdigit() and form.isalpha()


def _is_clock_time(doc: Doc, num: Num) -> bool:
    """21:00 — a time of day, not a quantity."""
    toks = doc.tokens
    j = num.j
    return (j + 1 < len(toks) and toks[j].form == ":" and toks[j].start == toks[j - 1].end
            and doc.is_digit(j + 1)) or (num.i >= 2 and toks[num.i - 1].form == ":"
                                           and doc.is_digit(num.i - 2)
                                           and toks[num.i - 1].start == toks[num.i - 2].end)


def _looks_like_year(doc: Doc, num: Num) -> bool:
    """A four-digit number between 1900 and 2100 with no counted noun: a year (كأس العالم 2018)."""
    if num.words or num.j - num.i != 1:
        return False
    form = doc.tokens[num.i].form
    return len(form) == 4 and form.isdigit() and 1900 <= int(form) <= 2100 \
        and counted_noun(doc, num.j) is None


def find_numbers(doc: Doc) -> list[Num]:
    """All numbers of the document, in text order, not overlapping (no clock times, no years)."""
    from marsad.extractor.facts.scan import NUMBER, positions

    out: list[Num] = []
    toks = doc.tokens
    nxt = 0
    for i in positions(doc, NUMBER):
        if i < nxt or any(k in _PERCENT_WORDS for k in toks[i].keys):
            # "في المئة" / "بالمئة" is a unit (per cent), not the number 100.
            continue
        num = read_number(doc, i)
        if num is None:
            continue
        if not _is_clock_time(doc, num) and not _looks_like_year(doc, num):
            out.append(num)
        nxt = num.j
    return out
