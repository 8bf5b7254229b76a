"""The ``marsad`` command: the one entry point, where logging and settings are set up.

Run ``marsad --help`` for the commands: ``broker``, ``worker``, ``publish``,
``tail``, ``process``, ``bench``, ``demo`` and the model commands (``ner``,
``ner-train``, ``ner-eval``, ``facts-eval``, ``dedup-eval`` …).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

import orjson

from marsad.settings import Settings

log = logging.getLogger("marsad")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# --- commands -------------------------------------------------------------------


def cmd_broker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the embedded broker in the foreground until interrupted."""
    from marsad.broker import BrokerError, broker_address, start_broker

    host, port = broker_address(settings.bootstrap_servers)
    try:
        proc = start_broker(host, port, cert=args.cert, key=args.key)
    except BrokerError as exc:
        log.error("%s", exc)
        return 2
    print(f"embedded broker (tansu, in-memory) on {host}:{port}; Ctrl-C stops it", flush=True)
    if args.create_topics:
        from marsad.topics import ALL_TOPICS, INTERNAL_TOPICS, ensure_topics

        asyncio.run(ensure_topics(settings, ALL_TOPICS + INTERNAL_TOPICS))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    """Create the pipeline's topics, the deduplicator's internal ones included."""
    from marsad.topics import ALL_TOPICS, INTERNAL_TOPICS, ensure_topics

    created = asyncio.run(ensure_topics(settings, ALL_TOPICS + INTERNAL_TOPICS))
    print("created: " + (", ".join(created) or "nothing (all exist)"))
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the selected processors as a Faust worker."""
    from marsad.runtime import select_stages
    from marsad.worker import run_worker

    return run_worker(settings, select_stages(args.stage), loglevel=settings.log_level.lower())


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    """Publish raw articles from a JSONL file."""
    from marsad.console import publish

    sent = asyncio.run(
        publish(settings, args.file, rate=args.rate, limit=args.limit, progress=not args.quiet)
    )
    print(f"published {sent} article(s) to {settings.topic('articles.raw')}", file=sys.stderr)
    return 0


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    """Print a topic readably."""
    from marsad.console import tail

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            tail(
                settings,
                args.topic,
                from_beginning=not args.latest,
                limit=args.limit,
                idle_timeout=args.idle_timeout,
                raw=args.json,
            )
        )
    return 0


def cmd_process(args: argparse.Namespace, settings: Settings) -> int:
    """Run the three stages in-process on JSONL and print every message they produce."""
    from marsad.console import final_topics, read_lines
    from marsad.pipeline import Pipeline
    from marsad.runtime import STAGE_NAMES, build_stage, make_codec

    codec = make_codec(settings)
    pipeline = Pipeline([build_stage(n, settings, codec) for n in STAGE_NAMES], codec)
    keep = set(final_topics()) if args.final_only else None
    out = sys.stdout.buffer
    for line in read_lines(args.file):
        for msg in pipeline.run(line):
            if keep is not None and msg.topic not in keep:
                continue
            head = orjson.dumps({"topic": settings.topic(msg.topic), "key": msg.key})
            # Splice the already-encoded record in rather than encoding it twice.
            out.write(head[:-1] + b',"value":' + msg.data + b"}\n")
    out.flush()
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    """Measure per-stage and end-to-end throughput."""
    from marsad.bench import run_bench

    return run_bench(settings, args)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Start broker and workers, publish the seeds and show the enriched events."""
    from marsad.broker import ensure_broker
    from marsad.console import count_final, publish, seed_file, tail
    from marsad.topics import DEADLETTER, DUPLICATES, ENRICHED

    children: list[subprocess.Popen[bytes]] = []
    try:
        broker = ensure_broker(settings.bootstrap_servers)
        if broker is not None:
            children.append(broker)
        env = dict(os.environ)
        if broker is not None:  # the embedded broker: see Settings.producer_batch_bytes
            env.setdefault("MARSAD_PRODUCER_BATCH_BYTES", "1")
        worker = subprocess.Popen(
            [sys.executable, "-m", "marsad", "worker", "all"], env=env
        )
        children.append(worker)
        seeds = args.file or str(seed_file())
        n = asyncio.run(publish(settings, seeds, progress=True))
        print(
            f"published {n} seed article(s); metrics on http://{settings.metrics_host}:"
            f"{settings.metrics_port}/metrics — waiting for the workers…",
            file=sys.stderr,
        )

        async def show() -> int:
            seen = 0
            for topic in (ENRICHED, DUPLICATES, DEADLETTER):
                seen += await tail(settings, topic, idle_timeout=args.idle_timeout)
            return seen

        total = asyncio.run(count_final(settings, n, timeout=args.timeout))
        asyncio.run(show())
        print(f"\n{total} of {n} article(s) came out of the pipeline", file=sys.stderr)
        if args.once:
            return 0 if total >= n else 1
        print("pipeline keeps running; Ctrl-C stops it", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            worker.wait()
        return 0
    finally:
        for child in reversed(children):
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


# --- parser -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``marsad`` command."""
    parser = argparse.ArgumentParser(
        prog="marsad",
        description="Arabic news articles in, enriched deduplicated events out. "
        "Configuration comes from MARSAD_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("broker", help="run the embedded Kafka-compatible broker (tansu)")
    p.add_argument("--cert", help="TLS certificate (PEM): refused, tansu cannot terminate TLS")
    p.add_argument("--key", help="TLS private key (PEM): refused, see --cert")
    p.add_argument("--create-topics", action="store_true", help="create the topics once up")
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("topics", help="create the pipeline's topics (idempotent)")
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("worker", help="run processors as a Faust worker")
    p.add_argument("stage", choices=["all", "normaliser", "extractor", "deduplicator"])
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("publish", help="publish raw articles (JSONL, .jsonl.gz or -)")
    p.add_argument("file")
    p.add_argument("--rate", type=float, help="articles per second at most")
    p.add_argument("--limit", type=int, help="stop after N articles")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("tail", help="print a topic readably")
    p.add_argument("topic", help="logical topic, e.g. events.enriched")
    p.add_argument("--latest", action="store_true", help="only new messages")
    p.add_argument("--limit", type=int)
    p.add_argument("--idle-timeout", type=float, help="stop after N idle seconds")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.set_defaults(func=cmd_tail)

    p = sub.add_parser("process", help="run the pipeline in-process: JSONL in, messages out")
    p.add_argument("file", nargs="?", default="-", help="JSONL file or - (stdin)")
    p.add_argument("--final-only", action="store_true",
                   help="only events.enriched, articles.duplicates and articles.deadletter")
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("bench", help="per-stage and end-to-end throughput")
    p.add_argument("--data", default="../shared/data/ant/articles.jsonl.gz")
    p.add_argument("--limit", type=int, default=3000, help="articles to use")
    p.add_argument(
        "--warmup", type=int, default=2000,
        help="other articles processed first, untimed: the figures of a worker that has "
             "been running (0: cold caches)",
    )
    p.add_argument("--broker", action="store_true", help="also measure through the broker")
    p.add_argument("--broker-limit", type=int, default=2000)
    p.add_argument("--json-out", default="bench-results.json")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("demo", help="broker + workers + seeds, then show the events")
    p.add_argument("--file", help="JSONL to publish instead of seeds/articles.jsonl")
    p.add_argument("--once", action="store_true", help="exit once the seeds came out")
    p.add_argument("--timeout", type=float, default=180.0)
    p.add_argument("--idle-timeout", type=float, default=2.0)
    p.set_defaults(func=cmd_demo)

    for module in (
        "marsad.normaliser.commands",
        "marsad.extractor.ner.commands",
        "marsad.extractor.facts.commands",
        "marsad.deduplicator.commands",
        "marsad.soak",
    ):
        try:
            mod = __import__(module, fromlist=["register"])
        except ImportError:
            continue
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``marsad`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    _configure_logging(settings.log_level)
    try:
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `marsad process | head`: the reader has had enough
        sys.stderr.close()
        return 0
    except (ConnectionError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
