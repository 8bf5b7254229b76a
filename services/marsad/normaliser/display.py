"""The display view: what a reader should see, with an offset map to the original.

One compiled regex (``master``) says what to do with every stretch that needs
more than a character copy (boilerplate lines, HTML tags and entities,
whitespace runs other than a single space, invisible characters and tatweel,
space before a comma); it is only tried where such a stretch can start: at a
character of one class found by a cheap regex scan, or at a space followed by
a space or a comma-like mark (found over the code points with numpy).  A
line break between two ordinary characters is copied as it is, without an
event, and a boilerplate line is looked for at line starts only.  The text
between those stretches is copied in one piece after a 1:1 translate table
(Eastern Arabic and Persian digits -> ASCII); a piece that NFKC would change
is halved until the halves are unchanged or small, and only the changed
letter+marks segments become block runs.  The character rules live in
``data/display_chars.json`` and the boilerplate lines in ``data/boilerplate.txt``.
"""

from __future__ import annotations

import bisect
import functools
import html
import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from marsad.normaliser.folding import UNICODE_CHAR_FIX
from marsad.normaliser.offsets import MapBuilder, OffsetMap


@dataclass(frozen=True, slots=True)
class _Rules:
    """Compiled display rules."""

    master: re.Pattern[str]
    trigger: re.Pattern[str]
    pairs: tuple[str, ...]
    boilerplate: re.Pattern[str]
    digits_re: re.Pattern[str]
    digits_hint: re.Pattern[str]
    digits: dict[int, int]
    invisible: frozenset[str]
    paragraph: frozenset[str]
    block_tags: frozenset[str]
    whitespace: frozenset[str]
    not_plain: frozenset[str]
    start_tables: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]


def _data_text(name: str) -> str:
    return resources.files("marsad.normaliser").joinpath("data", name).read_text(encoding="utf-8")


def _char_class(ranges: list[list[str]]) -> str:
    return "".join(
        re.escape(chr(int(lo, 16))) + ("" if lo == hi else "-" + re.escape(chr(int(hi, 16))))
        for lo, hi, *_ in ranges
    )


@functools.cache
def load_rules() -> _Rules:
    """Load and compile the display rules (cached; call early to pay the cost at start-up)."""
    spec = json.loads(_data_text("display_chars.json"))
    invisible = _char_class(spec["invisible"])
    paragraph = "".join(re.escape(chr(int(c, 16))) for c in spec["paragraph_breaks"])
    boiler = [
        line.strip()
        for line in _data_text("boilerplate.txt").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    digits: dict[int, int] = {}
    for lo, hi, *_ in spec["digits"]:
        for i, cp in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
            digits[cp] = ord("0") + i
    boiler_alt = "|".join(f"(?:{b})" for b in boiler) or "(?!)"
    # Every branch starts with a literal or a character class, so the regex
    # engine can skip ordinary text quickly (no lookaround in first position).
    master = re.compile(
        # HTML: script/style bodies, comments, tags, entities
        r"(?P<script><(?P<stag>script|style)\b[^>]*>.*?</(?P=stag)\s*>)"
        r"|(?P<comment><!--.*?-->)"
        r"|(?P<tag></?(?P<tagname>[a-zA-Z][a-zA-Z0-9]{0,15})\b"
        r"(?:[^<>\"']|\"[^\"]*\"|'[^']*'){0,2000}/?>)"
        r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});)"
        # spaces (not line breaks) before a comma-like mark followed by a space or the end
        rf"|(?P<prepunct>(?:(?![{paragraph}])\s)+"
        r"(?=[\u060c\u061b\u061f,;!?](?:\s|\Z)))"
        # whitespace/invisible runs of two or more, or one whitespace other than a space
        rf"|(?P<space>[\s{invisible}]{{2,}}|[^\S ])"
        # a single invisible character or tatweel
        rf"|(?P<invisible>[{invisible}])",
        re.IGNORECASE | re.DOTALL,
    )
    # Where a master match can start: one character class scanned by the
    # regex engine (the alternation itself is ~10x slower to scan with); the
    # two-character starts and the line breaks next to anything but an
    # ordinary character are found over the code points (see _starts: a
    # class scan slows down threefold once a branch starts with the common
    # space).  The master regex is tried only at those positions.
    trigger = re.compile(
        rf"[<&{invisible}\t\r\f\v\u00a0\x1c-\x1f\x85\u2000-\u200a\u1680\u2028\u2029"
        r"\u202f\u205f\u3000]"
    )
    # Two spaces; a space before a comma-like mark (Arabic comma U+060C,
    # semicolon U+061B, question mark U+061F, and the ASCII ones).
    pairs = ("  ", *(" " + c for c in "\u060c\u061b\u061f,;!?"))
    boilerplate = re.compile(
        rf"^[ \t\u00a0]*(?:{boiler_alt})[ \t\u00a0]*(?:\r?\n|\Z)", re.MULTILINE
    )
    digits_re = re.compile(
        "[" + "".join(re.escape(chr(c)) for c in sorted(digits)) + "]"
    )
    # One range spanning every digit: a single-range class scans about twice
    # as fast as the exact one, which then only runs from its first hit.
    digits_hint = re.compile(f"[{re.escape(chr(min(digits)))}-{re.escape(chr(max(digits)))}]")
    inv: set[str] = set()
    for lo, hi, *_ in spec["invisible"]:
        inv.update(chr(c) for c in range(int(lo, 16), int(hi, 16) + 1))
    whitespace = frozenset(c for c in map(chr, range(0x3000 + 1)) if c.isspace())
    # Neighbours that make a line break more than a copied character:
    # separators, invisibles, and the ends of markup.
    not_plain = whitespace | frozenset(inv) | frozenset("<>&;")
    return _Rules(
        master=master,
        trigger=trigger,
        pairs=pairs,
        boilerplate=boilerplate,
        digits_re=digits_re,
        digits_hint=digits_hint,
        digits=digits,
        invisible=frozenset(inv),
        paragraph=frozenset(chr(int(c, 16)) for c in spec["paragraph_breaks"]),
        block_tags=frozenset(spec["block_tags"]),
        whitespace=whitespace,
        not_plain=not_plain,
        start_tables=_start_tables(pairs, not_plain),
    )


