"""Arabic text helpers for NER: folding, clitic stripping, tokens and sentences.

Everything here is pure string work with no data files, so it is cheap to
import and safe to call from the feature extractor's hot loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

# Folding table: it merges the spelling variants Arabic news writers use
# interchangeably, so the feature and lookup keys do not depend on them.
_FOLD = str.maketrans(
    {
        "\u0622": "\u0627",  # ALEF WITH MADDA ABOVE -> ALEF
        "\u0623": "\u0627",  # ALEF WITH HAMZA ABOVE -> ALEF
        "\u0625": "\u0627",  # ALEF WITH HAMZA BELOW -> ALEF
        "\u0671": "\u0627",  # ALEF WASLA -> ALEF
        "\u0649": "\u064a",  # ALEF MAKSURA -> YEH
        "\u0629": "\u0647",  # TEH MARBUTA -> HEH
        "\u06a9": "\u0643",  # KEHEH (Persian kaf) -> KAF
        "\u06cc": "\u064a",  # FARSI YEH -> YEH
        "\u0640": None,  # TATWEEL (kashida) is decoration
        "\u200c": None,  # ZERO WIDTH NON-JOINER
        "\u200d": None,  # ZERO WIDTH JOINER
        "\u200e": None,  # LEFT-TO-RIGHT MARK
        "\u200f": None,  # RIGHT-TO-LEFT MARK
        **{chr(c): None for c in range(0x064B, 0x0653)},  # FATHATAN .. MADDAH ABOVE (harakat)
        "\u0670": None,  # SUPERSCRIPT ALEF
        **{chr(0x0660 + d): str(d) for d in range(10)},  # ARABIC-INDIC DIGITS -> ASCII
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # EXTENDED ARABIC-INDIC DIGITS
    }
)

ALEF = "\u0627"  # ARABIC LETTER ALEF
LAM = "\u0644"  # ARABIC LETTER LAM
AL = ALEF + LAM  # definite article al-
# Conjunctions wa- and fa- come first, then one of the prepositions bi-, li-, ka-.
_CONJ = ("\u0648", "\u0641")  # WAW, FEH
_PREP = ("\u0628", "\u0644", "\u0643")  # BEH, LAM, KAF

# Tokens as camel-tools' simple_word_tokenize cuts them: runs of word characters
# (with harakat and tatweel kept inside the word), every other non-space
# character alone.
_TOKEN_RE = re.compile(r"[\w\u0610-\u061A\u064B-\u065F\u0670\u0640]+|[^\w\s]")
# Sentence-final punctuation: full stop, ! ? and ARABIC QUESTION MARK.
SENTENCE_END = frozenset({".", "!", "?", "\u061f", "\u06d4"})  # \u06d4 ARABIC FULL STOP
# Letters only Persian/Urdu spellings use (PEH TCHEH JEH GAF KEHEH FARSI-YEH TTEH DDAL
# RREH NOON-GHUNNA HEH-DOACHASHMEE HEH-GOAL YEH-BARREE): GeoNames' Arabic-script
# alternate names mix languages, and those forms are not Arabic.
NON_ARABIC_LETTERS = re.compile(
    "[\u067e\u0686\u0698\u06af\u06a9\u06cc\u0679\u0688\u0691\u06ba\u06be\u06c1\u06d2]"
)
# Arabic letters and spaces only (HAMZA .. YEH).
ARABIC_NAME = re.compile(r"^[\u0621-\u064A ]+$")
_ARABIC_RE = re.compile(r"[\u0621-\u064A]")
_LATIN_RE = re.compile(r"[A-Za-z]")


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Return the matching form of ``word``: no harakat, alef/yeh/teh marbuta folded.

    Args:
        word: Any text (a token or a phrase).

    Returns:
        The folded text, same words in the same order.
    """
    return word.translate(_FOLD)


def fold_phrase(text: str) -> str:
    """Fold ``text`` and collapse its whitespace to single spaces."""
    return " ".join(fold(w) for w in text.split())


