"""Readers for the NER corpora (ANERcorp, Wojood, CoNLL, the unlabelled ANT) and the dev split.

ANERcorp's training part has no sentence breaks, so sentences are cut after
sentence-final punctuation.  The development split is the last
``DEV_FRACTION`` of the sentences in document order: contiguous and fixed,
so every run tunes on the same text and the rest of ANERcorp (the project's
held-back evaluation set) is never touched.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from marsad.extractor.ner.text import SENTENCE_END

logger = logging.getLogger(__name__)

Sentence = tuple[list[str], list[str]]  # tokens, IOB2 tags


def iter_ant_records(ant_path: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield the first ``limit`` (all when None) article records of ``articles.jsonl.gz``."""
    with gzip.open(ant_path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit is not None and n >= limit:
                break
            rec: dict[str, Any] = json.loads(line)
            yield rec


def iter_ant_texts(ant_path: Path, limit: int | None = None) -> Iterator[str]:
    """Yield the article texts of ``articles.jsonl.gz`` ("" for a record without one)."""
    for rec in iter_ant_records(ant_path, limit):
        yield rec.get("text") or ""

DEV_FRACTION = 0.12
VALID_TYPES = frozenset({"PERS", "LOC", "ORG", "MISC"})
# Wojood's 21 types folded onto ANERcorp's four; the rest are not names here.
WOJOOD_MAP = {
    "PERS": "PERS",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "ORG": "ORG",
    "EVENT": "MISC",
}
_INVISIBLE = "\u200e\u200f\ufeff"  # LRM, RLM, BOM: stray marks in ANERcorp


def _clean_tag(tag: str) -> str:
    tag = tag.strip(_INVISIBLE)
    if len(tag) > 2 and tag[:2] in ("B-", "I-") and tag[2:] in VALID_TYPES:
        return tag
    return "O"


def read_anercorp(path: Path) -> list[Sentence]:
    """Read ANERcorp ``token TAG`` lines and cut them into sentences.

    Malformed lines (stray right-to-left marks, tags glued to the next token)
    are repaired the cheap way: invisible marks are dropped and an unknown tag
    becomes ``O``.

    Args:
        path: The ``train.txt`` file.

    Returns:
        Sentences as (tokens, tags), in document order.
    """
    sentences: list[Sentence] = []
    toks: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            token = parts[0].strip(_INVISIBLE)
            if not token:
                continue
            tag = _clean_tag(parts[-1]) if len(parts) >= 2 else "O"
            toks.append(token)
            tags.append(tag)
            if token in SENTENCE_END:
                sentences.append((toks, repair_iob(tags)))
                toks, tags = [], []
    if toks:
        sentences.append((toks, repair_iob(tags)))
    return sentences


def repair_iob(tags: list[str]) -> list[str]:
    """Turn an ``I-X`` that follows ``O`` or another type into ``B-X`` (valid IOB2)."""
    out: list[str] = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def split_dev(
    sentences: list[Sentence], fraction: float = DEV_FRACTION
) -> tuple[list[Sentence], list[Sentence]]:
    """Split sentences into (train, dev): dev is the contiguous tail by token count."""
    total = sum(len(t) for t, _ in sentences)
    budget = total * fraction
    acc = 0
    cut = len(sentences)
    while cut > 0 and acc < budget:
        cut -= 1
        acc += len(sentences[cut][0])
    return sentences[:cut], sentences[cut:]


def read_wojood(path: Path, type_map: Mapping[str, str] = WOJOOD_MAP) -> list[Sentence]:
    """Read a Wojood file and keep the outermost name of each mapped type.

    Nested tags are flattened: at each token the first mapped tag wins, and a
    mention continues only while its ``I-`` tag continues.

    Args:
        path: A Wojood ``.txt`` file.
        type_map: Wojood type -> output type; unlisted types become ``O``
            (default: onto ANERcorp's four types; an identity map over some
            of Wojood's types keeps its own labels).
    """
    sentences: list[Sentence] = []
    toks: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                if toks:
                    sentences.append((toks, repair_iob(tags)))
                    toks, tags = [], []
                continue
            toks.append(parts[0])
            tag = "O"
            prev_type = tags[-1][2:] if tags and tags[-1] != "O" else ""
            cands = [t for t in parts[1:] if t[:2] in ("B-", "I-") and t[2:] in type_map]
            # Continue the current mention when possible, else start the first mapped one.
            for t in cands:
                if t.startswith("I-") and type_map[t[2:]] == prev_type:
                    tag = "I-" + prev_type
                    break
            else:
                for t in cands:
                    if t.startswith("B-"):
                        tag = "B-" + type_map[t[2:]]
                        break
            tags.append(tag)
    if toks:
        sentences.append((toks, repair_iob(tags)))
    return sentences


def read_conll_tokens(fh: TextIO) -> Iterator[list[str]]:
    """Yield sentences of tokens (first column) from CoNLL text, blank lines between."""
    toks: list[str] = []
    for line in fh:
        parts = line.split()
        if not parts:
            if toks:
                yield toks
                toks = []
            else:
                yield []
            continue
        toks.append(parts[0])
    if toks:
        yield toks


def spans_of(tags: Iterable[str]) -> set[tuple[int, int, str]]:
    """Return the entity spans ``(start, end, type)`` of an IOB2 tag sequence."""
    spans: set[tuple[int, int, str]] = set()
    start = -1
    cur = ""
    tag_list = list(tags)
    for i, tag in enumerate([*tag_list, "O"]):
        if start >= 0 and (tag == "O" or tag.startswith("B-") or tag[2:] != cur):
            spans.add((start, i, cur))
            start = -1
        if tag != "O" and start < 0:
            start, cur = i, tag[2:]
    return spans
