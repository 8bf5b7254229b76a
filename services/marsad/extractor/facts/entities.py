"""Entity mentions laid over the tokens: which entity, if any, starts or covers each token."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
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
    tok_starts = doc.starts or [t.start for t in doc.tokens]
    tok_ends = doc.ends or [t.end for t in doc.tokens]
    n = len(tok_ends)
    out: list[MentionAt] = []
    for ent in entities:
        for m in ent.mentions:
            # The token containing the mention's first character (a mention glued to a
            # clitic, وباريس, starts inside a token) and the one containing its last.
            i = bisect_right(tok_ends, m.start)
            j = bisect_left(tok_ends, m.end)
            if i >= n or j >= n or j < i or tok_starts[i] >= m.end:
                continue
            out.append(MentionAt(ent.id, ent.type, i, j + 1,
                                 Span(m.start, m.end, doc.text[m.start:m.end])))
    out.sort(key=lambda m: (m.i, -m.j))
    by_token: dict[int, MentionAt] = {}
    for at in out:
        by_token.setdefault(at.i, at)
    return EntityIndex(by_token, out, {e.id: e for e in entities})