# Base letter plus the combining marks that follow it: the unit NFKC works on.
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
_SEGMENT_RE = re.compile(rf"(?s).[{_MARKS}]*")
_MARK_RE = re.compile(f"[{_MARKS}]")


class _Emitter:
    """Collect display pieces and their runs, keeping whitespace tidy."""

    __slots__ = ("b", "last", "pieces")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.b = MapBuilder()
        self.last = "\n"  # the start of the text behaves like after a paragraph break

    def text(self, s: str, orig_start: int, orig_len: int, block: bool = False) -> None:
        if s:
            self.pieces.append(s)
            if block:
                self.b.block(len(s), orig_start, orig_len)
            else:
                self.b.add(len(s), orig_start, orig_len)
            self.last = s[-1]

    def before_last(self) -> str:
        """The display character before the last one (a newline at the start)."""
        need = 2
        for piece in reversed(self.pieces):
            if len(piece) >= need:
                return piece[-need]
            need -= len(piece)
        return "\n"

    def drop_last_char(self) -> None:
        b = self.b
        was_copy = b._vl[-1] == b._ol[-1]
        self.pieces[-1] = self.pieces[-1][:-1]
        b._vl[-1] -= 1
        b._vpos -= 1
        if was_copy:
            b._ol[-1] -= 1
        if b._vl[-1] == 0:
            self.pieces.pop()
            b._os.pop()
            b._vl.pop()
            b._ol.pop()

    def space(self, s: str, orig_start: int, orig_len: int) -> None:
        r"""Emit a separator (" " or "\\n") unless the previous output already separates."""
        if self.last == "\n" or (self.last == " " and s == " "):
            return
        if self.last == " " and s == "\n":
            # A paragraph break right after a space: the break wins.
            self.drop_last_char()
        self.text(s, orig_start, orig_len)


# Arabic comma U+060C, semicolon U+061B, question mark U+061F, and the ASCII ones.
_COMMA_LIKE = frozenset("\u060c\u061b\u061f,;!?")


def _copy(
    em: _Emitter, text: str, start: int, end: int, rules: _Rules, stop: int | None = None
) -> None:
    """Copy ``text[start:end]`` (no structural characters inside) to the display.

    ``stop`` is where the text being cleaned ends (``end`` by default).
    """
    stop = end if stop is None else stop
    if em.last in " \n" and text[start] == " ":
        # A lone space after a separator we already emitted (or at the start).
        start += 1
        if start == end:
            return
    if (
        em.last == " "
        and text[start] in _COMMA_LIKE
        and (start + 1 == stop or text[start + 1].isspace())
        and em.before_last().isalnum()
    ):
        # A space that markup or invisibles left before a comma: dropped by
        # the same rule as a written one ("prepunct"), so that the display of
        # a display is the display itself.
        em.drop_last_char()
    chunk = text[start:end]
    if _is_plain(chunk):
        em.text(chunk, start, end - start)
        return
    _copy_mixed(em, chunk, start, rules)


