"""Word tokens, sentences and the script ratio of a display text.

Tokens follow camel-tools' ``simple_word_tokenize``: whitespace separates,
every punctuation or symbol character is its own token, clitics stay attached
(as in ANERcorp).  One deliberate difference: a number written with a decimal
or thousands separator (``3.5``, ``1,200``) stays one token.
"""

from __future__ import annotations

import itertools
import re

# Letters, digits and combining marks (Latin U+0300-036F; Arabic Quranic signs
# U+0610-061A, harakat U+064B-065F, superscript alef U+0670, small high signs
# U+06D6-06ED) form words; underscore is punctuation for camel, so excluded.
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
# A number keeps its decimal/thousands separators (. , and the Arabic U+066B,
# U+066C) when digits follow.  (\w includes the underscore, which camel splits
# off; rare enough in news text to prefer the faster class.)
TOKEN_RE = re.compile(rf"[\w{_MARKS}]+(?:(?<=\d)[.,\u066b\u066c]\d+)*|\S")
# A sentence ends at . ! ? or the Arabic question mark U+061F (possibly
# repeated, possibly followed by a closing quote/bracket) before whitespace,
# or at a paragraph break.
_SENTENCE_END_RE = re.compile(r"[.!?\u061f\u2026]+[\"'\u00bb\u201d)\]]*(?=\s)|\n")
# Arabic letters: hamza..ghain U+0621-063A, feh..yeh U+0641-064A,
# alef wasla..yeh barree U+0671-06D3 and the Persian/Urdu letters U+06FA-06FF.
_ARABIC_RANGES = ((0x0621, 0x063A), (0x0641, 0x064A), (0x0671, 0x06D3), (0x06FA, 0x06FF))
# Letters are counted on a Windows-1256 encoding (one C pass, two byte
# translates); the rare characters outside that code page are counted in Python.
_CODEPAGE = "cp1256"


def _is_arabic_letter(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in _ARABIC_RANGES)


def _byte_classes() -> tuple[bytes, bytes, re.Pattern[str]]:
    not_arabic = bytearray()
    not_letter = bytearray()
    encodable = []
    for b in range(256):
        try:
            ch = bytes([b]).decode(_CODEPAGE)
        except UnicodeDecodeError:
            not_arabic.append(b)
            not_letter.append(b)
            continue
        encodable.append(ch)
        if not _is_arabic_letter(ch):
            not_arabic.append(b)
        # str.isalpha() counts harakat-free letters of every script; digits excluded.
        if not ch.isalpha():
            not_letter.append(b)
    other = re.compile("[^" + "".join(re.escape(c) for c in encodable) + "]+")
    return bytes(not_arabic), bytes(not_letter), other


_NOT_ARABIC_BYTES, _NOT_LETTER_BYTES, _OUTSIDE_CODEPAGE_RE = _byte_classes()


_TOKEN_SPLIT_RE = re.compile(f"({TOKEN_RE.pattern})")


def tokenize(display: str) -> tuple[tuple[int, int], ...]:
    """Return the token spans of ``display``."""
    # split() with a capturing group alternates gap, token, gap, token, ...,
    # gap; running sums of their lengths are the token borders.  All of it
    # runs in C (no Python call per token).
    cum = list(itertools.accumulate(map(len, _TOKEN_SPLIT_RE.split(display))))
    return tuple(zip(cum[0:-1:2], cum[1::2], strict=True))


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
    enc = display.encode(_CODEPAGE, "ignore")
    arabic = len(enc.translate(None, _NOT_ARABIC_BYTES))
    letters = len(enc.translate(None, _NOT_LETTER_BYTES))
    if len(enc) != len(display):
        for run in _OUTSIDE_CODEPAGE_RE.findall(display):
            for ch in run:
                if ch.isalpha():
                    letters += 1
                    arabic += _is_arabic_letter(ch)
    if not letters:
        return 0.0, 0
    return arabic / letters, letters
