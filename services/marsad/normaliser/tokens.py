"""Word tokens, sentences and the script ratio of a display text.

Tokens follow camel-tools' ``simple_word_tokenize``: whitespace separates,
every punctuation or symbol character is its own token, clitics stay attached
(as in ANERcorp).  One deliberate difference: a number written with a decimal
or thousands separator (``3.5``, ``1,200``) stays one token.

All three are computed from one array of character classes (the text's code
points looked up in a 64K-entry table) with numpy, so an article costs a
handful of vectorised passes instead of a Python step per token or sentence.
The regular expressions below define the behaviour; the vectorised code is
tested to give exactly their result (``tests/unit/normaliser/test_tokens.py``).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from typing import overload

import numpy as np
import numpy.typing as npt

# Letters, digits and combining marks (Latin U+0300-036F; Arabic Quranic signs
# U+0610-061A, harakat U+064B-065F, superscript alef U+0670, small high signs
# U+06D6-06ED) form words; underscore is punctuation for camel, but \w (and so
# this class) includes it: rare enough in news text not to matter.
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
# A number keeps its decimal/thousands separators (. , and the Arabic U+066B,
# U+066C) when digits follow.
TOKEN_RE = re.compile(rf"[\w{_MARKS}]+(?:(?<=\d)[.,\u066b\u066c]\d+)*|\S")
# A sentence ends at . ! ? the Arabic question mark U+061F or an ellipsis
# U+2026 (possibly repeated, possibly followed by closing quotes/brackets:
# ASCII quotes, U+00BB right guillemet, U+201D right double quote) before
# whitespace, or at a paragraph break.
SENTENCE_END_RE = re.compile(r"[.!?\u061f\u2026]+[\"'\u00bb\u201d)\]]*(?=\s)|\n")
# Arabic letters: hamza..ghain U+0621-063A, feh..yeh U+0641-064A,
# alef wasla..yeh barree U+0671-06D3 and the Persian/Urdu letters U+06FA-06FF.
_ARABIC_RANGES = ((0x0621, 0x063A), (0x0641, 0x064A), (0x0671, 0x06D3), (0x06FA, 0x06FF))

# Character class bits (the reference for the lookup tables below).
WORD = 1  # [\w marks]: part of a word token
SPACE = 2  # \s (the same set as str.isspace)
DIGIT = 4  # \d (str.isdecimal)
NUM_SEP = 8  # . , U+066B U+066C: joins digits inside a number
SENT_END = 16  # . ! ? U+061F U+2026
CLOSER = 32  # " ' U+00BB U+201D ) ]
LETTER = 64  # str.isalpha
ARABIC = 128  # an Arabic letter (and str.isalpha)
NEWLINE = 256  # line feed: a paragraph break of the display text

_BMP = 0x10000


def classify(ch: str) -> int:
    """Return the class bits of one character (the reference for the tables)."""
    bits = 0
    if re.match(rf"[\w{_MARKS}]", ch):
        bits |= WORD
    if ch.isspace():
        bits |= SPACE
    if ch.isdecimal():
        bits |= DIGIT
    if ch in ".,\u066b\u066c":  # full stop, comma, Arabic decimal and thousands separators
        bits |= NUM_SEP
    if ch in ".!?\u061f\u2026":  # ... Arabic question mark, ellipsis
        bits |= SENT_END
    if ch in "\"'\u00bb\u201d)]":  # ... right guillemet, right double quote
        bits |= CLOSER
    if ch.isalpha():
        bits |= LETTER
        if any(lo <= ord(ch) <= hi for lo, hi in _ARABIC_RANGES):
            bits |= ARABIC
    if ch == "\n":
        bits |= NEWLINE
    return bits


# The per-character code all three use (one table lookup per text):
# the token kind in the low bits: a space separates (0), a word character
# continues a word (1), any other character is a token of its own (4, so that
# two in a row sum to 8); flags on top.
_C_WORD, _C_OTHER = 1, 4
_C_KIND = _C_WORD | _C_OTHER
_C_DIGIT = 2  # a word character that is a digit
_C_SEP = 8  # an "other" that is a number separator
_C_END = 16  # a sentence end mark
_C_CLOSER = 32  # a closing quote or bracket
_C_NEWLINE = 64
_C_LETTER = 128
_C_ARABIC = 256
_C_PAD = 512  # the padding before and after the text (a space that is no whitespace)


def _code(bits: int) -> int:
    """The combined code of a character from its :func:`classify` bits."""
    if bits & WORD:
        code = _C_WORD | (_C_DIGIT if bits & DIGIT else 0)
    elif bits & SPACE:
        code = 0
    else:
        code = _C_OTHER | (_C_SEP if bits & NUM_SEP else 0)
    if bits & SENT_END:
        code |= _C_END
    if bits & CLOSER:
        code |= _C_CLOSER
    if bits & NEWLINE:
        code |= _C_NEWLINE
    if bits & LETTER:
        code |= _C_LETTER
    if bits & ARABIC:
        code |= _C_ARABIC
    return code


@functools.cache
def table() -> npt.NDArray[np.uint16]:
    """Return the code of every BMP character (built once, ~0.1 s; :func:`.core.load` calls it)."""
    return np.array([_code(classify(chr(cp))) for cp in range(_BMP)], dtype=np.uint16)


def code_points(text: str) -> npt.NDArray[np.uint32]:
    """Return the code points of ``text`` as an array (one C pass)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def classes(text: str, cp: npt.NDArray[np.uint32] | None = None) -> npt.NDArray[np.uint16]:
    """Return the codes of ``text``'s characters, padded with one code at each end.

    Args:
        text: The text.
        cp: Its :func:`code_points`, if the caller already has them.
    """
    cp = code_points(text) if cp is None else cp
    out = np.full(cp.size + 2, _C_PAD, dtype=np.uint16)
    table().take(cp, out=out[1:-1], mode="clip")
    if cp.size and int(cp.max()) >= _BMP:
        # Characters beyond the BMP (emoji, rare scripts): classified one by one.
        for i in (cp >= _BMP).nonzero()[0].tolist():
            out[i + 1] = _code(classify(text[i]))
    return out


