"""Folded view of an article: tokens with clitic-stripped keys and offsets into the original.

The rules match on a folded, dediacritised copy of the text (so قُتِلَ and
قتل look the same) but every finding must point into the text the caller
gave.  :class:`Doc` keeps both and maps folded offsets back.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import accumulate, pairwise, repeat
from operator import itemgetter

# One-to-one folds keep string length, so most articles (no harakat) need no offset map.
_FOLD_1TO1 = str.maketrans(
    {
        "\u0622": "\u0627",  # ALEF WITH MADDA ABOVE -> ALEF
        "\u0623": "\u0627",  # ALEF WITH HAMZA ABOVE -> ALEF
        "\u0625": "\u0627",  # ALEF WITH HAMZA BELOW -> ALEF
        "\u0671": "\u0627",  # ALEF WASLA -> ALEF
        "\u0649": "\u064a",  # ALEF MAKSURA -> YEH
        "\u0629": "\u0647",  # TEH MARBUTA -> HEH
        "\u06cc": "\u064a",  # FARSI YEH -> YEH
        "\u06a9": "\u0643",  # KEHEH -> KAF
        "\u066b": ".",  # ARABIC DECIMAL SEPARATOR
        "\u066c": ",",  # ARABIC THOUSANDS SEPARATOR
        **{chr(0x0660 + d): str(d) for d in range(10)},  # ARABIC-INDIC DIGITS
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # EXTENDED ARABIC-INDIC (Persian) DIGITS
    }
)
# Characters dropped by folding: harakat FATHATAN..SUKUN, SUPERSCRIPT ALEF, TATWEEL, invisibles.
_DROP = "\u064b-\u065f\u0670\u0640\u200b-\u200f"
_DROP_RE = re.compile(f"[{_DROP}]")
_KEEP_RE = re.compile(f"[^{_DROP}]+")
# Numbers with decimal or thousands separators stay one token; letters and digits split.
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|[^\w\s]")
_TOKEN_SPLIT_RE = re.compile(f"({_TOKEN_RE.pattern})")
# Sentence ends: . ! ? ARABIC QUESTION MARK (\u061f), ARABIC FULL STOP (\u06d4), newline.
_SENT_END = re.compile(r"[.!?\u061f\u06d4\n]+")

ALEF_LAM = "\u0627\u0644"  # ALEF LAM: the article al-
WAW, FEH = "\u0648", "\u0641"  # conjunctions wa-, fa-
BEH, LAM, KAF = "\u0628", "\u0644", "\u0643"  # prepositions bi-, li-, ka-
SEEN = "\u0633"  # future prefix sa-


# The same folds as (old, new) pairs: a few str.replace calls over the text are ~20 times
# faster than str.translate with a dict table on Arabic text (measured, 1,500 ANT articles).
_FOLD_PAIRS = tuple((chr(k), v) for k, v in _FOLD_1TO1.items() if isinstance(v, str))
# Lookup keys and lexicon mask of every word seen, shared by all documents; cleared when
# it grows past this.  One dictionary for both: on a busy machine a lookup in a large
# dictionary costs about as much as the rest of a token's handling (memory, not hashing),
# so each token is looked up once.
_KEYS_MAX = 200_000
_ENTRIES: dict[str, tuple[tuple[str, ...], int]] = {}


def fold_1to1(s: str) -> str:
    """Apply the one-to-one folds only (the length of ``s`` is kept)."""
    for old, new in _FOLD_PAIRS:
        if old in s:
            s = s.replace(old, new)
    return s


def fold(s: str) -> str:
    """Fold spelling variants and drop harakat/tatweel (lengths may change)."""
    return _DROP_RE.sub("", fold_1to1(s))


def entries_of(forms: list[str]) -> list[tuple[tuple[str, ...], int]]:
    """:func:`keys` and :func:`~marsad.extractor.facts.scan.form_mask` of many tokens.

    Through one shared dictionary (most words were seen before); the mask
    says which finders' lexicons know the word.
    """
    cache = _ENTRIES
    out = list(map(cache.get, forms))
    if None in out:
        # Imported here: scan builds on this module (and reads the lexicons on first use).
        from marsad.extractor.facts.scan import form_mask

        if len(cache) > _KEYS_MAX:
            cache.clear()
        for n, f in enumerate(forms):
            if out[n] is None:
                out[n] = cache[f] = (keys(f), form_mask(f))
    return out  # type: ignore[return-value]  # every None was replaced


def keys_of(forms: list[str]) -> list[tuple[str, ...]]:
    """:func:`keys` of many tokens through one dictionary (most words were seen before)."""
    return list(map(itemgetter(0), entries_of(forms)))


@lru_cache(maxsize=131072)
def keys(form: str) -> tuple[str, ...]:
    """Lookup keys of a folded token: as is, without و/ف, without ب/ل/ك, without ال.

    Longest first, so the exact form wins over a stripped reading.
    """
    out = [form]
    base = form
    if len(base) > 2 and base[0] in (WAW, FEH):
        base = base[1:]
        out.append(base)
    if len(base) > 3 and base[0] in (BEH, LAM, KAF):
        if base[0] == LAM and base[1] == LAM:  # li- + al- is written lam-lam
            out.append(ALEF_LAM + base[2:])
            out.append(base[2:])
            return tuple(out)
        base = base[1:]
        out.append(base)
    if len(base) > 3 and base.startswith(ALEF_LAM):
        out.append(base[2:])
    return tuple(out)


def without_article(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Keys of a token minus the reading without ال (verbs never take it: التابع is not تابع)."""
    if len(keys) > 1 and keys[-2].startswith(ALEF_LAM) and keys[-1] == keys[-2][2:]:
        return keys[:-1]
    return keys


