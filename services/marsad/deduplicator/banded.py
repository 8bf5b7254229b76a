"""Band-keyed deduplication: near copies meet although no worker sees every article.

The single-process :class:`~marsad.deduplicator.core.Deduplicator` needs every
article in one store.  With ``P`` partitions this module splits the same pure
steps (``signature``, ``band_keys``, ``confirm``, ``required_similarity``,
``choose``, ``cluster_id_for``) over three handlers, each touching only state
keyed like the message it handles, so a Faust table partitioned like its
input topic can hold it (see ``docs/deduplicator.md``):

1. :meth:`BandedDeduplicator.route` (input keyed by article id) computes the
   signature, the LSH band keys and the exact key (one more band key), keeps
   the pending article, and sends ONE band message per partition that holds
   any of its keys (so at most ``P`` per article), keyed by the group's first
   key so that the producer's partitioner routes it there.
2. :meth:`BandedDeduplicator.band` (keyed by band key) looks the article up in
   its buckets, adds it, confirms each earlier member against its stored
   signature right there, and replies (keyed by article id) with the
   confirmed candidates, each with the partitions of all the band keys the
   two share (``sp``).
3. :meth:`BandedDeduplicator.note` (keyed by article id) gathers the replies;
   with all in, it decides: which pairs this article handles (the rule
   below), the best candidate (``choose``), ``unique`` or ``duplicate``.  A
   duplicate's story is its target's: a ``join`` message walks from the
   target along ``duplicate_of`` to the story's root, where the cluster
   record (count, sources, revision) lives and the outputs are made.
4. :meth:`BandedDeduplicator.merge` (keyed by the partition of an event
   report's merge key) merges the article's event reports there, so reports
   of one happening from articles on any partition meet in one
   :class:`~marsad.deduplicator.events.EventMerger`, and replies with the
   merged events; the article is decided once these replies are in too, so
   its output carries them as with one partition.  Each merged event it
   changed (or a redelivered report touched) is also published for
   subscribers (:class:`Publish`, topic ``events.merged``, keyed by event id).

Who handles a pair
------------------
In every partition the two band messages of a pair arrive in some order and
the second one sees the first.  ``T`` is the set of partitions where this
article saw the candidate, ``S`` the partitions of all keys they share.
``T == S``: this article came second everywhere and handles the pair (it may
be the candidate's duplicate); ``T`` empty: the candidate handles it; mixed:
the later ``(time, id)`` handles it.  Both sides compute the same answer, so
a pair is never lost nor handled twice.  The handled relation can still form
a cycle across three articles (orders differ between partitions), so a
``join`` carries the path it walked: on reaching an id already on it, the
cycle's smallest id becomes the story's root.

State: ``articles`` (keyed by article id) holds ``a:<id>`` records, the
merged events replied for it (``v:<id>``) and, for
roots, ``c:<cluster>``; ``events`` (keyed by event partition) the merged
events; ``bands`` (keyed by band partition) holds ``s:<partition>:<id>``
(signature, exact key, time, source); ``index`` holds the buckets (derived,
rebuilt by :meth:`BandedDeduplicator.rebuild_index`).  This module imports
neither Faust nor Kafka.
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import gc
import hashlib
import logging
import math
import time
import tracemalloc
import zlib
from collections import deque
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from marsad.deduplicator import minhash as mh
from marsad.deduplicator.core import (
    Decision,
    DedupConfig,
    band_keys,
    choose,
    cluster_id_for,
    confirm_method,
    parse_time,
    required_similarity,
    signature,
)
from marsad.deduplicator.events import (
    EventMerger,
    EventReport,
    MergedEvent,
    closed_record,
    merge_key,
    merged_records,
)
from marsad.deduplicator.resemblance import cross_outlet
from marsad.topics import DEDUP_BANDS as BANDS
from marsad.topics import DEDUP_EVENTS as EVENTS
from marsad.topics import DEDUP_NOTES as NOTES
from marsad.topics import MERGED

logger = logging.getLogger(__name__)

_FUTURE_SLACK = 86_400.0
_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Send:
    """An internal message: to ``BANDS``, ``EVENTS`` or ``NOTES``, with its key."""

    topic: str
    key: str
    value: dict[str, Any]
    #: For band and event messages: the partition they must reach (the wiring
    #: keys them so that the producer's partitioner sends them there).
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class Final:
    """An outcome for the outside world.

    Attributes:
        kind: ``unique`` (new story), ``duplicate``, or ``update`` (a story's
            root re-published because a new source joined it).
        decision: The decision (for ``update``: the root's, with the story's new figures).
        payload: What the wiring stored with the article (its output fields).
        revision: The story's revision: 0 when founded, +1 per new source.
    """

    kind: str
    decision: Decision
    payload: dict[str, Any]
    revision: int = 0


@dataclass(frozen=True, slots=True)
class Publish:
    """A merged event's record for subscribers (``events.merged``), keyed by its event id."""

    key: str
    value: dict[str, Any]


