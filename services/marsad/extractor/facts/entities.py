"""Entity mentions laid over the tokens: which entity, if any, starts or covers each token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from marsad.extractor.facts.model import EntityLike, Span
from marsad.extractor.facts.text import Doc


@dataclass(frozen=True, slots=True)
class MentionAt:
    """An entity mention mapped to token indices ``[i, j)``."""

    entity: str
    type: str
    i: int
    j: int
    span: Span


@dataclass(slots=True)
class EntityIndex:
    """Mentions by first token, and the entity objects by id."""

    by_token: dict[int, MentionAt]
    mentions: list[MentionAt]
    entities: dict[str, EntityLike]

    def covering(self, i: int) -> MentionAt | None:
        """The mention covering token ``i``."""
        for m in self.mentions:
            if m.i <= i < m.j:
                return m
            if m.i > i:
                break
        return None


def index_entities(doc: Doc, entities: Sequence[EntityLike]) -> EntityIndex:
    """Map every mention's character span to the tokens it covers."""
    starts = {t.start: k for k, t in enumerate(doc.tokens)}
    ends = {t.end: k for k, t in enumerate(doc.tokens)}
    out: list[MentionAt] = []
    for ent in entities:
        for mention in ent.mentions:
            m = mention
            i = starts.get(m.start)
            j = ends.get(m.end)
            if i is None:
                # A mention glued to a clitic (وباريس) starts inside a token.
                i = next((k for k, t in enumerate(doc.tokens) if t.start <= m.start < t.end), None)
            if j is None:
                j = next((k for k, t in enumerate(doc.tokens) if t.start < m.end <= t.end), None)
            if i is None or j is None or j < i:
                continue
            out.append(MentionAt(ent.id, ent.type, i, j + 1,
                                 Span(m.start, m.end, doc.text[m.start:m.end])))
    out.sort(key=lambda m: (m.i, -m.j))
    by_token: dict[int, MentionAt] = {}
    for at in out:
        by_token.setdefault(at.i, at)
    return EntityIndex(by_token, out, {e.id: e for e in entities})
