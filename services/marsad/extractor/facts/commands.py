"""CLI subcommands of the facts step: ``facts`` (run on a text) and ``facts-eval``.

The main ``marsad`` CLI calls :func:`register` with its subparsers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_SET = Path("tests/data/facts/ant_sentences.jsonl")
DEFAULT_CORPUS = Path("../shared/data/ant/articles.jsonl.gz")


def register(subparsers: Any) -> None:
    """Add the facts subcommands to an ``argparse`` subparsers object."""
    p = subparsers.add_parser("facts-eval", help="Precision/recall of the facts step per kind.")
    p.add_argument("--data", type=Path, default=DEFAULT_SET, help="labelled JSONL")
    p.add_argument("--split", choices=("dev", "test", "all"), default="all")
    p.add_argument("--no-ner", action="store_true", help="do not run the NER model for links")
    p.add_argument("--errors", action="store_true", help="also list every error")
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("facts-bench",
                              help="Articles/s of extract_facts on N corpus articles (one core).")
    p.add_argument("--data", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz) of articles")
    p.add_argument("--limit", type=int, default=1500, help="articles to use")
    p.set_defaults(func=cmd_bench)

    p = subparsers.add_parser("facts", help="Print the facts of one text file as JSON.")
    p.add_argument("file", type=Path, help="UTF-8 text file, or - for stdin")
    p.add_argument("--published-at", default=None, help="ISO 8601 publication time")
    p.add_argument("--no-ner", action="store_true", help="do not run the NER model")
    p.set_defaults(func=cmd_facts)


def _entities_fn(use_ner: bool) -> Any:
    if not use_ner:
        return None
    try:
        from marsad.extractor.ner import load_recogniser

        rec = load_recogniser()
    except Exception as exc:  # the NER model is optional for this command
        print(f"NER unavailable ({exc}); scoring without entities", file=sys.stderr)
        return None
    token_re = re.compile(r"\w+|[^\w\s]")

    def entities_of(text: str) -> Sequence[Any]:
        tokens = [(m.start(), m.end()) for m in token_re.finditer(text)]
        return rec.entities(text, tokens)

    return entities_of


def cmd_eval(args: argparse.Namespace, *_: Any) -> int:
    """Print P/R per fact kind for the dev and test halves."""
    from marsad.extractor.facts.evaluate import evaluate, format_table, load_set

    items = load_set(args.data)
    ents = _entities_fn(not args.no_ner)
    splits = ("dev", "test") if args.split == "all" else (args.split,)
    results = {}
    for split in splits:
        part = [i for i in items if i["split"] == split]
        results[f"{split}"] = evaluate(part, ents)
        print(f"{split}: {len(part)} sentences", file=sys.stderr)
    print(format_table(results))
    if args.errors:
        for split, scores in results.items():
            for kind, s in scores.items():
                for e in s.errors:
                    print(f"{split} {kind} {e}")
    return 0


def cmd_bench(args: argparse.Namespace, *_: Any) -> int:
    """Print the CPU and wall articles/s of :func:`extract_facts` as JSON (a figure, no bar)."""
    import gzip
    import itertools

    from marsad.extractor.facts.extract import bench

    opener: Any = gzip.open if args.data.suffix == ".gz" else open
    with opener(args.data, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, args.limit) if line.strip()]
    result = bench([(r.get("text") or "", r.get("published_at")) for r in rows])
    print(json.dumps(result))
    return 0


def cmd_facts(args: argparse.Namespace, *_: Any) -> int:
    """Print the facts of a text as JSON."""
    from marsad.extractor.facts import extract_facts

    text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
    pub = datetime.fromisoformat(args.published_at) if args.published_at else None
    fn = _entities_fn(not args.no_ner)
    ents = fn(text) if fn else ()
    facts = extract_facts(text, published_at=pub, entities=ents)
    print(json.dumps(facts.to_json(), ensure_ascii=False, indent=1))
    return 0