Out = Send | Final | Publish


@dataclass(slots=True)
class _Stats:
    candidates: int = 0
    cycles: int = 0
    evicted: int = 0


def advance_window(
    store: MutableMapping[str, Any], partition: int, ts: float, window_days: float, *ids: str
) -> list[str]:
    """Remember ``ids`` under the hour of ``ts``; return the ids that fell out of the window.

    The window trails the newest time seen in this partition.  Its
    bookkeeping is per partition (``m:<p>``, ``w:<p>:<hour>``): a key written
    from two partitions would have two changelogs, and a rebalance would
    restore either.
    """
    hour = math.floor(ts / _HOUR)
    meta = store.get(f"m:{partition}") or {"top": hour, "hours": []}
    top = max(int(meta["top"]), hour)
    cutoff = top - math.ceil(window_days * 24)
    bucket = max(hour, cutoff)
    expired: list[str] = []
    # ``hours`` is kept sorted: the expired ones are a prefix, and most calls
    # (every partition, every article) change nothing, so nothing is copied.
    hours: list[int] = meta["hours"]
    cut = bisect.bisect_left(hours, cutoff)
    for h in hours[:cut]:
        expired.extend(store.pop(f"w:{partition}:{h}", None) or [])
    at = bisect.bisect_left(hours, bucket, cut)
    fresh = at == len(hours) or hours[at] != bucket
    if cut or fresh or top != meta["top"]:
        kept = [*hours[cut:at], bucket, *hours[at:]] if fresh else hours[cut:]
        store[f"m:{partition}"] = {"top": top, "hours": kept}
    key = f"w:{partition}:{bucket}"
    store[key] = [*(store.get(key) or ()), *ids]
    return expired


def band_partition(key: str, partitions: int) -> int:
    """The partition of a band key (or exact key): its last 32 bits, which are uniform.

    Both key kinds end in hex digits of a hash, so this costs a slice and an
    ``int``, where Kafka's murmur2 in Python costs ten times more per key.
    """
    return int(key[-8:], 16) % partitions


def event_partition(key: str, partitions: int) -> int:
    """The partition of an event report's merge key (any stable hash: keys are text)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % partitions


_PACKED = "z:"


def pack_payload(payload: dict[str, Any]) -> str:
    """A payload kept for a story's lifetime, as one compressed string.

    A founder's output fields stay in memory (and in the changelog) for
    the whole window, and they are mostly Arabic text held twice (original
    and display): as zlib (level 1) of the JSON, in base64 because table
    values are JSON, a founder takes about a quarter of the memory of the
    plain JSON string, for about 0.1 ms once per story (re-publication
    decompresses, which is rarer and cheaper).
    """
    return _PACKED + base64.b64encode(zlib.compress(orjson.dumps(payload), 1)).decode("ascii")


def unpack_payload(packed: str | dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`pack_payload`.

    Records kept by earlier versions pass too: a dict, or the plain JSON
    string.
    """
    if isinstance(packed, dict):
        return packed
    raw: str | bytes = packed
    if packed.startswith(_PACKED):
        raw = zlib.decompress(base64.b64decode(packed[len(_PACKED):]))
    value: dict[str, Any] = orjson.loads(raw)
    return value


def signature_key(partition: int, aid: str) -> str:
    """The band table's key of an article's signature as stored by one partition.

    Per partition, like the window bookkeeping (:func:`advance_window`): one
    worker holding several partitions shares one in-memory table, and a key
    written from the first of them only would be missing from the other
    partitions' changelogs, so a worker taking one of those over after a
    rebalance would not know the article.
    """
    return f"s:{partition}:{aid}"


def parse_signature_key(key: str) -> tuple[int | None, str]:
    """``(partition, article id)`` of a signature key; partition None for the old ``s:<id>``."""
    head, sep, rest = key[2:].partition(":")
    if sep and head.isdigit():
        return int(head), rest
    return None, key[2:]


