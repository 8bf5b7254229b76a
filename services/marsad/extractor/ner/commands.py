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
        "--full",
        action="store_true",
        help="also train on the dev split (the printed dev score is then not held out)",
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
    p.set_defaults(func=cmd_eval)

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
    )
    result = run_training(args.shared, args.model or MODEL_PATH, config=config, full=args.full)
    print(
        f"trained in {result['seconds_crf']:.1f}s (total {result['seconds_total']:.1f}s); "
        f"model {result['model_bytes'] / 1e6:.2f} MB, gazetteer "
        f"{result['gazetteer_bytes'] / 1e6:.2f} MB; {result['train_sentences']} sentences"
    )
    held = "held-out" if result["dev_held_out"] else "NOT held out (--full)"
    print(f"dev split ({result['dev_sentences']} sentences, {held}), one sentence at a time:")
    print(format_scores(result["scores"]))
    print("dev split, 10 sentences at a time (article-like, with the consistency pass):")
    print(format_scores(result["scores_window10"]))
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


def cmd_eval(args: argparse.Namespace, settings: Any = None) -> int:
    """Print entity-level P/R/F1 on the dev split."""
    from marsad.extractor.ner.training import MODEL_PATH, evaluate, format_scores, load_splits

    _, dev = load_splits(args.shared)
    if args.backend == "neural":
        from marsad.extractor.ner.recogniser import load_recogniser
        from marsad.extractor.ner.training import evaluate_recogniser

        rec = load_recogniser("neural", args.model)
        scores = evaluate_recogniser(rec, dev, window=args.window)
    else:
        scores = evaluate(args.model or MODEL_PATH, dev, window=args.window)
    print(json.dumps(scores, indent=2) if args.json else format_scores(scores))
    return 0


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
    rec = load_recogniser(args.backend)
    for text in texts[: args.warmup]:
        rec.find_entities(text)
    result = bench(texts[args.warmup :], rec)
    result["warmup_articles"] = args.warmup
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
