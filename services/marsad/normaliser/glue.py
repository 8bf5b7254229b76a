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

from marsad.normaliser.folding import fold, fold_table

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


def find_splits(
    display: str, folded: str | None = None, table: dict[str, int] | None = None
) -> list[int]:
    """Return the display offsets where a space should be inserted.

    Args:
        display: The display text.
        folded: The display text with the default letter folds applied, if
            the caller has it and it is offset-aligned with ``display``
            (saves a pass).
        table: A glued-form table; by default the shipped one.
    """
    tab = load_lexicon() if table is None else table
    if not tab:
        return []
    if folded is not None and len(folded) == len(display):
        keys = _CANDIDATE_RE.findall(folded)
    else:
        # Fold only the candidates, in one C pass (plain letters: the byte fast path).
        keys = fold(" ".join(_CANDIDATE_RE.findall(display))).split(" ")
    # Set intersection in C first: almost no article has a glued word.
    if tab.keys().isdisjoint(keys):
        return []
    out: list[int] = []
    for m in _CANDIDATE_RE.finditer(display):
        at = tab.get(m.group().translate(_LETTER_FOLD))
        if at is None:
            continue
        s, e = m.span()
        if (s and _WORD_CHAR_RE.match(display, s - 1)) or _WORD_CHAR_RE.match(display, e):
            continue
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
