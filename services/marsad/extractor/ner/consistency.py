"""Second passes over the CRF's tags: known long names, and one label per name per article.

Long organisation names mined from the unlabelled ANT corpus (``المرصد
السوري لحقوق الإنسان``) are tagged where the CRF left every word of them
untagged: a three-word name headed by an organisation noun that recurs in
31,000 articles is almost never a false alarm, while the CRF, trained on
2003-era ANERcorp, has seldom seen such names.

News articles repeat names, and a CRF that recognises ``رجب طيب أردوغان`` in one
sentence can miss ``أردوغان`` alone three sentences later.  This pass tags the
untagged repetitions of names the model found elsewhere in the same text
(and the surnames of the people it found), longest names first.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import compress

from marsad.extractor.ner.corpus import spans_of
from marsad.extractor.ner.lexicon import Gazetteer, load_titles, nisba_country, trigger_class
from marsad.extractor.ner.text import AL, fold, proclitic_splits

# Name particles that are not names alone: ibn, bin, abd, abu, al (as written, folded).
_PARTICLES = frozenset(
    {"\u0627\u0628\u0646", "\u0628\u0646", "\u0639\u0628\u062f", "\u0627\u0628\u0648"}
)
_MIN_LEN = 3
# Mined names of fewer words are too often ambiguous (``المجلس الوطني``).
_MIN_KNOWN_TOKENS = 3
# Proclitic letters before a name: wa-, fa-, bi-, li-, ka- and the
# conjunction + preposition pairs (WAW, FEH, BEH, LAM, KAF).
_PREFIXES = tuple(
    c + p for c in ("", "\u0648", "\u0641") for p in ("", "\u0628", "\u0644", "\u0643") if c + p
)
# Before the article, li- is written lil- (the alef drops): li-, wa-li-, fa-li-.
_LIL_PREFIXES = ("\u0644", "\u0648\u0644", "\u0641\u0644")


def propagate(
    tokens: Sequence[str], tags: Sequence[str], folded: Sequence[str] | None = None
) -> list[str]:
    """Return ``tags`` with untagged repetitions of found names tagged too.

    Args:
        tokens: The article's tokens.
        tags: The model's IOB2 tags for them.
        folded: The folded tokens, when the caller has them already.

    Returns:
        New IOB2 tags; tags the model set are never changed.
    """
    out = list(tags)
    if not any(t != "O" for t in tags):
        return out
    if folded is None:
        folded = [fold(t) for t in tokens]
    titles = load_titles()
    names: dict[tuple[str, ...], str] = {}
    votes: dict[tuple[str, ...], dict[str, int]] = {}

    def vote(key: tuple[str, ...], etype: str) -> None:
        v = votes.setdefault(key, {})
        v[etype] = v.get(etype, 0) + 1

    # In text order: a tie between two labels of one name goes to the first seen,
    # whatever the hash seed (spans_of returns a set).
    for start, end, etype in sorted(spans_of(tags)):
        # The first word may carry a proclitic: index the name without it too.
        first = folded[start]
        rest = tuple(folded[start + 1 : end])
        for _, body in proclitic_splits(first):
            vote((body, *rest), etype)
        if etype == "PERS" and end - start >= 2:
            for tok in folded[start + 1 : end]:
                vote((tok,), "PERS")
    for key, v in votes.items():
        if len(key) == 1:
            tok = key[0]
            if (
                len(tok) < _MIN_LEN
                or tok in _PARTICLES
                or trigger_class(tok) is not None
                or nisba_country(tok) is not None
                or (tok,) in titles
                or not tok.isalpha()
            ):
                continue
        names[key] = max(v, key=lambda t: v[t])
    if not names:
        return out
    max_len = max(len(k) for k in names)
    # Every written form a name's first word can take with proclitics, so the
    # scan below is one dict lookup per token.
    forms: dict[str, list[str]] = {}
    for first in sorted({k[0] for k in names}):  # sorted: one order whatever the hash seed
        variants = [first, *(p + first for p in _PREFIXES)]
        if first.startswith(AL):
            variants += [p + first[1:] for p in _LIL_PREFIXES]  # lil-: the alef is dropped
        for form in variants:
            forms.setdefault(form, []).append(first)
    n = len(tokens)
    free = 0
    # Only tokens that are a written form of a name's first word can start a repeat.
    for i in compress(range(n), map(forms.__contains__, folded)):
        if i < free or out[i] != "O":
            continue
        hit = 0
        splits = {b for _, b in proclitic_splits(folded[i])}
        bodies = [b for b in forms[folded[i]] if b in splits]
        for body in bodies:
            for length in range(min(max_len, n - i), 0, -1):
                if length <= hit:
                    break
                key = (body, *folded[i + 1 : i + length])
                if key in names and out[i : i + length].count("O") == length:
                    hit = length
                    etype = names[key]
                    break
        if hit:
            out[i] = "B-" + etype
            for k in range(i + 1, i + hit):
                out[k] = "I-" + etype
            free = i + hit
    return out


def tag_known_names(
    folded: Sequence[str], tags: Sequence[str], names: Gazetteer | None = None
) -> list[str]:
    """Return ``tags`` with untagged long organisation names mined from ANT tagged ORG.

    Args:
        folded: The text's folded tokens.
        tags: IOB2 tags (never changed where set).
        names: The names (defaults to the mined organisations).

    Returns:
        New IOB2 tags.
    """
    if names is None:
        names, seconds = _mined()
    else:
        seconds = _second_words(names)
    out = list(tags)
    # Only a token followed by a name's second word can start a long name:
    # one set lookup per token instead of a match attempt at each.
    hits = list(compress(range(-1, len(folded) - 1), map(seconds.__contains__, folded)))
    if hits and hits[0] < 0:
        del hits[0]  # the first token has no token before it
    if not hits:
        return out
    n = len(out)
    free = 0
    for i in hits:
        if i < free:
            continue
        best = 0
        for toks, types in names.candidates(folded[i]):
            length = len(toks)
            if (
                length > best
                and length >= _MIN_KNOWN_TOKENS
                and "ORG" in types
                and i + length <= n
                and tuple(folded[i + 1 : i + length]) == toks[1:]
            ):
                best = length
        if best and all(t == "O" for t in out[i : i + best]):
            out[i] = "B-ORG"
            out[i + 1 : i + best] = ["I-ORG"] * (best - 1)
            free = i + best
    return out


def _second_words(names: Gazetteer) -> frozenset[str]:
    """Return the second words of the names of ``names`` long enough to be tagged."""
    return frozenset(
        toks[1]
        for bucket in names.phrases.values()
        for toks, _ in bucket
        if len(toks) >= _MIN_KNOWN_TOKENS
    )


@lru_cache(maxsize=1)
def _mined() -> tuple[Gazetteer, frozenset[str]]:
    from marsad.extractor.ner.mining import load_mined_organisations

    names = load_mined_organisations()
    return names, _second_words(names)
