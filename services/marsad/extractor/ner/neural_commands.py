"""CLI subcommands of the neural NER backend: vectors, training, ensembles.

Registered by :func:`marsad.extractor.ner.commands.register`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_SHARED = Path("../shared")
# Word vectors of 60,000 words are a training input, not shipped: the model
# bundle keeps only the rows it needs.
DEFAULT_VECTORS = Path("build/ner-vectors.npz")
# The character language models are a training input too: a bundle trained
# with them stores its own copy.
DEFAULT_CHARLM = Path("build/ner-charlm.pt")
CRF_WEIGHTS = (0.0, 0.5, 0.75, 1.0, 1.5, 2.0)


def register(subparsers: Any) -> None:
    """Add the neural NER subcommands to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "ner-vectors", help="Learn word vectors (PPMI-SVD) from ANT for the neural tagger."
    )
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data folder")
    p.add_argument("--out", type=Path, default=DEFAULT_VECTORS, help="output .npz")
    p.add_argument("--dims", type=int, default=100)
    p.add_argument("--vocab", type=int, default=60_000, help="words that get a vector")
    p.add_argument(
        "--method",
        choices=("ppmi", "fasttext"),
        default="ppmi",
        help="PPMI-SVD (shipped) or skip-gram fastText (tried, not shipped; needs gensim, "
        "not a marsad dependency)",
    )
    p.add_argument("--epochs", type=int, default=5, help="fastText passes")
    p.add_argument("--min-count", type=int, default=3, help="fastText: rarer words use n-grams")
    p.add_argument("--min-n", type=int, default=3, help="fastText: shortest character n-gram")
    p.add_argument("--max-n", type=int, default=5, help="fastText: longest character n-gram")
    p.set_defaults(func=cmd_vectors)

    p = subparsers.add_parser(
        "ner-train-neural",
        help="Train the neural NER tagger (BiLSTM-CRF) into the package; prints dev P/R/F1.",
    )
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data folder")
    p.add_argument("--vectors", type=Path, default=DEFAULT_VECTORS, help="from ner-vectors")
    p.add_argument("--model", type=Path, default=None, help="output model bundle")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--hidden", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--charlm",
        type=Path,
        default=None,
        help="character language models from ner-train-lm: contextual string "
        "embeddings as an extra input (tried, not shipped)",
    )
    p.add_argument("--lm-proj", type=int, default=None, help="projection of the LM vectors")
    p.add_argument(
        "--aux-wojood",
        action="store_true",
        help="multi-task: Wojood's sentences with their own labels train a second "
        "output layer + CRF on the shared encoder (not stored; tried, not shipped)",
    )
    p.add_argument(
        "--aux-weight",
        type=float,
        default=1.0,
        help="factor of the Wojood batches' clipped gradients",
    )
    p.set_defaults(func=cmd_train_neural)

    p = subparsers.add_parser(
        "ner-train-lm",
        help="Train forward and backward character language models on ANT text "
        "(contextual string embeddings for the neural tagger).",
    )
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data folder")
    p.add_argument("--out", type=Path, default=DEFAULT_CHARLM, help="output .pt")
    p.add_argument("--train-chars", type=int, default=16_000_000)
    p.add_argument("--heldout-chars", type=int, default=500_000)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--char-dim", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--min-count", type=int, default=50, help="rarer characters share one id")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_lm)

    p = subparsers.add_parser(
        "ner-ensemble",
        help="Combine networks trained with different seeds into one bundle (scores "
        "averaged); picks the CRF weight; prints dev P/R/F1.",
    )
    p.add_argument("members", type=Path, nargs="+", help="bundles from ner-train-neural")
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data folder")
    p.add_argument("--model", type=Path, default=None, help="output model bundle")
    p.set_defaults(func=cmd_ensemble)


