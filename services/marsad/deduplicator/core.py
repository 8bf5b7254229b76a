"""Deduplicator core: exact and near-duplicate detection over a stream of articles.

One :class:`Decision` per article: ``unique`` (it founds a new story cluster)
or ``duplicate`` (of an article seen before, found by an ``exact`` fingerprint
of its words or by ``minhash`` similarity of its word shingles), together with
the cluster's current article count and list of sources.

State
-----
All state lives in ONE injected mapping with ``str`` keys and JSON values
(str/int/float/list/dict), so the wiring can back it by a Faust table (a
changelog topic: survives restarts and rebalances) and batch mode by a dict.
Values are never mutated in place: every change is written back with
``store[key] = value`` so a table records it in its changelog.  Key layout:

========================  ==================================================
``a:<article id>``        the article: cluster, decision, time, signature
``x:<exact key>``         first article with exactly these words
``b:<band>:<hash>``       LSH bucket: the id (or list of ids) with this band value
``c:<cluster id>``        the story: root article, count, sources, last time
``w:<hour>``              ids remembered in that hour (for eviction)
``m:``                    the highest hour seen and the hours still held
========================  ==================================================

Eviction keeps memory bounded: articles older than ``window_days`` behind
the newest time seen (``published_at``, or the injected clock) are deleted
with their buckets, fingerprints and, once empty, their clusters.  A
redelivered article (same id, as at-least-once delivery does after a crash)
gets back its first decision instead of being counted twice.

Scale-out design
----------------
With many partitions and workers no worker sees every article, but two
near-copies must still meet.  The work is split into the pure steps below
(``signature``, ``band_keys``, ``confirm``, ``required_similarity``,
``choose``, ``cluster_id_for``), which :mod:`marsad.deduplicator.banded`
composes over three handlers whose state is keyed like their input: the
article's partition computes the keys and sends one message per band
partition; each band partition confirms the earlier members of its buckets
against their stored signatures and replies keyed by article id; with all
replies in, the article decides who handles each pair (processing order
where it is the same in every shared partition, ``(time, id)`` otherwise)
and a duplicate's story is resolved at the story's root.  See
``docs/deduplicator.md``.  The single-process :class:`Deduplicator`
composes the same steps on one store, where processing order is the order;
with one partition both give the same decisions.

Memory
------
Per remembered article the store holds one ``a:`` record (about 1.5 KB,
most of it the base64 signature of ``4 * permutations`` bytes, the 3-byte
shingle count the containment rule needs and the order sample of the
ordered cover, about 29 values of 4 bytes), one ``x:``
fingerprint and ``bands`` bucket entries (a bare id string while a bucket
has one member).  :func:`bench` measures it with tracemalloc over a dict
store: about 6.7 KB per article with the defaults (42 bands; 6.57 KB
without the order sample), so a 7-day window of 10,000 articles a day
costs about 470 MB; halving ``permutations`` or raising ``threshold``
(fewer bands) cuts it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import tracemalloc
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from marsad.deduplicator import minhash as mh
from marsad.deduplicator.resemblance import (
    MINHASH,
    confirmation,
    cover_applies,
    cross_outlet,
    ordered_cover,
)

logger = logging.getLogger(__name__)

_HOUR = 3600.0
_META = "m:"
# A published_at this far past the clock is a typo, not the future; it must
# not drag the window forward and evict everything.
_FUTURE_SLACK = 86_400.0


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """Parameters of the duplicate search; recorded on every decision.

    The defaults were chosen on the evaluation set (``marsad dedup-eval``):
    3-word shingles and an estimated Jaccard of 0.5 keep precision at 1.0 on
    the synthetic copies and the hand-labelled hard negatives while finding
    more of the lightly edited cross-outlet agency copies than 5-word
    shingles at 0.8 do.  ``containment`` and ``containment_floor``, then
    ``ordered_cover`` and ``ordered_floor``, were chosen on the 150
    hand-labelled natural pairs (in-sample: no hard negative merged; see
    ``tests/data/dedup/README.md``); ``marsad dedup-eval`` prints the cross-validated
    figures of fitting them.

    Attributes:
        threshold: Estimated Jaccard similarity from which an article is a near duplicate.
        shingle: Words per shingle.
        permutations: MinHash length (signature size is ``4 * permutations`` bytes).
        bands: LSH bands of ``permutations // bands`` rows; 0 derives the
            fewest bands that make a pair at the threshold a candidate with
            probability >= ``CANDIDATE_RECALL`` (more bands: more memory).
        window_days: How long an article is remembered, behind the newest time seen.
        time_basis: ``published`` (``published_at``, the stream's time when
            missing) or ``clock`` (processing time only).
        max_bucket: Most ids one LSH bucket keeps (oldest dropped first), so a
            boilerplate-only text cannot grow a bucket without bound.
        variants: Map outlet spelling variants (``data/matching_variants.tsv``)
            before shingling.
        followup_hours: An article of the same source published more than
            this many hours before is more likely a story the outlet follows
            up (reusing its background paragraphs) than a copy ...
        followup_threshold: ... so it must reach this similarity instead.
        containment: Across outlets, a candidate whose estimated containment
            (share of the smaller text's shingles found in the other) reaches
            this bar is a near duplicate too, Jaccard notwithstanding: a
            dispatch cut or given another lede by one outlet (see
            :mod:`marsad.deduplicator.resemblance`); above 1 turns it off.
        containment_floor: ... provided its estimated Jaccard reaches this floor.
        order_sample: Each article keeps about one shingle in this many, in
            text order, for the ordered cover (0: none, and no ordered path).
        ordered_cover: Across outlets, a candidate whose ordered cover (share
            of the smaller order sample found in the other in the same order)
            reaches this bar is a near duplicate too: a dispatch one outlet
            cut harder than the containment bar allows keeps its order, two
            separately written reports do not; above 1 turns it off.
        ordered_floor: ... provided its estimated Jaccard reaches this floor.
        seed: Selects the hash family; changing it invalidates stored state.
    """

    threshold: float = 0.5
    shingle: int = 3
    permutations: int = 128
    bands: int = 0
    window_days: float = 7.0
    time_basis: str = "published"
    max_bucket: int = 64
    variants: bool = True
    followup_hours: float = 8.0
    followup_threshold: float = 0.8
    containment: float = 0.65
    containment_floor: float = 0.35
    order_sample: int = 8
    ordered_cover: float = 0.6
    ordered_floor: float = 0.25
    seed: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.shingle < 1:
            raise ValueError(f"shingle must be >= 1, got {self.shingle}")
        if self.permutations < 1:
            raise ValueError(f"permutations must be >= 1, got {self.permutations}")
        if self.bands == 0:
            # Frozen: the derived value is set once, here.
            object.__setattr__(self, "bands", auto_bands(self.threshold, self.permutations))
        if self.bands < 1 or self.permutations < self.bands:
            raise ValueError(
                f"need 1 <= bands <= permutations, got {self.bands} and {self.permutations}"
            )
        if self.window_days <= 0:
            raise ValueError(f"window_days must be positive, got {self.window_days}")
        if self.time_basis not in ("published", "clock"):
            raise ValueError(f"time_basis must be 'published' or 'clock', not {self.time_basis!r}")
        if self.max_bucket < 1:
            raise ValueError(f"max_bucket must be >= 1, got {self.max_bucket}")
        if self.followup_hours < 0 or not 0.0 < self.followup_threshold <= 1.0:
            raise ValueError("followup_hours must be >= 0 and followup_threshold in (0, 1]")
        if self.containment <= 0.0 or not 0.0 <= self.containment_floor <= 1.0:
            raise ValueError("containment must be positive and containment_floor in [0, 1]")
        if self.order_sample < 0:
            raise ValueError(f"order_sample must be >= 0, got {self.order_sample}")
        if self.ordered_cover <= 0.0 or not 0.0 <= self.ordered_floor <= 1.0:
            raise ValueError("ordered_cover must be positive and ordered_floor in [0, 1]")

    @property
    def rows(self) -> int:
        """MinHash values per band."""
        return self.permutations // self.bands

    def candidate_probability(self, similarity: float) -> float:
        """Probability that a pair of this Jaccard similarity shares at least one band."""
        return 1.0 - (1.0 - similarity**self.rows) ** self.bands

    def to_json(self) -> dict[str, Any]:
        """The configuration as a JSON object."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Decision:
    """The deduplicator's verdict on one article.

    Attributes:
        kind: ``unique`` (founds a story cluster) or ``duplicate``.
        article_id: The article decided on.
        cluster_id: The story cluster it belongs to.
        duplicate_of: The remembered article it repeats (``None`` when unique).
        similarity: Confirmation score against ``duplicate_of`` (:func:`confirm`:
            estimated Jaccard, or across outlets containment mapped onto its
            scale; 1.0 when exact).
        method: ``exact``, ``minhash`` or ``ordered`` (the ordered cover
            confirmed it across outlets; ``None`` when unique).
        cluster_size: Articles in the cluster so far, this one included.
        sources: Distinct sources of the cluster, in order of first report.
        representative: Id of the cluster's first (published) article: the
            event the wiring re-publishes when the sources change.
        new_source: True when this article added a source to the cluster.
        redelivered: True when this id was decided before (the first decision
            is returned again and nothing is counted twice).
        config: The parameters used.
    """

    kind: str
    article_id: str
    cluster_id: str
    duplicate_of: str | None
    similarity: float | None
    method: str | None
    cluster_size: int
    sources: tuple[str, ...]
    config: DedupConfig
    representative: str = ""
    new_source: bool = False
    redelivered: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON object described by ``schemas/defs/dedup.v1.json#/$defs/decision``."""
        return {
            "kind": self.kind,
            "article_id": self.article_id,
            "cluster_id": self.cluster_id,
            "duplicate_of": self.duplicate_of,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "method": self.method,
            "cluster_size": self.cluster_size,
            "sources": list(self.sources),
            "representative": self.representative or self.article_id,
            "new_source": self.new_source,
            "redelivered": self.redelivered,
            "config": self.config.to_json(),
        }


CANDIDATE_RECALL = 0.99


def auto_bands(threshold: float, permutations: int) -> int:
    """Fewest LSH bands that make a pair at ``threshold`` a candidate with p >= 0.99.

    Fewer bands means fewer bucket entries per article (memory) and fewer
    weak candidates to confirm (time); the rows per band shrink until pairs
    at the threshold are found reliably.
    """
    for rows in range(permutations, 0, -1):
        bands = permutations // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= CANDIDATE_RECALL:
            return bands
    return permutations


# --- pure steps (usable one by one by a partitioned wiring) --------------------------


def signature(matching_text: str, config: DedupConfig) -> mh.Signature:
    """Step 1: the MinHash signature and exact fingerprint of a matching text."""
    return mh.signature(
        matching_text, config.shingle, config.permutations, config.seed, config.variants,
        config.order_sample,
    )


def band_keys(sig: mh.Signature, config: DedupConfig) -> list[str]:
    """Step 1b: the LSH bucket keys of a signature (``b<band>:<hex>``).

    An empty text has no band keys: it is never a near duplicate of anything.
    """
    if sig.shingles == 0:
        return []
    return _keys_of_values(sig.values, config)


def _keys_of_values(values: mh.U32Array, config: DedupConfig) -> list[str]:
    return mh.band_key_strings(values, config.bands, config.seed)


def bucket_lookup_insert(
    store: MutableMapping[str, Any], band_key: str, article_id: str, max_bucket: int
) -> list[str]:
    """Step 2: the ids already in one LSH bucket; the article is then added.

    Most buckets hold one article, so a bucket is stored as a bare id string
    until a second one joins (a list then): it halves the memory per bucket.

    Args:
        store: Mapping partitioned by band key.
        band_key: One of :func:`band_keys`.
        article_id: The new article.
        max_bucket: Most ids kept; the oldest are dropped first.

    Returns:
        Earlier members of the bucket (without ``article_id``).
    """
    key = "b:" + band_key
    members = store.get(key)
    if not members:
        # The common case: a band value nobody had.
        store[key] = article_id
        return []
    if isinstance(members, str):
        if members == article_id:
            return []
        store[key] = [members, article_id]
        return [members]
    if article_id in members:
        return [m for m in members if m != article_id]
    store[key] = [*members, article_id][-max_bucket:]
    return list(members)


def confirm(
    mine: mh.Signature | str | mh.U32Array,
    candidate_encoded: str,
    config: DedupConfig | None = None,
    *,
    cross_outlet: bool = False,
) -> float:
    """Step 3: the confirmation score of a candidate, on the Jaccard scale.

    Without a ``config`` (or within one outlet) it is the estimated Jaccard
    similarity; across outlets a candidate that contains most of the smaller
    text (or is contained in it), or covers most of its order sample in
    order, scores up to the bar too, see
    :func:`marsad.deduplicator.resemblance.resemblance`.

    Args:
        mine: The new article's signature, or its encoding (as a band partition
            gets it), or bare MinHash values (shingle count unknown: Jaccard only).
        candidate_encoded: The candidate's stored encoding (:meth:`~mh.Signature.encode`).
        config: Bars of the rule; ``None`` gives the bare Jaccard estimate.
        cross_outlet: Both sources are known and differ.
    """
    return confirm_method(mine, candidate_encoded, config, cross_outlet=cross_outlet)[0]


def confirm_method(
    mine: mh.Signature | str | mh.U32Array,
    candidate_encoded: str,
    config: DedupConfig | None = None,
    *,
    cross_outlet: bool = False,
) -> tuple[float, str]:
    """:func:`confirm` and the method the decision names (``minhash`` or ``ordered``)."""
    order: mh.U32Array | None = None
    if isinstance(mine, str):
        values, shingles = mh.Signature.decode(mine)
    elif isinstance(mine, mh.Signature):
        values, shingles, order = mine.values, mine.shingles, mine.order
    else:
        values, shingles = mine, 0
    theirs, their_shingles = mh.Signature.decode(candidate_encoded)
    jaccard = mh.estimated_jaccard(values, theirs)
    if config is None:
        return jaccard, MINHASH
    bars = {"threshold": config.threshold, "containment_bar": config.containment,
            "containment_floor": config.containment_floor,
            "cover_bar": config.ordered_cover, "cover_floor": config.ordered_floor}
    scored = confirmation(jaccard, shingles, their_shingles, cross_outlet=cross_outlet, **bars)
    # The samples are decoded only for the few candidates the ordered path
    # can take and nothing else confirms (it confirms, it does not rank).
    if scored[0] >= config.threshold or not cover_applies(
        jaccard, cross_outlet=cross_outlet, cover_bar=config.ordered_cover,
        cover_floor=config.ordered_floor,
    ):
        return scored
    if order is None:
        if not isinstance(mine, str):
            return scored
        order = mh.Signature.decode_order(mine)
    cover = ordered_cover(order, mh.Signature.decode_order(candidate_encoded))
    return confirmation(jaccard, shingles, their_shingles, cross_outlet=cross_outlet,
                        cover=cover, **bars)


def required_similarity(
    config: DedupConfig, gap_seconds: float, same_source: bool
) -> float:
    """The similarity a candidate must reach, given how far apart and whose the two are.

    Outlets follow their own stories up the next day with a new lede and the
    previous article's background paragraphs, which makes them look like
    near copies; the audit of the stream found these to be most of the false
    near duplicates.  So a candidate older than ``followup_hours`` whose
    story the same source already reported needs ``followup_threshold``.
    """
    if same_source and abs(gap_seconds) > config.followup_hours * _HOUR:
        return max(config.threshold, config.followup_threshold)
    return config.threshold


def choose(
    scored: Sequence[tuple[str, float]],
    threshold: float,
    *,
    before: Callable[[str], bool] | None = None,
) -> tuple[str, float] | None:
    """Step 4: the most similar candidate at or above the threshold.

    Args:
        scored: ``(candidate id, similarity)`` pairs.
        threshold: The near-duplicate bar.
        before: In the distributed mode, true for candidates ordered before
            the new article (older ``(time, id)``); only those may be the original.

    Returns:
        ``(id, similarity)`` of the best candidate, ties to the smaller id; or ``None``.
    """
    best: tuple[str, float] | None = None
    for cid, sim in scored:
        if sim < threshold or (before is not None and not before(cid)):
            continue
        if best is None or sim > best[1] or (sim == best[1] and cid < best[0]):
            best = (cid, sim)
    return best


def cluster_id_for(article_id: str) -> str:
    """Stable id of the cluster an article founds (same on every worker and restart)."""
    return "s" + hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).hexdigest()


