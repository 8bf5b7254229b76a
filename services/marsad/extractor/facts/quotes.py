"""Quotes: words between quotation marks and reported speech after قال/أضاف/أكد … أن.

The speaker is the entity named right after the speech verb (``وقال الوزير
فلان``), an entity just before it (``فلان قال``), or a title phrase
(``وأضاف الرئيس الفرنسي أن``) resolved to the most recent person with that
title.  A bare ``وأضاف أن`` continues the previous speaker.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from marsad.extractor.facts import lexicon
from marsad.extractor.facts.entities import EntityIndex
from marsad.extractor.facts.model import Quote, Span
from marsad.extractor.facts.scan import SPEECH, positions
from marsad.extractor.facts.text import LAM, Doc, fold, without_article

# «…» GUILLEMETS, “…” CURLY DOUBLE QUOTES, "…" straight quotes.
_QUOTE_RE = re.compile(r"\u00ab([^\u00ab\u00bb]{1,2000})\u00bb"
                       r"|\u201c([^\u201c\u201d]{1,2000})\u201d"
                       r"|\"([^\"]{1,2000})\"")
# أن/إن after folding (ALEF NOON), with a pronoun (انه، انها، انهم) or bi- (بان، بانه).
ANNA = frozenset({"\u0627\u0646", "\u0627\u0646\u0647", "\u0627\u0646\u0647\u0627",
                  "\u0627\u0646\u0647\u0645", "\u0628\u0627\u0646", "\u0628\u0627\u0646\u0647",
                  "\u0628\u0627\u0646\u0647\u0627"})
COLON = ":"
_OPENERS = "\u00ab\u201c\""  # « “ "
_OPENER_RE = re.compile(f"[{_OPENERS}]")
_MIN_FREE_WORDS = 4  # quoted words without a speech verb or colon before them: names unless long
_MIN_WORDS = 2  # «داعش»-style single scare-quoted words are names, not quotes
# A quotation mark glued to li- ("to"): قال لـ"سكاي نيوز عربية" names whom it was said to, an
# outlet, not words somebody said.  (After bi- the marks quote a description: ما وصفه بـ"…".)
# LAM after an optional WAW/FEH (wa-, fa-), with an optional TATWEEL.
_GLUED_TO_RE = re.compile("(?:^|\\s)[\u0648\u0641]?\u0644\u0640?$")
_MAX_TERM_WORDS = 5  # longer marked spans after li- are kept: they are said, not names
_VERB_WINDOW = 12
_ANNA_WINDOW = 16  # verb … أن: the speaker, a title and a date may come between


@dataclass(slots=True)
class _Speaker:
    entity: str | None
    span: Span | None


def _tok_at(doc: Doc, offset: int) -> int:
    """Index of the first token ending after ``offset``."""
    return bisect_right(doc.ends or [t.end for t in doc.tokens], offset)


def resolve_title(doc: Doc, phrase: Span, ents: EntityIndex) -> str | None:
    """Person entity whose title starts like ``phrase``, most recently mentioned before it."""
    head = fold(phrase.text).split()
    if not head:
        return None
    best: tuple[int, str] | None = None
    for m in ents.mentions:
        if m.type != "PERS" or m.span.start > phrase.start:
            continue
        title = ents.entities[m.entity].title
        if not title:
            continue
        words = fold(title).split()
        if not words or words[0] != head[0]:
            continue
        if best is None or m.span.start > best[0]:
            best = (m.span.start, m.entity)
    return best[1] if best else None


def _speaker_after_verb(doc: Doc, v: int, limit: int, ents: EntityIndex) -> _Speaker | None:
    toks = doc.tokens
    for k in range(v + 1, min(limit, v + _VERB_WINDOW)):
        m = ents.by_token.get(k)
        # "مكتب … التابع للأمم المتحدة": an entity behind li- modifies the speaker, is not it.
        if m is not None and m.type in ("PERS", "ORG") and not toks[k].form.startswith(LAM):
            return _Speaker(m.entity, m.span)
        if toks[k].form in ANNA or toks[k].form == COLON or toks[k].form in _OPENERS:
            break
    # A title phrase between verb and أن: "وأضاف الرئيس الفرنسي أن".
    j = v + 1
    while j < min(limit, v + _VERB_WINDOW) and toks[j].form.isalpha() \
            and toks[j].form not in ANNA and toks[j].form not in lexicon.function_words():
        j += 1
    if j > v + 1 and j - v <= 5:
        span = Span(toks[v + 1].start, toks[j - 1].end, doc.text[toks[v + 1].start:toks[j - 1].end])
        return _Speaker(resolve_title(doc, span, ents), span)
    return None


def _direct_spans(doc: Doc) -> list[tuple[int, int]]:
    """Quoted spans; an opening mark never closed runs to the end of its sentence."""
    out: list[tuple[int, int]] = []
    covered: list[tuple[int, int]] = []
    for m in _QUOTE_RE.finditer(doc.text):
        g = next(k for k in (1, 2, 3) if m.group(k) is not None)
        out.append((m.start(g), m.end(g)))
        covered.append(m.span())
    for m in _OPENER_RE.finditer(doc.text):
        k = m.start()
        if any(a <= k < b for a, b in covered):
            continue
        hi = next((b for a, b in doc.sentences if a <= k < b), len(doc.text))
        end = hi
        while end > k + 1 and doc.text[end - 1] in " .\n":
            end -= 1
        if end > k + 1:
            out.append((k + 1, end))
            covered.append((k, hi))
    return out


def _introduced(doc: Doc, qi: int, verb_at: dict[int, tuple[int, _Speaker | None]]) -> bool:
    """A speech verb or a colon shortly before token ``qi`` (the quote's first word)."""
    for k in range(qi - 1, max(-1, qi - 5), -1):
        if doc.tokens[k].form == COLON or k in verb_at:
            return True
    return False


def find_quotes(doc: Doc, ents: EntityIndex) -> list[Quote]:
    """Direct and reported quotes, in text order."""
    toks = doc.tokens
    verbs = lexicon.speech_verbs()
    out: list[Quote] = []
    last: _Speaker | None = None
    last_sent = -10
    verb_at: dict[int, tuple[int, _Speaker | None]] = {}
    for v in positions(doc, SPEECH):
        tok = toks[v]
        if not any(k in verbs for k in without_article(tok.keys)[:2]):
            continue
        lo, hi = doc.sent_tokens[tok.sent]
        sp = _speaker_after_verb(doc, v, hi, ents)
        if sp is None:
            before = [m for m in ents.mentions if lo <= m.i and m.j <= v
                      and m.type in ("PERS", "ORG")]
            # The sentence's person (its subject) rather than the nearest organisation.
            pers = [m for m in before if m.type == "PERS"]
            pick = pers[0] if pers else (before[-1] if before and v - before[-1].j <= 3 else None)
            if pick is not None:
                sp = _Speaker(pick.entity, pick.span)
        if sp is None and last is not None and tok.sent - last_sent <= 2:
            sp = last  # "وأضاف أن": the previous speaker goes on
        if sp is not None:
            last, last_sent = sp, tok.sent
        verb_at[v] = (tok.sent, sp)
        # Reported speech: verb [speaker] أن/إن … to the end of the sentence.
        k = v + 1
        while k < hi and k - v <= _ANNA_WINDOW and toks[k].form not in ANNA:
            k += 1
        if k < hi and toks[k].form in ANNA and k + 1 < hi:
            s, e = toks[k + 1].start, toks[hi - 1].end
            if toks[hi - 1].form in (".", "!", "?", "\u061f") and hi - 2 > k:
                e = toks[hi - 2].end
            vspan: Span | None = Span(tok.start, tok.end, doc.text[tok.start:tok.end])
            out.append(Quote(s, e, doc.text[s:e], "reported",
                             sp.entity if sp else None, sp.span if sp else None, vspan))
    for s, e in _direct_spans(doc):
        body = doc.text[s:e]
        words = len(body.split())
        if words < _MIN_WORDS:
            continue
        glued = _GLUED_TO_RE.search(doc.text, max(0, s - 4), s - 1)
        if glued and words <= _MAX_TERM_WORDS:
            continue
        qi = _tok_at(doc, s)
        if not _introduced(doc, qi, verb_at) and len(body.split()) < _MIN_FREE_WORDS:
            continue
        if qi >= len(toks):
            continue
        sent = toks[qi].sent
        lo, _hi = doc.sent_tokens[sent]
        cand = [(v, info) for v, info in verb_at.items() if lo <= v < qi]
        sp = None
        vspan = None
        if cand:
            v, (_s, sp) = cand[-1]
            vspan = Span(toks[v].start, toks[v].end, doc.text[toks[v].start:toks[v].end])
        else:
            after = [(v, info) for v, info in verb_at.items() if info[0] == sent and v >= qi]
            if after:
                v, (_s, sp) = after[0]
                vspan = Span(toks[v].start, toks[v].end, doc.text[toks[v].start:toks[v].end])
        out.append(Quote(s, e, body, "direct", sp.entity if sp else None,
                         sp.span if sp else None, vspan))
    out.sort(key=lambda q: (q.start, q.end))
    return out
