"""The same article gives the same entities whatever Python's hash seed.

A set iterated in the consistency pass once made a name's label (ORG or PERS
for a tie) depend on ``PYTHONHASHSEED``, so two workers disagreed on one article.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ANT = Path(__file__).resolve().parents[4] / ".." / "shared" / "data" / "ant" / "articles.jsonl.gz"

SCRIPT = """
import gzip, hashlib, itertools, sys, orjson
from marsad.normaliser.core import normalise
from marsad.extractor.ner import load_recogniser
rec = load_recogniser(sys.argv[2])
h = hashlib.sha256()
for line in itertools.islice(gzip.open(sys.argv[1]), 400):
    text = orjson.loads(line)["text"]
    norm = normalise(text)
    h.update(orjson.dumps([e.to_json() for e in rec.entities(norm.display, list(norm.tokens))]))
print(h.hexdigest())
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["builtin", "neural"])
def test_entities_do_not_depend_on_the_hash_seed(backend: str) -> None:
    digests = set()
    for seed in ("0", "1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(ANT), backend], env=env, check=True,
            capture_output=True, text=True, timeout=300,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1