def parse_time(published_at: str | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (naive times are UTC), or None."""
    if not published_at:
        return None
    try:
        dt = datetime.fromisoformat(published_at)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


# --- single-process composition ----------------------------------------------------------


@dataclass(slots=True)
class _Stats:
    evicted: int = 0
    candidates: int = 0


class Deduplicator:
    """Exact and near-duplicate decisions over one store (batch mode, tests, one partition).

    Args:
        config: Parameters of the search.
        store: Where all state lives (a dict, or a Faust table in the stream).
            A new instance over the same store carries on where the old one stopped.
        index: Where the LSH buckets (``b:`` keys) live, if not in ``store``.  They
            can be derived from the articles' signatures, so the stream keeps them
            in memory and calls :meth:`rebuild_index` after a restart: that spares
            the changelog one record per band per article (42 of about 47 writes).
        clock: Processing time in seconds; used with ``time_basis="clock"`` and
            when an article has no usable ``published_at``.
    """

    def __init__(
        self,
        config: DedupConfig,
        store: MutableMapping[str, Any] | None = None,
        *,
        index: MutableMapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store: MutableMapping[str, Any] = {} if store is None else store
        self.index: MutableMapping[str, Any] = self.store if index is None else index
        self.clock = clock
        self.stats = _Stats()

    # -- public -------------------------------------------------------------------

    def decide(
        self, article_id: str, matching_text: str, *, source: str | None, published_at: str | None
    ) -> Decision:
        """Decide whether an article repeats one remembered, and remember it.

        Args:
            article_id: Unique id of the article.
            matching_text: The normaliser's matching text (folded, no diacritics).
            source: Outlet that published it (added to the cluster's sources).
            published_at: ISO 8601 publication time, if known.

        Returns:
            The :class:`Decision`.
        """
        store, cfg = self.store, self.config
        old = store.get("a:" + article_id)
        if old is not None:
            return self._replay(article_id, old)

        ts = self._event_time(published_at)
        hour = self._advance(ts)
        sig = signature(matching_text, cfg)
        record: dict[str, Any] = {"t": ts, "h": hour, "x": sig.exact, "g": None, "o": source}

        match: tuple[str, float] | None = None
        method: str | None = None
        if sig.shingles:
            first = store.get("x:" + sig.exact)
            if first is not None and ("a:" + first) in store:
                match, method = (first, 1.0), "exact"
            else:
                near = self._near(article_id, sig, ts, source)
                match, method = (None, None) if near is None else (near[:2], near[2])
                record["g"] = sig.encode()
            # The fingerprint follows the newest copy, so a story re-sent
            # every few days stays known for as long as it keeps coming.
            store["x:" + sig.exact] = article_id

        if match is None:
            cluster = cluster_id_for(article_id)
            crec: dict[str, Any] = {"r": article_id, "n": 0, "src": [], "t": ts}
        else:
            cluster = store["a:" + match[0]]["c"]
            crec = dict(store.get("c:" + cluster) or {"r": match[0], "n": 1, "src": [], "t": ts})
        sources = list(crec["src"])
        # When each source first reported the story, parallel to "src".
        since = list(crec.get("st") or [crec["t"]] * len(sources))
        new_source = source is not None and source not in sources
        if new_source:
            sources.append(source)
            since.append(ts)
        crec = {"r": crec["r"], "n": int(crec["n"]) + 1, "src": sources, "st": since,
                "t": max(crec["t"], ts)}
        store["c:" + cluster] = crec

        record.update({
            "c": cluster,
            "d": None if match is None else match[0],
            "s": None if match is None else match[1],
            "m": method,
        })
        store["a:" + article_id] = record
        self._remember_hour(hour, article_id)
        return Decision(
            kind="unique" if match is None else "duplicate",
            article_id=article_id,
            cluster_id=cluster,
            duplicate_of=None if match is None else match[0],
            similarity=None if match is None else match[1],
            method=method,
            cluster_size=crec["n"],
            sources=tuple(sources),
            config=cfg,
            representative=crec["r"],
            new_source=new_source,
        )

    def rebuild_index(self) -> int:
        """Re-derive the LSH buckets of every remembered article, oldest first.

        Called when a separate ``index`` was lost with the process while the
        store survived (a Faust table restored from its changelog).

        Returns:
            The number of articles put back into buckets.
        """
        if self.index is self.store:
            return 0
        self.index.clear()
        records = sorted(
            ((k[2:], v) for k, v in self.store.items() if k.startswith("a:") and v.get("g")),
            key=lambda item: (float(item[1]["t"]), item[0]),
        )
        for article_id, rec in records:
            values = mh.Signature.decode_values(rec["g"])
            for bk in _keys_of_values(values, self.config):
                bucket_lookup_insert(self.index, bk, article_id, self.config.max_bucket)
        return len(records)

    def remembered(self) -> int:
        """Number of articles currently remembered (counts the store's ``a:`` keys)."""
        return sum(1 for k in self.store if k.startswith("a:"))

    # -- internals -----------------------------------------------------------------

    def _near(
        self, article_id: str, sig: mh.Signature, ts: float, source: str | None
    ) -> tuple[str, float, str] | None:
        """The best confirmed candidate: ``(id, score, method)``, or ``None``."""
        store, cfg = self.store, self.config
        seen: set[str] = set()
        scored: list[tuple[str, float]] = []
        methods: dict[str, str] = {}
        for bk in band_keys(sig, cfg):
            for cid in bucket_lookup_insert(self.index, bk, article_id, cfg.max_bucket):
                if cid in seen:
                    continue
                seen.add(cid)
                rec = store.get("a:" + cid)
                if rec is None or rec.get("g") is None:
                    continue
                cross = cross_outlet(source, rec.get("o"))
                sim, methods[cid] = confirm_method(sig, rec["g"], cfg, cross_outlet=cross)
                if sim < cfg.threshold:
                    continue
                if sim >= required_similarity(cfg, self._source_gap(rec, ts, source), True):
                    scored.append((cid, sim))
        self.stats.candidates += len(seen)
        best = choose(scored, cfg.threshold)
        return None if best is None else (best[0], best[1], methods[best[0]])

    def _source_gap(self, rec: dict[str, Any], ts: float, source: str | None) -> float:
        """Seconds since ``source`` last reported the candidate's story (0: never).

        The story's cluster counts, not only the candidate: a follow-up must
        not slip in through another outlet's copy of a story the outlet
        reported before.
        """
        if source is None:
            return 0.0
        gaps = [ts - float(rec["t"])] if rec.get("o") == source else []
        crec = self.store.get("c:" + rec["c"])
        if crec is not None and source in crec["src"]:
            since = crec.get("st") or [crec["t"]] * len(crec["src"])
            gaps.append(ts - float(since[crec["src"].index(source)]))
        return min(gaps, key=abs) if gaps else 0.0

    def _replay(self, article_id: str, rec: dict[str, Any]) -> Decision:
        crec = self.store.get("c:" + rec["c"]) or {"r": article_id, "n": 1, "src": []}
        dup = rec.get("d")
        return Decision(
            kind="unique" if dup is None else "duplicate",
            article_id=article_id,
            cluster_id=rec["c"],
            duplicate_of=dup,
            similarity=rec.get("s"),
            method=rec.get("m"),
            cluster_size=int(crec["n"]),
            sources=tuple(crec["src"]),
            config=self.config,
            representative=crec["r"],
            redelivered=True,
        )

    def _event_time(self, published_at: str | None) -> float:
        now = self.clock()
        if self.config.time_basis == "published":
            ts = parse_time(published_at)
            if ts is not None:
                return min(ts, now + _FUTURE_SLACK)
            # Without a date, fall back on the stream's own time if it has
            # one: a 2026 clock in a replay of 2018 news would evict it all.
            meta = self.store.get(_META)
            if meta is not None:
                return float(meta["top"]) * _HOUR
        return now

    def _advance(self, ts: float) -> int:
        """Move the window to ``ts`` and evict what fell out; return ts's hour bucket."""
        hour = math.floor(ts / _HOUR)
        meta = self.store.get(_META)
        if meta is None:
            meta = {"top": hour, "hours": []}
        top = max(int(meta["top"]), hour)
        cutoff = top - math.ceil(self.config.window_days * 24)
        hours: list[int] = meta["hours"]
        # An article older than the window is kept until the next sweep only.
        bucket = max(hour, cutoff)
        if top == meta["top"] and (not hours or hours[0] >= cutoff) and bucket in hours:
            return bucket  # nothing moved: the usual case within an hour
        keep = [h for h in hours if h >= cutoff]
        for h in hours:
            if h < cutoff:
                self._evict_hour(h, cutoff * _HOUR)
        if bucket not in keep:
            keep.append(bucket)
            keep.sort()
        self.store[_META] = {"top": top, "hours": keep}
        return bucket

    def _remember_hour(self, hour: int, article_id: str) -> None:
        key = f"w:{hour}"
        self.store[key] = [*(self.store.get(key) or ()), article_id]

    def _evict_hour(self, hour: int, cutoff_ts: float) -> None:
        store, cfg = self.store, self.config
        ids = store.pop(f"w:{hour}", None) or []
        for aid in ids:
            rec = store.pop("a:" + aid, None)
            if rec is None:
                continue
            self.stats.evicted += 1
            if store.get("x:" + rec["x"]) == aid:
                del store["x:" + rec["x"]]
            if rec.get("g") is not None:
                values = mh.Signature.decode_values(rec["g"])
                for bk in _keys_of_values(values, cfg):
                    self._drop_from_bucket("b:" + bk, aid)
            crec = store.get("c:" + rec["c"])
            if crec is not None and float(crec["t"]) < cutoff_ts:
                del store["c:" + rec["c"]]
        logger.debug("evicted hour %d: %d articles", hour, len(ids))

    def _drop_from_bucket(self, key: str, aid: str) -> None:
        index = self.index
        members = index.get(key)
        if members is None:
            return
        if isinstance(members, str):
            if members == aid:
                del index[key]
            return
        rest = [m for m in members if m != aid]
        if len(rest) == len(members):
            return
        if len(rest) > 1:
            index[key] = rest
        elif rest:
            index[key] = rest[0]
        else:
            del index[key]


# --- benchmark -------------------------------------------------------------------------


def bench(
    matching_texts: Sequence[str],
    config: DedupConfig | None = None,
    sources: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Articles/s of the deduplicator alone and memory per remembered article.

    Speed is measured in CPU time of this process (``time.process_time``),
    which is what "one core" means on a shared machine; wall-clock figures
    are given alongside.  Memory is what tracemalloc attributes to building
    the store (a plain dict, as in batch mode), divided by the articles it
    remembers.

    Args:
        matching_texts: Matching texts (already folded), in stream order.
        config: Parameters (defaults when omitted).
        sources: The outlet of each text; without them every text has the same
            one, so the cross-outlet containment rule never runs.

    Returns:
        ``articles``, ``cpu_seconds``, ``articles_per_s`` (CPU), ``wall_seconds``,
        ``articles_per_s_wall``, ``signature_per_s`` (step 1 alone, CPU),
        ``duplicates``, ``remembered``, ``store_keys`` and ``bytes_per_article``.
    """
    cfg = config or DedupConfig()
    texts = list(matching_texts)
    outlets = list(sources) if sources is not None else ["bench"] * len(texts)
    # Hourly timestamps: a realistic stream whose window the bench crosses.
    base = datetime(2018, 6, 1, tzinfo=UTC).timestamp()
    stamps = [
        datetime.fromtimestamp(base + 600.0 * i, tz=UTC).isoformat() for i in range(len(texts))
    ]
    c0 = time.process_time()
    for t in texts:
        signature(t, cfg)
    sig_cpu = time.process_time() - c0

    dedup = Deduplicator(cfg, {})
    dups = 0
    c0, w0 = time.process_time(), time.perf_counter()
    for i, t in enumerate(texts):
        decision = dedup.decide(f"bench-{i}", t, source=outlets[i], published_at=stamps[i])
        dups += decision.kind == "duplicate"
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0

    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    store: dict[str, Any] = {}
    before = tracemalloc.get_traced_memory()[0]
    mem_dedup = Deduplicator(cfg, store)
    for i, t in enumerate(texts):
        mem_dedup.decide(f"bench-{i}", t, source=outlets[i], published_at=stamps[i])
    used = tracemalloc.get_traced_memory()[0] - before
    if not tracing:
        tracemalloc.stop()
    remembered = mem_dedup.remembered()
    return {
        "articles": len(texts),
        "cpu_seconds": round(cpu, 3),
        "articles_per_s": round(len(texts) / cpu, 1) if cpu else None,
        "wall_seconds": round(wall, 3),
        "articles_per_s_wall": round(len(texts) / wall, 1) if wall else None,
        "signature_per_s": round(len(texts) / sig_cpu, 1) if sig_cpu else None,
        "duplicates": dups,
        "remembered": remembered,
        "store_keys": len(store),
        "bytes_per_article": round(used / remembered) if remembered else None,
        "config": cfg.to_json(),
    }