def keys_in_partition(
    values: mh.U32Array, exact: str, config: DedupConfig, partitions: int, partition: int
) -> list[str]:
    """The bucket keys of a signature (LSH bands, then the exact key) that fall into ``partition``.

    The same keys as filtering every key by :func:`band_partition`, without
    formatting the others: each partition evicts its own copy of a signature,
    so this runs once per partition holding a key of the article.
    """
    hashes = mh.band_hashes(values, config.bands, config.seed)
    # band_partition reads a key's last 8 hex digits: the hash's low 32 bits.
    low = (hashes & np.uint64(0xFFFFFFFF)) % np.uint64(partitions)
    keys = [f"{i}:{int(hashes[i]):016x}" for i in np.flatnonzero(low == partition).tolist()]
    ekey = _exact_key(exact)
    if band_partition(ekey, partitions) == partition:
        keys.append(ekey)
    return keys


def _exact_key(exact: str) -> str:
    # A prefix no LSH band key has ("b<band>:<hex>").
    return "x" + exact


def _members_before(index: MutableMapping[str, Any], key: str, aid: str, cap: int) -> list[str]:
    """Ids inserted in bucket ``key`` before ``aid``; adds ``aid`` (idempotent on redelivery)."""
    members = index.get(key)
    if not members:
        index[key] = aid
        return []
    if isinstance(members, str):
        if members == aid:
            return []
        index[key] = [members, aid]
        return [members]
    if aid in members:
        return list(members[: members.index(aid)])
    index[key] = [*members, aid][-cap:]
    return list(members)


