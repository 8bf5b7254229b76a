"""Word clusters from the unlabelled ANT news corpus (an optional CRF feature).

The clusters file maps a folded, proclitic-stripped word to a bit-string
path; prefixes of the path give coarser clusters, as with Brown clusters.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from marsad.extractor.ner.lexicon import DATA_DIR

logger = logging.getLogger(__name__)

CLUSTERS_PATH = DATA_DIR / "clusters.tsv"


@lru_cache(maxsize=2)
def load_clusters(path: Path = CLUSTERS_PATH) -> dict[str, str]:
    """Return word -> cluster path, or an empty map when the file is absent."""
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            word, _, cluster = line.rstrip("\n").partition("\t")
            if cluster:
                out[word] = cluster
    return out
