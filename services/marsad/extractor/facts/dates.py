"""Dates and times: absolute (Gregorian and Hijri), weekdays and relative expressions.

Each expression is resolved to an ISO date against the article's
publication time.  Without a publication time nothing that depends on it is
invented: such dates come out with ``kind="unresolved"`` and no value.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

from marsad.extractor.facts import lexicon
from marsad.extractor.facts.model import DateFact
from marsad.extractor.facts.numbers import parse_digits, read_number
from marsad.extractor.facts.scan import DATE, positions
from marsad.extractor.facts.text import ALEF_LAM, SEEN, Doc

SLASH = "/"
OPEN_PAREN, CLOSE_PAREN = "(", ")"
YEAR_SUFFIXES = frozenset({"\u0645", "\u0647"})  # MEEM (AD), HEH (folded HEH+TATWEEL: AH)
YOM = "\u064a\u0648\u0645"  # يوم "day" before a weekday name
SHAHR = "\u0634\u0647\u0631"  # شهر "month" before a month name
# المقبل، القادم ("next") and الماضي، المنصرم ("last") after a weekday or month.
FUTURE_NEXT = frozenset({"\u0627\u0644\u0645\u0642\u0628\u0644",
                         "\u0627\u0644\u0642\u0627\u062f\u0645"})
PAST_NEXT = frozenset({"\u0627\u0644\u0645\u0627\u0636\u064a",
                       "\u0627\u0644\u0645\u0646\u0635\u0631\u0645"})
SUWFA = "\u0633\u0648\u0641"  # سوف "will"
MIN = "\u0645\u0646"  # من "of" in "فبراير من العام الماضي"
PRESENT_PREFIXES = ("\u064a", "\u062a", "\u0646")  # YEH, TEH, NOON: imperfect verb prefixes


# Singular time units that mean "one": يوم، شهر، اسبوع، عام، سنه (folded).
_SINGULAR_UNITS = frozenset({YOM, SHAHR, "\u0627\u0633\u0628\u0648\u0639", "\u0639\u0627\u0645",
                             "\u0633\u0646\u0647"})


@dataclass(slots=True)
class _Found:
    i: int
    j: int
    value: str | None
    kind: str
    granularity: str
    calendar: str = "gregorian"
    qualifier: str | None = None


def hijri_to_gregorian(year: int, month: int, day: int) -> date:
    """Convert a Hijri date with the arithmetical (tabular) Islamic calendar.

    Official calendars follow moon sightings and can differ by a day or two;
    news rarely give Hijri dates without a Gregorian one, so the tabular
    calendar is close enough.
    """
    jd = (day + math.ceil(29.5 * (month - 1)) + (year - 1) * 354
          + (3 + 11 * year) // 30 + 1948439.5 - 1)
    return date.fromordinal(int(jd - 1721424.5))


def _add_months(d: date, months: int) -> date:
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


def _resolve(unit: str, offset: int, pub: date) -> tuple[str, str]:
    """Return (value, granularity) of ``offset`` units from ``pub``."""
    if unit == "day":
        return (pub + timedelta(days=offset)).isoformat(), "day"
    if unit == "week":
        monday = pub - timedelta(days=pub.weekday()) + timedelta(weeks=offset)
        return monday.isoformat(), "week"
    if unit == "month":
        return _add_months(pub, offset).isoformat()[:7], "month"
    return f"{pub.year + offset:04d}", "year"


def _year_of(form: str) -> int | None:
    if len(form) == 4 and form.isdigit():
        y = int(form)
        if 1300 <= y <= 2100:
            return y
    return None


def _month_at(doc: Doc, i: int) -> tuple[lexicon.Month, int] | None:
    """Month name at token ``i``: (month, tokens used)."""
    toks = doc.tokens
    if i >= len(toks):
        return None
    table = lexicon.months()
    if i + 1 < len(toks):
        for k in toks[i].keys:
            m = table.get((k, toks[i + 1].form))
            if m:
                return m, 2
    for k in toks[i].keys:
        m = table.get((k,))
        if m:
            return m, 1
    return None


def _guess_year(month: int, day: int, pub: date) -> int:
    """Year of a day-and-month without year: the one nearest the publication date."""
    best = pub.year
    best_gap = None
    for y in (pub.year - 1, pub.year, pub.year + 1):
        try:
            gap = abs((date(y, month, min(day, 28)) - pub).days)
        except ValueError:
            continue
        if best_gap is None or gap < best_gap:
            best, best_gap = y, gap
    return best


def _absolute(doc: Doc, i: int, pub: date | None) -> _Found | None:
    """[weekday] [day] MONTH [/MONTH] [year] starting at ``i`` (or a modifier before it)."""
    toks = doc.tokens
    n = len(toks)
    sent = toks[i].sent
    j = i
    qualifier = None
    mod = next((lexicon.date_modifiers()[k] for k in toks[j].keys
                if k in lexicon.date_modifiers()), None)
    if mod is not None:
        qualifier = mod
        j += 1
        if j < n and toks[j].form in (SHAHR, ALEF_LAM + SHAHR):
            j += 1
    weekday = None
    if j < n and toks[j].form == YOM:
        j += 1
    if j < n and (wd := _weekday(doc, j)) is not None and qualifier is None:
        weekday = wd
        j += 1
    day = None
    if j < n and doc.is_digit(j) and toks[j].form.isdigit() and 1 <= int(toks[j].form) <= 31:
        day = int(toks[j].form)
        j += 1
    elif j < n and (od := _ordinal_day(doc, j)) is not None:
        day, j = od
    if qualifier is None and day is None and j < n and toks[j].form in (SHAHR,):
        j += 1
    mm = _month_at(doc, j) if j < n and toks[j].sent == sent else None
    if mm is None:
        return None
    month, used = mm
    j += used
    slash_pair = False
    # "آذار/مارس" and "آذار (مارس)": the same month in two naming systems.
    if j + 1 < n and toks[j].form in (SLASH, OPEN_PAREN) and _month_at(doc, j + 1):
        _, used2 = _month_at(doc, j + 1) or (None, 1)
        j += 1 + used2
        slash_pair = True
        if j < n and toks[j].form == CLOSE_PAREN:
            j += 1
    # "سبتمبر أيلول": the same month in two naming systems, without a slash.
    if j < n and (m2 := _month_at(doc, j)) is not None and m2[0].month == month.month:
        j += m2[1]
    year = None
    rel_year: int | None = None
    direction = 0
    if j < n and toks[j].form in FUTURE_NEXT:
        direction, j = 1, j + 1
    elif j < n and toks[j].form in PAST_NEXT:
        direction, j = -1, j + 1
    elif j + 2 < n and toks[j].form == MIN and (rel := _relative(doc, j + 1, pub)) is not None \
            and rel.granularity == "year" and rel.kind == "relative" and rel.value:
        rel_year, j = int(rel.value), rel.j  # "فبراير من العام الماضي"
    if j < n and toks[j].sent == sent and (y := _year_of(toks[j].form)) is not None:
        year = y
        j += 1
        if j < n and toks[j].form in YEAR_SUFFIXES:
            j += 1
    if month.needs_number and day is None and year is None and not slash_pair:
        return None
    if qualifier is None and weekday is not None and day is None:
        return None  # "الجمعة مارس" is not a date; the weekday is matched alone
    calendar = month.calendar
    start_i = i
    if calendar == "hijri":
        if year is None:
            return None  # a Hijri day-month without year is ambiguous across years
        g = hijri_to_gregorian(year, month.month, day or 1)
        if day is not None:
            return _Found(start_i, j, g.isoformat(), "absolute", "day", "hijri", qualifier)
        return _Found(start_i, j, g.isoformat()[:7], "absolute", "month", "hijri", qualifier)
    if year is not None and not 1900 <= year <= 2100:
        return None
    if day is not None:
        if year is not None:
            try:
                return _Found(start_i, j, date(year, month.month, day).isoformat(),
                              "absolute", "day", qualifier=qualifier)
            except ValueError:
                return None
        if pub is None:
            return _Found(start_i, j, None, "unresolved", "day", qualifier=qualifier)
        y = _guess_year(month.month, day, pub)
        try:
            return _Found(start_i, j, date(y, month.month, day).isoformat(), "relative", "day",
                          qualifier=qualifier)
        except ValueError:
            return None
    if year is not None:
        return _Found(start_i, j, f"{year:04d}-{month.month:02d}", "absolute", "month",
                      qualifier=qualifier)
    if rel_year is not None:
        return _Found(start_i, j, f"{rel_year:04d}-{month.month:02d}", "relative", "month",
                      qualifier=qualifier)
    if pub is None:
        return _Found(start_i, j, None, "unresolved", "month", qualifier=qualifier)
    if direction == 1:
        y = pub.year if month.month > pub.month else pub.year + 1
    elif direction == -1:
        y = pub.year if month.month < pub.month else pub.year - 1
    else:
        # News mostly look back: a bare month name is within the last nine months or next three.
        y = pub.year if month.month <= pub.month + 3 else pub.year - 1
    return _Found(start_i, j, f"{y:04d}-{month.month:02d}", "relative", "month",
                  qualifier=qualifier)


def _ordinal_day(doc: Doc, i: int) -> tuple[int, int] | None:
    """An ordinal day before a month: "الرابع عشر من", "الحادي والثلاثين من" -> (day, next)."""
    toks = doc.tokens
    table = lexicon.ordinals()
    first = table.get(toks[i].form)
    if first is None or first[1] != "unit":
        return None
    day, j = first[0], i + 1
    if j < len(toks) and (nxt := table.get(toks[j].form)) and nxt[1] == "teen":
        day, j = day + 10, j + 1
    elif j < len(toks) and len(toks[j].keys) > 1 and (nxt := table.get(toks[j].keys[1])) \
            and nxt[1] == "ten":
        day, j = day + nxt[0], j + 1
    if j < len(toks) and toks[j].form == MIN:
        j += 1
    if not 1 <= day <= 31 or _month_at(doc, j) is None:
        return None
    return day, j


def _bare_year(doc: Doc, i: int, after_year: bool) -> _Found | None:
    """A bare year after في/منذ/بداية … or in a list of years ("2014 و2015")."""
    toks = doc.tokens
    if i + 1 >= len(toks) or toks[i + 1].sent != toks[i].sent:
        return None
    k = i
    preps = lexicon.year_prepositions()
    # WAW alone: "و2015" right after a year.
    if (toks[i].form == "\u0648" and after_year) or toks[i].keys[-1] in preps \
            or toks[i].keys[0] in preps:
        k = i + 1
    else:
        return None
    y = _year_of(toks[k].form)
    if y is None or not 1900 <= y <= 2100 or not toks[k].form.isdigit():
        return None
    mods = lexicon.date_modifiers()
    qualifier = next((mods[key] for key in toks[i].keys if key in mods), None)
    start = i if qualifier else k
    return _Found(start, k + 1, f"{y:04d}", "absolute", "year", qualifier=qualifier)


def _weekday(doc: Doc, i: int) -> int | None:
    """ISO weekday if token ``i`` is a weekday name written with the article."""
    table = lexicon.weekdays()
    for k in doc.tokens[i].keys:
        if k.startswith(ALEF_LAM) and k in table:
            return table[k]
    return None


def _is_future_context(doc: Doc, i: int) -> bool:
    """A future verb (سيـ/ستـ, سوف) shortly before token ``i`` in its sentence."""
    toks = doc.tokens
    sent = toks[i].sent
    for k in range(i - 1, max(-1, i - 5), -1):
        if toks[k].sent != sent:
            break
        f = toks[k].keys[-1] if toks[k].keys else toks[k].form
        if toks[k].form == SUWFA or toks[k].keys[0] == SUWFA:
            return True
        for key in toks[k].keys:
            if len(key) >= 5 and key[0] == SEEN and key[1] in PRESENT_PREFIXES \
                    and key not in lexicon.number_words() and f:
                return True
    return False


def _weekday_date(doc: Doc, i: int, pub: date | None) -> _Found | None:
    toks = doc.tokens
    wd = _weekday(doc, i)
    if wd is None:
        return None
    if i > 0 and toks[i - 1].keys[-1] in lexicon.weekday_blockers():
        return None
    start = i - 1 if i > 0 and YOM in toks[i - 1].keys[:2] and toks[i - 1].sent == toks[i].sent \
        else i
    j = i + 1
    direction = 0
    if j < len(toks) and toks[j].form in FUTURE_NEXT:
        direction = 1
        j += 1
    elif j < len(toks) and toks[j].form in PAST_NEXT:
        direction = -1
        j += 1
    elif _is_future_context(doc, start):
        direction = 2  # on or after publication
    if pub is None:
        return _Found(start, j, None, "unresolved", "day")
    delta = (pub.isoweekday() - wd) % 7
    if direction == 0:
        d = pub - timedelta(days=delta)
    elif direction == -1:
        d = pub - timedelta(days=delta or 7)
    else:
        ahead = (wd - pub.isoweekday()) % 7
        d = pub + timedelta(days=ahead or (7 if direction == 1 else 0))
    return _Found(start, j, d.isoformat(), "relative", "day")


def _relative(doc: Doc, i: int, pub: date | None) -> _Found | None:
    toks = doc.tokens
    table = lexicon.relative()
    for length in (3, 2, 1):
        if i + length > len(toks):
            continue
        rest = tuple(t.form for t in toks[i + 1: i + length])
        for k in toks[i].keys:
            hit = table.get((k, *rest))
            if hit is None:
                continue
            # "اليوم العالمي" / "اليوم الأول": a day, not today.
            if length == 1 and k == ALEF_LAM + YOM and i + 1 < len(toks) \
                    and toks[i + 1].form.startswith(ALEF_LAM) and _weekday(doc, i + 1) is None:
                return None
            unit, offset = hit
            j = i + length
            # "اليوم الجمعة": today, named; one expression.
            if length == 1 and k == ALEF_LAM + YOM and j < len(toks) and _weekday(doc, j):
                j += 1
            if pub is None:
                return _Found(i, j, None, "unresolved", unit)
            value, gran = _resolve(unit, offset, pub)
            return _Found(i, j, value, "relative", gran)
    return None


def _ago(doc: Doc, i: int, pub: date | None) -> _Found | None:
    """منذ ثلاثة أيام / قبل يومين / بعد أسبوع."""
    toks = doc.tokens
    direction = next((lexicon.date_anchors()[k] for k in toks[i].keys
                      if k in lexicon.date_anchors()), None)
    if direction is None or i + 1 >= len(toks):
        return None
    units = lexicon.time_units()
    j = i + 1
    count: float | None = None
    num = read_number(doc, j)
    if num is not None and not num.vague and toks[num.j - 1].form not in units:
        count = num.value
        j = num.j
    if j >= len(toks):
        return None
    unit = next((units[k] for k in toks[j].keys if k in units), None)
    if unit is None:
        return None
    name, implicit = unit
    if count is None:
        if implicit:
            count = float(implicit)
        elif toks[j].form in _SINGULAR_UNITS:
            count = 1.0
        else:
            return None  # "منذ سنوات": too vague to date
    if toks[j].form.startswith(ALEF_LAM):
        return None  # "بعد اليوم"، "قبل العام": not a count of units
    if name == "day" and toks[j].form.startswith("\u0633\u0627\u0639"):  # ساعات: hours
        name, count = "day", 0.0
    j += 1
    if pub is None:
        return _Found(i, j, None, "unresolved", name)
    value, gran = _resolve(name, int(direction * count), pub)
    return _Found(i, j, value, "relative", gran)


def _year_only(doc: Doc, i: int) -> _Found | None:
    """عام 2011 / العام 2011 / سنة 2011 (with an optional modifier before)."""
    toks = doc.tokens
    j = i
    qualifier = None
    mods = lexicon.date_modifiers()
    mod = next((mods[k] for k in toks[j].keys if k in mods), None)
    if mod is not None:
        qualifier = mod
        j += 1
    if j + 1 >= len(toks):
        return None
    unit = next((lexicon.time_units()[k] for k in toks[j].keys
                 if k in lexicon.time_units()), None)
    if unit is None or unit[0] != "year":
        return None
    y = _year_of(toks[j + 1].form)
    if y is None or not 1900 <= y <= 2100:
        return None
    end = j + 2
    if end < len(toks) and toks[end].form in YEAR_SUFFIXES:
        end += 1
    return _Found(i, end, f"{y:04d}", "absolute", "year", qualifier=qualifier)


def _numeric(doc: Doc, i: int) -> _Found | None:
    """29/6/2012, 2012-06-29 (tokens: number, separator, number, separator, number)."""
    toks = doc.tokens
    if i + 4 >= len(toks) or not all(doc.is_digit(i + k) for k in (0, 2, 4)):
        return None
    sep = toks[i + 1].form
    if sep not in ("/", "-") or toks[i + 3].form != sep:
        return None
    if toks[i + 1].start != toks[i].end or toks[i + 4].start != toks[i + 3].end:
        return None
    a, b, c = (parse_digits(toks[i + k].form) for k in (0, 2, 4))
    if a is None or b is None or c is None:
        return None
    y, m, d = (int(a), int(b), int(c)) if a > 1000 else (int(c), int(b), int(a))
    try:
        value = date(y, m, d)
    except ValueError:
        return None
    if not 1900 <= y <= 2100:
        return None
    return _Found(i, i + 5, value.isoformat(), "absolute", "day")


@cache
def start_words() -> frozenset[str]:
    """Every folded word that can begin a date expression."""
    words: set[str] = {YOM, SHAHR}
    words.update(k[0] for k in lexicon.months())
    words.update(lexicon.weekdays())
    words.update(k[0] for k in lexicon.relative())
    words.update(lexicon.date_modifiers())
    words.update(lexicon.date_anchors())
    words.update(lexicon.time_units())
    words.update(lexicon.ordinals())
    words.update(lexicon.year_prepositions())
    return frozenset(words)


# Which finders can start at a word (see :func:`_starters`): each bit is a condition the
# finder checks first, so skipping a finder whose bit is missing changes no result.
_S_DIGIT, _S_MONTH, _S_YEAR_ONLY, _S_RELATIVE, _S_AGO, _S_WEEKDAY, _S_PREP = (
    1, 2, 4, 8, 16, 32, 64)
# The farthest a month name can be from the start of an absolute date:
# modifier, شهر, يوم, then an ordinal day of three words ("الحادي والعشرين من").
_MONTH_REACH = 6
_STARTERS_MAX = 50_000
_STARTERS: dict[tuple[str, ...], int] = {}


@cache
def _month_words() -> frozenset[str]:
    return frozenset(k[0] for k in lexicon.months())


@cache
def _relative_words() -> frozenset[str]:
    return frozenset(k[0] for k in lexicon.relative())


def _starters(keys: tuple[str, ...]) -> int:
    """Bits of the finders that can match at a token with these lookup keys."""
    bits = _STARTERS.get(keys)
    if bits is not None:
        return bits
    ks = set(keys)
    bits = _S_DIGIT if keys[0][:1].isdigit() else 0
    if ks & _month_words():
        bits |= _S_MONTH
    if ks & (lexicon.date_modifiers().keys() | lexicon.time_units().keys()):
        bits |= _S_YEAR_ONLY
    if ks & _relative_words():
        bits |= _S_RELATIVE
    if ks & lexicon.date_anchors().keys():
        bits |= _S_AGO
    if any(k.startswith(ALEF_LAM) and k in lexicon.weekdays() for k in keys):
        bits |= _S_WEEKDAY
    if keys[-1] in lexicon.year_prepositions() or keys[0] in lexicon.year_prepositions():
        bits |= _S_PREP
    if len(_STARTERS) > _STARTERS_MAX:
        _STARTERS.clear()
    _STARTERS[keys] = bits
    return bits


def find_dates(doc: Doc, published_at: datetime | None) -> list[DateFact]:
    """All date expressions of the document, in text order, not overlapping."""
    pub = published_at.date() if published_at is not None else None
    toks = doc.tokens
    out: list[DateFact] = []
    nxt = 0
    cands = positions(doc, DATE)
    bits = [_starters(toks[i].keys) for i in cands]
    # An absolute date needs a month name at most _MONTH_REACH tokens after its start.
    months = [i for i, b in zip(cands, bits, strict=True) if b & _S_MONTH]
    for i, b in zip(cands, bits, strict=True):
        if i < nxt:
            continue
        m = bisect_left(months, i)
        month_near = m < len(months) and months[m] - i <= _MONTH_REACH
        found = ((b & _S_DIGIT and _numeric(doc, i))
                 or (month_near and _absolute(doc, i, pub))
                 or (b & _S_YEAR_ONLY and _year_only(doc, i))
                 or (b & _S_RELATIVE and _relative(doc, i, pub))
                 or (b & _S_AGO and _ago(doc, i, pub))
                 or (b & _S_WEEKDAY and _weekday_date(doc, i, pub))
                 or (b & _S_PREP and _bare_year(doc, i, False))
                 or None)
        while found is not None:
            start, end = toks[found.i].start, toks[found.j - 1].end
            out.append(DateFact(start, end, doc.text[start:end], found.value, found.kind,
                                found.granularity, found.calendar, found.qualifier))
            nxt = found.j
            # "2014 و2015 و2016": a list of years goes on after WAW.
            year = found.granularity == "year" and found.kind == "absolute"
            found = _bare_year(doc, nxt, True) if year and nxt < len(toks) else None
    return out
