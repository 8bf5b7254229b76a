"""A stacked second-pass CRF over the first CRF's tags (tried, not shipped: see the README).

Krishnan and Manning (2006) and stacked learning (Wolpert 1992; Cohen and
Carvalho 2005): a second CRF keeps the first CRF's features and adds
features computed from the first CRF's output:

- **local**: the first pass's Viterbi tag of the token and of its neighbours
  (``s1=B-ORG``, ``s1-1=O``, ``s1+1=I-ORG``);
- **non-local**: within the text tagged together (an article in the
  stream, 10 sentences in the windowed evaluation), for the token's base
  (folded, clitic-stripped), the majority first-pass label of the *other*
  occurrences of that base (``tm=ORG``, K&M's token majority) and the
  majority type of the *other* first-pass entities whose words include that
  base (``em=ORG``, their entity majority).

The second CRF must be trained on first-pass outputs of the same quality as
at run time, so the training part's first-pass tags are **jackknifed**: the
part is cut into contiguous folds and each fold is tagged by a CRF trained
on the other folds only (with the gazetteer holding those folds' names,
as the shipped gazetteer holds every training name but none of a new
text's).  At run time the first pass is the shipped CRF.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from marsad.extractor.ner.corpus import Sentence, spans_of
from marsad.extractor.ner.lexicon import Gazetteer

if TYPE_CHECKING:
    from marsad.extractor.ner.clusters import WordInfo
    from marsad.extractor.ner.fastcrf import FastCrf
    from marsad.extractor.ner.training import TrainConfig
    from marsad.extractor.ner.wordvecs import WordVecs

logger = logging.getLogger(__name__)

# Not shipped (no dev gain), so it is a build file by default.
STACK_MODEL_PATH = Path("build/ner.stack.crfsuite")
# Sentences per training window: the windowed evaluation's window (about one short article).
TRAIN_WINDOW = 10
# Thresholds of the bucketed first-pass marginals.
MARGINAL_BUCKETS = (0.1, 0.3, 0.5, 0.7, 0.9)
# Ties between majority labels go to the first in this order (deterministic).
_RANK = {label: k for k, label in enumerate(("PERS", "LOC", "ORG", "MISC", "O"))}


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Which stacked features the second pass uses.

    Attributes:
        non_local: Also the token-majority and entity-majority features.
        positional: Non-local majorities of IOB2 labels, not types (see
            :func:`stacked_attributes`).
        marginals: Also the first pass's bucketed label marginals.
        meta_only: The second pass has the stacked features only, not the
            CRF's own (which, fitted in-sample, can co-adapt with them).
        folds: Jackknife folds of the training part.
        jackknife_iterations: L-BFGS iterations of the fold CRFs (``None``:
            those of the first pass's :class:`TrainConfig`).
        workers: Fold CRFs trained at once (processes).
    """

    non_local: bool = True
    positional: bool = False
    marginals: bool = False
    meta_only: bool = False
    folds: int = 5
    jackknife_iterations: int | None = None
    workers: int = 2


def sidecar_path(model_path: Path) -> Path:
    """Return the JSON file describing a stacked model (``x.crfsuite`` -> ``x.stack.json``)."""
    return model_path.with_suffix(".stack.json")


def _majority(counts: Counter[str]) -> str:
    """Return the most frequent label, ties broken by ``_RANK`` (of the type; B- before I-)."""
    return min(
        counts.items(), key=lambda kv: (-kv[1], _RANK.get(kv[0][-4:].lstrip("-"), 99), kv[0])
    )[0]


