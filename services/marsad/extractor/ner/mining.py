"""Organisation and place names mined from the unlabelled ANT corpus.

Arabic organisation names are noun phrases headed by a word like منظمة,
مجلس or المرصد followed by definite genitives and adjectives (منظمة الصحة
العالمية).  Frequent phrases of that shape in 31,000 news articles are
almost all real names; a continuation is kept only when it follows its
shorter phrase often (so "منظمة الصحة العالمية" is kept and "... اليوم" is
not).  Places are the words that often follow a place noun (مدينة، محافظة،
بلدة…).  No labels are used: this is unlabelled evidence, like the word
clusters.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from marsad.extractor.ner.corpus import iter_ant_texts
from marsad.extractor.ner.lexicon import DATA_DIR, Gazetteer, load_triggers, trigger_class
from marsad.extractor.ner.text import AL, LAM, fold, proclitic_splits, token_spans

logger = logging.getLogger(__name__)

MINED_PATH = DATA_DIR / "mined_names.tsv"
_MAX_LEN = 5
# Place nouns whose next word is a place name (folded): city, governorate,
# town, village, state, province, island, camp, district.
_PLACE_HEADS = frozenset(
    fold(w) for w in ("مدينة", "محافظة", "بلدة", "قرية", "ولاية", "إقليم", "جزيرة", "مخيم", "حي")
)


@lru_cache(maxsize=1)
def load_mined_organisations(path: Path = MINED_PATH) -> Gazetteer:
    """Return the organisation names mined from ANT as a gazetteer (empty without the file)."""
    gaz = Gazetteer()
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if not line.startswith("#") and len(parts) >= 2 and parts[1] == "ORG":
                    gaz.add(parts[0], "ORG")
    gaz.finalise()
    return gaz


def _head(token: str) -> str | None:
    """Return the token without proclitics when it heads an organisation name."""
    triggers = load_triggers()
    for _, body in proclitic_splits(token):
        if triggers.get(body) == "ORG_HEAD":
            return body
    return None


def _continues(tokens: list[str], k: int) -> bool:
    """May ``tokens[k]`` continue a name: a definite word, or li- before a definite word."""
    tok = tokens[k]
    if load_triggers().get(tok) == "FUNC":
        return False
    if tok.startswith(AL) and len(tok) > 3:
        return True
    if tok.startswith(LAM + LAM) and len(tok) > 3:
        return True  # lil- (li- + al-)
    return (
        tok.startswith(LAM)
        and len(tok) > 3
        and k + 1 < len(tokens)
        and tokens[k + 1].startswith(AL)
    )


def mine_names(
    ant_path: Path,
    out_path: Path = MINED_PATH,
    *,
    min_count: int = 15,
    keep_share: float = 0.3,
    place_min_count: int = 5,
    place_share: float = 0.1,
    limit: int | None = None,
) -> dict[str, Any]:
    """Mine organisation and place names from the ANT corpus into ``out_path``.

    Args:
        ant_path: ``articles.jsonl.gz``.
        out_path: Output TSV (``name<TAB>TYPE``), folded names.
        min_count: Fewest occurrences of an organisation phrase.
        keep_share: A phrase one word longer than another is kept when it
            accounts for at least this share of the shorter one's uses.
        place_min_count: Fewest occurrences of a word after a place noun.
        place_share: Smallest share of a word's occurrences that follow a place noun.
        limit: Read only this many articles (tests).

    Returns:
        Counts and timing.
    """
    t0 = time.perf_counter()
    grams: Counter[tuple[str, ...]] = Counter()
    after_place: Counter[str] = Counter()
    heads: Counter[str] = Counter()
    freq: Counter[str] = Counter()
    for text in iter_ant_texts(ant_path, limit):
        toks = [fold(text[s:e]) for s, e in token_spans(text)]
        freq.update(toks)
        for i, tok in enumerate(toks):
            head = _head(tok)
            if head is not None:
                heads[head] += 1
                gram: tuple[str, ...] = (head,)
                for k in range(i + 1, min(i + _MAX_LEN, len(toks))):
                    if not _continues(toks, k):
                        break
                    gram = (*gram, toks[k])
                    grams[gram] += 1
            if i + 1 < len(toks):
                for _, body in proclitic_splits(tok):
                    if body in _PLACE_HEADS:
                        after_place[toks[i + 1]] += 1
                        break
    names: dict[str, str] = {}
    for gram, count in grams.items():
        if count < min_count:
            continue
        shorter = grams.get(gram[:-1], 0) if len(gram) > 2 else heads[gram[0]]
        # Two-word names compete with every use of their head noun, hence the lower bar.
        share = keep_share if len(gram) > 2 else keep_share / 15
        if count < share * shorter:
            continue
        names[" ".join(gram)] = "ORG"
    for word, count in after_place.items():
        if (
            count >= place_min_count
            and count >= place_share * freq[word]
            and len(word) >= 3
            and word.isalpha()
            and trigger_class(word) is None
        ):
            names.setdefault(word, "LOC")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8") as fh:
        fh.write("# Built by `marsad ner-clusters`: names mined from the ANT corpus (folded)\n")
        for name in sorted(names):
            fh.write(f"{name}\t{names[name]}\n")
    return {
        "org_names": sum(1 for t in names.values() if t == "ORG"),
        "loc_names": sum(1 for t in names.values() if t == "LOC"),
        "seconds": time.perf_counter() - t0,
    }
