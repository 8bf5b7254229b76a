"""The matching-text fold: camel-tools' cleaning chain as one translate table.

The reference chain is ``normalize_unicode`` (NFKC plus two ligature fixes),
``CharMapper.builtin_mapper('arclean')``, ``dediac_ar``,
``normalize_alef_ar``, ``normalize_alef_maksura_ar`` and
``normalize_teh_marbuta_ar``.  After NFKC every later step is a per-character
map or deletion, so they compose into a single ``str.translate`` table built
from camel's own ``arclean_map.json`` (so the two cannot drift apart): two C
passes instead of a Python loop per character.  NFKC itself runs only when
``unicodedata.is_normalized`` says it changes something, and text written in
Windows-1256 characters (nearly all Arabic news) folds as bytes: encode,
``bytes.translate``, decode.  :func:`fold_with_map` uses the same bytes to
see whether every character folds in place (no map needed) or only harakat
and other stand-alone characters are deleted (a map of copy runs, computed
with numpy from the deletion mask).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from marsad.normaliser.offsets import MapBuilder, OffsetMap

# camel's _UNICODE_CHAR_FIX, applied before NFKC: U+FDFC RIAL SIGN and
# U+FDFD BISMILLAH ligature spelled out (NFKC leaves both as they are).
UNICODE_CHAR_FIX: dict[int, str] = {
    0xFDFC: "\u0631\u064a\u0627\u0644",  # reh yeh alef lam
    0xFDFD: (
        "\u0628\u0633\u0645 \u0627\u0644\u0644\u0647 "  # bism allah
        # al-rahman al-rahim
        "\u0627\u0644\u0631\u062d\u0645\u0646 \u0627\u0644\u0631\u062d\u064a\u0645"
    ),
}
_CHAR_FIX_RE = re.compile("[\ufdfc\ufdfd]")  # rial sign, bismillah ligature

# dediac_ar's set: fathatan..sukun (U+064B-0652) and superscript alef (U+0670).
AR_DIACRITICS: frozenset[str] = frozenset(
    [chr(c) for c in range(0x064B, 0x0653)] + ["\u0670"]
)
# normalize_alef_ar: alef with hamza below/above, alef wasla, alef madda -> bare alef.
_ALEF_VARIANTS = "\u0625\u0623\u0671\u0622"
_ALEF = "\u0627"
_ALEF_MAKSURA, _YEH = "\u0649", "\u064a"
_TEH_MARBUTA, _HEH = "\u0629", "\u0647"


class _DeleteUnknown(dict[int, Any]):
    """Translate table whose unlisted characters are deleted (arclean's default '')."""

    def __missing__(self, key: int) -> None:
        # Cache the miss so each unknown character costs one Python call per run.
        self[key] = None
        return None


def _expand_key(key: str) -> list[str]:
    """Expand an arclean map key: a single character or a ``a-b`` range."""
    if len(key) == 3 and key[1] == "-":
        return [chr(c) for c in range(ord(key[0]), ord(key[2]) + 1)]
    return [key]


@functools.cache
def _arclean_map() -> dict[str, str | None]:
    """Load camel-tools' arclean character map (None = keep the character)."""
    ref = resources.files("camel_tools.utils").joinpath("charmaps/arclean_map.json")
    data = json.loads(ref.read_text(encoding="utf-8"))
    out: dict[str, str | None] = {}
    for key, value in data["charMap"].items():
        for ch in _expand_key(key):
            out[ch] = value
    return out


def _post(s: str, alef: bool, alef_maksura: bool, teh_marbuta: bool, dediac: bool) -> str:
    """Apply the per-character steps that follow arclean in the camel chain."""
    if dediac:
        s = "".join(c for c in s if c not in AR_DIACRITICS)
    if alef:
        s = "".join(_ALEF if c in _ALEF_VARIANTS else c for c in s)
    if alef_maksura:
        s = s.replace(_ALEF_MAKSURA, _YEH)
    if teh_marbuta:
        s = s.replace(_TEH_MARBUTA, _HEH)
    return s


@functools.cache
def fold_table(
    alef: bool = True, alef_maksura: bool = True, teh_marbuta: bool = True, dediac: bool = True
) -> dict[int, Any]:
    """Return the translate table equal to arclean followed by the chosen folds.

    Without ``dediac`` the Arabic diacritics (which arclean itself deletes)
    are kept, so a profile can opt out of diacritic removal entirely.
    """
    table: dict[int, Any] = _DeleteUnknown()
    for ch, value in _arclean_map().items():
        keep = value is None or (not dediac and ch in AR_DIACRITICS)
        out = ch if keep else str(value)
        out = _post(out, alef, alef_maksura, teh_marbuta, dediac)
        table[ord(ch)] = None if out == "" else (ord(out) if len(out) == 1 else out)
    return table


@functools.cache
def _safe_class(
    alef: bool = True, alef_maksura: bool = True, teh_marbuta: bool = True, dediac: bool = True
) -> re.Pattern[str]:
    """Regex of runs of characters the fold maps one-to-one with NFKC leaving them alone.

    Everything else (deleted, expanded, NFKC-changed or combining characters)
    takes the slow, per-segment path that records block runs.
    """
    table = fold_table(alef, alef_maksura, teh_marbuta, dediac)
    safe = []
    # Only Windows-1256 characters (what Arabic news is written in): a plain
    # list of ~200 characters scans much faster than a class of Unicode ranges,
    # and anything else simply takes the slow path.
    for b in range(256):
        try:
            ch = bytes([b]).decode(_CODEPAGE)
        except UnicodeDecodeError:
            continue
        value = table[ord(ch)]
        if value is None or (isinstance(value, str) and len(value) != 1):
            continue
        if unicodedata.combining(ch) or unicodedata.category(ch).startswith("M"):
            continue
        if unicodedata.normalize("NFKC", ch) != ch:
            continue
        safe.append(ch)
    return re.compile("[^" + "".join(re.escape(c) for c in safe) + "]+")


@dataclass(frozen=True, slots=True)
class _ByteFold:
    """The fold table recast as a Windows-1256 byte table (see :func:`fold`)."""

    table: bytes  # 256-byte translate table
    delete: bytes  # bytes the fold deletes
    multi: bytes  # bytes whose fold is several characters (the character table does those)
    safe: bytes  # bytes :func:`fold_with_map` keeps in place (see :func:`_safe_class`)
    simple_delete: bytes  # bytes it may just drop (see :func:`_deletable_class`)


# Windows-1256 encodes ASCII, the Arabic letters, harakat, tatweel, the Arabic
# punctuation, common Latin-1 letters and the bidi/zero-width controls in one
# byte each, which lets the fold run as encode + bytes.translate + decode.
_CODEPAGE = "cp1256"


def _codepage_bytes(pattern: re.Pattern[str], negated: bool) -> bytes:
    """The code-page bytes whose character ``pattern`` matches (or, if negated, does not)."""
    out = bytearray()
    for b in range(256):
        try:
            ch = bytes([b]).decode(_CODEPAGE)
        except UnicodeDecodeError:
            continue
        if (pattern.fullmatch(ch) is None) == negated:
            out.append(b)
    return bytes(out)


@functools.cache
def _byte_fold(
    alef: bool = True, alef_maksura: bool = True, teh_marbuta: bool = True, dediac: bool = True
) -> _ByteFold:
    """Build the byte-level form of :func:`fold_table` for one set of folds."""
    flags = (alef, alef_maksura, teh_marbuta, dediac)
    table = fold_table(*flags)
    out_table = bytearray(range(256))
    delete = bytearray()
    multi = bytearray()
    for b in range(256):
        try:
            ch = bytes([b]).decode(_CODEPAGE)
        except UnicodeDecodeError:
            continue  # never produced by encode()
        out = ch.translate(table)
        if out == "":
            delete.append(b)
            continue
        try:
            if len(out) != 1:
                raise UnicodeEncodeError(_CODEPAGE, out, 0, len(out), "expands")
            out_table[b] = out.encode(_CODEPAGE)[0]
        except UnicodeEncodeError:
            multi.append(b)
    return _ByteFold(
        table=bytes(out_table),
        delete=bytes(delete),
        multi=bytes(multi),
        safe=_codepage_bytes(_safe_class(*flags), negated=True),
        simple_delete=_codepage_bytes(_deletable_class(*flags), negated=False),
    )


def _encode(text: str, bf: _ByteFold) -> bytes | None:
    """The code-page bytes of ``text`` if the byte table can fold it, else None."""
    try:
        enc = text.encode(_CODEPAGE)
    except UnicodeEncodeError:
        # A character outside the code page (Persian yeh, arrows, Latin
        # letters cp1256 lacks): the plain table, slower but exact.
        return None
    for b in bf.multi:
        if b in enc:
            return None
    return enc


def fold(text: str, alef: bool = True, alef_maksura: bool = True, teh_marbuta: bool = True,
         dediac: bool = True) -> str:
    """Return the matching form of ``text`` (equal to the camel-tools chain by construction).

    NFKC, then the fold table.  Text made only of Windows-1256 characters (all
    but a few percent of Arabic news articles) goes through a byte table:
    encode, ``bytes.translate``, decode, all in C.  Other text uses the
    character table directly.
    """
    if "\ufdfc" in text or "\ufdfd" in text:  # rial sign / bismillah ligature
        text = text.translate(UNICODE_CHAR_FIX)
    if not unicodedata.is_normalized("NFKC", text):
        # (the check alone is ~8x cheaper than normalize() on clean Arabic text)
        text = unicodedata.normalize("NFKC", text)
    bf = _byte_fold(alef, alef_maksura, teh_marbuta, dediac)
    enc = _encode(text, bf)
    if enc is None:
        return text.translate(fold_table(alef, alef_maksura, teh_marbuta, dediac))
    return enc.translate(bf.table, bf.delete).decode(_CODEPAGE)


@functools.cache
def _composition_seconds() -> frozenset[int]:
    """Code points that canonical composition can merge into a preceding character."""
    out = set()
    for cp in range(0x10000):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                out.add(int(parts[1], 16))
    return frozenset(out)


@functools.cache
def _deletable_class(
    alef: bool = True, alef_maksura: bool = True, teh_marbuta: bool = True, dediac: bool = True
) -> re.Pattern[str]:
    """Regex of runs the fold simply deletes, independently of their neighbours.

    Harakat are the common case: a run of them can be dropped from the map
    without re-folding the letter before it, because NFKC never merges them
    into that letter.
    """
    table = fold_table(alef, alef_maksura, teh_marbuta, dediac)
    seconds = _composition_seconds()
    dels = [
        re.escape(chr(cp))
        for cp in range(0x10000)
        if not 0xD800 <= cp < 0xE000
        and table[cp] is None
        and cp not in seconds
        and unicodedata.normalize("NFKC", chr(cp)) == chr(cp)
    ]
    return re.compile("[" + "".join(dels) + "]+")


def _deletion_map(enc: bytes, keep: bytes) -> OffsetMap:
    """The map of ``enc`` with every byte not in ``keep`` deleted: copy runs between."""
    kept = np.zeros(len(enc) + 2, dtype=np.int8)
    kept[1:-1] = _membership(keep).take(np.frombuffer(enc, dtype=np.uint8))
    edges = (kept[1:] != kept[:-1]).nonzero()[0]  # alternating starts and ends of kept runs
    starts, ends = edges[0::2], edges[1::2]
    if not starts.size:
        return OffsetMap()  # everything deleted
    lengths = ends - starts
    view_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return OffsetMap.from_arrays(view_starts, starts, lengths, lengths)


@functools.cache
def _membership(members: bytes) -> npt.NDArray[np.int8]:
    """A 256-entry 0/1 table: which bytes are ``members``."""
    table = np.zeros(256, dtype=np.int8)
    table[list(members)] = 1
    return table


def fold_with_map(
    text: str, alef: bool = True, alef_maksura: bool = True, teh_marbuta: bool = True,
    dediac: bool = True,
) -> tuple[str, OffsetMap | None]:
    """Fold ``text`` and return the map from the folded text back to ``text``.

    Returns:
        ``(folded, map)``; ``map`` is None when the fold kept every character
        in place (the folded text is then offset-compatible with ``text``).
    """
    flags = (alef, alef_maksura, teh_marbuta, dediac)
    bf = _byte_fold(*flags)
    enc = None
    if "\ufdfc" not in text and "\ufdfd" not in text and unicodedata.is_normalized("NFKC", text):
        enc = _encode(text, bf)
    if enc is not None:
        # Byte fast path: one byte per character, so byte offsets are offsets.
        folded = enc.translate(bf.table, bf.delete).decode(_CODEPAGE)
        rest = enc.translate(None, bf.safe)
        if not rest:
            return folded, None  # every character folds in place
        if not rest.translate(None, bf.simple_delete):
            # Only stand-alone deletions (e.g. harakat): copy runs between them.
            return folded, _deletion_map(enc, bf.safe)
    unsafe = _safe_class(*flags)
    if unsafe.search(text) is None:
        # Every character folds one-to-one: same offsets, and fold() is the fast way.
        return fold(text, *flags), None
    runs = [m.span() for m in unsafe.finditer(text)]
    deletable = _deletable_class(*flags)
    if all(deletable.fullmatch(text, s, e) for s, e in runs):
        # Only deletions (e.g. harakat): one fold of the whole text, and copy
        # runs between the deleted stretches.
        b = MapBuilder()
        pos = 0
        for s, e in runs:
            b.add(s - pos, pos, s - pos)
            pos = e
        b.add(len(text) - pos, pos, len(text) - pos)
        return fold(text, *flags), b.build()
    pieces: list[str] = []
    b = MapBuilder()
    pos = 0
    for m in unsafe.finditer(text):
        start = m.start()
        # The character before an unsafe stretch may compose with it under
        # NFKC (alef + combining hamza -> one letter), so fold them together.
        if start > pos:
            chunk = text[pos : start - 1]
            if chunk:
                pieces.append(fold(chunk, *flags))
                b.add(len(chunk), pos, len(chunk))
            seg_start = start - 1
        else:
            seg_start = start
        seg = text[seg_start : m.end()]
        out = fold(seg, *flags)
        pieces.append(out)
        b.block(len(out), seg_start, len(seg))
        pos = m.end()
    if pos < len(text):
        chunk = text[pos:]
        pieces.append(fold(chunk, *flags))
        b.add(len(chunk), pos, len(chunk))
    return "".join(pieces), b.build()