def sentence_spans(
    tags: Sequence[str], sentence_lengths: Sequence[int]
) -> list[tuple[int, int, str]]:
    """Return the entity spans of tags cut into sentences (no span crosses a sentence end)."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    for n in sentence_lengths:
        out.extend((pos + a, pos + b, t) for a, b, t in sorted(spans_of(tags[pos : pos + n])))
        pos += n
    return out


def marginal_attributes(marginals: np.ndarray, labels: Sequence[str]) -> list[list[str]]:
    """Return each token's bucketed first-pass marginals: ``m1:B-ORG>0.5`` for each bucket passed.

    Cumulative indicators (a marginal of 0.6 fires ``>0.1``, ``>0.3`` and
    ``>0.5``), so the second CRF learns one weight per threshold.
    """
    out: list[list[str]] = []
    for row in marginals.tolist():
        feats: list[str] = []
        for label, p in zip(labels, row, strict=True):
            feats.extend(f"m1:{label}>{t}" for t in MARGINAL_BUCKETS if p > t)
        out.append(feats)
    return out


def stacked_attributes(
    bases: Sequence[str],
    tags: Sequence[str],
    sentence_lengths: Sequence[int],
    *,
    non_local: bool = True,
    positional: bool = False,
    marginals: list[list[str]] | None = None,
) -> list[list[str]]:
    """Return the stacked features of each token of one text.

    Args:
        bases: Each token's base (folded, clitic-stripped: ``WordFeats.base``).
        tags: The first pass's IOB2 tags of the text.
        sentence_lengths: Tokens per sentence, summing to ``len(tags)``;
            neighbour features stay inside a sentence.
        non_local: Also the majority features over the whole text.
        positional: The majorities keep the position in the name: the other
            occurrences' IOB2 tags (``tm=I-PERS``) and whether the base begins
            the other entities (``em=B-PERS``) or not (``em=I-PERS``); without
            it, types only (which split names: see the README).
        marginals: Each token's :func:`marginal_attributes`, added as they are.

    Returns:
        One list of feature strings per token.
    """
    n = len(tags)
    out: list[list[str]] = [["s1=" + t] for t in tags]
    if marginals is not None:
        for feats, extra in zip(out, marginals, strict=True):
            feats.extend(extra)
    pos = 0
    for length in sentence_lengths:
        for i in range(pos, pos + length):
            out[i].append("s1-1=" + (tags[i - 1] if i > pos else "BOS"))
            out[i].append("s1+1=" + (tags[i + 1] if i + 1 < pos + length else "EOS"))
        pos += length
    if not non_local or not n:
        return out
    labels = [t[2:] if t != "O" else "O" for t in tags]
    # Only bases the first pass tagged somewhere can carry a majority that is not
    # trivially O; the rest get no non-local feature.
    tagged_bases = {bases[i] for i in range(n) if labels[i] != "O"}
    if not tagged_bases:
        return out
    occurrences: dict[str, list[int]] = {}
    for i, b in enumerate(bases):
        if b in tagged_bases:
            occurrences.setdefault(b, []).append(i)
    for where in occurrences.values():
        if len(where) < 2:
            continue
        keys = tags if positional else labels
        counts = Counter(keys[i] for i in where)
        for i in where:
            counts[keys[i]] -= 1  # the other occurrences only
            out[i].append("tm=" + _majority(+counts))
            counts[keys[i]] += 1
    spans = sentence_spans(tags, sentence_lengths)
    # Per entity: its bases, each with its position label (B- first word, I- the others).
    containing: dict[str, list[tuple[int, str]]] = {}
    for k, (a, e, etype) in enumerate(spans):
        seen: set[str] = set()
        for i in range(a, e):
            if bases[i] not in seen:
                seen.add(bases[i])
                label = (("B-" if i == a else "I-") + etype) if positional else etype
                containing.setdefault(bases[i], []).append((k, label))
    for b, where in occurrences.items():
        found = containing.get(b, ())
        for i in where:
            counts = Counter(
                label for k, label in found if not spans[k][0] <= i < spans[k][1]
            )
            if counts:
                out[i].append("em=" + _majority(counts))
    return out


def window_attributes(
    bases: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]],
    window: int = TRAIN_WINDOW,
    *,
    non_local: bool = True,
    positional: bool = False,
    marginals: Sequence[list[list[str]]] | None = None,
) -> list[list[list[str]]]:
    """:func:`stacked_attributes` of consecutive sentences tagged ``window`` at a time.

    The windows start at the first sentence, as in :func:`training.predict_recogniser`;
    ``marginals`` are each sentence's :func:`marginal_attributes`.
    """
    out: list[list[list[str]]] = []
    for k in range(0, len(tags), window):
        group_b, group_t = bases[k : k + window], tags[k : k + window]
        lengths = [len(t) for t in group_t]
        flat = stacked_attributes(
            [b for s in group_b for b in s],
            [t for s in group_t for t in s],
            lengths,
            non_local=non_local,
            positional=positional,
            marginals=(
                None if marginals is None else [m for s in marginals[k : k + window] for m in s]
            ),
        )
        pos = 0
        for length in lengths:
            out.append(flat[pos : pos + length])
            pos += length
    return out


# The fold jobs' shared inputs: set before the worker processes fork (too large to pickle).
_JOB: dict[str, Any] = {}


def _fold_tags(k: int) -> tuple[int, list[list[str]], float]:
    """Train the CRF without fold ``k`` and return fold ``k``'s Viterbi tags and the CPU time."""
    import pycrfsuite

    from marsad.extractor.ner.fastcrf import FastCrf
    from marsad.extractor.ner.features import FeatureExtractor
    from marsad.extractor.ner.training import add_labelled_names, train

    c0 = time.process_time()
    sentences: Sequence[Sentence] = _JOB["sentences"]
    folds: int = _JOB["folds"]
    n = len(sentences)
    lo, hi = n * k // folds, n * (k + 1) // folds
    others = [*sentences[:lo], *sentences[hi:]]
    path = Path(_JOB["out_dir"]) / f"fold{k}.crfsuite"
    train(
        others,
        path,
        _JOB["gazetteer"],
        _JOB["config"],
        _JOB["clusters"],
        word_vecs=_JOB["word_vecs"],
    )
    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    # The held-out fold sees the other folds' names, as a new text sees the training names.
    fx = FeatureExtractor(
        add_labelled_names(_JOB["gazetteer"], others),
        _JOB["clusters"],
        word_vecs=_JOB["word_vecs"],
    )
    tags = FastCrf(tagger, fx).tag_many([toks for toks, _ in sentences[lo:hi]])
    return k, tags, time.process_time() - c0


