"""The normaliser core: display text, matching text, offsets, tokens, language flag.

Pure functions with no stream-processing imports.  Entry points:
:func:`normalise` for an article (or a title), :func:`fold` for any string that
must be compared with matching texts (lexicons, queries), :func:`camel_chain`
as the reference the matching text is tested against, and :func:`bench`.

Pipeline of :func:`normalise`:

1. display text (:mod:`.display`): boilerplate lines, HTML, invisible
   characters and tatweel removed, whitespace tidied, digits made ASCII,
   NFKC (camel's ``normalize_unicode``); diacritics, hamza forms and «…» kept;
2. matching text (:mod:`.folding`): the camel-tools chain as one table;
3. tokens (:mod:`.tokens`, numpy over one table of character classes);
4. glued-word repair (:mod:`.glue`): the tokens' hashes are checked against
   the glued-word table in one vectorised pass, and in the rare article with
   a glued word spaces are inserted (and the tokens cut again);
5. sentences and script ratio from the same character classes.

Every step records runs of an :class:`~.offsets.OffsetMap`, composed so both
views map straight back to the original.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from marsad.normaliser import dates, display, folding, glue, tokens
from marsad.normaliser.offsets import MapBuilder, OffsetMap
from marsad.normaliser.tokens import Spans

NORMALISER_VERSION = "1.0.0"

# Below this share of Arabic letters among letters an article is not Arabic.
MIN_SCRIPT_RATIO = 0.5
EMPTY_TEXT = "empty_text"
NOT_ARABIC = "not_arabic"

__all__ = [
    "DEFAULT_PROFILE",
    "EMPTY_TEXT",
    "NORMALISER_VERSION",
    "NOT_ARABIC",
    "Normalised",
    "OffsetMap",
    "Profile",
    "bench",
    "camel_chain",
    "fold",
    "normalise",
    "parse_published_at",
]


@dataclass(frozen=True, slots=True)
class Profile:
    """Which folds the matching text applies on top of camel's arclean cleaning.

    Attributes:
        alef: Alef with hamza/madda and alef wasla -> bare alef.
        alef_maksura: Alef maksura -> yeh.
        teh_marbuta: Teh marbuta -> heh.
        dediac: Remove diacritics (arclean's own removal included).
        glue: Repair glued words (in the display text, hence also the matching text).
    """

    alef: bool = True
    alef_maksura: bool = True
    teh_marbuta: bool = True
    dediac: bool = True
    glue: bool = True

    @classmethod
    def parse(cls, spec: str) -> Profile:
        """Parse a comma-separated profile.

        ``"default"`` (or an empty string) means every fold; ``"none"`` means
        arclean only; otherwise the listed folds are on and the others off,
        e.g. ``"alef,dediac"``.  ``"default,-teh_marbuta"`` removes one fold
        from the default.

        Raises:
            ValueError: On an unknown fold name.
        """
        names = {f.name for f in fields(cls)}
        items = [s.strip().lower() for s in spec.split(",") if s.strip()]
        if not items or items == ["default"]:
            return cls()
        base = dict.fromkeys(names, False)
        for item in items:
            if item == "default":
                base = dict.fromkeys(names, True)
            elif item == "none":
                base = dict.fromkeys(names, False)
            elif item.startswith("-") and item[1:] in names:
                base[item[1:]] = False
            elif item.lstrip("+") in names:
                base[item.lstrip("+")] = True
            else:
                raise ValueError(
                    f"unknown normalisation fold {item!r}; expected one of "
                    f"{', '.join(sorted(names))}, 'default' or 'none'"
                )
        return cls(**base)

    @property
    def spec(self) -> str:
        """The canonical comma-separated form (``parse(p.spec) == p``)."""
        on = [f.name for f in fields(self) if getattr(self, f.name)]
        return ",".join(on) if on else "none"

    @property
    def _folds(self) -> tuple[bool, bool, bool, bool]:
        return (self.alef, self.alef_maksura, self.teh_marbuta, self.dediac)


DEFAULT_PROFILE = Profile()


@dataclass(frozen=True, slots=True)
class Normalised:
    """Both views of one text, with their maps back to the original.

    Attributes:
        display: Clean text for readers and for NER (diacritics kept).
        matching: Folded text for search, NER features and dedup.
        display_map: Display offsets -> original offsets.
        matching_map: Matching offsets -> original offsets.
        sentences: Sentence spans in ``display``.
        tokens: Token spans in ``display``.
        script_ratio: Share of Arabic letters among the letters of ``display``.
        reject_reason: None, ``"empty_text"`` or ``"not_arabic"``.
        glue_splits: Spaces inserted by glued-word repair.
        profile: The profile the matching text was folded with.
        version: The normaliser version.
    """

    display: str
    matching: str
    display_map: OffsetMap
    matching_map: OffsetMap
    sentences: Spans
    tokens: Spans
    script_ratio: float
    reject_reason: str | None
    glue_splits: int = 0
    profile: Profile = field(default=DEFAULT_PROFILE)
    version: str = NORMALISER_VERSION

    def to_json(self) -> dict[str, Any]:
        """Return the ``normalisation`` object published on ``articles.normalised``."""
        return {
            "version": self.version,
            "profile": self.profile.spec,
            "display": self.display,
            "matching": self.matching,
            "display_map": self.display_map.to_json(),
            "matching_map": self.matching_map.to_json(),
            "sentences": self.sentences.to_json(),
            "tokens": self.tokens.to_json(),
            "script_ratio": round(self.script_ratio, 4),
            "reject_reason": self.reject_reason,
            "glue_splits": self.glue_splits,
        }


def fold(text: str, profile: Profile = DEFAULT_PROFILE) -> str:
    """Return the matching form of any string (lexicon entries, queries, titles).

    With the default profile this equals :func:`camel_chain` for every input.
    """
    return folding.fold(text, *profile._folds)


def camel_chain(text: str) -> str:
    """The camel-tools reference chain the matching text is defined by."""
    from camel_tools.utils.dediac import dediac_ar
    from camel_tools.utils.normalize import (
        normalize_alef_ar,
        normalize_alef_maksura_ar,
        normalize_teh_marbuta_ar,
        normalize_unicode,
    )

    s = normalize_unicode(text)
    s = _arclean()(s)
    s = dediac_ar(s)
    s = normalize_alef_ar(s)
    s = normalize_alef_maksura_ar(s)
    return str(normalize_teh_marbuta_ar(s))


_ARCLEAN: list[Any] = []


def _arclean() -> Any:
    """Return camel's arclean mapper, built once."""
    if not _ARCLEAN:
        from camel_tools.utils.charmap import CharMapper

        _ARCLEAN.append(CharMapper.builtin_mapper("arclean"))
    return _ARCLEAN[0]


def _insert_spaces(text: str, at: list[int]) -> tuple[str, OffsetMap]:
    """Insert a space at each offset; return the text and its map to ``text``."""
    pieces: list[str] = []
    b = MapBuilder()
    prev = 0
    for pos in at:
        pieces.append(text[prev:pos])
        b.add(pos - prev, prev, pos - prev)
        pieces.append(" ")
        b.add(1, pos, 0)
        prev = pos
    pieces.append(text[prev:])
    b.add(len(text) - prev, prev, len(text) - prev)
    return "".join(pieces), b.build()


def _views(
    text: str, profile: Profile = DEFAULT_PROFILE
) -> tuple[str, OffsetMap, str, OffsetMap, int]:
    """Display and matching texts with their maps, and the number of glue splits."""
    disp, dmap, matching, matching_map, n_splits, _ = _views_tokens(text, profile, False)
    return disp, dmap, matching, matching_map, n_splits


def _views_tokens(
    text: str, profile: Profile, with_tokens: bool
) -> tuple[str, OffsetMap, str, OffsetMap, int, tuple[npt.NDArray[np.uint16], Spans] | None]:
    """:func:`_views`, and (if asked) the display's character classes and token spans.

    The tokens are cut before glue repair, which then checks them against
    the glued-word table in one vectorised pass; they are cut again in the
    rare article where a space gets inserted.
    """
    disp, dmap = display.build_display(text)
    folds = profile._folds
    matching, mmap = folding.fold_with_map(disp, *folds)
    cp = tokens.code_points(disp)
    cls = tokens.classes(disp, cp) if with_tokens else None
    toks = None if cls is None else tokens.tokenize(disp, cls)
    splits: list[int] = []
    if profile.glue:
        # The matching text doubles as the folded display when it is aligned.
        aligned = mmap is None and profile.alef and profile.alef_maksura and profile.teh_marbuta
        splits = glue.find_splits(
            disp, matching if aligned else None, cp=cp,
            words=None if toks is None else toks.array,
        )
    if splits:
        disp, gmap = _insert_spaces(disp, splits)
        dmap = gmap.compose(dmap)
        cp = tokens.code_points(disp)
        cls = tokens.classes(disp, cp) if with_tokens else None
        toks = None if cls is None else tokens.tokenize(disp, cls)
        if mmap is None:
            # A space folds to itself, so the same insertion applies.
            matching = _insert_spaces(matching, splits)[0]
        else:
            matching, mmap = folding.fold_with_map(disp, *folds)
    matching_map = dmap if mmap is None else mmap.compose(dmap)
    extra = None if cls is None or toks is None else (cls, toks)
    return disp, dmap, matching, matching_map, len(splits), extra


def normalise(text: str, profile: Profile = DEFAULT_PROFILE) -> Normalised:
    """Normalise an article body or a title.

    Args:
        text: The original text as published.
        profile: Folds of the matching text.

    Returns:
        The :class:`Normalised` views; ``reject_reason`` says whether the
        wiring should dead-letter the article.
    """
    disp, dmap, matching, matching_map, n_splits, extra = _views_tokens(text, profile, True)
    assert extra is not None  # (always there when asked for)
    cls, toks = extra
    ratio, letters = tokens.script_ratio(disp, cls)
    reason: str | None = None
    if letters == 0:
        reason = EMPTY_TEXT
    elif ratio < MIN_SCRIPT_RATIO:
        reason = NOT_ARABIC
    return Normalised(
        display=disp,
        matching=matching,
        display_map=dmap,
        matching_map=matching_map,
        sentences=tokens.sentences(disp, cls, toks),
        tokens=toks,
        script_ratio=ratio,
        reject_reason=reason,
        glue_splits=n_splits,
        profile=profile,
    )


def parse_published_at(value: str | None) -> tuple[str | None, str | None]:
    """Parse ``published_at`` to UTC ISO 8601; see :func:`.dates.parse_published_at`."""
    return dates.parse_published_at(value)


def load() -> None:
    """Load every table and lexicon now (otherwise done on first use)."""
    display.load_rules()
    glue.load_lexicon()
    tokens.table()
    glue._candidate_codes()
    glue._table_hashes()
    glue._hash_buckets()
    glue._odd_mark_codes()
    for fn in (folding.fold_table, folding._byte_fold, folding._safe_class,
               folding._deletable_class):
        fn(*DEFAULT_PROFILE._folds)
    unicodedata.is_normalized("NFKC", "")


def _rate(n: float, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def bench(articles: Sequence[str], repeat: int = 3) -> dict[str, Any]:
    """Time the normaliser against the camel-tools chain on the same texts, one core.

    Each function first runs over a few articles (lazy tables, caches), then
    over all of them ``repeat`` times; the best pass counts, in CPU seconds
    of this process (the machine is shared, so wall time would measure the
    neighbours).  The ratios to the camel chain are the figures to compare
    across runs.

    Args:
        articles: Article texts.
        repeat: Timed passes per function.

    Returns:
        ``{"articles", "mb", "speedup_normalise", "speedup_views", "speedup_fold",
        "speedup_normalise_to_json", "camel": {...}, "normalise": {...},
        "views": {...}, "fold": {...}, "normalise_to_json": {...}, "timing"}``
        where each timing has ``seconds``, ``articles_per_s``, ``mb_per_s`` and
        ``us_per_article``; ``normalise`` is the full result (display and
        matching texts, glue repair, both offset maps, tokens, sentences,
        script ratio), ``views`` the texts and maps without tokens,
        sentences and script ratio, ``fold`` the matching text alone (the
        same output as camel), ``normalise_to_json`` the full result turned
        into the published JSON object (what the stage pays).
    """
    load()
    _arclean()
    mb = sum(len(a.encode("utf-8")) for a in articles) / 1e6
    out: dict[str, Any] = {"articles": len(articles), "mb": round(mb, 3)}

    def timed(fn: Any) -> dict[str, float]:
        for a in articles[:50]:
            fn(a)
        best = float("inf")
        for _ in range(max(1, repeat)):
            t0 = time.process_time()
            for a in articles:
                fn(a)
            best = min(best, time.process_time() - t0)
        return {
            "seconds": round(best, 3),
            "articles_per_s": round(_rate(len(articles), best), 1),
            "mb_per_s": round(_rate(mb, best), 2),
            "us_per_article": round(best / max(1, len(articles)) * 1e6, 1),
        }

    timings = {
        "camel": timed(camel_chain),
        "normalise": timed(normalise),
        "views": timed(_views),
        "fold": timed(fold),
        "normalise_to_json": timed(lambda a: normalise(a).to_json()),
    }
    camel = timings["camel"]["seconds"]
    for key in ("normalise", "views", "fold", "normalise_to_json"):
        out[f"speedup_{key}"] = round(_rate(camel, timings[key]["seconds"]), 1)
    out.update(timings)
    out["timing"] = f"CPU seconds, best of {max(1, repeat)} passes after a warm-up, one core"
    return out