def cmd_vectors(args: argparse.Namespace, settings: Any = None) -> int:
    """Build the word vectors from ANT and ANERcorp's training sentences (not the dev split)."""
    from marsad.extractor.ner.corpus import read_wojood
    from marsad.extractor.ner.embeddings import build_vectors, iter_texts, save_vectors
    from marsad.extractor.ner.training import load_splits

    train, _ = load_splits(args.shared)
    wdir = args.shared / "data" / "wojood"
    extra = [t for t, _ in train] + [
        t for f in ("train.txt", "val.txt") for t, _ in read_wojood(wdir / f)
    ]
    ant = args.shared / "data" / "ant" / "articles.jsonl.gz"
    if args.method == "fasttext":
        words, vectors, base_of, stats = _fasttext(args, iter_texts(ant), extra)
    else:
        words, vectors, base_of, stats = build_vectors(
            iter_texts(ant), extra, vocab_size=args.vocab, dims=args.dims
        )
    save_vectors(args.out, words, vectors, base_of)
    stats["out"] = str(args.out)
    print(json.dumps(stats, indent=2))
    return 0


def _fasttext(
    args: argparse.Namespace, texts: Any, extra: list[list[str]]
) -> tuple[list[str], Any, dict[str, str], dict[str, Any]]:
    """Skip-gram fastText vectors of the PPMI vocabulary, trained on the same base-word stream."""
    import time

    from marsad.extractor.ner.embeddings import base_corpus, fasttext_vectors, write_stream

    t0 = time.perf_counter()
    corpus = base_corpus(texts, extra, args.vocab)
    stream = args.out.with_suffix(".stream.txt")
    write_stream(corpus, stream)
    t1 = time.perf_counter()
    words = corpus.words
    try:
        vectors = fasttext_vectors(
            stream,
            words,
            dims=args.dims,
            min_count=args.min_count,
            min_n=args.min_n,
            max_n=args.max_n,
            epochs=args.epochs,
        )
    finally:
        stream.unlink()
    stats = {
        "method": "fasttext",
        "documents": len(corpus.docs),
        "tokens": corpus.tokens,
        "vocab": len(words),
        "dims": args.dims,
        "stream_seconds": t1 - t0,
        "train_seconds": time.perf_counter() - t1,
    }
    return words, vectors, corpus.base_of(), stats


def cmd_train_lm(args: argparse.Namespace, settings: Any = None) -> int:
    """Train the two character language models on a seeded sample of ANT; print bits/char."""
    import numpy as np
    import torch

    from marsad.extractor.ner.charlm import (
        LMConfig,
        bits_per_char,
        char_vocab,
        encode_stream,
        half_rounded,
        lm_bundle,
        sample_sentences,
        train_lm,
    )
    from marsad.extractor.ner.embeddings import iter_texts

    ant = args.shared / "data" / "ant" / "articles.jsonl.gz"
    train, held = sample_sentences(
        iter_texts(ant), args.train_chars, args.heldout_chars, args.seed
    )
    chars = char_vocab(train, args.min_count)
    ids = {c: i for i, c in enumerate(chars, start=1)}
    stream = encode_stream(train, ids)
    held_stream = encode_stream(held, ids)
    print(
        f"{len(train)} training sentences ({len(stream)} chars), {len(held)} held-out "
        f"({len(held_stream)} chars); {len(chars)} characters + 1 for the rare ones"
    )
    cfg = LMConfig(
        n_chars=len(chars) + 1,
        char_dim=args.char_dim,
        hidden=args.hidden,
        batch=args.batch,
        seed=args.seed,
    )
    report: dict[str, Any] = {"config": cfg.to_dict(), "chars": len(chars)}
    lms = []
    for name, data, held_data in (
        ("forward", stream, held_stream),
        ("backward", stream[::-1], held_stream[::-1]),
    ):
        lm, rep = train_lm(np.ascontiguousarray(data), cfg, print, log_every=200)
        half_rounded(lm)
        rep["heldout_bits_per_char"] = bits_per_char(lm, np.ascontiguousarray(held_data))
        rep["heldout_perplexity"] = 2.0 ** rep["heldout_bits_per_char"]
        print(f"{name}: {json.dumps(rep)}")
        report[name] = rep
        lms.append(lm)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(lm_bundle(chars, lms[0], lms[1]), args.out)
    report["out"] = str(args.out)
    report["mb"] = args.out.stat().st_size / 1e6
    print(json.dumps(report, indent=2))
    return 0