def jackknife_tags(
    sentences: Sequence[Sentence],
    gazetteer: Gazetteer,
    clusters: dict[str, WordInfo] | None,
    config: TrainConfig,
    word_vecs: WordVecs,
    stack: StackConfig,
    out_dir: Path,
) -> tuple[list[list[str]], list[float]]:
    """Return the jackknifed first-pass tags of ``sentences`` and each fold's CPU seconds.

    Args:
        sentences: The training part, in document order.
        gazetteer: Name lists without any ANERcorp names.
        clusters: Corpus word information.
        config: The first pass's hyper-parameters (its iterations may be
            overridden by ``stack.jackknife_iterations``).
        word_vecs: The first pass's real-valued embedding features.
        stack: Folds and worker processes.
        out_dir: Where the fold models go (build files).
    """
    import dataclasses
    import multiprocessing

    if stack.jackknife_iterations is not None:
        config = dataclasses.replace(config, max_iterations=stack.jackknife_iterations)
    out_dir.mkdir(parents=True, exist_ok=True)
    _JOB.update(
        sentences=sentences,
        folds=stack.folds,
        out_dir=str(out_dir),
        gazetteer=gazetteer,
        config=config,
        clusters=clusters,
        word_vecs=word_vecs,
    )
    try:
        if stack.workers > 1:
            with multiprocessing.get_context("fork").Pool(stack.workers) as pool:
                results = pool.map(_fold_tags, range(stack.folds), chunksize=1)
        else:
            results = [_fold_tags(k) for k in range(stack.folds)]
    finally:
        _JOB.clear()
    results.sort(key=lambda r: r[0])
    return [t for _, tags, _ in results for t in tags], [cpu for _, _, cpu in results]


def jackknife_marginals(
    sentences: Sequence[Sentence],
    gazetteer: Gazetteer,
    clusters: dict[str, WordInfo] | None,
    word_vecs: WordVecs,
    folds: int,
    fold_dir: Path,
) -> list[list[list[str]]]:
    """Return :func:`marginal_attributes` of each sentence under the fold model that did not see it.

    The fold models are those :func:`jackknife_tags` wrote to ``fold_dir``.
    """
    import pycrfsuite

    from marsad.extractor.ner.fastcrf import FastCrf
    from marsad.extractor.ner.features import FeatureExtractor
    from marsad.extractor.ner.training import add_labelled_names

    n = len(sentences)
    out: list[list[list[str]]] = []
    for k in range(folds):
        lo, hi = n * k // folds, n * (k + 1) // folds
        others = [*sentences[:lo], *sentences[hi:]]
        tagger = pycrfsuite.Tagger()
        tagger.open(str(fold_dir / f"fold{k}.crfsuite"))
        fx = FeatureExtractor(
            add_labelled_names(gazetteer, others), clusters, word_vecs=word_vecs
        )
        fast = FastCrf(tagger, fx)
        for toks, _ in sentences[lo:hi]:
            marg = fast.tag_tokens_marginals(toks, [len(toks)])[3]
            out.append(marginal_attributes(marg, fast.labels))
    return out


