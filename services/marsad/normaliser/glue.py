"""Glued-word repair driven by a frequency lexicon learned from a news corpus.

News text often loses the space between two words (``...المتحدة`` written
straight after ``الأمم``).  The rule is deliberately conservative: an Arabic
word is split in two only when

* its folded form is *not* in the lexicon (seen fewer than ``MIN_COUNT``
  times in the corpus, i.e. rare or unseen as a whole), and
* both parts are frequent words on their own (each at least ``MIN_PART``
  occurrences and ``MIN_PART_LEN`` letters), and
* the best split (the one whose rarer part is the most frequent) is used.

The lexicon (``data/glue_lexicon.tsv.gz``: ``folded_word<TAB>count``, the
words seen at least ``MIN_COUNT`` times) is rebuilt reproducibly with
``marsad normaliser-lexicon``; nothing in it is specific to any article.
"""

from __future__ import annotations

import collections
import functools
import gzip
import logging
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from marsad.normaliser.folding import fold_table

logger = logging.getLogger(__name__)

LEXICON_FILE = "glue_lexicon.tsv.gz"
# A word seen this often is a real word, never split; rarer words are not stored.
MIN_COUNT = 5
# Each part of a split must be at least this frequent and this long.
MIN_PART = 300
MIN_PART_LEN = 3
# Only words at least this long are candidates (two parts of MIN_PART_LEN).
MIN_WORD_LEN = 2 * MIN_PART_LEN

# Runs of plain Arabic letters (hamza..ghain U+0621-063A, feh..yeh U+0641-064A);
# a word with diacritics or digits is never a candidate.
_ARABIC_WORD_RE = re.compile(f"[\u0621-\u063a\u0641-\u064a]{{{MIN_WORD_LEN},}}")
_WORD_RE = re.compile("[\u0621-\u063a\u0641-\u064a]+")


def _key(word: str) -> str:
    """The lexicon key of a word: its default fold (alef, maksura, teh marbuta)."""
    return word.translate(fold_table())


@functools.cache
def load_lexicon(path: str | None = None) -> dict[str, int]:
    """Load the glued-word lexicon (cached).

    Args:
        path: A lexicon file; by default the one shipped with the package.

    Returns:
        Mapping folded word -> corpus count; empty if the file is missing
        (repair is then disabled, which is logged).
    """
    try:
        if path is None:
            raw = resources.files("marsad.normaliser").joinpath("data", LEXICON_FILE).read_bytes()
        else:
            raw = Path(path).read_bytes()
    except FileNotFoundError:
        logger.warning("glued-word lexicon %s not found; glue repair disabled", LEXICON_FILE)
        return {}
    lex: dict[str, int] = {}
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        word, _, count = line.partition("\t")
        lex[word] = int(count)
    return lex


def best_split(word: str, lexicon: dict[str, int]) -> int | None:
    """Return where to split a glued ``word`` (index into ``word``), or None.

    Args:
        word: A run of Arabic letters.
        lexicon: Folded word -> count.
    """
    key = _key(word)
    if len(key) != len(word) or key in lexicon:
        return None
    best: tuple[int, int] | None = None
    for i in range(MIN_PART_LEN, len(key) - MIN_PART_LEN + 1):
        left = lexicon.get(key[:i], 0)
        if left < MIN_PART:
            continue
        right = lexicon.get(key[i:], 0)
        if right < MIN_PART:
            continue
        score = min(left, right)
        if best is None or score > best[0]:
            best = (score, i)
    return None if best is None else best[1]


def find_splits(display: str, lexicon: dict[str, int] | None = None) -> list[int]:
    """Return the display offsets where a space should be inserted."""
    lex = load_lexicon() if lexicon is None else lexicon
    if not lex:
        return []
    out: list[int] = []
    for m in _ARABIC_WORD_RE.finditer(display):
        i = best_split(m.group(), lex)
        if i is not None:
            out.append(m.start() + i)
    return out


def count_words(texts: Iterable[str]) -> collections.Counter[str]:
    """Count folded Arabic words in already-cleaned texts."""
    counts: collections.Counter[str] = collections.Counter()
    table = fold_table()
    for text in texts:
        counts.update(_WORD_RE.findall(text.translate(table)))
    return counts


def write_lexicon(counts: collections.Counter[str], path: Path, source: str) -> int:
    """Write the words seen at least ``MIN_COUNT`` times; return how many."""
    words = sorted(
        ((w, c) for w, c in counts.items() if c >= MIN_COUNT), key=lambda wc: (-wc[1], wc[0])
    )
    lines = [f"# glued-word lexicon: folded word, count (>= {MIN_COUNT}) in {source}"]
    lines += [f"{w}\t{c}" for w, c in words]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    # mtime=0 keeps the file byte-identical across rebuilds.
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return len(words)
