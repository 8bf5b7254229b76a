"""Lexicons of the NER stage, loaded lazily from TSV files in ``data/``.

Each loader is cached: the files are read once per process, on first use.
Keys are folded (see :func:`marsad.extractor.ner.text.fold`) so lookups do
not depend on hamza or teh-marbuta spelling.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from marsad.extractor.ner.text import AL, fold, fold_phrase, proclitic_splits

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
GAZETTEER_PATH = DATA_DIR / "gazetteer.tsv"
_HEH = "\u0647"  # ARABIC LETTER HEH (folded teh marbuta: feminine nisba)
_PLURAL_SUFFIXES = ("\u064a\u0646", "\u0648\u0646")  # -iin (YEH NOON), -uun (WAW NOON)


def _rows(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            yield line.split("\t")


@lru_cache(maxsize=1)
def load_triggers() -> dict[str, str]:
    """Return folded trigger word -> class (PERS_PRE, SAY, ORG_HEAD, LOC_HEAD)."""
    return {fold(row[0]): row[1] for row in _rows(DATA_DIR / "triggers.tsv")}


def trigger_class(folded: str) -> str | None:
    """Return the trigger class of a folded token, looking through its proclitics."""
    triggers = load_triggers()
    for _, body in proclitic_splits(folded):
        cls = triggers.get(body)
        if cls is not None:
            return cls
    return None


@lru_cache(maxsize=1)
def load_nisba() -> dict[str, str]:
    """Return folded masculine nisba (no article) -> ISO country code."""
    return {fold_phrase(row[0]): row[1] for row in _rows(DATA_DIR / "nisba.tsv")}


@lru_cache(maxsize=50_000)
def nisba_country(folded: str) -> str | None:
    """Return the country of a nationality adjective token, or ``None``.

    Handles the article, proclitics, the feminine ending and the sound
    plurals: ``السوري``, ``السورية``, ``والسوريين`` all give ``SY``.
    """
    table = load_nisba()
    for _, body in proclitic_splits(folded):
        base = body[2:] if body.startswith(AL) and len(body) > 4 else body
        candidates = [base, body]
        if base.endswith(_HEH):
            candidates.append(base[:-1])
        for suffix in _PLURAL_SUFFIXES:
            if base.endswith(suffix) and len(base) > 4:
                candidates.append(base[:-1])  # سوريين -> سوري (the yeh of the nisba stays)
                candidates.append(base[:-2])
        for cand in candidates:
            iso = table.get(cand)
            if iso is not None:
                return iso
    return None


@dataclass(frozen=True, slots=True)
class TitleEntry:
    """One title phrase: does it take a genitive complement, title or modifier."""

    complement: bool
    kind: str


@lru_cache(maxsize=1)
def load_titles() -> dict[tuple[str, ...], TitleEntry]:
    """Return folded title phrase (as a token tuple) -> entry."""
    out: dict[tuple[str, ...], TitleEntry] = {}
    for row in _rows(DATA_DIR / "titles.tsv"):
        out[tuple(fold_phrase(row[0]).split())] = TitleEntry(row[1] == "1", row[2])
    return out


@lru_cache(maxsize=1)
def load_countries() -> dict[str, str]:
    """Return folded Arabic country name -> ISO code (CLDR names plus aliases)."""
    import babel  # deferred: only needed when linking

    out: dict[str, str] = {}
    for code, name in babel.Locale("ar").territories.items():
        if len(code) == 2 and code.isalpha():
            out[fold_phrase(name)] = code
    for row in _rows(DATA_DIR / "country_aliases.tsv"):
        out[fold_phrase(row[0])] = row[1]
    return out


@dataclass
class Gazetteer:
    """Multi-word name lists with types, for longest-match lookup over tokens.

    Attributes:
        phrases: First folded token -> list of (folded token tuple, types).
        token_types: Folded token -> types of the names it appears in.
    """

    phrases: dict[str, list[tuple[tuple[str, ...], frozenset[str]]]] = field(default_factory=dict)
    token_types: dict[str, frozenset[str]] = field(default_factory=dict)
    _cand_cache: dict[str, list[tuple[tuple[str, ...], frozenset[str]]]] = field(
        default_factory=dict, repr=False
    )

    def add(self, name: str, etype: str) -> None:
        """Add one name (any spelling; folded here) of type ``etype``."""
        toks = tuple(fold_phrase(name).split())
        if not toks or (len(toks) == 1 and len(toks[0]) < 2):
            return
        bucket = self.phrases.setdefault(toks[0], [])
        self._cand_cache.clear()
        for i, (existing, types) in enumerate(bucket):
            if existing == toks:
                bucket[i] = (existing, types | {etype})
                break
        else:
            bucket.append((toks, frozenset({etype})))
        for tok in toks:
            self.token_types[tok] = self.token_types.get(tok, frozenset()) | {etype}

    def copy(self) -> Gazetteer:
        """Return an independent copy (buckets are copied, tuples shared)."""
        return Gazetteer({k: list(v) for k, v in self.phrases.items()}, dict(self.token_types))

    def finalise(self) -> None:
        """Sort candidates longest first and forget cached lookups."""
        self._cand_cache.clear()
        for bucket in self.phrases.values():
            bucket.sort(key=lambda item: -len(item[0]))

    def match(self, folded: list[str]) -> list[list[str]]:
        """Return per-token gazetteer tags (``B-LOC``, ``I-ORG``…) by longest match.

        The first token of a name may carry proclitics (و، ب، ل…).

        Args:
            folded: Folded tokens of one sentence.

        Returns:
            One list of tags per token (empty when no name covers it).
        """
        out: list[list[str]] = [[] for _ in folded]
        seq = tuple(folded)
        n = len(seq)
        cache = self._cand_cache
        i = 0
        while i < n:
            cands = cache.get(seq[i])
            if cands is None:
                cands = self._candidates(seq[i])
            if not cands:
                i += 1
                continue
            best_len = 0
            best_types: frozenset[str] = frozenset()
            for toks, types in cands:
                length = len(toks)
                if length <= best_len or i + length > n:
                    continue
                if length == 1 or seq[i + 1 : i + length] == toks[1:]:
                    best_len, best_types = length, types
            if best_len:
                for etype in best_types:
                    out[i].append("B-" + etype)
                    for k in range(1, best_len):
                        out[i + k].append("I-" + etype)
                i += best_len
            else:
                i += 1
        return out

    def is_name(self, token: str, etype: str) -> bool:
        """Whether the folded ``token`` is by itself a listed name of type ``etype``."""
        bucket = self.phrases.get(token, ())
        return any(toks == (token,) and etype in types for toks, types in bucket)

    def candidates(self, token: str) -> list[tuple[tuple[str, ...], frozenset[str]]]:
        """Return the names (token tuple, types) that can start at ``token``, longest first."""
        return self._candidates(token)

    def _candidates(self, token: str) -> list[tuple[tuple[str, ...], frozenset[str]]]:
        """Names that can start at ``token`` (through its proclitics), cached per word."""
        cached = self._cand_cache.get(token)
        if cached is None:
            cached = [c for _, body in proclitic_splits(token) for c in self.phrases.get(body, ())]
            if len(self._cand_cache) < 300_000:
                self._cand_cache[token] = cached
        return cached

    def write(self, path: Path) -> None:
        """Write the gazetteer as ``name<TAB>TYPES`` lines (sorted, reproducible)."""
        rows = sorted(
            (" ".join(toks), ",".join(sorted(types)))
            for bucket in self.phrases.values()
            for toks, types in bucket
        )
        with path.open("w", encoding="utf-8") as fh:
            fh.write("# Built by `marsad ner-train` from ANERGazet, Wojood, CLDR and GeoNames.\n")
            for name, types in rows:
                fh.write(f"{name}\t{types}\n")


def read_gazetteer(path: Path) -> Gazetteer:
    """Read a gazetteer written by :meth:`Gazetteer.write`."""
    gaz = Gazetteer()
    for row in _rows(path):
        for etype in row[1].split(","):
            gaz.add(row[0], etype)
    gaz.finalise()
    return gaz


@lru_cache(maxsize=4)
def load_gazetteer(path: Path = GAZETTEER_PATH) -> Gazetteer:
    """Return the shipped gazetteer (empty, with a warning, when the file is missing)."""
    if not path.exists():
        logger.warning("NER gazetteer %s is missing; run `marsad ner-train`", path)
        return Gazetteer()
    return read_gazetteer(path)
