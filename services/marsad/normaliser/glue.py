"""Glued-word repair driven by word-pair statistics learned from a news corpus.

News text often loses the space between two words (``...المتحدة`` written
straight after ``الأمم``).  A learned table says which glued forms to split:
a pair of words ``left right`` is in the table when, in the training corpus,

* the pair occurs side by side at least ``MIN_PAIR`` times,
* each word occurs at least ``MIN_PART`` times and has ``MIN_PART_LEN`` letters,
* the glued form ``leftright`` occurs fewer than ``MAX_GLUED`` times as a word
  (so it is rare or unseen: never a real word of the corpus).

At run time a word whose folded form equals such a glued form is split where
the pair splits (the most frequent pair wins if two pairs glue to the same
form).  The rule needs no list of words: requiring the pair itself to be
frequent rules out pronoun suffixes and prefixes, which are frequent words on
their own (``هما``, ``كما``) but never follow the stem as a separate word.

The table (``data/glue_pairs.tsv.gz``: ``left<TAB>right<TAB>pair_count``,
folded forms) is rebuilt reproducibly with ``marsad normaliser-lexicon``.

Almost no article holds a glued word, so the check is made cheap first:
the candidate words (or the article's tokens, which include them) are hashed
with numpy (a polynomial hash mod 2**64 over prefix sums of the letter-folded
code points) and looked up among the table's hashes; only on a hit are the
words themselves looked up in the table.
"""

from __future__ import annotations

import collections
import functools
import gzip
import itertools
import logging
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from marsad.normaliser.folding import fold, fold_table
from marsad.normaliser.tokens import _MARKS as _TOKEN_MARKS

logger = logging.getLogger(__name__)

LEXICON_FILE = "glue_pairs.tsv.gz"
MIN_PAIR = 10
MIN_PART = 50
MIN_PART_LEN = 3
MAX_GLUED = 3
# Only words this long can be two glued parts worth repairing.
MIN_WORD_LEN = 6

# A run of plain Arabic letters (hamza..ghain U+0621-063A, feh..yeh U+0641-064A).
_CANDIDATE_RE = re.compile("[\u0621-\u063a\u0641-\u064a]{" + str(MIN_WORD_LEN) + ",}")
# A candidate must be a whole word: no word character or haraka (U+064B-0652) next to it.
_WORD_CHAR_RE = re.compile("[\\w\u064b-\u0652]")
# Tokens for the pair statistics: Arabic letter runs, or any other non-space
# character (so punctuation breaks a pair).
_STAT_TOKEN_RE = re.compile("[\u0621-\u063a\u0641-\u064a]+|\\S")


@functools.cache
def load_lexicon(path: str | None = None) -> dict[str, int]:
    """Load the glued-form table (cached).

    Args:
        path: A table file; by default the one shipped with the package.

    Returns:
        Mapping folded glued form -> where to split it; empty if the file is
        missing (repair is then disabled, which is logged).
    """
    try:
        if path is None:
            raw = resources.files("marsad.normaliser").joinpath("data", LEXICON_FILE).read_bytes()
        else:
            raw = Path(path).read_bytes()
    except FileNotFoundError:
        logger.warning("glued-word table %s not found; glue repair disabled", LEXICON_FILE)
        return {}
    best: dict[str, tuple[int, int]] = {}
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        left, right, count = line.split("\t")
        glued = left + right
        n = int(count)
        if glued not in best or n > best[glued][0]:
            best[glued] = (n, len(left))
    return {glued: at for glued, (_, at) in best.items()}


# The folds that matter for plain letters: alef variants (U+0622, 0623, 0625,
# 0671) -> alef, alef maksura -> yeh, teh marbuta -> heh; one-to-one.
_LETTER_FOLD = {0x0622: 0x0627, 0x0623: 0x0627, 0x0625: 0x0627, 0x0671: 0x0627,
                0x0649: 0x064A, 0x0629: 0x0647}


def best_split(word: str, table: dict[str, int]) -> int | None:
    """Return where to split a glued ``word`` (index into ``word``), or None."""
    return table.get(word.translate(_LETTER_FOLD))


@functools.cache
def _candidate_codes() -> npt.NDArray[np.int8]:
    """Per BMP code point: 1 a candidate letter, 2 another word character, 0 else."""
    chars = [chr(cp) for cp in range(0x10000)]
    return np.array([_code(c) for c in chars], dtype=np.int8)


@functools.cache
def _odd_mark_codes() -> npt.NDArray[np.int8]:
    """Per BMP code point: 1 for a token-rule mark that is no word character.

    That is a combining mark of :data:`.tokens.TOKEN_RE` outside ``_WORD_CHAR_RE``
    (e.g. superscript alef U+0670); everything else is 0.
    """
    mark = re.compile(f"[{_TOKEN_MARKS}]")
    return np.array(
        [1 if mark.match(c) and not _WORD_CHAR_RE.match(c) else 0
         for c in map(chr, range(0x10000))],
        dtype=np.int8,
    )


