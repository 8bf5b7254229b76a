"""Word tokens, sentences and the script ratio of a display text.

Tokens follow camel-tools' ``simple_word_tokenize``: whitespace separates,
every punctuation or symbol character is its own token, clitics stay attached
(as in ANERcorp).  One deliberate difference: a number written with a decimal
or thousands separator (``3.5``, ``1,200``) stays one token.
"""

from __future__ import annotations

import re

# Letters, digits and combining marks (Latin U+0300-036F; Arabic Quranic signs
# U+0610-061A, harakat U+064B-065F, superscript alef U+0670, small high signs
# U+06D6-06ED) form words; underscore is punctuation for camel, so excluded.
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
TOKEN_RE = re.compile(rf"\d+(?:[.,\u066b\u066c]\d+)+|(?:[^\W_]|[{_MARKS}])+|\S")
# A sentence ends at . ! ? or the Arabic question mark U+061F (possibly
# repeated, possibly followed by a closing quote/bracket) before whitespace,
# or at a paragraph break.
_SENTENCE_END_RE = re.compile(r"[.!?\u061f\u2026]+[\"'\u00bb\u201d)\]]*(?=\s)|\n")
# Arabic letters: hamza..ghain U+0621-063A, feh..yeh U+0641-064A,
# alef wasla..yeh barree U+0671-06D3 and the Persian/Urdu letters U+06FA-06FF.
_ARABIC_LETTERS_RE = re.compile("[\u0621-\u063a\u0641-\u064a\u0671-\u06d3\u06fa-\u06ff]+")
_LETTERS_RE = re.compile(r"[^\W\d_]+")


def tokenize(display: str) -> tuple[tuple[int, int], ...]:
    """Return the token spans of ``display``."""
    return tuple(m.span() for m in TOKEN_RE.finditer(display))


def sentences(display: str) -> tuple[tuple[int, int], ...]:
    """Return sentence spans of ``display`` (trimmed, never empty)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END_RE.finditer(display):
        end = m.start() if m.group() == "\n" else m.end()
        _add(display, start, end, spans)
        start = m.end()
    _add(display, start, len(display), spans)
    return tuple(spans)


def _add(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append((start, end))


def script_ratio(display: str) -> tuple[float, int]:
    """Return (share of Arabic letters among all letters, number of letters)."""
    letters = sum(len(w) for w in _LETTERS_RE.findall(display))
    if not letters:
        return 0.0, 0
    arabic = sum(len(w) for w in _ARABIC_LETTERS_RE.findall(display))
    return arabic / letters, letters
