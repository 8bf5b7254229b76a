"""Reading ANT articles and folding them into matching text (evaluation, benchmarks, lexicons).

The deduplicator itself receives the normaliser's matching text; this module
only rebuilds that text offline.  It uses ``marsad.normaliser.core.fold``
when the normaliser provides it, else the camel-tools chain it is defined to
equal (normalize_unicode, arclean, dediac, alef, alef maksura, teh marbuta).
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_ANT = Path("../shared/data/ant/articles.jsonl.gz")


@lru_cache(maxsize=1)
def load_fold() -> Callable[[str], str]:
    """The folding function of the normaliser, or the camel-tools chain it equals.

    Should the normaliser's fold raise on a text, that text is folded with
    the camel-tools chain instead (and a warning logged), so one bad
    character cannot stop an evaluation over the whole corpus.
    """
    camel = _camel_fold()
    try:
        from marsad.normaliser.core import fold as fast  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        logger.info("marsad.normaliser.core.fold not available; folding with camel-tools")
        return camel

    def fold(text: str) -> str:
        try:
            return str(fast(text))
        except (UnicodeError, ValueError) as exc:
            logger.warning("normaliser fold failed (%s); camel-tools chain used", exc)
            return camel(text)

    return fold


def _camel_fold() -> Callable[[str], str]:
    from camel_tools.utils.charmap import CharMapper
    from camel_tools.utils.dediac import dediac_ar
    from camel_tools.utils.normalize import (
        normalize_alef_ar,
        normalize_alef_maksura_ar,
        normalize_teh_marbuta_ar,
        normalize_unicode,
    )

    arclean = CharMapper.builtin_mapper("arclean")

    def camel_fold(text: str) -> str:
        text = arclean.map_string(normalize_unicode(text))
        text = normalize_alef_ar(dediac_ar(text))
        return str(normalize_teh_marbuta_ar(normalize_alef_maksura_ar(text)))

    return camel_fold


def read_articles(path: Path = DEFAULT_ANT, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield the articles of a (gzipped) JSONL file in file order.

    Args:
        path: ``.jsonl`` or ``.jsonl.gz`` file.
        limit: Stop after this many articles.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                return
            if line.strip():
                yield json.loads(line)


def common_words(path: Path = DEFAULT_ANT, share: float = 0.05) -> list[tuple[str, float]]:
    """Folded words of three letters or more found in at least ``share`` of the articles.

    The sentence gists of event reports leave them out (``events.sentence_gist``):
    shared particles and stock words say nothing about two sentences telling one
    happening, and a frequent word would file most gists under one key.

    Returns:
        (word, share of articles) pairs, commonest first.
    """
    from collections import Counter

    from marsad.deduplicator.events import gist_words

    counts: Counter[str] = Counter()
    n = 0
    for article in read_articles(path):
        counts.update(gist_words(article.get("text") or ""))
        n += 1
    if n == 0:
        return []
    return [(w, c / n) for w, c in counts.most_common() if c >= share * n]