def cmd_train_neural(args: argparse.Namespace, settings: Any = None) -> int:
    """Train the network, tune the CRF weight on the dev split, write the bundle."""
    from marsad.extractor.ner.lexicon import load_gazetteer
    from marsad.extractor.ner.neural import NEURAL_MODEL_PATH
    from marsad.extractor.ner.neural_training import NeuralTrainConfig, train_neural, wojood_aux
    from marsad.extractor.ner.training import build_gazetteer, load_splits

    defaults = NeuralTrainConfig()
    config = NeuralTrainConfig(
        epochs=args.epochs or defaults.epochs,
        hidden=args.hidden or defaults.hidden,
        seed=defaults.seed if args.seed is None else args.seed,
        lm_proj=args.lm_proj or defaults.lm_proj,
    )
    out = args.model or NEURAL_MODEL_PATH
    train, dev = load_splits(args.shared)
    charlm = None
    if args.charlm is not None:
        from marsad.extractor.ner.charlm import load_lm

        charlm = load_lm(args.charlm)
    aux = None
    if args.aux_wojood:
        aux = wojood_aux(args.shared, train, config.folds, args.aux_weight)
        print(f"auxiliary head: {len(aux.sentences)} Wojood sentences, {len(aux.tags)} tags")
    bundle, report = train_neural(
        train,
        dev,
        build_gazetteer(args.shared),
        load_gazetteer(),
        args.vectors,
        config,
        print,
        charlm=charlm,
        aux=aux,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    weight = _choose_crf_weight(bundle, out, dev)
    print(
        f"trained in {report['seconds']:.0f} s; best epoch {report['best_epoch']}; "
        f"CRF weight {weight}; model {out.stat().st_size / 1e6:.2f} MB"
    )
    _print_dev(out, dev)
    return 0


def cmd_ensemble(args: argparse.Namespace, settings: Any = None) -> int:
    """Combine trained networks into an ensemble bundle, tune its CRF weight, write it."""
    import torch

    from marsad.extractor.ner.neural import NEURAL_MODEL_PATH
    from marsad.extractor.ner.neural_training import ensemble_bundle
    from marsad.extractor.ner.training import load_splits

    bundle = ensemble_bundle([torch.load(m, weights_only=True) for m in args.members])
    out = args.model or NEURAL_MODEL_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    _, dev = load_splits(args.shared)
    weight = _choose_crf_weight(bundle, out, dev)
    print(
        f"{len(bundle['members'])} networks; CRF weight {weight}; "
        f"model {out.stat().st_size / 1e6:.2f} MB"
    )
    _print_dev(out, dev)
    return 0


def _choose_crf_weight(bundle: dict[str, Any], out: Path, dev: Any) -> float:
    """Write ``bundle`` to ``out`` with the CRF weight that is best on the dev split; return it.

    The weight is chosen one sentence at a time, without a decoding bias (a
    shipped bias belongs to the previous model, see ``ner-bias``).
    """
    import torch

    from marsad.extractor.ner.decoding import NO_BIAS
    from marsad.extractor.ner.neural import NeuralRecogniser
    from marsad.extractor.ner.training import evaluate_recogniser

    torch.save(bundle, out)
    best = (-1.0, 0.0)
    for weight in CRF_WEIGHTS:
        rec = NeuralRecogniser(out, crf_weight=weight, bias=NO_BIAS)
        f1 = evaluate_recogniser(rec, dev, 1)["micro"]["f1"]
        print(f"CRF weight {weight}: dev micro F1 {f1:.4f}")
        best = max(best, (f1, weight))
    bundle["crf_weight"] = best[1]
    torch.save(bundle, out)
    return best[1]


def _print_dev(model: Path, dev: Any) -> None:
    """Print the dev P/R/F1 of a bundle, by sentence and in windows of 10."""
    from marsad.extractor.ner.neural import NeuralRecogniser
    from marsad.extractor.ner.training import evaluate_recogniser, format_scores

    rec = NeuralRecogniser(model)
    for window in (1, 10):
        print(f"dev split, {window} sentence(s) at a time:")
        print(format_scores(evaluate_recogniser(rec, dev, window)))