def stacked_items(
    items: Sequence[Sequence[dict[str, float]]], attributes: Sequence[Sequence[Sequence[str]]]
) -> list[list[dict[str, float]]]:
    """Return crfsuite items with each token's stacked features added (value 1 each)."""
    out: list[list[dict[str, float]]] = []
    for sent_items, sent_attrs in zip(items, attributes, strict=True):
        sent: list[dict[str, float]] = []
        for item, attrs in zip(sent_items, sent_attrs, strict=True):
            merged = dict(item)
            for a in attrs:
                merged[a] = merged.get(a, 0.0) + 1.0
            sent.append(merged)
        out.append(sent)
    return out


class StackScorer:
    """The stacked features' state scores under a second-pass model's weights.

    Args:
        fast: The second pass's decoder (its weights include the stacked features').
    """

    def __init__(self, fast: FastCrf) -> None:
        self._rows = fast.attribute_rows()
        self._matrix = fast.weight_matrix()

    def scores(self, attributes: Sequence[Sequence[str]]) -> np.ndarray:
        """Return the (tokens x labels) scores of each token's stacked features."""
        get = self._rows.get
        flat: list[int] = []
        starts: list[int] = []
        for attrs in attributes:
            starts.append(len(flat))
            flat.append(0)  # the all-zero row: no segment is empty
            flat.extend(get(a, 0) for a in attrs)
        if not starts:
            return np.zeros((0, self._matrix.shape[1]))
        result: np.ndarray = np.add.reduceat(self._matrix[flat], starts, axis=0)
        return result


