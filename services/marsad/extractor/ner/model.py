"""Value types produced by the recogniser: mentions and per-article entities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENTITY_TYPES = ("PERS", "LOC", "ORG", "MISC")


@dataclass(frozen=True, slots=True)
class Mention:
    """One occurrence of a named entity in the text.

    Attributes:
        type: PERS, LOC, ORG or MISC.
        start: Character offset of the first character, into the text given
            to :meth:`Recogniser.entities`.
        end: Character offset one past the last character.
        text: ``text[start:end]``.
    """

    type: str
    start: int
    end: int
    text: str

    def to_json(self) -> dict[str, Any]:
        """Return the mention as a JSON-ready dict."""
        return {"type": self.type, "start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class Entity:
    """One real-world entity of an article, with all its mentions grouped.

    Attributes:
        id: Identifier stable within the article (``e1``, ``e2``… in order of
            first mention).
        type: PERS, LOC, ORG or MISC.
        canonical: The fullest name used in the article.
        matching: Folded form of ``canonical`` (for joins and lookups).
        mentions: Every occurrence, in text order.
        title: Title or rank preceding a person (``الرئيس``, ``وزير الدفاع السابق``).
        country: ISO 3166-1 alpha-2 code: where a place is, the country an
            organisation names, a person's nationality.
        geonames_id: GeoNames id of a linked place.
        lat: Latitude of a linked city.
        lon: Longitude of a linked city.
    """

    id: str
    type: str
    canonical: str
    matching: str
    mentions: tuple[Mention, ...]
    title: str | None = None
    country: str | None = None
    geonames_id: int | None = None
    lat: float | None = None
    lon: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the entity as a JSON-ready dict (see ``schemas/defs/entity.v1.json``)."""
        return {
            "id": self.id,
            "type": self.type,
            "canonical": self.canonical,
            "matching": self.matching,
            "mentions": [m.to_json() for m in self.mentions],
            "title": self.title,
            "country": self.country,
            "geonames_id": self.geonames_id,
            "lat": self.lat,
            "lon": self.lon,
        }
