"""The normaliser stage: ``articles.raw`` -> ``articles.normalised``.

Decodes and validates the raw article, gives it an id when the publisher did
not, runs the pure core (:mod:`marsad.normaliser.core`) on the text and title,
parses ``published_at``, and dead-letters articles that are empty or not
Arabic.
"""

from __future__ import annotations

import hashlib
from typing import Any

from marsad.codec import Codec
from marsad.normaliser import core
from marsad.stage import Incoming, Outgoing, Rejected, Stage
from marsad.topics import NORMALISED, RAW


def derive_article_id(text: str) -> str:
    """Return a deterministic id for an article published without one.

    The same text always gets the same id, so a re-published article is
    recognised downstream as the same article rather than a duplicate.
    """
    return "h-" + hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


class NormaliserStage(Stage):
    """Clean display text and folded matching text, with offsets back to the original.

    Args:
        codec: Codec with a validator for ``articles.raw``.
        profile: Folds of the matching text, e.g. ``"default"``.
        deadletter_original_bytes: How many bytes of a bad message a dead letter keeps.
    """

    name = "normaliser"
    source = RAW

    def __init__(
        self, codec: Codec, *, profile: str = "default", deadletter_original_bytes: int = 262_144
    ) -> None:
        super().__init__(codec, deadletter_original_bytes=deadletter_original_bytes)
        self.profile = core.Profile.parse(profile)

    def process(self, msg: Incoming) -> list[Outgoing]:
        """Normalise one raw article."""
        raw = self.codec.decode(RAW, msg.value)
        text: str = raw["text"]
        article_id = raw.get("id") or derive_article_id(text)
        result = core.normalise(text, self.profile)
        if result.reject_reason is not None:
            raise Rejected(
                result.reject_reason,
                f"script ratio {result.script_ratio:.2f} after cleaning",
                article_id,
            )
        title = raw.get("title")
        title_display = core.normalise(title, self.profile).display if title else None
        published_at, published_at_error = core.parse_published_at(raw.get("published_at"))
        value: dict[str, Any] = {
            "schema_version": 1,
            "id": article_id,
            "source": raw.get("source"),
            "url": raw.get("url"),
            "title": title,
            "published_at": published_at,
            "published_at_error": published_at_error,
            "text": text,
            "title_display": title_display,
            "normalisation": result.to_json(),
        }
        return [Outgoing(NORMALISED, article_id, value)]
