"""CLI subcommands of the NER step: ``ner``, ``ner-train``, ``ner-eval``, ``ner-bench``.

The neural backend's ``ner-vectors`` and ``ner-train-neural`` live in
:mod:`marsad.extractor.ner.neural_commands`.

The main ``marsad`` CLI calls :func:`register` with its subparsers.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_SHARED = Path("../shared")

# The grids of ner-bias: the neural backend's scores (network + 1.5 x CRF) are
# larger than the CRF's, hence the wide O grid.
O_GRID = (-0.25, -0.5, -0.75, -1.0, -1.25, -1.5, -2.0, -3.0)
TYPE_GRID = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
# Recall-oriented per-type biases: never below 0 (an entity type is never penalised).
WEAK_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
STRATEGIES = ("o", "weak", "recall", "types")


def register(subparsers: Any) -> None:
    """Add the NER subcommands to an ``argparse`` subparsers object."""
    p = subparsers.add_parser("ner", help="Tag CoNLL tokens (one per line) with the NER model.")
    p.add_argument(
        "--conll", required=True, help="CoNLL file (first column = token), or - for stdin"
    )
    p.add_argument("--backend", default="builtin", choices=("builtin", "camel", "neural"))
    p.add_argument("--model", type=Path, default=None, help="model file (built-in or neural)")
    p.set_defaults(func=cmd_ner)

    p = subparsers.add_parser("ner-train", help="Train the built-in NER model into the package.")
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data folder")
    p.add_argument("--model", type=Path, default=None, help="output model file")
    p.add_argument("--c1", type=float, default=None)
    p.add_argument("--c2", type=float, default=None)
    p.add_argument("--iterations", type=int, default=None, help="most L-BFGS iterations")
    p.add_argument(
        "--wojood", action="store_true", help="add the Wojood sample as training sentences"
    )
    p.add_argument(
        "--vectors",
        type=Path,
        default=None,
        help="word-embedding features from this ner-vectors file (default "
        "build/ner-vectors.npz; the kept rows are written next to the model)",
    )
    p.add_argument(
        "--no-vectors", action="store_true", help="train without word-embedding features"
    )
    p.add_argument(
        "--topics",
        action="store_true",
        help="add article-topic features (naive Bayes over ANT's categories; tried, not shipped)",
    )
    p.add_argument(
        "--topics-kept",
        default="",
        help="with --topics: comma-separated ANT categories given as features (default: all)",
    )
    p.add_argument("--bits-words", type=int, default=None, help="most frequent words kept")
    p.add_argument(
        "--bits-dims",
        type=int,
        default=None,
        help="first dimensions binarised (.bits.npz; default 0 = no bits, -1 = all)",
    )
    p.add_argument(
        "--vec-dims",
        type=int,
        default=None,
        help="first dimensions as real-valued features (.vecs.npz; default 50, 0 = none)",
    )
    p.add_argument("--vec-scale", type=float, default=None, help="their scale")
    p.add_argument(
        "--full",
        action="store_true",
        help="also train on the dev split (the printed dev score is then not held out)",
    )
    p.add_argument(
        "--self-train",
        type=int,
        default=0,
        metavar="N",
        help="add N ANT sentences tagged by the neural backend (the teacher; needs torch)",
    )
    p.add_argument("--self-train-seed", type=int, default=None, help="seed of the ANT sample")
    p.add_argument(
        "--self-train-entities",
        action="store_true",
        help="only ANT sentences in which the teacher found a name",
    )
    p.add_argument(
        "--self-train-agree",
        action="store_true",
        help="only ANT sentences the CRF alone tags as the teacher does",
    )
    p.add_argument(
        "--teacher-crf",
        type=Path,
        default=None,
        help="the CRF combined with the teacher network (default: one trained first, "
        "without self-training, into build/; it is also printed as the baseline)",
    )
    p.add_argument(
        "--teacher-weight", type=float, default=None, help="its weight (default: the bundle's)"
    )
    p.add_argument(
        "--stacked",
        action="store_true",
        help="train the stacked second-pass CRF over the first CRF's jackknifed tags "
        "(default output build/ner.stack.crfsuite; tried, not shipped)",
    )
    p.add_argument(
        "--local-only",
        action="store_true",
        help="with --stacked: without the non-local (token- and entity-majority) features",
    )
    p.add_argument(
        "--positional",
        action="store_true",
        help="with --stacked: non-local majorities of IOB2 labels (B-/I-), not of types",
    )
    p.add_argument(
        "--meta-only",
        action="store_true",
        help="with --stacked: the second pass has the stacked features only",
    )
    p.add_argument(
        "--marginals",
        action="store_true",
        help="with --stacked: also the first pass's bucketed label marginals",
    )
    p.add_argument(
        "--first-pass", type=Path, default=None, help="with --stacked: the first-pass CRF"
    )
    p.add_argument(
        "--folds", type=int, default=5, help="with --stacked: jackknife folds (default 5)"
    )
    p.add_argument(
        "--jackknife-iterations",
        type=int,
        default=None,
        help="with --stacked: L-BFGS iterations of the jackknife folds (default: --iterations)",
    )
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser(
        "ner-clusters",
        help="Rebuild the word clusters, clitic table and mined names from the ANT corpus.",
    )
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data folder")
    p.add_argument("--out", type=Path, default=None, help="output TSV")
    p.set_defaults(func=cmd_clusters)

    p = subparsers.add_parser("ner-eval", help="Entity P/R/F1 of the NER model on the dev split.")
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data folder")
    p.add_argument("--model", type=Path, default=None, help="model file")
    p.add_argument("--backend", default="builtin", choices=("builtin", "neural"))
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--window",
        type=int,
        default=1,
        help="sentences tagged together (1 = CRF alone; 10 = article-like, with the "
        "name consistency pass across sentences)",
    )
    _bias_options(p)
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser(
        "ner-bias",
        help="Choose the recall-oriented decoding bias: 2-fold CV on the dev split, "
        "then the value chosen on the whole split (--write ships it in data/decoding.json).",
    )
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data folder")
    p.add_argument("--model", type=Path, default=None, help="model file (built-in or neural)")
    p.add_argument("--backend", default="builtin", choices=("builtin", "neural"))
    p.add_argument(
        "--strategy",
        default="o",
        choices=(*STRATEGIES, "none"),
        help="what --write ships: a single O bias ('o'), a recall bias on the weak types "
        "ORG and MISC only ('weak'), a recall bias per entity type ('recall'), any "
        "bias per entity type ('types'), or no bias ('none', with the CV figures as a note)",
    )
    p.add_argument(
        "--ship-window",
        type=int,
        default=10,
        choices=(1, 10),
        help="the mode whose choice --write ships (10 = article-like, as in the stream)",
    )
    p.add_argument("--write", action="store_true", help="store the chosen bias for this model")
    p.set_defaults(func=cmd_bias)

    p = subparsers.add_parser("ner-bench", help="Articles/s of NER + linking on ANT articles.")
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data folder")
    p.add_argument("--limit", type=int, default=2000, help="number of articles timed")
    p.add_argument(
        "--warmup",
        type=int,
        default=0,
        help="articles run first, untimed (the per-word caches of a long-running stage)",
    )
    p.add_argument("--backend", default="builtin", choices=("builtin", "neural"))
    p.add_argument("--model", type=Path, default=None, help="model file (built-in or neural)")
    _bias_options(p)
    p.set_defaults(func=cmd_bench)

    from marsad.extractor.ner import neural_commands

    neural_commands.register(subparsers)


def cmd_ner(args: argparse.Namespace, settings: Any = None) -> int:
    """Tag a CoNLL file: ``token<TAB>tag`` per line, blank lines kept."""
    from marsad.extractor.ner.corpus import read_conll_tokens
    from marsad.extractor.ner.recogniser import load_recogniser

    rec = load_recogniser(args.backend, args.model)
    fh = sys.stdin if args.conll == "-" else open(args.conll, encoding="utf-8")  # noqa: SIM115
    try:
        out = sys.stdout
        for tokens in read_conll_tokens(fh):
            for tok, tag in zip(tokens, rec.tag(tokens), strict=True):
                out.write(f"{tok}\t{tag}\n")
            out.write("\n")
    finally:
        if fh is not sys.stdin:
            fh.close()
    return 0


def cmd_train(args: argparse.Namespace, settings: Any = None) -> int:
    """Build the gazetteer, train the CRF, print sizes, time and dev scores."""
    from marsad.extractor.ner.training import MODEL_PATH, TrainConfig, format_scores, run_training

    defaults = TrainConfig()
    config = TrainConfig(
        c1=defaults.c1 if args.c1 is None else args.c1,
        c2=defaults.c2 if args.c2 is None else args.c2,
        max_iterations=defaults.max_iterations if args.iterations is None else args.iterations,
        use_wojood=args.wojood,
        vectors=None if args.no_vectors else (args.vectors or defaults.vectors),
        bits_words=defaults.bits_words if args.bits_words is None else args.bits_words,
        bits_dims=(
            defaults.bits_dims
            if args.bits_dims is None
            else (None if args.bits_dims < 0 else args.bits_dims)
        ),
        vec_dims=defaults.vec_dims if args.vec_dims is None else args.vec_dims,
        vec_scale=defaults.vec_scale if args.vec_scale is None else args.vec_scale,
        topics=args.topics,
        topics_kept=tuple(t for t in args.topics_kept.split(",") if t),
    )
    if args.stacked:
        return _train_stacked(args, config)
    self_train = teacher = None
    if args.self_train > 0:
        from marsad.extractor.ner.selftrain import SelfTrainConfig
        from marsad.extractor.ner.training import TeacherConfig

        st_defaults = SelfTrainConfig()
        self_train = SelfTrainConfig(
            sentences=args.self_train,
            seed=st_defaults.seed if args.self_train_seed is None else args.self_train_seed,
            entities_only=args.self_train_entities,
            agree_only=args.self_train_agree,
        )
        teacher = TeacherConfig(crf_path=args.teacher_crf, crf_weight=args.teacher_weight)
    result = run_training(
        args.shared,
        args.model or MODEL_PATH,
        config=config,
        full=args.full,
        self_train=self_train,
        teacher=teacher,
    )
    if "baseline_scores" in result:
        print(
            f"baseline (no self-training, the teacher's CRF) trained in "
            f"{result['seconds_baseline']:.1f}s; dev, one sentence / 10 sentences at a time:"
        )
        print(format_scores(result["baseline_scores"]))
        print(format_scores(result["baseline_scores_window10"]))
    if "teacher" in result:
        print("self-training:", json.dumps(result["teacher"], ensure_ascii=False))
    print(
        f"trained in {result['seconds_crf']:.1f}s (total {result['seconds_total']:.1f}s); "
        f"model {result['model_bytes'] / 1e6:.2f} MB, gazetteer "
        f"{result['gazetteer_bytes'] / 1e6:.2f} MB; {result['train_sentences']} sentences; "
        f"embedding bits of {result['bits_words']} words ({result['bits_bytes'] / 1e6:.2f} MB), "
        f"vectors of {result['vecs_words']} words ({result['vecs_bytes'] / 1e6:.2f} MB), "
        f"topic model of {result['topic_words']} words ({result['topics_bytes'] / 1e6:.2f} MB)"
    )
    held = "held-out" if result["dev_held_out"] else "NOT held out (--full)"
    print(f"dev split ({result['dev_sentences']} sentences, {held}), one sentence at a time:")
    print(format_scores(result["scores"]))
    print("dev split, 10 sentences at a time (article-like, with the consistency pass):")
    print(format_scores(result["scores_window10"]))
    return 0


def _train_stacked(args: argparse.Namespace, config: Any) -> int:
    """``ner-train --stacked``: jackknife the first pass, train the second, print dev scores."""
    from marsad.extractor.ner.stacking import StackConfig, run_stacked_training
    from marsad.extractor.ner.training import format_scores

    stack = StackConfig(
        non_local=not args.local_only,
        positional=args.positional,
        marginals=args.marginals,
        meta_only=args.meta_only,
        folds=args.folds,
        jackknife_iterations=args.jackknife_iterations,
    )
    kwargs = {"model_path": args.model} if args.model else {}
    result = run_stacked_training(
        args.shared, first_pass=args.first_pass, config=config, stack=stack, **kwargs
    )
    print(
        f"second pass trained in {result['cpu_seconds_second_pass']:.1f} s CPU "
        f"({result['cpu_seconds_before_second_pass']:.1f} s CPU before it, "
        f"{result['seconds_total']:.1f} s wall in all); model {result['model_bytes'] / 1e6:.2f} MB"
    )
    print("jackknifed first pass on the training part:")
    print(format_scores(result["jackknife_train_scores"]))
    for key, title in (
        ("first", "first pass, dev, one sentence at a time"),
        ("first_window10", "first pass, dev, 10 sentences at a time"),
        ("scores", "stacked, dev, one sentence at a time"),
        ("scores_window10", "stacked, dev, 10 sentences at a time"),
    ):
        print(title + ":")
        print(format_scores(result[key]))
    return 0


def cmd_clusters(args: argparse.Namespace, settings: Any = None) -> int:
    """Rebuild ``data/clusters.tsv`` (run before ``ner-train``; deterministic)."""
    from marsad.extractor.ner.clusters import CLUSTERS_PATH, build_clusters
    from marsad.extractor.ner.mining import MINED_PATH, mine_names

    ant = args.shared / "data" / "ant" / "articles.jsonl.gz"
    result = {
        "clusters": build_clusters(ant, args.out or CLUSTERS_PATH),
        "mined_names": mine_names(ant, MINED_PATH),
    }
    print(json.dumps(result, indent=2))
    return 0


def _bias_options(p: argparse.ArgumentParser) -> None:
    """Add ``--o-bias`` and ``--type-bias`` (an override of the shipped decoding bias)."""
    p.add_argument(
        "--o-bias",
        type=float,
        default=None,
        help="decode with this bias on O's state score instead of the shipped bias "
        "(negative = more entities; 0 = plain Viterbi)",
    )
    p.add_argument(
        "--type-bias",
        action="append",
        default=[],
        metavar="TYPE=VALUE",
        help="with --o-bias or alone: a bias on an entity type's B-/I- scores (repeatable)",
    )


def _bias_override(args: argparse.Namespace) -> Any:
    """Return the :class:`DecodingBias` given on the command line, or ``None`` (shipped)."""
    from marsad.extractor.ner.decoding import DecodingBias

    if args.o_bias is None and not args.type_bias:
        return None
    types = {}
    for item in args.type_bias:
        etype, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--type-bias wants TYPE=VALUE, got {item!r}")
        types[etype.strip().upper()] = float(value)
    return DecodingBias(args.o_bias or 0.0, types)


def cmd_eval(args: argparse.Namespace, settings: Any = None) -> int:
    """Print entity-level P/R/F1 on the dev split (with the shipped decoding bias)."""
    from marsad.extractor.ner.decoding import describe
    from marsad.extractor.ner.recogniser import load_recogniser
    from marsad.extractor.ner.training import evaluate_recogniser, format_scores, load_splits

    _, dev = load_splits(args.shared)
    rec = load_recogniser(args.backend, args.model)
    bias = _bias_override(args)
    if bias is not None:
        rec.set_bias(bias)
    scores = evaluate_recogniser(rec, dev, window=args.window)
    if args.json:
        print(json.dumps({**scores, "bias": rec.bias.to_json()}, indent=2))
    else:
        print(f"decoding bias: {describe(rec.bias)}")
        print(format_scores(scores))
    return 0


def cmd_bias(args: argparse.Namespace, settings: Any = None) -> int:
    """Cross-validate and choose the decoding bias on the dev split, print, optionally ship."""
    from marsad.extractor.ner.decoding import (
        NO_BIAS,
        cross_validate,
        describe,
        o_grid,
        recogniser_tagger,
        type_search,
        write_bias,
    )
    from marsad.extractor.ner.recogniser import load_recogniser
    from marsad.extractor.ner.training import format_scores, load_splits, score

    _, dev = load_splits(args.shared)
    rec = load_recogniser(args.backend, args.model)
    gold = [tags for _, tags in dev]
    choosers = {
        "o": o_grid(O_GRID),
        "weak": type_search(WEAK_GRID, types=("ORG", "MISC")),
        "recall": type_search(WEAK_GRID),
        "types": type_search(TYPE_GRID),
    }
    shipped = None
    summary: dict[str, list[float]] = {}
    print(
        f"{args.backend} backend, dev split ({len(dev)} sentences); O grid {list(O_GRID)}; "
        f"ORG/MISC and recall grid {list(WEAK_GRID)}; per-type grid {list(TYPE_GRID)} "
        "(coordinate ascent, 2 rounds)"
    )
    for window in (1, 10):
        tag = recogniser_tagger(rec, window)
        mode = "sentences" if window == 1 else f"{window}-sentence windows"
        for name, choose in choosers.items():
            cv = cross_validate(tag, dev, choose)
            picks = " | ".join(describe(b) for b in cv["chosen"])
            print(f"\n== {mode}, strategy {name!r}")
            print(f"2-fold CV (halves of {len(dev) // 2}/{len(dev) - len(dev) // 2} sentences), ")
            print(f"  chosen on the second half | on the first: {picks}")
            print(f"  held out, pooled: unbiased {_prf(cv['unbiased'])}")
            print(f"                    biased   {_prf(cv['biased'])}")
            print(f"  per type F1 unbiased -> biased: {_types(cv['unbiased'], cv['biased'])}")
            bias, _ = choose(tag, dev)
            before = score(gold, tag(NO_BIAS, dev))
            after = score(gold, tag(bias, dev))
            print(f"chosen on the whole dev split: {describe(bias)}")
            print(
                f"  IN-SAMPLE (chosen and scored on the same sentences): micro F1 "
                f"{before['micro']['f1']:.3f} -> {after['micro']['f1']:.3f}"
            )
            print(format_scores(after))
            if window == args.ship_window:
                summary[name] = [round(_f1(cv["unbiased"]), 4), round(_f1(cv["biased"]), 4)]
                if name == args.strategy:
                    shipped = (bias, before, after, cv)
    print(f"\nheld-out micro F1 (unbiased, biased) by strategy, window {args.ship_window}:")
    for name, (plain, biased) in summary.items():
        print(f"  {name:<7} {plain:.3f} -> {biased:.3f} ({biased - plain:+.3f})")
    if args.write:
        note: dict[str, Any] = {
            "chosen_on": f"dev split, window {args.ship_window}, strategy {args.strategy!r}",
            "cv_f1_held_out_by_strategy": summary,
        }
        bias = NO_BIAS
        if shipped is not None:
            bias, before, after, _ = shipped
            note["dev_f1_in_sample"] = [
                round(before["micro"]["f1"], 4),
                round(after["micro"]["f1"], 4),
            ]
        write_bias(args.backend, bias, rec.model_files, note)
        print(f"\nwrote {describe(bias)} for {[m.name for m in rec.model_files]}")
    return 0


def _f1(counts: dict[str, list[int]]) -> float:
    from marsad.extractor.ner.decoding import micro_f1

    return micro_f1(counts)


def _prf(counts: dict[str, list[int]]) -> str:
    """Return ``P .. R .. F1 ..`` of pooled entity counts."""
    tp, npred, ngold = (sum(c[i] for c in counts.values()) for i in range(3))
    p = tp / npred if npred else 0.0
    r = tp / ngold if ngold else 0.0
    return f"P {p:.3f} R {r:.3f} F1 {_f1(counts):.3f} ({tp} of {ngold} found, {npred} predicted)"


def _types(before: dict[str, list[int]], after: dict[str, list[int]]) -> str:
    """Return each type's F1 before and after."""
    return ", ".join(
        f"{t} {_f1({t: before[t]}):.3f} -> {_f1({t: after[t]}):.3f}" for t in sorted(before)
    )


def cmd_bench(args: argparse.Namespace, settings: Any = None) -> int:
    """Time NER + linking on the first ``--limit`` ANT articles."""
    from marsad.extractor.ner.recogniser import bench, load_recogniser

    texts: list[str] = []
    path = args.shared / "data" / "ant" / "articles.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            texts.append(json.loads(line)["text"])
            if len(texts) >= args.warmup + args.limit:
                break
    rec = load_recogniser(args.backend, args.model)
    bias = _bias_override(args)
    if bias is not None:
        rec.set_bias(bias)
    for text in texts[: args.warmup]:
        rec.find_entities(text)
    result = bench(texts[args.warmup :], rec)
    result["warmup_articles"] = args.warmup
    result["bias"] = rec.bias.to_json()
    print(json.dumps(result, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the NER subcommands standalone (``python -m marsad.extractor.ner.commands``)."""
    parser = argparse.ArgumentParser(prog="marsad-ner")
    register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