class Spans:
    """An immutable sequence of ``(start, end)`` spans, stored as an ``(n, 2)`` array.

    Iterating or indexing gives plain ``(int, int)`` tuples; :meth:`to_json`
    gives the ``[[start, end], ...]`` lists published on the topic.
    """

    __slots__ = ("_a",)

    def __init__(self, array: npt.NDArray[np.int64] | None = None) -> None:
        a = np.zeros((0, 2), dtype=np.int64) if array is None else array
        a.flags.writeable = False
        self._a = a

    @classmethod
    def from_bounds(cls, starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp]) -> Spans:
        """Build from equal-length arrays of starts and ends."""
        a = np.empty((starts.size, 2), dtype=np.int64)
        a[:, 0] = starts
        a[:, 1] = ends
        return cls(a)

    @property
    def array(self) -> npt.NDArray[np.int64]:
        """The read-only ``(n, 2)`` array of starts and ends."""
        return self._a

    def __len__(self) -> int:
        return int(self._a.shape[0])

    @overload
    def __getitem__(self, i: int) -> tuple[int, int]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[int, int]]: ...
    def __getitem__(self, i: int | slice) -> tuple[int, int] | list[tuple[int, int]]:
        if isinstance(i, slice):
            return [(s, e) for s, e in self._a[i].tolist()]
        s, e = self._a[i].tolist()
        return (s, e)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((s, e) for s, e in self._a.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Spans):
            return bool(np.array_equal(self._a, other._a))
        if isinstance(other, tuple | list):
            return list(self) == [tuple(x) for x in other]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._a.tobytes())

    def __repr__(self) -> str:
        return f"Spans({self._a.tolist()!r})"

    def to_json(self) -> list[list[int]]:
        """Return ``[[start, end], ...]``."""
        out: list[list[int]] = self._a.tolist()
        return out


def tokenize(display: str, cls: npt.NDArray[np.uint16] | None = None) -> Spans:
    """Return the token spans of ``display``, exactly as :data:`TOKEN_RE` cuts it.

    Args:
        display: The text.
        cls: Its :func:`classes`, if the caller already has them.
    """
    raw = classes(display) if cls is None else cls
    k = raw & _C_KIND
    after, before = k[1:], k[:-1]
    # A border before position p where the kind changes or between two "other"s.
    at = ((after != before) | (after + before == 2 * _C_OTHER)).nonzero()[0]
    starts = at[after[at] != 0]
    ends = at[before[at] != 0]
    # A separator between two digits (the first ending a word run): the number
    # rule of TOKEN_RE applies; re-cut those whitespace-delimited chunks with it.
    sep = ((raw & _C_SEP) != 0).nonzero()[0]
    if sep.size and np.count_nonzero(raw[sep - 1] & raw[sep + 1] & _C_DIGIT):
        return _number_fix(display, starts.tolist(), ends.tolist())
    return Spans.from_bounds(starts, ends)