def write_sidecar(model_path: Path, first_pass: Path, stack: StackConfig) -> None:
    """Record a stacked model's first pass (relative to the model's folder) and features."""
    first = os.path.relpath(first_pass.resolve(), model_path.parent.resolve())
    sidecar_path(model_path).write_text(
        json.dumps(
            {
                "first_pass": first,
                "non_local": stack.non_local,
                "positional": stack.positional,
                "marginals": stack.marginals,
                "meta_only": stack.meta_only,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


def read_sidecar(model_path: Path) -> dict[str, Any]:
    """Return a stacked model's description (see :func:`write_sidecar`)."""
    data: dict[str, Any] = json.loads(sidecar_path(model_path).read_text(encoding="utf-8"))
    return data


def fold_dir(cache: Path) -> Path:
    """Return where the fold models of a jackknife cache file go (``x.json`` -> ``x-folds/``)."""
    return cache.with_name(cache.stem + "-folds")


def cached_jackknife_tags(
    cache: Path,
    sentences: Sequence[Sentence],
    gazetteer: Gazetteer,
    clusters: dict[str, WordInfo] | None,
    config: TrainConfig,
    word_vecs: WordVecs,
    stack: StackConfig,
) -> list[list[str]]:
    """:func:`jackknife_tags`, read from ``cache`` when it was computed for the same setting.

    The folds are the slow part (five CRF trainings); the cache lets both
    second passes (with and without non-local features) share them.
    """
    key = {
        "sentences": len(sentences),
        "tokens": sum(len(t) for t, _ in sentences),
        "folds": stack.folds,
        "iterations": stack.jackknife_iterations or config.max_iterations,
        "c1": config.c1,
        "c2": config.c2,
        "vec_dims": config.vec_dims,
        "vec_scale": config.vec_scale,
    }
    if cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("key") == key:
            logger.info("jackknifed first-pass tags read from %s", cache)
            tags: list[list[str]] = data["tags"]
            return tags
    tags, cpu = jackknife_tags(
        sentences, gazetteer, clusters, config, word_vecs, stack, fold_dir(cache)
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(
        json.dumps({"key": key, "fold_cpu_seconds": cpu, "tags": tags}), encoding="utf-8"
    )
    logger.info("jackknife: fold CPU seconds %s", [round(c) for c in cpu])
    return tags


def run_stacked_training(
    shared: Path,
    model_path: Path = STACK_MODEL_PATH,
    first_pass: Path | None = None,
    config: TrainConfig | None = None,
    stack: StackConfig | None = None,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Train the stacked second pass on the training part and score it on the dev split.

    Args:
        shared: The shared data folder.
        model_path: Where the second pass goes (with its vectors and sidecar files).
        first_pass: The first pass at run time (default: the shipped CRF).
        config: The CRF hyper-parameters, for the jackknife folds and the second pass.
        stack: Stacked features and jackknife settings.
        cache: The jackknifed first-pass tags (reused when computed for the same
            setting; default ``build/stack-jackknife-{folds}.json``).

    Returns:
        Times and the dev scores of the first pass and of the two passes
        (sentences and 10-sentence windows), and the jackknifed first pass's
        scores on the training part.
    """
    import pycrfsuite

    from marsad.extractor.ner.clusters import load_clusters
    from marsad.extractor.ner.features import FeatureExtractor
    from marsad.extractor.ner.recogniser import DEFAULT_MODEL, CrfRecogniser, StackedRecogniser
    from marsad.extractor.ner.training import (
        TrainConfig,
        build_gazetteer,
        evaluate_recogniser,
        jackknife_features,
        load_config_embeddings,
        load_splits,
        score,
        write_model_embeddings,
    )
    from marsad.extractor.ner.wordbits import NO_BITS
    from marsad.extractor.ner.wordvecs import NO_VECS

    config = config or TrainConfig()
    stack = stack or StackConfig()
    first_pass = first_pass or DEFAULT_MODEL
    cache = cache or Path(f"build/stack-jackknife-{stack.folds}.json")
    t0 = time.perf_counter()
    base = build_gazetteer(shared)
    train_sents, dev_sents = load_splits(shared)
    clusters = load_clusters()
    _, word_vecs = load_config_embeddings(config)
    c0 = time.process_time()
    first_tags = cached_jackknife_tags(
        cache, train_sents, base, clusters, config, word_vecs, stack
    )
    fx = FeatureExtractor(base, clusters, word_vecs=word_vecs)
    bases = [[fx.word(t).base for t in toks] for toks, _ in train_sents]
    marginals = None
    if stack.marginals:
        marginals = jackknife_marginals(
            train_sents, base, clusters, word_vecs, stack.folds, fold_dir(cache)
        )
    attrs = window_attributes(
        bases,
        first_tags,
        TRAIN_WINDOW,
        non_local=stack.non_local,
        positional=stack.positional,
        marginals=marginals,
    )
    if stack.meta_only:
        # One empty item per token: the stacked features are added below.
        items: Sequence[Sequence[dict[str, float]]] = [[{} for _ in t] for t, _ in train_sents]
    else:
        items = jackknife_features(train_sents, base, clusters, word_vecs=word_vecs)
    trainer = pycrfsuite.Trainer(verbose=False)
    for (_, tags), xseq in zip(train_sents, stacked_items(items, attrs), strict=True):
        trainer.append(xseq, tags)
    trainer.set_params(
        {
            "c1": config.c1,
            "c2": config.c2,
            "max_iterations": config.max_iterations,
            "feature.possible_transitions": True,
        }
    )
    model_path.parent.mkdir(parents=True, exist_ok=True)
    t1 = time.process_time()
    trainer.train(str(model_path))
    train_cpu = time.process_time() - t1
    write_model_embeddings(
        model_path, NO_BITS, NO_VECS if stack.meta_only else word_vecs, config.vec_scale
    )
    write_sidecar(model_path, first_pass, stack)
    first = CrfRecogniser(first_pass)
    second = StackedRecogniser(model_path)
    return {
        "seconds_total": time.perf_counter() - t0,
        "cpu_seconds_second_pass": train_cpu,
        "cpu_seconds_before_second_pass": t1 - c0,
        "model_bytes": model_path.stat().st_size,
        "jackknife_train_scores": score([t for _, t in train_sents], first_tags),
        "first": evaluate_recogniser(first, dev_sents),
        "first_window10": evaluate_recogniser(first, dev_sents, window=10),
        "scores": evaluate_recogniser(second, dev_sents),
        "scores_window10": evaluate_recogniser(second, dev_sents, window=10),
    }
