"""``marsad`` sub-commands of the normaliser: rebuild the lexicon, check against camel."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_LEXICON_OUT = Path(__file__).resolve().parent / "data" / "glue_pairs.tsv.gz"


def register(subparsers: Any) -> None:
    """Add ``normaliser-lexicon``, ``normaliser-check`` and ``normaliser-glue`` to the CLI."""
    p = subparsers.add_parser(
        "normaliser-lexicon", help="rebuild the glued-word lexicon from the ANT corpus"
    )
    p.add_argument("--corpus", default="../shared/data/ant/articles.jsonl.gz")
    p.add_argument("--out", default=str(_LEXICON_OUT))
    p.set_defaults(func=cmd_lexicon)

    p = subparsers.add_parser(
        "normaliser-check", help="compare the matching text with the camel-tools chain"
    )
    p.add_argument("--corpus", default="../shared/data/ant/articles.jsonl.gz")
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=cmd_check)

    p = subparsers.add_parser(
        "normaliser-glue", help="count glued-word splits on a corpus and print a sample"
    )
    p.add_argument("--corpus", default="../shared/data/ant/articles.jsonl.gz")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--sample", type=int, default=40)
    p.set_defaults(func=cmd_glue)


def cmd_lexicon(args: argparse.Namespace, settings: Any = None) -> int:
    """Rebuild the lexicon file."""
    from marsad.normaliser.corpus import build_lexicon

    n = build_lexicon(Path(args.corpus), Path(args.out))
    size = Path(args.out).stat().st_size
    print(json.dumps({"pairs": n, "bytes": size, "out": args.out}))
    return 0


def cmd_check(args: argparse.Namespace, settings: Any = None) -> int:
    """Print equal / documented / other counts; exit 1 if any other."""
    from marsad.normaliser.corpus import compare_corpus

    cmp = compare_corpus(Path(args.corpus), args.limit)
    print(json.dumps({
        "total": cmp.total, "equal": cmp.equal, "documented": cmp.documented,
        "other": cmp.other, "documented_by_rule": dict(cmp.by_rule),
        "other_examples": [e[0] for e in cmp.examples],
    }, ensure_ascii=False))
    return 1 if cmp.other else 0


def cmd_glue(args: argparse.Namespace, settings: Any = None) -> int:
    """Count glue splits over a corpus and print a random-ish sample for review."""
    import random

    from marsad.normaliser import display, glue
    from marsad.normaliser.corpus import iter_articles

    splits = 0
    articles = 0
    with_split = 0
    sample: list[str] = []
    rng = random.Random(0)  # noqa: S311 - a reproducible review sample, not security
    seen = 0
    for i, art in enumerate(iter_articles(Path(args.corpus))):
        if args.limit is not None and i >= args.limit:
            break
        articles += 1
        disp, _ = display.build_display(art.get("text") or "")
        found = glue.find_splits(disp)
        splits += len(found)
        with_split += bool(found)
        for pos in found:
            a = disp.rfind(" ", 0, pos) + 1
            b = disp.find(" ", pos)
            b = len(disp) if b < 0 else b
            item = f"{disp[a:pos]} | {disp[pos:b]}"
            seen += 1
            if len(sample) < args.sample:
                sample.append(item)
            elif rng.random() < args.sample / seen:
                sample[rng.randrange(args.sample)] = item
    print(json.dumps({"articles": articles, "splits": splits, "articles_with_split": with_split},
                     ensure_ascii=False))
    for s in sample:
        print(s)
    return 0
