"""CLI subcommands of the deduplicator and its event merger.

``dedup-eval``, ``dedup-bench``, ``dedup-rekey``, ``events-eval`` and
``events-common-words``.

The main ``marsad`` CLI calls :func:`register` with its subparsers; the
command functions accept ``(args)`` or ``(args, settings)``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_ANT = Path("../shared/data/ant/articles.jsonl.gz")
DEFAULT_EVAL_DIR = Path("tests/data/dedup")
DEFAULT_EVENT_AUDIT = Path("tests/data/events/merge_audit.tsv")


def register(subparsers: Any) -> None:
    """Add the deduplicator subcommands to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "dedup-eval",
        help="Precision/recall of exact and near duplicates on ANT + synthetic copies.",
    )
    _config_args(p)
    p.add_argument("--data", type=Path, default=DEFAULT_ANT, help="ANT articles (JSONL.gz)")
    p.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR,
                   help="folder with edits.json, natural_pairs.tsv, stream_audit.tsv")
    p.add_argument("--limit", type=int, default=None, help="first N ANT articles only")
    p.add_argument("--bases", type=int, default=None, help="articles to copy synthetically")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-weighted", action="store_true",
                   help="skip the population-weighted natural figures and the cross-validation")
    p.add_argument("--audit", type=int, default=0, metavar="N",
                   help="also print N random near-duplicate decisions between natural "
                        "articles, for checking by hand")
    p.add_argument("--audit-containment", action="store_true",
                   help="audit only decisions the Jaccard bar alone would not take (taken "
                        "by the cross-outlet containment rule)")
    p.add_argument("--audit-ordered", action="store_true",
                   help="audit only decisions the ordered cover alone takes (method 'ordered')")
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser(
        "events-eval",
        help="Precision/recall of event merging on hand-labelled pairs of event reports.",
    )
    p.add_argument("--data", type=Path, default=DEFAULT_ANT, help="ANT articles (JSONL.gz)")
    p.add_argument("--audit-file", type=Path, default=DEFAULT_EVENT_AUDIT,
                   help="labelled report pairs (tests/data/events/README.md)")
    p.add_argument("--window-days", type=float, default=3.0,
                   help="how far apart undated reports may be (as the merger's)")
    p.add_argument("--gist-link", type=float, default=None,
                   help="least sentence-gist similarity that links two reports "
                        "(default: the merger's)")
    p.add_argument("--previous-rule", action="store_true",
                   help="score the rule before sentence gists (type, place and main actor, "
                        "within the window; no placeless events) for comparison; "
                        "unlinked pairs are not explained")
    p.set_defaults(func=cmd_events_eval)

    p = subparsers.add_parser(
        "events-common-words",
        help="Rebuild the common-word list left out of event sentence gists from the ANT corpus.",
    )
    p.add_argument("--data", type=Path, default=DEFAULT_ANT, help="ANT articles (JSONL.gz)")
    p.add_argument("--share", type=float, default=0.05,
                   help="least share of articles a word must be in")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write (default: the package's data/common_words.tsv)")
    p.set_defaults(func=cmd_common_words)

    p = subparsers.add_parser(
        "dedup-bench", help="Articles/s and bytes per remembered article of the deduplicator."
    )
    _config_args(p)
    p.add_argument("--data", type=Path, default=DEFAULT_ANT, help="ANT articles (JSONL.gz)")
    p.add_argument("--limit", type=int, default=6000, help="number of articles")
    p.add_argument("--partitions", type=int, default=0,
                   help="also measure the band-keyed steps over this many partitions")
    p.add_argument("--real-sources", action="store_true",
                   help="give each article its ANT outlet (exercises the cross-outlet "
                        "containment rule; default: one outlet for all)")
    p.add_argument("--versus-no-order", action="store_true",
                   help="also measure, in the same run and first, the configuration without "
                        "the order sample and the ordered-cover path, and print the ratios")
    p.add_argument("--events", action="store_true",
                   help="with --partitions: also run the articles through the normaliser and "
                        "the extractor (a few ms each), and measure the band-keyed steps again "
                        "with their event reports: merging's cost, messages and state")
    p.set_defaults(func=cmd_bench)

    p = subparsers.add_parser(
        "dedup-rekey",
        help="Carry the band-keyed deduplicator's state over to another partition count "
             "(old workers stopped; docs/deduplicator.md).",
    )
    p.add_argument("--from-app", required=True, help="MARSAD_APP_ID of the stopped workers")
    p.add_argument("--to-app", required=True, help="MARSAD_APP_ID of the new workers")
    p.add_argument("--partitions", type=int, required=True,
                   help="MARSAD_PARTITIONS of the new workers (at least 2)")
    p.add_argument("--group", choices=["deduplicator", "all"], default="deduplicator",
                   help="the workers' stage selection (marsad worker GROUP): part of the "
                        "changelog topics' names")
    p.add_argument("--to-prefix", default=None,
                   help="MARSAD_TOPIC_PREFIX of the new deployment (default: the current "
                        "one, whose articles.extracted and dedup.* topics are grown)")
    p.add_argument("--force", action="store_true",
                   help="write although the new changelogs hold data, the old group has "
                        "unconsumed input or still lists members after their session timeout")
    p.set_defaults(func=cmd_rekey)


def _config_args(p: argparse.ArgumentParser) -> None:
    from marsad.deduplicator.core import DedupConfig

    d = DedupConfig()
    p.add_argument("--threshold", type=float, default=d.threshold, help="estimated Jaccard bar")
    p.add_argument("--shingle", type=int, default=d.shingle, help="words per shingle")
    p.add_argument("--permutations", type=int, default=d.permutations)
    p.add_argument("--bands", type=int, default=0, help="LSH bands (0: derived)")
    p.add_argument("--window-days", type=float, default=d.window_days)
    p.add_argument("--no-variants", action="store_true", help="no spelling-variant lexicon")
    p.add_argument("--followup-hours", type=float, default=d.followup_hours,
                   help="same-source story older than this needs --followup-threshold")
    p.add_argument("--followup-threshold", type=float, default=d.followup_threshold)
    p.add_argument("--containment", type=float, default=d.containment,
                   help="across outlets, estimated containment of the smaller text from which "
                        "a candidate is a near duplicate (above 1: Jaccard only)")
    p.add_argument("--containment-floor", type=float, default=d.containment_floor,
                   help="estimated Jaccard a candidate needs before its containment counts")
    p.add_argument("--order-sample", type=int, default=d.order_sample,
                   help="each article keeps about one shingle in this many, in text order "
                        "(0: none, no ordered-cover path)")
    p.add_argument("--ordered-cover", type=float, default=d.ordered_cover,
                   help="across outlets, ordered cover of the smaller order sample from which "
                        "a candidate is a near duplicate (above 1: off)")
    p.add_argument("--ordered-floor", type=float, default=d.ordered_floor,
                   help="estimated Jaccard a candidate needs before its ordered cover counts")


def _config(args: argparse.Namespace) -> Any:
    from marsad.deduplicator.core import DedupConfig

    return DedupConfig(
        threshold=args.threshold, shingle=args.shingle, permutations=args.permutations,
        bands=args.bands, window_days=args.window_days, variants=not args.no_variants,
        followup_hours=args.followup_hours, followup_threshold=args.followup_threshold,
        containment=args.containment, containment_floor=args.containment_floor,
        order_sample=args.order_sample, ordered_cover=args.ordered_cover,
        ordered_floor=args.ordered_floor,
    )


def load_audit(path: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """Hand labels of sampled stream decisions: ``(id, duplicate_of) -> (label, sample)``."""
    labels: dict[tuple[str, str], tuple[str, str]] = {}
    if not path.exists():
        return labels
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if row and not row[0].startswith("#") and len(row) >= 3:
                labels[(row[0], row[1])] = (row[2], row[3] if len(row) > 3 else "")
    return labels


def audit_summary(
    pairs: list[tuple[str, str, float]], audit: dict[tuple[str, str], tuple[str, str]]
) -> dict[str, dict[str, Any]]:
    """Precision of the stream's near-duplicate decisions per hand-checked sample."""
    out: dict[str, dict[str, Any]] = {}
    for a, b, _ in pairs:
        if (a, b) not in audit:
            continue
        label, sample = audit[(a, b)]
        entry = out.setdefault(sample or "all", {"judged": 0, "duplicate": 0})
        entry["judged"] += 1
        entry["duplicate"] += label == "duplicate"
    for entry in out.values():
        entry["precision"] = round(entry["duplicate"] / entry["judged"], 4)
    return out


def _utf8_stdout() -> None:
    # Arabic titles in the report must not fail on a C-locale terminal.
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(encoding="utf-8")


def cmd_eval(args: argparse.Namespace, *_: Any) -> int:
    """Run the evaluation and print P/R for exact and near duplicates."""
    from marsad.deduplicator.evaluation import evaluate, format_result

    _utf8_stdout()
    result = evaluate(
        _config(args), ant=args.data, eval_dir=args.eval_dir, limit=args.limit,
        bases=args.bases, weighted=not args.no_weighted,
    )
    audit = load_audit(args.eval_dir / "stream_audit.tsv")
    summary = audit_summary(result.stream_near_pairs, audit)
    if args.json:
        print(json.dumps({**result.to_json(), "stream_audit": summary},
                         ensure_ascii=False, indent=2))
    else:
        print(format_result(result))
        names = {"1": "design sample", "2": "held-out sample",
                 "3": "containment-rule sample (not blind)",
                 "4": "ordered-cover sample (not blind)"}
        for sample, entry in sorted(summary.items()):
            print(f"hand-checked {names.get(sample, 'sample ' + sample)} of those decisions: "
                  f"{entry['duplicate']}/{entry['judged']} are duplicates "
                  f"(precision {entry['precision']:.3f})")
    if args.audit:
        _print_audit(args, result.stream_near_pairs, audit)
    return 0


def cmd_events_eval(args: argparse.Namespace, settings: Any) -> int:
    """Rebuild the audited event reports with the current extractor and score the merge rule."""
    from marsad.deduplicator.corpus import read_articles
    from marsad.deduplicator.event_audit import (
        format_scores,
        load_items,
        reports_by_trigger,
        score,
    )
    from marsad.deduplicator.events import (
        GIST_LINK,
        EventReport,
        linked,
        merge_key,
        times_agree,
    )

    _utf8_stdout()
    items = load_items(args.audit_file)
    wanted = {i.a[0] for i in items} | {i.b[0] for i in items}
    extract = _extractor(settings)
    reports: dict[tuple[str, int], EventReport] = {}
    for article in read_articles(args.data):
        if article.get("id") not in wanted:
            continue
        extracted = extract(article)
        if extracted is not None:
            reports.update(reports_by_trigger(extracted))
        wanted.discard(str(article["id"]))
        if not wanted:
            break
    if wanted:
        logger.warning("%d audited articles are not in %s", len(wanted), args.data)

    gist_link = GIST_LINK if args.gist_link is None else args.gist_link

    def rule(a: EventReport, b: EventReport) -> bool:
        if args.previous_rule:
            return (a.place is not None and merge_key(a) == merge_key(b)
                    and times_agree(a, b, args.window_days))
        return linked(a, b, args.window_days, gist_link)

    print(format_scores(score(items, reports, rule, args.window_days,
                              explain=not args.previous_rule)))
    return 0


_COMMON_WORDS_HEADER = """\
# Folded words (3+ letters) in at least {share:.0%} of the ANT articles, with that share.
# Left out of event-report sentence gists (events.sentence_gist): they tell
# nothing about two sentences reporting one happening.  Rebuilt by
# `marsad events-common-words` (deduplicator.corpus.common_words).
"""


def cmd_common_words(args: argparse.Namespace, *_: Any) -> int:
    """Count folded words over the corpus and write the common ones with their share."""
    from marsad.deduplicator import events
    from marsad.deduplicator.corpus import common_words

    out = args.out or events.COMMON_WORDS_PATH
    words = common_words(args.data, args.share)
    if not words:
        logger.error("no articles in %s", args.data)
        return 1
    lines = [f"{w}\t{share:.3f}\n" for w, share in words]
    out.write_text(_COMMON_WORDS_HEADER.format(share=args.share) + "".join(lines),
                   encoding="utf-8")
    print(f"{len(words)} words in at least {args.share:.0%} of the articles -> {out}")
    return 0


def _print_audit(args: argparse.Namespace, pairs: list[tuple[str, str, float]],
                 audit: dict[tuple[str, str], tuple[str, str]]) -> None:
    from marsad.deduplicator.corpus import read_articles

    todo = [p for p in pairs if (p[0], p[1]) not in audit]
    if args.audit_containment:
        todo = _by_containment(args, todo)
        print(f"\n{len(todo)} unjudged decisions taken by the containment rule")
    if args.audit_ordered:
        todo = _by_ordered_cover(args, todo)
        print(f"\n{len(todo)} unjudged decisions taken by the ordered cover alone")
    sample = random.Random(7).sample(todo, min(args.audit, len(todo)))  # noqa: S311
    wanted = {i for a, b, _ in sample for i in (a, b)}
    arts = {a["id"]: a for a in read_articles(args.data) if a["id"] in wanted}
    for a, b, sim in sample:
        print(f"\n### {a}\t{b}\tsimilarity={sim:.3f}")
        for aid in (b, a):
            art = arts[aid]
            text = (art.get("text") or "").replace("\n", " / ")
            print(f"  {aid} [{art.get('source')} {art.get('published_at')}] {art.get('title')}")
            print(f"    {text[:300]}")
            print(f"    ... {text[-200:]}")


def _by_containment(
    args: argparse.Namespace, pairs: list[tuple[str, str, float]]
) -> list[tuple[str, str, float]]:
    """The decisions whose estimated Jaccard is under the bar: the containment rule took them."""
    from marsad.deduplicator.core import signature
    from marsad.deduplicator.corpus import load_fold, read_articles
    from marsad.deduplicator.minhash import estimated_jaccard

    cfg, fold = _config(args), load_fold()
    wanted = {i for a, b, _ in pairs for i in (a, b)}
    sigs = {
        a["id"]: signature(fold(a.get("text") or ""), cfg)
        for a in read_articles(args.data) if a["id"] in wanted
    }
    return [
        (a, b, sim) for a, b, sim in pairs
        if estimated_jaccard(sigs[a].values, sigs[b].values) < cfg.threshold
    ]


def _by_ordered_cover(
    args: argparse.Namespace, pairs: list[tuple[str, str, float]]
) -> list[tuple[str, str, float]]:
    """The decisions only the ordered cover confirms (method ``ordered``), in stream order."""
    from marsad.deduplicator.core import confirm_method, signature
    from marsad.deduplicator.corpus import load_fold, read_articles
    from marsad.deduplicator.resemblance import ORDERED, cross_outlet

    cfg, fold = _config(args), load_fold()
    wanted = {i for a, b, _ in pairs for i in (a, b)}
    arts = {a["id"]: a for a in read_articles(args.data) if a["id"] in wanted}
    sigs = {aid: signature(fold(a.get("text") or ""), cfg) for aid, a in arts.items()}
    return [
        (a, b, sim) for a, b, sim in pairs
        if confirm_method(sigs[a], sigs[b].encode(), cfg, cross_outlet=cross_outlet(
            arts[a].get("source"), arts[b].get("source")))[1] == ORDERED
    ]


def cmd_bench(args: argparse.Namespace, settings: Any) -> int:
    """Fold ANT articles, then measure the deduplicator alone on them."""
    from marsad.deduplicator.core import bench
    from marsad.deduplicator.corpus import load_fold, read_articles

    if args.events and args.partitions < 1:
        print("dedup-bench: --events needs --partitions (the band-keyed steps carry the "
              "event reports)", file=sys.stderr)
        return 2
    fold = load_fold()
    arts = list(read_articles(args.data, limit=args.limit))
    texts = [fold(a.get("text") or "") for a in arts]
    sources = [a.get("source") or "" for a in arts] if args.real_sources else None
    baseline = None
    if args.versus_no_order:
        baseline = bench(texts, replace(_config(args), order_sample=0, ordered_cover=1.01),
                         sources)
    result = bench(texts, _config(args), sources)
    if baseline is not None:
        result["without_order"] = {k: baseline[k] for k in (
            "articles_per_s", "signature_per_s", "duplicates", "bytes_per_article")}
        for key in ("articles_per_s", "bytes_per_article"):
            if result[key] and baseline[key]:
                result["without_order"][f"{key}_ratio"] = round(result[key] / baseline[key], 3)
    if args.partitions > 0:
        from marsad.deduplicator import banded

        grace = settings.batch_size
        result["banded"] = banded.bench(texts, _config(args), args.partitions,
                                        closing_grace=grace)
        single = result["articles_per_s"]
        if single and result["banded"]["articles_per_s"]:
            result["banded"]["speed_vs_single"] = round(
                result["banded"]["articles_per_s"] / single, 3)
        if args.events:
            reports = _event_reports(arts, settings)
            with_events = banded.bench(texts, _config(args), args.partitions, reports,
                                       closing_grace=grace)
            plain = result["banded"]
            with_events["reports_per_article"] = round(
                sum(map(len, reports)) / (len(reports) or 1), 2)
            if plain["articles_per_s"] and with_events["articles_per_s"]:
                with_events["speed_vs_without_events"] = round(
                    with_events["articles_per_s"] / plain["articles_per_s"], 3)
            if plain["bytes_per_article"] and with_events["bytes_per_article"]:
                # The outbox is a fixed amount per partition: left out of the per-article cost.
                with_events["event_bytes_per_article"] = round(
                    with_events["bytes_per_article"] - plain["bytes_per_article"]
                    - with_events["event_outbox_bytes"] / max(1, with_events["remembered"]))
            result["banded_with_events"] = with_events
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _extractor(settings: Any) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """A function giving an article's ``articles.extracted`` record, or None.

    The normaliser and the extractor run in-process; None when the article goes
    to the dead-letter topic.
    """
    import orjson

    from marsad.pipeline import Pipeline
    from marsad.runtime import build_stage, make_codec
    from marsad.topics import EXTRACTED

    codec = make_codec(settings)
    pipeline = Pipeline([build_stage(n, settings, codec) for n in ("normaliser", "extractor")],
                        codec)

    def extract(article: dict[str, Any]) -> dict[str, Any] | None:
        for out in pipeline.run(orjson.dumps(article)):
            if out.topic == EXTRACTED:
                record: dict[str, Any] = orjson.loads(out.data)
                return record
        return None

    return extract


def _event_reports(arts: list[dict[str, Any]], settings: Any) -> list[list[Any]]:
    """Each article's event reports, from the normaliser and the extractor run in-process."""
    from marsad.deduplicator.events import reports_from_article

    extract = _extractor(settings)
    out: list[list[Any]] = []
    for n, article in enumerate(arts, 1):
        extracted = extract(article)
        out.append([] if extracted is None else reports_from_article(extracted))
        if n % 500 == 0 or n == len(arts):
            print(f"dedup-bench: extracted {n} of {len(arts)} articles", file=sys.stderr,
                  flush=True)
    return out


def cmd_rekey(args: argparse.Namespace, settings: Any) -> int:
    """Re-key the old changelogs into the new app's; progress on stderr, summary on stdout."""
    import asyncio

    from marsad.deduplicator.rekey import RekeyError
    from marsad.deduplicator.rekey_kafka import Plan, run

    plan = Plan(from_app=args.from_app, to_app=args.to_app, partitions=args.partitions,
                group=args.group, to_prefix=args.to_prefix, force=args.force)

    def progress(line: str) -> None:
        print(f"dedup-rekey: {line}", file=sys.stderr, flush=True)

    try:
        summary = asyncio.run(run(settings, plan, progress))
    except RekeyError as exc:
        print(f"dedup-rekey: refused, nothing written: {exc}", file=sys.stderr)
        return 2
    print(f"re-keyed {summary.articles} remembered article(s) from {summary.old_partitions} "
          f"to {summary.partitions} partitions in {summary.seconds} s "
          f"({summary.cpu_seconds} s CPU)")
    # The tables read are those written, unless a one-partition app was recast.
    for table in summary.read:
        written = summary.written.get(table)
        print(f"  {table}: {summary.records[table]} changelog records read, "
              f"{summary.read[table]} live"
              + ("" if written is None else f", {written} written"))
    for table, written in summary.written.items():
        if table not in summary.read:
            print(f"  {table}: {written} records written")
    if summary.topics_created:
        print(f"  topics created: {', '.join(summary.topics_created)}")
    if summary.offsets_committed:
        print(f"  {summary.offsets_committed} offsets committed for {args.to_app}-{args.group}")
    prefix = settings.topic_prefix if args.to_prefix is None else args.to_prefix
    print(f"start the deduplicator workers with MARSAD_APP_ID={args.to_app} "
          f"MARSAD_PARTITIONS={args.partitions} MARSAD_TOPIC_PREFIX={prefix!r}")
    return 0