class BandedDeduplicator:
    """The three handlers of the band-keyed design, over injected stores.

    Args:
        config: Parameters of the search (as for the single-process core).
        partitions: Partitions of the internal topics (band keys are spread
            over them by :func:`band_partition`).
        articles: State keyed by article id (pending articles, story records).
        bands: State keyed by band partition (signatures of bucket members).
        index: The LSH buckets (in memory in the stream; rebuilt after recovery).
        events: State keyed by event partition (the event merger's).
        clock: Processing time, for articles without a usable ``published_at``.
        closing_grace: Event messages of a partition after which a closing record
            is surely published (the wiring's batch size; see :class:`EventMerger`).
    """

    def __init__(
        self,
        config: DedupConfig,
        partitions: int,
        articles: MutableMapping[str, Any] | None = None,
        bands: MutableMapping[str, Any] | None = None,
        index: MutableMapping[str, Any] | None = None,
        events: MutableMapping[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        closing_grace: int = 1_000,
    ) -> None:
        self.config = config
        self.partitions = partitions
        self.articles: MutableMapping[str, Any] = {} if articles is None else articles
        self.bands: MutableMapping[str, Any] = {} if bands is None else bands
        self.index: MutableMapping[str, Any] = {} if index is None else index
        self.clock = clock
        self.merger = EventMerger(events, clock=clock, closing_grace=closing_grace)
        self.stats = _Stats()

    # -- step 1: in the article's partition ------------------------------------------

    def route(
        self,
        article_id: str,
        matching_text: str,
        *,
        source: str | None,
        published_at: str | None,
        payload: dict[str, Any],
        partition: int = 0,
        reports: Sequence[EventReport] | None = None,
    ) -> list[Out]:
        """Start deciding on an article: one band message per partition of its keys.

        With ``reports``, also one event message per partition of their merge
        keys; the merged events replied go into the payload's ``merged``
        field (in report order, one entry per merged event) before the
        decision is made.

        Articles older than the window behind the newest time seen in this
        partition are forgotten here (their records, and the stories they founded).

        Args:
            article_id: Unique id (the input's key).
            matching_text: The normaliser's matching text.
            source: Outlet that published it.
            published_at: ISO 8601 time, if known.
            payload: Output fields the wiring wants back with the decision.
            partition: The input partition (the window is kept per partition).
            reports: The article's event reports (None: no event merging).

        Returns:
            Band and event messages; or, for a text without words and no
            report to merge, its (unique) final.
        """
        cfg = self.config
        old = self.articles.get("a:" + article_id)
        if old is not None and old.get("st") != "wait":
            # Redelivered after its decision: the outputs were produced then.
            return []
        now = self.clock()
        ts = parse_time(published_at) if cfg.time_basis == "published" else None
        ts = now if ts is None else min(ts, now + _FUTURE_SLACK)
        sig = signature(matching_text, cfg)
        keys = band_keys(sig, cfg)
        if keys:
            keys.append(_exact_key(sig.exact))
        groups: dict[int, list[str]] = {}
        for key in keys:
            groups.setdefault(band_partition(key, self.partitions), []).append(key)
        expired = advance_window(self.articles, partition, ts, cfg.window_days, article_id)
        held = [gone for gone in expired if not self._forget_article(gone)]
        if held:
            # Still waiting for replies (an old article that came late): kept for
            # the next sweep, else its replies would find nothing and it would
            # never be decided.
            advance_window(self.articles, partition, ts, cfg.window_days, *held)
        rec: dict[str, Any] = {"t": ts, "o": source, "exp": sorted(groups), "rep": {}, "st": "wait"}
        by_event: dict[int, list[dict[str, Any]]] = {}
        if reports is not None:
            for n, report in enumerate(reports):
                merge = merge_key(report)
                if merge is not None:
                    by_event.setdefault(event_partition(merge, self.partitions), []).append(
                        {**report.to_message(), "n": n})
            rec["ev"] = sorted(by_event)
        if old is not None:
            rec["rep"] = old.get("rep") or {}
            rec["park"] = old.get("park") or []
        # Apart from the record, which every reply rewrites: the payload goes
        # to the changelog once.
        self.articles["p:" + article_id] = payload
        self.articles["a:" + article_id] = rec
        outs: list[Out] = [
            Send(EVENTS, article_id, {"k": "reports", "a": article_id, "r": items},
                 partition=part)
            for part, items in by_event.items()
        ]
        if not groups:
            return outs or self._decide(article_id, rec)
        encoded = sig.encode()
        outs.extend(
            Send(BANDS, group[0], {
                "k": "band", "a": article_id, "t": ts, "o": source, "g": encoded,
                "x": sig.exact, "keys": group,
            }, partition=part)
            for part, group in groups.items()
        )
        return outs

    # -- step 4: in an event partition ---------------------------------------------------

    def merge(self, msg: dict[str, Any], partition: int) -> list[Out]:
        """Merge an article's event reports whose keys fall into this partition; reply.

        Also publishes each merged event the reports belong to, as it stands
        after them (a redelivered message publishes their current state again:
        the same revision or a later one, never an earlier one).
        """
        merged = []
        results: list[MergedEvent] = []
        for item in msg["r"]:
            result = self.merger.add(EventReport.from_message(item), partition)
            if result is not None:
                merged.append([int(item["n"]), result.to_json()])
                results.append(result)
        aid = msg["a"]
        outs: list[Out] = [Send(NOTES, aid, {"k": "merged", "a": aid, "p": partition,
                                             "e": merged})]
        outs.extend(Publish(rec["event_id"], rec) for rec in merged_records(results))
        outs.extend(Publish(e.event_id, closed_record(e))
                    for e in self.merger.take_closed(partition))
        return outs

    # -- step 2: in a band partition ---------------------------------------------------

    def band(self, msg: dict[str, Any], partition: int) -> list[Out]:
        """Look an article up in this partition's buckets, add it, reply with candidates."""
        cfg = self.config
        aid = msg["a"]
        mine_key = signature_key(partition, aid)
        if mine_key not in self.bands:
            ts = float(msg["t"])
            for gone in advance_window(self.bands, partition, ts, cfg.window_days, aid):
                self._forget_signature(gone, partition)
            self.bands[mine_key] = {"g": msg["g"], "x": msg["x"], "t": msg["t"], "o": msg["o"]}
        seen: dict[str, None] = {}
        for key in msg["keys"]:
            for cid in _members_before(self.index, key, aid, cfg.max_bucket):
                seen.setdefault(cid)
        mine: set[str] | None = None
        cands: list[dict[str, Any]] = []
        # Decoded only when needed: most band messages find nobody.
        values = mh.Signature.decode_values(msg["g"]) if seen else None
        for cid in seen:
            assert values is not None
            # The old key (no partition) stands for state kept before 2026-11-29.
            crec = self.bands.get(signature_key(partition, cid)) or self.bands.get("s:" + cid)
            if crec is None:
                continue
            if crec["x"] == msg["x"]:
                sim, method = 1.0, "exact"
            else:
                gap = float(msg["t"]) - float(crec["t"])
                same = msg["o"] is not None and crec["o"] == msg["o"]
                cross = cross_outlet(msg["o"], crec["o"])
                sim, method = confirm_method(msg["g"], crec["g"], cfg, cross_outlet=cross)
                if sim < required_similarity(cfg, gap, same):
                    continue
            if mine is None:
                mine = set(self._keys(values, msg["x"]))
            theirs = self._keys(mh.Signature.decode_values(crec["g"]), crec["x"])
            shared = sorted({band_partition(k, self.partitions) for k in theirs if k in mine})
            cands.append({"i": cid, "s": sim, "m": method, "sp": shared, "t": crec["t"]})
        self.stats.candidates += len(seen)
        return [Send(NOTES, aid, {"k": "cands", "a": aid, "p": partition, "c": cands})]

    def _forget_article(self, aid: str) -> bool:
        """Forget an article out of the window, unless it is still undecided (False)."""
        rec = self.articles.get("a:" + aid)
        if rec is not None and rec.get("st") == "wait":
            return False
        self.articles.pop("a:" + aid, None)
        self.articles.pop("p:" + aid, None)
        self.articles.pop("v:" + aid, None)
        if rec is not None and rec.get("st") == "root":
            self.articles.pop("c:" + rec["c"], None)
        self.stats.evicted += rec is not None
        return True

    def _forget_signature(self, aid: str, partition: int) -> None:
        rec = self.bands.pop(signature_key(partition, aid), None)
        if rec is None:
            rec = self.bands.pop("s:" + aid, None)
        if rec is None:
            return
        values = mh.Signature.decode_values(rec["g"])
        for key in keys_in_partition(values, rec["x"], self.config, self.partitions, partition):
            members = self.index.get(key)
            if members == aid:
                del self.index[key]
            elif isinstance(members, list) and aid in members:
                rest = [m for m in members if m != aid]
                self.index[key] = rest if len(rest) > 1 else rest[0]

    def remembered(self) -> tuple[int, int]:
        """Articles remembered in the article store and signatures in the band store."""
        return (sum(1 for k in self.articles if k.startswith("a:")),
                len({parse_signature_key(k)[1] for k in self.bands if k.startswith("s:")}))

    def undecided(self) -> dict[str, tuple[list[int], list[int]]]:
        """Articles still waiting for replies: the band and event partitions not yet heard.

        A worker that stops leaves them to the next one (their replies are
        still on the internal topics); listed at shutdown for the operator.
        """
        out: dict[str, tuple[list[int], list[int]]] = {}
        for key, rec in self.articles.items():
            if key.startswith("a:") and rec.get("st") == "wait":
                heard = self.articles.get("v:" + key[2:]) or {}
                out[key[2:]] = ([p for p in rec["exp"] if str(p) not in rec["rep"]],
                                [p for p in rec.get("ev") or () if str(p) not in heard])
        return out

    def _keys(self, values: mh.U32Array, exact: str) -> list[str]:
        return [*mh.band_key_strings(values, self.config.bands, self.config.seed),
                _exact_key(exact)]

    def rebuild_index(self) -> int:
        """Re-derive the buckets from the stored signatures (after a table recovery).

        Arrival order is lost with the process; ``(time, id)`` order stands in.
        """
        self.index.clear()
        records = sorted(
            ((*parse_signature_key(k), v) for k, v in self.bands.items() if k.startswith("s:")),
            key=lambda item: (float(item[2]["t"]), item[1], -1 if item[0] is None else item[0]),
        )
        for partition, aid, rec in records:
            for key in self._keys(mh.Signature.decode_values(rec["g"]), rec["x"]):
                # A partition's record builds that partition's buckets only.
                if partition is None or band_partition(key, self.partitions) == partition:
                    _members_before(self.index, key, aid, self.config.max_bucket)
        return len({aid for _, aid, _ in records})

    # -- step 3: in the partition of an article id ---------------------------------------

    def note(self, msg: dict[str, Any]) -> list[Out]:
        """Handle a message keyed by an article id: candidates, a join or a resolution."""
        kind = msg["k"]
        if kind == "cands":
            return self._cands(msg)
        if kind == "join":
            return self._join(msg)
        if kind == "resolved":
            return self._resolved(msg)
        if kind == "merged":
            return self._merged(msg)
        raise ValueError(f"unknown note kind {kind!r}")

    def _cands(self, msg: dict[str, Any]) -> list[Out]:
        aid = msg["a"]
        rec = self.articles.get("a:" + aid)
        if rec is None or rec["st"] != "wait":
            return []  # a redelivered reply to a decided article
        rep = dict(rec["rep"])
        rep[str(msg["p"])] = msg["c"]
        rec = {**rec, "rep": rep}
        self.articles["a:" + aid] = rec
        return self._decide(aid, rec) if self._all_in(aid, rec) else []

    def _merged(self, msg: dict[str, Any]) -> list[Out]:
        aid = msg["a"]
        rec = self.articles.get("a:" + aid)
        if rec is None or rec["st"] != "wait":
            return []  # a redelivered reply to a decided article
        # Apart from the record, which every band reply rewrites.
        self.articles["v:" + aid] = {**(self.articles.get("v:" + aid) or {}),
                                     str(msg["p"]): msg["e"]}
        return self._decide(aid, rec) if self._all_in(aid, rec) else []

    def _all_in(self, aid: str, rec: dict[str, Any]) -> bool:
        """Every band partition and every event partition has replied."""
        if any(str(p) not in rec["rep"] for p in rec["exp"]):
            return False
        if not rec.get("ev"):
            return True
        got = self.articles.get("v:" + aid) or {}
        return all(str(p) in got for p in rec["ev"])

    def handles(
        self, me: tuple[float, str], other: tuple[float, str], seen_in: set[int], shared: set[int]
    ) -> bool:
        """True when this article (``me``) handles the pair: it may be the other's duplicate.

        Args:
            me: This article's ``(time, id)``.
            other: The candidate's ``(time, id)``.
            seen_in: Partitions where this article found the candidate (``T``).
            shared: Partitions of all the keys the two share (``S``).
        """
        if not seen_in:
            return False
        if seen_in >= shared:
            return True
        return me > other

    def _decide(self, aid: str, rec: dict[str, Any]) -> list[Out]:
        cfg = self.config
        seen_in: dict[str, set[int]] = {}
        info: dict[str, dict[str, Any]] = {}
        for part, cands in rec["rep"].items():
            for c in cands:
                seen_in.setdefault(c["i"], set()).add(int(part))
                info[c["i"]] = c
        me = (float(rec["t"]), aid)
        handled = [
            c for cid, c in info.items()
            if self.handles(me, (float(c["t"]), cid), seen_in[cid], set(c["sp"]))
        ]
        exact = [(c["i"], 1.0) for c in handled if c["m"] == "exact"]
        match = choose(exact, 1.0) if exact else choose(
            [(c["i"], float(c["s"])) for c in handled], cfg.threshold
        )
        payload = self.articles.pop("p:" + aid, None) or {}
        if "ev" in rec:
            payload = {**payload, "merged": self._merged_events(aid)}
        if match is None:
            cluster = cluster_id_for(aid)
            self.articles["a:" + aid] = {
                "t": rec["t"], "o": rec["o"], "st": "root", "c": cluster, "r": aid,
                "pl": pack_payload(payload),
            }
            crec = {"n": 1, "src": [rec["o"]] if rec["o"] else [], "ids": [aid], "rev": 0}
            self.articles["c:" + cluster] = crec
            outs: list[Out] = [Final("unique", self._decision(aid, None, cluster, aid, crec,
                                                              new_source=bool(rec["o"])),
                                     payload)]
            for parked in rec.get("park") or []:
                outs.extend(self._join(parked))
            return outs
        target, sim = match
        method = "exact" if exact else str(info[target]["m"])
        self.articles["a:" + aid] = {
            "t": rec["t"], "o": rec["o"], "st": "dup", "d": target,
        }
        join = {
            "k": "join", "a": aid, "o": rec["o"], "d": target, "s": sim, "m": method,
            "pl": payload, "path": [],
        }
        outs = [Send(NOTES, target, join)]
        # Joins parked here while undecided follow this article's own target.
        outs.extend(
            Send(NOTES, target, {**p, "to": target, "path": [*p["path"], aid]})
            for p in rec.get("park") or []
        )
        return outs

    def _merged_events(self, aid: str) -> list[dict[str, Any]]:
        """The merged events replied for an article, in report order, each once (latest)."""
        replies = self.articles.pop("v:" + aid, None) or {}
        items = sorted((item for part in replies.values() for item in part),
                       key=lambda item: int(item[0]))
        merged: dict[str, dict[str, Any]] = {}
        for _, event in items:
            merged[event["event_id"]] = event
        return list(merged.values())

    def _join(self, msg: dict[str, Any]) -> list[Out]:
        path: list[str] = list(msg["path"])
        here = msg.get("to") or msg["d"]
        rec = self.articles.get("a:" + here)
        if rec is None:
            # Forgotten meanwhile (out of the window): the copy keeps the cluster id
            # the article would have founded, without the story's history.
            logger.warning("join of %s: %s is no longer remembered", msg["a"], here)
            source = msg["o"]
            orphan = Decision(
                kind="duplicate", article_id=msg["a"], cluster_id=cluster_id_for(here),
                duplicate_of=msg["d"], similarity=float(msg["s"]), method=msg["m"],
                cluster_size=2, sources=(source,) if source else (), config=self.config,
                representative=here, new_source=bool(source),
            )
            return [Final("duplicate", orphan, msg["pl"])]
        st = rec["st"]
        if msg.get("cycle") == here:
            return self._at_root(here, rec, msg)
        if st == "wait":
            self.articles["a:" + here] = {**rec, "park": [*(rec.get("park") or []), msg]}
            return []
        if st == "dup" and rec.get("r") is None:
            if here in path:
                # A cycle of duplicates: its smallest id founds the story.
                cycle = path[path.index(here):]
                root = min(cycle)
                self.stats.cycles += 1
                return [Send(NOTES, root, {**msg, "to": root, "path": [], "cycle": root})]
            nxt = rec["d"]
            return [Send(NOTES, nxt, {**msg, "to": nxt, "path": [*path, here]})]
        root = rec.get("r", here)
        if root != here:
            return [Send(NOTES, root, {**msg, "to": root, "path": []})]
        return self._at_root(here, rec, msg)

    def _at_root(self, here: str, rec: dict[str, Any], msg: dict[str, Any]) -> list[Out]:
        outs: list[Out] = []
        if rec["st"] != "root":
            # This article became the root of a cycle of duplicates.
            cluster = cluster_id_for(here)
            rec = {**rec, "st": "root", "c": cluster, "r": here}
            self.articles["a:" + here] = rec
            self.articles.setdefault(
                "c:" + cluster, {"n": 1, "src": [rec["o"]] if rec["o"] else [], "ids": [here],
                                 "rev": 0},
            )
        cluster = rec["c"]
        crec = dict(self.articles.get("c:" + cluster) or {"n": 1, "src": [], "ids": [here],
                                                           "rev": 0})
        aid = msg["a"]
        if aid == here:
            # The cycle's own root: it is published as the story's founder.
            rec = {**rec, "pl": pack_payload(msg["pl"])}
            self.articles["a:" + here] = rec
            return [Final("unique", self._decision(here, None, cluster, here, crec), msg["pl"],
                          int(crec["rev"]))]
        source = msg["o"]
        new_source = source is not None and source not in crec["src"]
        if aid not in crec["ids"]:
            crec["n"] = int(crec["n"]) + 1
            crec["ids"] = [*crec["ids"], aid]
            if new_source:
                crec["src"] = [*crec["src"], source]
                crec["rev"] = int(crec["rev"]) + 1
            self.articles["c:" + cluster] = crec
        dup = Decision(
            kind="duplicate", article_id=aid, cluster_id=cluster, duplicate_of=msg["d"],
            similarity=float(msg["s"]), method=msg["m"], cluster_size=int(crec["n"]),
            sources=tuple(crec["src"]), config=self.config, representative=here,
            new_source=new_source,
        )
        outs.append(Final("duplicate", dup, msg["pl"], int(crec["rev"])))
        if new_source and rec.get("pl") is not None:
            outs.append(Final("update", self._decision(here, None, cluster, here, crec),
                              unpack_payload(rec["pl"]), int(crec["rev"])))
        outs.append(Send(NOTES, aid, {"k": "resolved", "a": aid, "r": here, "c": cluster}))
        return outs

    def _resolved(self, msg: dict[str, Any]) -> list[Out]:
        aid = msg["a"]
        rec = self.articles.get("a:" + aid)
        if rec is None or rec["st"] != "dup":
            return []
        self.articles["a:" + aid] = {**rec, "r": msg["r"], "c": msg["c"]}
        return []

    def _decision(
        self, aid: str, dup_of: str | None, cluster: str, root: str, crec: dict[str, Any],
        *, new_source: bool = False,
    ) -> Decision:
        return Decision(
            kind="unique", article_id=aid, cluster_id=cluster, duplicate_of=dup_of,
            similarity=None, method=None, cluster_size=int(crec["n"]),
            sources=tuple(crec["src"]), config=self.config, representative=root,
            new_source=new_source,
        )


def bench(
    matching_texts: Sequence[str], config: DedupConfig, partitions: int,
    reports: Sequence[Sequence[EventReport]] | None = None,
    closing_grace: int = 200,
) -> dict[str, Any]:
    """CPU cost and messages per article of the band-keyed steps, in one process.

    The three handlers run in stream order over in-process FIFO queues (no
    broker), so the figure is the deduplicator's own work with the extra
    steps of the partitioned design, comparable with ``core.bench``.  Each
    message is encoded and handed on decoded, as the wiring does: the state
    then holds objects of its own, as in the stream, not the bench's inputs.

    Args:
        matching_texts: Matching texts (already folded), in stream order.
        config: Parameters.
        partitions: Partitions the band keys are spread over.
        reports: Each article's event reports (as ``reports_from_article``
            gives them), to count the event merging's messages too; None: no
            event merging.
        closing_grace: As the wiring sets it (its batch size): how long closed
            merged events stay in the outbox.

    Returns:
        ``articles``, ``cpu_seconds``, ``articles_per_s`` (CPU), ``duplicates``,
        ``band_messages_per_article``, ``event_messages_per_article``,
        ``note_messages_per_article``, ``merged_records_per_article``
        (``events.merged``), ``internal_bytes_per_article`` (JSON),
        ``remembered`` (articles in the window at the end),
        ``bytes_per_article`` (all state per remembered article, tracemalloc),
        ``event_outbox_bytes`` (of that state, the closings kept for
        re-publication: a fixed amount per partition, ``closing_grace`` messages'
        worth, not a cost per article) and ``agreement_with_single`` (share of
        articles with the single-process core's kind).
    """
    import hashlib

    from marsad.deduplicator.core import Deduplicator

    def partition_of(key: str) -> int:
        # Article ids: any hash spreads them (the stream uses murmur2).
        digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") % partitions

    texts = list(matching_texts)
    base = 1_527_811_200.0  # 2018-06-01, one article every ten minutes
    stamps = [datetime.fromtimestamp(base + 600.0 * i, tz=UTC).isoformat()
              for i in range(len(texts))]
    # The reports on the bench's clock and ids: the merger's window then runs on
    # the same times as the articles', as in the wiring.
    stamped = None if reports is None else [
        [dataclasses.replace(r, article_id=f"bench-{i}", published_at=stamps[i]) for r in rs]
        for i, rs in enumerate(reports)]
    counts = {BANDS: 0, EVENTS: 0, NOTES: 0, MERGED: 0}
    size = 0
    kinds: dict[str, str] = {}

    def run() -> BandedDeduplicator:
        nonlocal size
        core = BandedDeduplicator(config, partitions, closing_grace=closing_grace)
        for i, text in enumerate(texts):
            aid = f"bench-{i}"
            pending: deque[Out] = deque(core.route(
                aid, text, source="bench", published_at=stamps[i], payload={},
                partition=partition_of(aid), reports=None if stamped is None else stamped[i],
            ))
            while pending:
                out = pending.popleft()
                if isinstance(out, Final):
                    if out.kind != "update":
                        kinds[out.decision.article_id] = out.kind
                    continue
                if isinstance(out, Publish):
                    counts[MERGED] += 1
                    continue
                counts[out.topic] += 1
                # Encoded and decoded as the wiring does (it is part of the cost).
                data = orjson.dumps(out.value)
                size += len(data)
                value = orjson.loads(data)
                if out.topic == BANDS:
                    assert out.partition is not None
                    pending.extend(core.band(value, out.partition))
                elif out.topic == EVENTS:
                    assert out.partition is not None
                    pending.extend(core.merge(value, out.partition))
                else:
                    pending.extend(core.note(value))
        return core

    c0 = time.process_time()
    run()
    cpu = time.process_time() - c0
    n = len(texts) or 1
    messages = {k: v / n for k, v in counts.items()}
    per_article_bytes = size / n
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    core = run()
    # A full collection also empties CPython's free lists, whose blocks (tuples
    # of gists, decoded messages) tracemalloc would still count as the state's.
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    if not tracing:
        tracemalloc.stop()
    remembered = core.remembered()[0]
    outbox = 0
    if reports is not None:
        # The same state's outbox alone, as decoded objects (tracemalloc again).
        boxes = orjson.dumps({k: v for k, v in core.merger.store.items() if k.startswith("o:")})
        if not tracing:
            tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        copy = orjson.loads(boxes)
        outbox = tracemalloc.get_traced_memory()[0] - before
        if not tracing:
            tracemalloc.stop()
        del copy
    single = Deduplicator(config)
    same = sum(
        single.decide(f"bench-{i}", t, source="bench", published_at=stamps[i]).kind
        == kinds.get(f"bench-{i}")
        for i, t in enumerate(texts)
    )
    return {
        "articles": len(texts),
        "partitions": partitions,
        "cpu_seconds": round(cpu, 3),
        "articles_per_s": round(len(texts) / cpu, 1) if cpu else None,
        "duplicates": sum(k == "duplicate" for k in kinds.values()),
        "band_messages_per_article": round(messages[BANDS], 2),
        "event_messages_per_article": round(messages[EVENTS], 2),
        "note_messages_per_article": round(messages[NOTES], 2),
        "merged_records_per_article": round(messages[MERGED], 2),
        "internal_bytes_per_article": round(per_article_bytes),
        # All partitions' state in this one process: articles, stories,
        # signatures (one copy per partition holding a key) and buckets.
        "remembered": remembered,
        "bytes_per_article": round(used / remembered) if remembered else None,
        "event_outbox_bytes": outbox,
        "agreement_with_single": round(same / n, 4),
    }