def _code(ch: str) -> int:
    if _CANDIDATE_CHAR_RE.match(ch):
        return 1
    return 2 if _WORD_CHAR_RE.match(ch) else 0


# One character of _CANDIDATE_RE.
_CANDIDATE_CHAR_RE = re.compile(_CANDIDATE_RE.pattern.split("{")[0])


def candidate_spans(
    display: str, cp: npt.NDArray[np.uint32] | None = None
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Starts and ends of the words glue repair looks at.

    Runs of at least :data:`MIN_WORD_LEN` plain letters (``_CANDIDATE_RE``)
    with no word character or haraka next to them, found with numpy over the
    code points (``cp``, if the caller has them) instead of a regex scan.
    """
    if cp is None:
        cp = np.frombuffer(display.encode("utf-32-le"), dtype=np.uint32)
    n = cp.size
    g = np.zeros(n + 2, dtype=np.int8)
    if n and int(cp.max()) >= 0x10000:
        # Beyond the BMP: never a candidate letter, a word character if \w says so.
        g[1:-1] = _candidate_codes().take(cp, mode="clip")
        for i in (cp >= 0x10000).nonzero()[0].tolist():
            g[i + 1] = _code(display[i])
    else:
        g[1:-1] = _candidate_codes().take(cp)
    edges = np.diff((g == 1).view(np.int8)).nonzero()[0]  # alternating run starts and ends
    starts, ends = edges[0::2], edges[1::2]
    long = (ends - starts) >= MIN_WORD_LEN
    starts, ends = starts[long], ends[long]
    # (g is padded by one: g[s] is the character before s, g[e + 1] the one after.)
    whole = (g[starts] != 2) & (g[ends + 1] != 2)
    return starts[whole], ends[whole]


# Polynomial hashes mod 2**64 of letter-folded words: h(w) = sum(c_j * B**j).
_HASH_BASE = 0x100000001B3  # odd, so invertible mod 2**64


@functools.cache
def _hash_powers(n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """B**j and B**-j mod 2**64 for j < n."""
    inv = pow(_HASH_BASE, -1, 2**64)
    pw = np.ones(n, dtype=np.uint64)
    ipw = np.ones(n, dtype=np.uint64)
    # (uint64 products wrap around: arithmetic mod 2**64)
    np.cumprod(np.full(n - 1, _HASH_BASE, dtype=np.uint64), out=pw[1:])
    np.cumprod(np.full(n - 1, inv, dtype=np.uint64), out=ipw[1:])
    return pw, ipw


def _powers(n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    # Grown by doubling so that a few sizes serve every article.
    size = 4096
    while size < n:
        size *= 2
    return _hash_powers(size)


@functools.cache
def _letter_fold_codes() -> npt.NDArray[np.uint64]:
    """Per BMP code point: the code point after :data:`_LETTER_FOLD`."""
    codes = np.arange(0x10000, dtype=np.uint64)
    for src, dst in _LETTER_FOLD.items():
        codes[src] = dst
    return codes


@functools.cache
def _table_hashes() -> npt.NDArray[np.uint64]:
    """Sorted hashes of the shipped table's glued forms."""
    keys = list(load_lexicon())
    if not keys:
        return np.zeros(0, dtype=np.uint64)
    lengths = np.array([len(k) for k in keys])
    ends = np.cumsum(lengths)
    cp = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32)
    out = _hashes(cp, ends - lengths, ends)
    out.sort()
    return out


_BUCKET_BITS = 20


@functools.cache
def _hash_buckets() -> npt.NDArray[np.bool_]:
    """Which values of a hash's top :data:`_BUCKET_BITS` bits the table's hashes have."""
    table = np.zeros(1 << _BUCKET_BITS, dtype=np.bool_)
    table[_table_hashes() >> np.uint64(64 - _BUCKET_BITS)] = True
    return table


def _hashes(
    cp: npt.NDArray[np.uint32], starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp]
) -> npt.NDArray[np.uint64]:
    """Hashes of the letter-folded ``cp[s:e]`` for each span (candidates: BMP letters)."""
    pw, ipw = _powers(cp.size + 1)
    folded = _letter_fold_codes().take(cp, mode="clip")
    prefix = np.zeros(cp.size + 1, dtype=np.uint64)
    np.cumsum(folded * pw[: cp.size], out=prefix[1:])
    hashes: npt.NDArray[np.uint64] = (prefix[ends] - prefix[starts]) * ipw[starts]
    return hashes