# A digit, a number separator, a digit (\d is str.isdecimal).
_NUM_SEP_RE = re.compile(r"\d[.,\u066b\u066c]\d")


def _number_fix(display: str, starts: list[int], ends: list[int]) -> Spans:
    """Re-cut the chunks holding a digit-separator-digit with :data:`TOKEN_RE`.

    A chunk is a run of tokens with no whitespace between them; TOKEN_RE
    never matches across whitespace, so each chunk can be re-cut alone.
    """
    done = -1
    for m in _NUM_SEP_RE.finditer(display):
        if m.start() < done:
            continue
        lo = bisect.bisect_right(starts, m.start()) - 1
        while lo > 0 and ends[lo - 1] == starts[lo]:
            lo -= 1
        hi = lo + 1
        while hi < len(starts) and starts[hi] == ends[hi - 1]:
            hi += 1
        cs, ce = starts[lo], ends[hi - 1]
        spans = [t.span() for t in TOKEN_RE.finditer(display, cs, ce)]
        starts[lo:hi] = [s for s, _ in spans]
        ends[lo:hi] = [e for _, e in spans]
        done = ce
    return Spans.from_bounds(np.array(starts, dtype=np.intp), np.array(ends, dtype=np.intp))


def sentences(
    display: str, cls: npt.NDArray[np.uint16] | None = None, toks: Spans | None = None
) -> Spans:
    """Return sentence spans of ``display`` (trimmed, never empty).

    A sentence ends where :data:`SENTENCE_END_RE` matches: after a run of
    end marks and closing quotes that whitespace follows (the marks belong
    to the sentence), or before a line break.

    Args:
        display: The text.
        cls: Its :func:`classes`, if the caller already has them.
        toks: Its :func:`tokenize` spans, if the caller already has them.
    """
    sc = classes(display) if cls is None else cls
    n = sc.size - 2
    if n == 0:
        return Spans()
    end = (sc & _C_END) != 0
    # Where each run of end marks stops (text positions), then past any closers.
    after = (end[:-1] > end[1:]).nonzero()[0]
    if after.size and np.count_nonzero(sc[after + 1] & _C_CLOSER):
        not_closer = ((sc[1:] & _C_CLOSER) == 0).nonzero()[0]  # (n = the padding: the end)
        after = not_closer[not_closer.searchsorted(after)]
    # A cut where whitespace follows (the kind is 0, and it is not the padding).
    cuts = after[(sc[after + 1] & (_C_KIND | _C_PAD)) == 0]
    newlines = ((sc & _C_NEWLINE) != 0).nonzero()[0] - 1
    # Sentence i runs from where cut i-1 resumes to cut i: a mark run ends the
    # sentence after its closers, a line break just before itself.
    seg_end = np.concatenate((cuts, newlines, [n]))
    seg_next = np.concatenate((cuts, newlines + 1, [n]))
    if cuts.size and newlines.size:
        order = seg_end.argsort(kind="stable")
        seg_end = seg_end[order]
        seg_next = seg_next[order]
    seg_start = np.concatenate(([0], seg_next[:-1]))
    # Trim whitespace: the first token at or after the start, the last one
    # ending by the end.  (Every cut is at whitespace or the text's ends, and
    # tokens cover exactly the non-space characters, so this is the trim.)
    words = (tokenize(display, sc) if toks is None else toks).array
    if not words.size:
        return Spans()
    tok_starts = np.ascontiguousarray(words[:, 0])
    tok_ends = np.ascontiguousarray(words[:, 1])
    a = tok_starts.searchsorted(seg_start)
    b = tok_ends.searchsorted(seg_end, side="right") - 1
    keep = a <= b
    return Spans.from_bounds(tok_starts[a[keep]], tok_ends[b[keep]])


def script_ratio(
    display: str, cls: npt.NDArray[np.uint16] | None = None
) -> tuple[float, int]:
    """Return (share of Arabic letters among all letters, number of letters)."""
    c = classes(display) if cls is None else cls
    letters = int(np.count_nonzero(c & _C_LETTER))
    if not letters:
        return 0.0, 0
    arabic = int(np.count_nonzero(c & _C_ARABIC))
    return arabic / letters, letters