@dataclass(slots=True)
class Token:
    """A token of the folded text.

    Attributes:
        start: Offset into the original text.
        end: Offset one past the token in the original text.
        form: The folded token.
        keys: Clitic-stripped lookup keys (see :func:`keys`).
        sent: Index of the sentence the token belongs to.
    """

    start: int
    end: int
    form: str
    keys: tuple[str, ...]
    sent: int


@dataclass(slots=True)
class Doc:
    """Original text, tokens and sentences of one article.

    ``starts``, ``ends`` and ``forms`` repeat the tokens' fields as plain lists
    for bisection and whole-document scans; ``masks`` (see
    :func:`marsad.extractor.facts.scan.mark`) is filled by :func:`make_doc`.
    """

    text: str
    tokens: list[Token]
    sentences: list[tuple[int, int]]
    sent_tokens: list[tuple[int, int]] = field(default_factory=list)
    masks: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)

    def span_text(self, start: int, end: int) -> str:
        """Return ``text[start:end]``."""
        return self.text[start:end]

    def is_digit(self, i: int) -> bool:
        """Whether token ``i`` is a number in digits."""
        return 0 <= i < len(self.tokens) and self.tokens[i].form[:1].isdigit()


def make_doc(text: str, sentences: Sequence[tuple[int, int]] | None = None) -> Doc:
    """Fold ``text``, tokenise it and assign tokens to sentences.

    Args:
        text: The display text.
        sentences: ``(start, end)`` sentence spans into ``text``; split on
            sentence punctuation when ``None``.
    """
    folded = fold_1to1(text)
    index: list[int] | None = None
    if _DROP_RE.search(folded):
        parts: list[str] = []
        index = []
        for m in _KEEP_RE.finditer(folded):
            parts.append(m.group())
            index.extend(range(m.start(), m.end()))
        folded = "".join(parts)
        index.append(len(text))
    if sentences is None:
        sentences = split_sentences(text)
    sents = sorted((int(s), int(e)) for s, e in sentences) or [(0, len(text))]
    # split() with a capturing group alternates gaps and tokens; running sums of their
    # lengths give every token's offsets without a Python call per token.
    parts = _TOKEN_SPLIT_RE.split(folded)
    offs = list(accumulate(map(len, parts), initial=0))
    forms = parts[1::2]
    starts = offs[1:-1:2]
    ends = offs[2::2]
    if index is not None:
        starts = [index[k] for k in starts]
        ends = [index[k - 1] + 1 for k in ends]
    # The last sentence runs to the end whatever its stated end (a sentinel saves a min()).
    sent_ends = [e for _, e in sents[:-1]] + [len(text) + 1]
    ranges: list[tuple[int, int]] = []
    if all(a <= b for a, b in pairwise(sent_ends)):
        # Sorted sentence ends (the normal case): token k is in sentence s when
        # end[s-1] <= start[k] < end[s], so each sentence's tokens are one bisection away.
        sent_idx: list[int] = []
        i = 0
        for s, e in enumerate(sent_ends):
            j = bisect_left(starts, e, i)
            ranges.append((i, j))
            sent_idx += repeat(s, j - i)
            i = j
    else:
        sent_idx = list(map(partial(bisect_right, sent_ends), starts))
        i = 0
        for s in range(len(sents)):
            j = i
            while j < len(sent_idx) and sent_idx[j] == s:
                j += 1
            ranges.append((i, j))
            i = j
    entries = entries_of(forms)
    tokens = list(map(Token, starts, ends, forms, map(itemgetter(0), entries), sent_idx))
    masks = list(map(itemgetter(1), entries))
    return Doc(text, tokens, list(sents), ranges, masks, starts, ends, forms)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Split on . ! ? ؟ and newlines (a fallback when the normaliser gives no sentences)."""
    out: list[tuple[int, int]] = []
    start = 0
    for m in _SENT_END.finditer(text):
        # A dot between digits is a decimal point, not a sentence end.
        if m.group() == "." and 0 < m.start() < len(text) - 1 and text[m.start() - 1].isdigit() \
                and text[m.end()].isdigit():
            continue
        if m.end() > start:
            out.append((start, m.end()))
        start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return out