def _any_known(
    cp: npt.NDArray[np.uint32], starts: npt.NDArray[Any], ends: npt.NDArray[Any]
) -> bool:
    """Whether any span's hash is one of the shipped table's (rarely a false hit)."""
    known = _table_hashes()
    if not known.size or not starts.size:
        return False
    h = _hashes(cp, starts, ends)
    # A table of the hashes' top bits first (about one word in twenty passes
    # it), then a search of the full hashes for those only.
    h = h[_hash_buckets().take(h >> np.uint64(64 - _BUCKET_BITS))]
    if not h.size:
        return False
    at = known.searchsorted(h)
    return bool(np.count_nonzero(known[np.minimum(at, known.size - 1)] == h))


def find_splits(
    display: str,
    folded: str | None = None,
    table: dict[str, int] | None = None,
    cp: npt.NDArray[np.uint32] | None = None,
    words: npt.NDArray[np.int64] | None = None,
) -> list[int]:
    """Return the display offsets where a space should be inserted.

    Args:
        display: The display text.
        folded: The display text with the default letter folds applied, if
            the caller has it and it is offset-aligned with ``display``
            (saves a pass).
        table: A glued-form table; by default the shipped one.
        cp: The code points of ``display`` as a numpy array, if the caller has them.
        words: The token spans of ``display`` (an ``(n, 2)`` array), if the
            caller has them: with the shipped table they are hashed first,
            which usually settles it without looking for candidates.
    """
    tab = load_lexicon() if table is None else table
    if not tab:
        return []
    if cp is None:
        cp = np.frombuffer(display.encode("utf-32-le"), dtype=np.uint32)
    odd_marks = _odd_mark_codes()
    if table is None and words is not None and not np.count_nonzero(
        odd_marks.take(cp, mode="clip")
    ):
        # Without a mark that is neither \w nor a haraka, every candidate is
        # a whole token, so no token hash known means no candidate known.
        starts, ends = words[:, 0], words[:, 1]
        long = (ends - starts) >= MIN_WORD_LEN
        if not _any_known(cp, starts[long], ends[long]):
            return []
    starts, ends = candidate_spans(display, cp)
    if not starts.size:
        return []
    if table is None:
        # Hashes in numpy first: almost no article has a glued word, and this
        # rules them out without building a string per candidate.
        if not _any_known(cp, starts, ends):
            return []
    elif folded is not None and len(folded) == len(display):
        if tab.keys().isdisjoint([folded[s:e] for s, e in zip(starts, ends, strict=True)]):
            return []
    else:
        # Fold only the candidates, in one C pass (plain letters: the byte fast path).
        keys = fold(" ".join([display[s:e] for s, e in zip(starts, ends, strict=True)])).split()
        if tab.keys().isdisjoint(keys):
            return []
    out: list[int] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        at = tab.get(display[s:e].translate(_LETTER_FOLD))
        if at is not None:
            out.append(s + at)
    return out


def _tokens(texts: Iterable[str]) -> Iterable[list[str]]:
    table = fold_table()
    for text in texts:
        yield _STAT_TOKEN_RE.findall(text.translate(table))


def learn_pairs(texts: Iterable[str]) -> list[tuple[str, str, int]]:
    """Learn the glued-form table from cleaned texts (two passes over ``texts``).

    Args:
        texts: A re-iterable collection of display texts.

    Returns:
        ``(left, right, pair_count)`` rows meeting the rule of this module.
    """
    words: collections.Counter[str] = collections.Counter()
    for toks in _tokens(texts):
        words.update(toks)
    pairs: collections.Counter[tuple[str, str]] = collections.Counter()
    for toks in _tokens(texts):
        for left, right in itertools.pairwise(toks):
            if (
                len(left) >= MIN_PART_LEN
                and len(right) >= MIN_PART_LEN
                and len(left) + len(right) >= MIN_WORD_LEN
                and words[left] >= MIN_PART
                and words[right] >= MIN_PART
            ):
                pairs[(left, right)] += 1
    rows = [
        (left, right, n)
        for (left, right), n in pairs.items()
        if n >= MIN_PAIR and words.get(left + right, 0) < MAX_GLUED and left[0].isalpha()
        and right[0].isalpha()
    ]
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def write_lexicon(rows: list[tuple[str, str, int]], path: Path, source: str) -> int:
    """Write the table; return how many pairs it holds."""
    lines = [
        f"# glued-word pairs learned from {source}: left, right, pair count "
        f"(pair >= {MIN_PAIR}, parts >= {MIN_PART}, glued form < {MAX_GLUED})"
    ]
    lines += [f"{left}\t{right}\t{n}" for left, right, n in rows]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    # mtime=0 keeps the file byte-identical across rebuilds.
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return len(rows)