def _is_plain(s: str) -> bool:
    """Whether ``s`` is left as it is by NFKC and by camel's two ligature fixes."""
    # (U+FDFC rial sign, U+FDFD bismillah ligature)
    return unicodedata.is_normalized("NFKC", s) and "\ufdfc" not in s and "\ufdfd" not in s


# Pieces shorter than this go segment by segment.
_SMALL_PIECE = 24


def _copy_mixed(em: _Emitter, chunk: str, base: int, rules: _Rules) -> None:
    """Copy a chunk that NFKC changes somewhere, one block run per changed segment.

    The chunk is halved at segment borders (before a non-mark character)
    until the halves are plain (copied whole) or small; a plain stretch
    holds only plain segments, so this gives exactly the segment-by-segment
    result while calling NFKC on a few segments only (e.g. the harakat typed
    out of canonical order in an otherwise clean article).
    """
    if len(chunk) > _SMALL_PIECE:
        mid = len(chunk) // 2
        is_mark = _MARK_RE.match
        while mid < len(chunk) and is_mark(chunk, mid):
            mid += 1
        if mid < len(chunk):
            for lo, hi in ((0, mid), (mid, len(chunk))):
                piece = chunk[lo:hi]
                if _is_plain(piece):
                    em.text(piece, base + lo, hi - lo)
                else:
                    _copy_mixed(em, piece, base + lo, rules)
            return
    for m in _SEGMENT_RE.finditer(chunk):
        seg = m.group()
        out = seg
        if not _is_plain(seg):
            out = unicodedata.normalize("NFKC", seg.translate(UNICODE_CHAR_FIX))
            out = "".join(c for c in out if c not in rules.invisible).translate(rules.digits)
            # NFKC may yield spaces (e.g. the bismillah ligature); keep them single.
            out = re.sub(r"\s+", " ", out)
            if out.startswith(" ") and em.last in " \n":
                out = out[1:]
        em.text(out, base + m.start(), len(seg), block=out != seg)


def _starts(text: str, rules: _Rules) -> tuple[list[int], list[int]]:
    """Event starts the trigger class leaves out, and the line starts.

    Returns:
        ``(starts, line_starts)``: sorted positions of a space followed by a
        space or a comma-like mark, and of a line break that is not between
        two ordinary characters (a line break between two is copied as it
        is: no event); and the positions after each line break.
    """
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    n = cp.size
    if n == 0:
        return [], []
    second, not_plain = rules.start_tables
    out = ((cp[:-1] == 0x20) & second.take(cp[1:], mode="clip")).nonzero()[0]
    breaks = (cp == 0x0A).nonzero()[0]
    if breaks.size:
        before = not_plain.take(cp[breaks - 1], mode="clip")
        after = not_plain.take(cp[np.minimum(breaks + 1, n - 1)], mode="clip")
        odd = breaks[before | after | (breaks == 0) | (breaks == n - 1)]
        if odd.size:
            out = np.sort(np.concatenate((out, odd)))
    starts: list[int] = out.tolist()
    return starts, (breaks + 1).tolist()