@lru_cache(maxsize=200_000)
def proclitic_splits(folded: str, min_stem: int = 2) -> tuple[tuple[str, str], ...]:
    """Return every plausible (proclitics, stem) split of a folded word, longest stem first.

    Only the news-relevant proclitics are considered: wa-/fa-, then bi-/li-/ka-,
    then al-; ``lil-`` (li- + al- with the alef dropped) is restored to ``al-``.

    Args:
        folded: A folded single word.
        min_stem: Shortest stem kept (after the article).

    Returns:
        ``(prefix, stem)`` pairs; the first is ``("", folded)``.
    """
    out: list[tuple[str, str]] = [("", folded)]
    conj_options = [""] + [c for c in _CONJ if folded.startswith(c)]
    for conj in conj_options:
        rest = folded[len(conj) :]
        prep_options = [""] + [p for p in _PREP if rest.startswith(p)]
        for prep in prep_options:
            body = rest[len(prep) :]
            if prep == LAM and body.startswith(LAM) and len(body) - 1 >= min_stem:
                # li- + al- is written "lil-": the stem keeps its article.
                out.append((conj + prep, ALEF + body))
            if (conj or prep) and len(body) >= min_stem + (1 if body.startswith(AL) else 0):
                out.append((conj + prep, body))
    return tuple(out)


@lru_cache(maxsize=200_000)
def strip_proclitics(folded: str) -> str:
    """Return ``folded`` without wa-/fa-, bi-/li-/ka- (keeps the article al-).

    The longest strip leaving at least three letters wins; this over-strips
    some names (a leading li- or bi- that belongs to the word), which is why
    callers that can check a lexicon use :func:`proclitic_splits` instead.
    """
    best_prefix, best = "", folded
    for prefix, body in proclitic_splits(folded)[1:]:
        if len(body) >= 3 and len(prefix) > len(best_prefix):
            best_prefix, best = prefix, body
        elif len(body) >= 3 and prefix == best_prefix and body.startswith(AL):
            best = body  # lil- restored to al- beats the bare lam strip
    return best


@lru_cache(maxsize=200_000)
def stem(folded: str) -> str:
    """Return ``folded`` without proclitics and without the article (stem >= 3 letters)."""
    base = strip_proclitics(folded)
    if base.startswith(AL) and len(base) >= 5:
        return base[2:]
    return base


def shape(word: str) -> str:
    """Return a coarse word-shape class: ar, lat, num, punc, mix."""
    if word.isdigit():
        return "num"
    has_ar = bool(_ARABIC_RE.search(word))
    has_lat = bool(_LATIN_RE.search(word))
    if has_ar and not has_lat and not any(c.isdigit() for c in word):
        return "ar"
    if has_lat and not has_ar:
        return "lat"
    if not word[:1].isalnum():
        return "punc"
    return "mix"


def token_spans(text: str) -> list[tuple[int, int]]:
    """Return ``(start, end)`` spans of the tokens of ``text``.

    The cut matches camel-tools' ``simple_word_tokenize``: words, and each
    punctuation mark alone.
    """
    return [m.span() for m in _TOKEN_RE.finditer(text)]


def sentence_chunks(tokens: Sequence[str], max_len: int = 120) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` token index ranges, cut after sentence-final punctuation.

    Long runs without a full stop are cut at ``max_len`` so one huge
    unpunctuated text does not become one huge CRF sequence.
    """
    start = 0
    for i, tok in enumerate(tokens):
        if tok in SENTENCE_END or i - start + 1 >= max_len:
            yield start, i + 1
            start = i + 1
    if start < len(tokens):
        yield start, len(tokens)


_DEDIAC = str.maketrans(
    {
        **{chr(c): None for c in range(0x064B, 0x0653)},  # FATHATAN .. MADDAH ABOVE (harakat)
        "\u0670": None,  # SUPERSCRIPT ALEF
        "\u0640": None,  # TATWEEL
    }
)


def dediac(text: str) -> str:
    """Remove harakat and tatweel only (letters kept as written, for display)."""
    return text.translate(_DEDIAC)
