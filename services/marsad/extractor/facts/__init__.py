"""Facts of a news article: dates, quantities, casualties, typed events and quotes.

Pure rules over a folded view of the text and the recogniser's entities;
lexicons are TSV files in ``data/`` read on first use (or by
:func:`load_lexicons`).  Every finding has offsets into the text given.
"""

from marsad.extractor.facts.extract import bench, extract_facts
from marsad.extractor.facts.lexicon import load_lexicons
from marsad.extractor.facts.model import (
    Casualty,
    DateFact,
    DateRef,
    EntityLike,
    Event,
    Facts,
    MentionLike,
    Quantity,
    Quote,
    Span,
)

__all__ = [
    "Casualty",
    "DateFact",
    "DateRef",
    "EntityLike",
    "Event",
    "Facts",
    "MentionLike",
    "Quantity",
    "Quote",
    "Span",
    "bench",
    "extract_facts",
    "load_lexicons",
]