def _start_tables(
    pairs: tuple[str, ...], not_plain: frozenset[str]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Two tables over the BMP for :func:`_starts`.

    Whether a character completes a two-character start after a space, and
    whether it is no ordinary character next to a line break.
    """
    second = np.zeros(0x10000, dtype=np.bool_)
    for pair in pairs:
        second[ord(pair[1])] = True
    table = np.zeros(0x10000, dtype=np.bool_)
    table[[ord(c) for c in not_plain]] = True
    table[0xFFFF] = True  # (where characters beyond the BMP are clipped to)
    return second, table


def _clean(
    em: _Emitter, text: str, pos: int, stop: int, rules: _Rules, starts: list[int]
) -> None:
    """Emit the display form of ``text[pos:stop]``.

    Args:
        em: The output.
        text: The whole text.
        pos: Where to start.
        stop: Where to stop.
        rules: The display rules.
        starts: The first list of :func:`_starts` of ``text``.
    """
    search = rules.trigger.search
    match = rules.master.match
    at = pos
    k = bisect.bisect_left(starts, pos)
    while True:
        t = search(text, at, stop)
        i = stop if t is None else t.start()
        while k < len(starts) and starts[k] < at:
            k += 1
        if k < len(starts) and starts[k] < i and (starts[k] + 2 <= stop or text[starts[k]] == "\n"):
            i = starts[k]
        if i == stop:
            break
        m = match(text, i, stop)
        if m is None:
            at = i + 1
            continue
        start, end = m.span()
        kind = m.lastgroup
        if kind == "space" and start > pos and text[start - 1] == " ":
            # The trigger was the second character of the run.
            start -= 1
        at = end
        if start > pos:
            _copy(em, text, pos, start, rules, stop)
        if kind == "space":
            s = text[start:end]
            if not rules.whitespace.isdisjoint(s):
                sep = " " if rules.paragraph.isdisjoint(s) else "\n"
                em.space(sep, start, end - start)
            # else: only invisible characters, dropped
        elif kind == "prepunct":
            if start == 0 or not text[start - 1].isalnum():
                em.space(" ", start, end - start)
        elif kind == "tag":
            if (m.group("tagname") or "").lower() in rules.block_tags:
                em.space("\n", start, end - start)
        elif kind == "script" or kind == "comment":
            em.space(" ", start, end - start)
        elif kind == "entity":
            value = html.unescape(m.group())
            if value.isspace():
                em.space("\n" if value in rules.paragraph else " ", start, end - start)
            elif value not in rules.invisible:
                value = unicodedata.normalize("NFKC", value.translate(UNICODE_CHAR_FIX))
                em.text(value.translate(rules.digits), start, end - start, block=True)
        # "invisible": dropped
        pos = end
    if pos < stop:
        _copy(em, text, pos, stop, rules, stop)


def build_display(text: str) -> tuple[str, OffsetMap]:
    r"""Return the display text of ``text`` and its map back to ``text``.

    Args:
        text: The original article text (or title) as the publisher wrote it.

    Returns:
        ``(display, map)``; ``display`` has no leading/trailing whitespace,
        single spaces between words and ``\\n`` between paragraphs.
    """
    display, dmap = _display_once(text)
    # Removing markup can bring the ends of a new tag or entity together
    # ("<A<b>>" leaves "<A>", "&amp;lt;" leaves "&lt;"), and removing an
    # invisible character between two marks can leave them out of canonical
    # order; clean again until nothing changes, so the display text of a
    # display text is itself.
    for _ in range(_MAX_MARKUP_PASSES):
        if "<" not in display and "&" not in display and unicodedata.is_normalized(
            "NFKC", display
        ):
            break
        again, amap = _display_once(display)
        if again == display:
            break
        display, dmap = again, amap.compose(dmap)
    return display, dmap


# Markup nested deeper than this is left as it is after the last pass.
_MAX_MARKUP_PASSES = 4


def _display_once(text: str) -> tuple[str, OffsetMap]:
    """One cleaning pass of :func:`build_display`."""
    rules = load_rules()
    hint = rules.digits_hint.search(text)
    if hint is not None and rules.digits_re.search(text, hint.start()) is not None:
        # One-to-one, so every offset stays valid.
        text = text.translate(rules.digits)
    em = _Emitter()
    pos = 0
    starts, line_starts = _starts(text, rules)
    if _has_boilerplate(text, rules.boilerplate, line_starts):
        for m in rules.boilerplate.finditer(text):
            _clean(em, text, pos, m.start(), rules, starts)
            em.space("\n", m.start(), m.end() - m.start())
            pos = m.end()
    _clean(em, text, pos, len(text), rules, starts)
    display = "".join(em.pieces)
    stripped = display.rstrip()
    if len(stripped) != len(display):
        # Trailing separators are never content.
        return stripped, _truncate(em.b.build(), len(stripped))
    return display, em.b.build()


def _has_boilerplate(
    text: str, boilerplate: re.Pattern[str], line_starts: list[int]
) -> bool:
    """Whether a boilerplate line occurs: the pattern tried at each line start only.

    Same answer as ``boilerplate.search(text)`` (every branch starts with ``^``),
    in a third of the time.
    """
    match = boilerplate.match
    if match(text, 0) is not None:
        return True
    return any(match(text, i) is not None for i in line_starts)


def _truncate(m: OffsetMap, length: int) -> OffsetMap:
    """Cut a map down to its first ``length`` view characters."""
    b = MapBuilder()
    for vs, os_, vl, ol in m.runs():
        if vs >= length:
            break
        if vs + vl <= length:
            b.add(vl, os_, ol)
        elif vl == ol:
            b.add(length - vs, os_, length - vs)
        else:
            b.add(length - vs, os_, ol)
    return b.build()
