"""Self-training of the CRF on unlabelled ANT sentences tagged by the neural backend.

ANERcorp gives the CRF only 3,669 labelled training sentences; ANT has
31,525 unlabelled articles of the same genre.  The neural backend (the
teacher: BiLSTM-CRF combined with a CRF) tags a seeded sample of ANT
sentences and those tags become extra training data for the CRF (the
student), which keeps the CRF's speed at run time.

The sample is deterministic and independent of the corpus order: every
distinct sentence gets a key from a seeded BLAKE2b hash of its text and the
sentences with the smallest keys are taken, so a sample of 2,000 is the
first part of a sample of 5,000.  Sentences equal (after folding) to a dev
sentence or to a sentence of the excluded texts are dropped.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from marsad.extractor.ner import corpus
from marsad.extractor.ner.corpus import Sentence, spans_of
from marsad.extractor.ner.text import fold, sentence_chunks, token_spans

logger = logging.getLogger(__name__)

# The repository's demo articles (absent from an installed package).
REPO_SEEDS = Path(__file__).resolve().parents[4] / "seeds" / "articles.jsonl"
_ARABIC_LO, _ARABIC_HI = "\u0621", "\u064a"  # HAMZA .. YEH: the Arabic letters


@dataclass(frozen=True, slots=True)
class SelfTrainConfig:
    """Which ANT sentences the teacher tags and which of them the CRF learns from.

    Attributes:
        sentences: Teacher-tagged sentences added to the training data.
        seed: Seed of the sample's hash keys.
        min_tokens: Shortest sentence kept (headlines and fragments are noise).
        max_tokens: Longest sentence kept (the stream cuts at 120 anyway).
        entities_only: Keep only sentences where the teacher found a name.
        agree_only: Keep only sentences where the CRF alone and the teacher
            give the same tags (a confidence filter).
    """

    sentences: int = 10_000
    seed: int = 4
    min_tokens: int = 6
    max_tokens: int = 60
    entities_only: bool = False
    agree_only: bool = False


def sentence_key(tokens: Sequence[str]) -> tuple[str, ...]:
    """Return the folded tokens: equal keys are the same sentence for the dev check."""
    return tuple(fold(t) for t in tokens)


def _arabic_share(tokens: Sequence[str]) -> float:
    words = [t for t in tokens if t[:1].isalnum()]
    if not words:
        return 0.0
    return sum(_ARABIC_LO <= t[0] <= _ARABIC_HI for t in words) / len(words)


def text_sentences(text: str) -> Iterator[list[str]]:
    """Yield the sentences of ``text`` as the stream cuts them (built-in tokeniser)."""
    tokens = [text[a:b] for a, b in token_spans(text)]
    for start, end in sentence_chunks(tokens):
        yield tokens[start:end]


def iter_ant_texts(path: Path) -> Iterator[str]:
    """Yield the non-empty article texts of the ANT JSONL file."""
    return (text for text in corpus.iter_ant_texts(path) if text)


def sample_sentences(
    texts: Iterable[str],
    pool: int,
    seed: int,
    exclude: set[tuple[str, ...]],
    min_tokens: int = 6,
    max_tokens: int = 60,
) -> tuple[list[list[str]], dict[str, int]]:
    """Return the ``pool`` distinct sentences with the smallest seeded hash keys.

    Args:
        texts: Article texts (ANT).
        pool: Sentences returned (the caller's filters may need more than it keeps).
        seed: Seed of the hash keys.
        exclude: Folded sentences never returned (the dev split, held-out texts).
        min_tokens: Shortest sentence kept.
        max_tokens: Longest sentence kept.

    Returns:
        The sentences in key order, and counts (seen, distinct, excluded, too short/long,
        not mostly Arabic).
    """
    salt = seed.to_bytes(8, "little")
    heap: list[tuple[bytes, list[str]]] = []  # max-heap by negated key
    seen_keys: set[bytes] = set()
    counts = {"sentences": 0, "distinct": 0, "excluded": 0, "length": 0, "not_arabic": 0}
    for text in texts:
        for toks in text_sentences(text):
            counts["sentences"] += 1
            if not min_tokens <= len(toks) <= max_tokens:
                counts["length"] += 1
                continue
            if _arabic_share(toks) < 0.8:
                counts["not_arabic"] += 1
                continue
            folded = sentence_key(toks)
            digest = hashlib.blake2b(
                "\x00".join(folded).encode("utf-8"), digest_size=12, salt=salt
            ).digest()
            if digest in seen_keys:
                continue
            seen_keys.add(digest)
            counts["distinct"] += 1
            if folded in exclude:
                counts["excluded"] += 1
                continue
            # heapq is a min-heap: store the complemented key to pop the largest.
            neg = bytes(255 - b for b in digest)
            if len(heap) < pool:
                heapq.heappush(heap, (neg, toks))
            elif heap and neg > heap[0][0]:
                heapq.heapreplace(heap, (neg, toks))
    ordered = sorted(heap, key=lambda kv: kv[0], reverse=True)
    return [toks for _, toks in ordered], counts


def select(
    sentences: Sequence[list[str]],
    teacher: Callable[[Sequence[list[str]]], list[list[str]]],
    config: SelfTrainConfig,
    student: Callable[[Sequence[list[str]]], list[list[str]]] | None = None,
    batch: int = 256,
) -> tuple[list[Sentence], dict[str, int]]:
    """Tag ``sentences`` in order with the teacher and keep those that pass the filters.

    Args:
        sentences: Candidates in sample order.
        teacher: Tags a batch of sentences (the neural backend's decode).
        config: How many to keep and which filters apply.
        student: Tags a batch with the CRF alone (needed by ``agree_only``).
        batch: Sentences tagged per call.

    Returns:
        Up to ``config.sentences`` (tokens, tags) pairs and counts of what was tagged and
        dropped.
    """
    if config.agree_only and student is None:
        raise ValueError("agree_only needs the student CRF")
    kept: list[Sentence] = []
    counts = {"tagged": 0, "no_entity": 0, "disagree": 0}
    for k in range(0, len(sentences), batch):
        if len(kept) >= config.sentences:
            break
        chunk = sentences[k : k + batch]
        tags = teacher(chunk)
        other = student(chunk) if config.agree_only and student is not None else None
        for i, (toks, tg) in enumerate(zip(chunk, tags, strict=True)):
            counts["tagged"] += 1
            if config.entities_only and not spans_of(tg):
                counts["no_entity"] += 1
                continue
            if other is not None and other[i] != tg:
                counts["disagree"] += 1
                continue
            kept.append((list(toks), list(tg)))
            if len(kept) >= config.sentences:
                break
    return kept, counts


def held_out_keys(shared: Path, sentences: Iterable[Sentence] = ()) -> set[tuple[str, ...]]:
    """Return the folded sentences self-training must never learn from.

    The given (dev) sentences, the shared sample articles (``seeds/*.txt``) and
    the repository's demo articles (``seeds/articles.jsonl``, ANT articles the
    integration tests publish): text that evaluates the model is not trained on.
    """
    keys = {sentence_key(toks) for toks, _ in sentences}
    texts: list[str] = []
    for path in sorted((shared / "seeds").glob("*.txt")):
        texts.append(path.read_text(encoding="utf-8"))
    demo = REPO_SEEDS
    if demo.exists():
        with demo.open(encoding="utf-8") as fh:
            texts.extend(str(json.loads(line).get("text") or "") for line in fh if line.strip())
    keys.update(sentence_key(toks) for text in texts for toks in text_sentences(text))
    return keys


def file_digest(path: Path) -> str:
    """Return the first 16 hex digits of a file's SHA-256 (recorded in the training printout)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def teacher_sentences(
    shared: Path,
    config: SelfTrainConfig,
    exclude: set[tuple[str, ...]],
    teacher_model: Path,
    teacher_crf: Path,
    gazetteer: Any = None,
    crf_weight: float | None = None,
) -> tuple[list[Sentence], dict[str, Any]]:
    """Sample ANT sentences, tag them with the neural teacher and filter them.

    Args:
        shared: The shared data folder (``../shared``).
        config: Sample size, seed and filters.
        exclude: Folded sentences never used (the dev split's).
        teacher_model: The neural bundle (``data/ner_neural.pt``).
        teacher_crf: The CRF combined with the network in the teacher (and, for
            ``agree_only``, the student it is compared with).
        gazetteer: Name lists of the features (defaults to the shipped one).
        crf_weight: Weight of the CRF in the teacher (``None``: the bundle's).

    Returns:
        The tagged sentences and a report (teacher files' digests and weight, counts).
    """
    import torch

    from marsad.extractor.ner.neural import NeuralRecogniser
    from marsad.extractor.ner.recogniser import CrfRecogniser

    if crf_weight is None:
        crf_weight = float(torch.load(teacher_model, weights_only=True).get("crf_weight", 0.0))
    # The filters drop some of what is tagged: sample more than is kept.
    factor = 1 + 2 * config.entities_only + 2 * config.agree_only
    texts = iter_ant_texts(shared / "data" / "ant" / "articles.jsonl.gz")
    cands, sample_counts = sample_sentences(
        texts,
        config.sentences * factor,
        config.seed,
        exclude,
        config.min_tokens,
        config.max_tokens,
    )
    rec = NeuralRecogniser(teacher_model, gazetteer, crf_path=teacher_crf, crf_weight=crf_weight)
    crf = CrfRecogniser(teacher_crf, gazetteer) if config.agree_only else None

    def student(batch: Sequence[list[str]]) -> list[list[str]]:
        assert crf is not None
        return [crf.tag_sentence(t) for t in batch]

    kept, select_counts = select(cands, rec.tag_many, config, student)
    if len(kept) < config.sentences:
        logger.warning("only %d of %d self-training sentences passed", len(kept), config.sentences)
    report: dict[str, Any] = {
        "teacher_model": str(teacher_model),
        "teacher_model_sha256": file_digest(teacher_model),
        "teacher_crf": str(teacher_crf),
        "teacher_crf_sha256": file_digest(teacher_crf),
        "teacher_crf_weight": crf_weight,
        "config": asdict(config),
        "kept": len(kept),
        "kept_tokens": sum(len(t) for t, _ in kept),
        "kept_entities": sum(len(spans_of(g)) for _, g in kept),
        **sample_counts,
        **select_counts,
    }
    return kept, report
