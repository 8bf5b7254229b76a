"""Named-entity recognition and linking for Arabic news (the extractor's NER step).

A CRF model trained offline on ANERcorp (shipped in ``data/``) tags tokens;
mentions are then grouped into one entity per real person, place or
organisation and linked to titles, countries and GeoNames places.  Nothing
heavy is loaded at import time: call :func:`load_recogniser` once and keep
the result.
"""

from marsad.extractor.ner.model import Entity, Mention
from marsad.extractor.ner.recogniser import (
    CamelRecogniser,
    CrfRecogniser,
    Recogniser,
    bench,
    load_recogniser,
)

__all__ = [
    "CamelRecogniser",
    "CrfRecogniser",
    "Entity",
    "Mention",
    "Recogniser",
    "bench",
    "load_recogniser",
]
