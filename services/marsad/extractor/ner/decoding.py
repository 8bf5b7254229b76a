"""Recall-oriented decoding: per-label biases on the state scores before Viterbi.

Minkov, Wang, Tomasello and Cohen (2006), "NER systems that suit user's
preferences: adjusting the recall-precision trade-off for entity extraction":
adding a constant to the state score of the ``O`` label at every token moves
a linear-chain model along its precision-recall curve without retraining.  A
negative ``O`` bias makes entity labels cheaper, so recall rises.  Here a
bias may also be given per entity type (added to its ``B-`` and ``I-``
labels); a bias ``b`` on ``O`` decodes exactly like ``-b`` on every type,
since each token carries exactly one label.

The decoders stay exact: they return the best path for the biased scores.
The shipped values live in ``data/decoding.json``, one entry per backend,
together with the SHA-256 of the model files they were chosen for: a model
that was retrained since is decoded without a bias (and a warning), because
a bias tuned for one model's score scale means nothing for another's.
``marsad ner-bias`` chooses the values and rewrites the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marsad.extractor.ner.corpus import Sentence
from marsad.extractor.ner.lexicon import DATA_DIR
from marsad.extractor.ner.model import ENTITY_TYPES

logger = logging.getLogger(__name__)

DECODING_PATH = DATA_DIR / "decoding.json"


@dataclass(frozen=True)
class DecodingBias:
    """Constants added to the state scores of labels at every token.

    Attributes:
        o: Added to the ``O`` label's score; negative values favour entities (recall).
        types: Entity type -> constant added to its ``B-`` and ``I-`` labels.
    """

    o: float = 0.0
    types: Mapping[str, float] = field(default_factory=dict)

    @property
    def is_zero(self) -> bool:
        """Whether decoding with this bias is plain Viterbi."""
        return self.o == 0.0 and not any(self.types.values())

    def vector(self, labels: Sequence[str]) -> Any:
        """Return the bias of each label in ``labels`` order, as a float numpy vector.

        Args:
            labels: IOB2 labels (``O``, ``B-PERS``, ``I-PERS`` …) in the decoder's order.
        """
        import numpy as np

        return np.array(
            [self.o if lab == "O" else float(self.types.get(lab[2:], 0.0)) for lab in labels]
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (``o_bias`` and the non-zero ``type_bias``)."""
        return {"o_bias": self.o, "type_bias": {t: v for t, v in self.types.items() if v}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DecodingBias:
        """Build from :meth:`to_json` output (missing keys are zero)."""
        return cls(float(data.get("o_bias", 0.0)), dict(data.get("type_bias", {})))


NO_BIAS = DecodingBias()


def file_digest(path: Path) -> str:
    """Return the SHA-256 of a file (to tie a shipped bias to the model it was chosen for)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_bias(backend: str, models: Sequence[Path], path: Path = DECODING_PATH) -> DecodingBias:
    """Return the shipped bias of ``backend`` if it was chosen for exactly these model files.

    Args:
        backend: ``"builtin"`` or ``"neural"``.
        models: The model files the decoder loaded (the neural backend's
            bundle and the CRF combined with it).
        path: The decoding data file.

    Returns:
        The stored bias, or no bias when the file, the entry or a model digest
        does not match (logged as a warning for a digest mismatch).
    """
    if not path.exists():
        return NO_BIAS
    entry = json.loads(path.read_text(encoding="utf-8")).get(backend)
    if not entry:
        return NO_BIAS
    digests = [file_digest(m) for m in models]
    if digests != list(entry.get("model_sha256", [])):
        logger.warning(
            "decoding bias of the %s backend was chosen for other model files; decoding "
            "without a bias (run `marsad ner-bias --write` to choose it again)",
            backend,
        )
        return NO_BIAS
    return DecodingBias.from_json(entry)


def write_bias(
    backend: str,
    bias: DecodingBias,
    models: Sequence[Path],
    note: Mapping[str, Any],
    path: Path = DECODING_PATH,
) -> None:
    """Store ``bias`` as the shipped bias of ``backend``, keeping the other backends' entries.

    Args:
        backend: ``"builtin"`` or ``"neural"``.
        bias: The chosen bias.
        models: The model files it was chosen for (their digests are stored).
        note: How it was chosen (grid, criterion, figures), stored alongside.
        path: The decoding data file.
    """
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data[backend] = {
        **bias.to_json(),
        "models": [m.name for m in models],
        "model_sha256": [file_digest(m) for m in models],
        **note,
    }
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


# ---------------------------------------------------------------- choosing the bias

# Tags sentences (gold sentences: their tokens are read) decoded with a bias.
Tagger = Callable[[DecodingBias, Sequence[Sentence]], list[list[str]]]
# Chooses a bias on gold sentences: (the bias, its micro F1 there).
Chooser = Callable[[Tagger, Sequence[Sentence]], tuple[DecodingBias, float]]


def entity_counts(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]
) -> dict[str, list[int]]:
    """Return ``type -> [true positives, predicted, gold]`` of exact entity spans."""
    from marsad.extractor.ner.corpus import spans_of

    counts: dict[str, list[int]] = {t: [0, 0, 0] for t in ENTITY_TYPES}
    for g_tags, p_tags in zip(gold, pred, strict=True):
        g, p = spans_of(g_tags), spans_of(p_tags)
        for span in p:
            c = counts.setdefault(span[2], [0, 0, 0])
            c[1] += 1
            c[0] += span in g
        for span in g:
            counts.setdefault(span[2], [0, 0, 0])[2] += 1
    return counts


def micro_f1(counts: Mapping[str, Sequence[int]]) -> float:
    """Return the micro-averaged F1 of :func:`entity_counts` output."""
    tp, npred, ngold = (sum(c[i] for c in counts.values()) for i in range(3))
    return 2 * tp / (npred + ngold) if npred + ngold else 0.0


def choose_bias(
    tag: Tagger, sentences: Sequence[Sentence], candidates: Sequence[DecodingBias]
) -> tuple[DecodingBias, float]:
    """Return the candidate with the best micro F1 on ``sentences``, and that F1.

    Ties go to the candidate listed first (put the unbiased decoder first, so a
    bias is only chosen when it helps).
    """
    gold = [tags for _, tags in sentences]
    best, best_f1 = candidates[0], -1.0
    for cand in candidates:
        f1 = micro_f1(entity_counts(gold, tag(cand, sentences)))
        if f1 > best_f1:
            best, best_f1 = cand, f1
    return best, best_f1


def o_grid(values: Sequence[float]) -> Chooser:
    """Return a chooser of a single ``O`` bias from ``values`` (0 is tried first)."""
    candidates = [DecodingBias(v) for v in dict.fromkeys([0.0, *values])]

    def choose(tag: Tagger, sentences: Sequence[Sentence]) -> tuple[DecodingBias, float]:
        return choose_bias(tag, sentences, candidates)

    return choose


def type_search(
    values: Sequence[float], rounds: int = 2, types: Sequence[str] = ENTITY_TYPES
) -> Chooser:
    """Return a chooser of one bias per entity type, by coordinate ascent.

    Starting from no bias, each type's value in turn is set to the best of
    ``values`` with the others fixed (a change only when it raises F1), for
    ``rounds`` passes over ``types`` (the others keep no bias).  A bias on
    ``O`` besides would be redundant.
    """

    def choose(tag: Tagger, sentences: Sequence[Sentence]) -> tuple[DecodingBias, float]:
        current: dict[str, float] = {}
        best, best_f1 = choose_bias(tag, sentences, [NO_BIAS])
        for _ in range(rounds):
            for etype in types:
                here = current.get(etype, 0.0)
                candidates = [best] + [
                    DecodingBias(0.0, {**current, etype: v}) for v in values if v != here
                ]
                best, best_f1 = choose_bias(tag, sentences, candidates)
                current = dict(best.types)
        return best, best_f1

    return choose


def cross_validate(tag: Tagger, sentences: Sequence[Sentence], choose: Chooser) -> dict[str, Any]:
    """Two-fold cross-validation of a bias choice on contiguous halves of ``sentences``.

    The bias is chosen on one half and applied to the other, both ways; the
    two halves' predictions are scored together (pooled counts), next to the
    unbiased decoder on the same halves, so the difference is an out-of-sample
    gain.

    Args:
        tag: Tags sentences with a given bias (windows start at each half's start).
        sentences: The gold sentences (the dev split).
        choose: How a bias is chosen on a set of sentences.

    Returns:
        ``chosen`` (the bias picked on the first half's complement, then the
        second's), ``biased`` and ``unbiased`` (pooled :func:`entity_counts`
        of the held-out halves).
    """
    mid = len(sentences) // 2
    halves = [sentences[:mid], sentences[mid:]]
    chosen: list[DecodingBias] = []
    gold: list[list[str]] = []
    biased: list[list[str]] = []
    plain: list[list[str]] = []
    for k, half in enumerate(halves):
        pick, _ = choose(tag, halves[1 - k])
        chosen.append(pick)
        gold.extend(tags for _, tags in half)
        biased.extend(tag(pick, half))
        plain.extend(tag(NO_BIAS, half))
    return {
        "chosen": chosen,
        "biased": entity_counts(gold, biased),
        "unbiased": entity_counts(gold, plain),
    }


def recogniser_tagger(rec: Any, window: int = 1) -> Tagger:
    """Return a :data:`Tagger` over a recogniser, ``window`` sentences at a time.

    Results are memoised per bias and sentence range, since a search decodes
    the same sentences with the same bias several times.

    Args:
        rec: A recogniser with ``set_bias`` (its bias is left changed).
        window: Sentences tagged together, from the first sentence given.
    """
    from marsad.extractor.ner.training import predict_recogniser

    memo: dict[tuple[Any, ...], list[list[str]]] = {}
    # The neural backend can keep its unbiased scores: a search then runs its
    # networks once per sentence batch instead of once per bias tried.
    memoise = getattr(rec, "memoise_scores", None)
    if memoise is not None:
        memoise(True)

    def tag(bias: DecodingBias, sentences: Sequence[Sentence]) -> list[list[str]]:
        # The sentences are slices of one list: the first one's identity and the
        # length name the range.
        first = id(sentences[0]) if sentences else 0
        key = (bias.o, tuple(sorted(bias.to_json()["type_bias"].items())), first, len(sentences))
        if key not in memo:
            rec.set_bias(bias)
            memo[key] = predict_recogniser(rec, sentences, window)
        return memo[key]

    return tag


def describe(bias: DecodingBias) -> str:
    """Return a short readable form: ``O -0.75``, ``ORG +0.50 LOC -0.50`` or ``none``."""
    parts = [f"O {bias.o:+.2f}"] if bias.o else []
    parts += [f"{t} {v:+.2f}" for t, v in bias.types.items() if v]
    return " ".join(parts) or "none"
