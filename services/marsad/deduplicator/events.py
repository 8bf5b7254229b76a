"""Event-level merging: many reports of one happening become one merged event.

Article deduplication only joins copies of the same text.  Twenty outlets
writing their own report of one attack are twenty unique articles, but one
event: this module links the events the extractor found in them when they
have the same type, the same place and the same main actor, the same date
(or, when a report gives no date, when it comes within ``window_days`` of
the merged event), and something that ties them beyond type and place: a day
both give, a main actor, or sentences sharing most words (compared by a small
gist of each report's sentence; a report without a place is keyed by its
gist).  It keeps per-source casualty figures with a consensus.  How often it
is right is measured by ``marsad events-eval`` (``tests/data/events``).

Like the article core, :class:`EventMerger` keeps all its state in one
injected mapping (``str`` keys, JSON values, written back on every change),
bounded by a time window (a report older than the window is not merged: its
event may have been forgotten, and would be founded again under its old id):

========================  ==================================================
``k:<merge key>``         ids of the merged events with this key
``e:<event id>``          one merged event (see :meth:`MergedEvent.to_json`)
``w:<hour>``              event ids last touched in that hour (eviction)
``m:``                    highest hour seen and the hours still held
``o:``                    closings not yet known to be published (outbox)
========================  ==================================================

An event evicted from the window is handed out by
:meth:`EventMerger.take_closed`, so that its closing record
(:func:`closed_record`) tells subscribers no report will join it any more.
Eviction deletes the event from the store, so the closing is also written to
an outbox (``o:``, in the same changelog partition as the deletion) and kept
there for ``closing_grace`` more messages of its partition: by then the
message that evicted it has had its outputs acknowledged (the wiring takes
at most ``batch_size`` messages, produces their outputs, then takes the
next).  A worker that restores an outbox it did not write itself (after a
crash or a rebalance) hands its closings out again at the next message of
that partition: a closing record is published at least once, possibly twice.

With several partitions (reports keyed by merge key, see
``docs/deduplicator.md``) the window bookkeeping is kept per partition
(``m:<p>``, ``w:<p>:<hour>``, ``o:<p>``): a table key written while handling two
partitions would have two changelogs, and a rebalance would restore either.

Casualty consensus: a source often updates its toll during the day, so each
source counts with the highest figure it gave; the consensus is the median
of those per-source figures (rounded half up), which one outlier outlet
cannot move, with the minimum and maximum alongside.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import math
import re
import statistics
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from marsad.deduplicator.core import parse_time
from marsad.normaliser.core import fold

logger = logging.getLogger(__name__)

_HOUR = 3600.0
_META = "m:"
# Fields of a stored event record that are state, not part of the published event.
_INTERNAL = ("key", "gists")

#: Words kept in a sentence gist (a bottom-k sketch: the Jaccard estimate is exact when
#: the two sentences have at most this many distinct words together).
GIST_SIZE = 24
#: Gist similarity from which two reports' sentences are taken as one account of a
#: happening (chosen on the merge audit, tests/data/events/README.md).
GIST_LINK = 0.4
#: Gists kept on a merged event (the founding report's first).
_GISTS_KEPT = 4
# Events of one key a report is compared with, newest last (see EventMerger.add).
_SCAN_LIMIT = 64
_WORD = re.compile(r"\w{3,}")
#: Words left out of sentence gists (``marsad events-common-words`` rebuilds it).
COMMON_WORDS_PATH = Path(__file__).with_name("data") / "common_words.tsv"


@dataclass(frozen=True, slots=True)
class Place:
    """Where an event happened.

    Attributes:
        name: Canonical (folded) name as the extractor gives it.
        geonames_id: GeoNames id when the place was linked.
        country: ISO 3166 alpha-2 country code when known.
    """

    name: str
    geonames_id: int | None = None
    country: str | None = None

    def key(self) -> str:
        """Identity of the place for merging: the GeoNames id when linked, else the name."""
        if self.geonames_id is not None:
            return f"g{self.geonames_id}"
        return f"n{self.country or ''}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        """The place as a JSON object."""
        return {"name": self.name, "geonames_id": self.geonames_id, "country": self.country}


@dataclass(frozen=True, slots=True)
class EventReport:
    """One event as one article reports it (built from the extractor's facts).

    Attributes:
        article_id: The reporting article.
        source: Its outlet.
        published_at: Its ISO 8601 publication time.
        type: Event type (``attack``, ``meeting`` …).
        place: Where, if the extractor found it.
        date: ISO date (``YYYY-MM-DD``) of the event, if the extractor resolved it.
        actors: Canonical names of the actors, main actor first.
        targets: Canonical names of the targets.
        casualties: Counts by kind (``killed``, ``injured`` …).
        gist: :func:`sentence_gist` of the sentence that reports the event.
    """

    article_id: str
    source: str | None
    published_at: str | None
    type: str
    place: Place | None = None
    date: str | None = None
    actors: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    casualties: Mapping[str, int] = field(default_factory=dict)
    gist: tuple[int, ...] = ()

    @classmethod
    def from_json(
        cls, event: Mapping[str, Any], *, article_id: str, source: str | None,
        published_at: str | None,
    ) -> EventReport:
        """Build a report from an event object of the extractor's facts.

        Accepts ``place`` as an object with ``canonical``/``name``,
        ``geonames_id`` and ``country``; ``actors``/``targets`` as strings or
        entity objects with ``canonical``; ``date`` as a string or an object
        with ``value``; ``casualties`` as ``{kind: int}``.
        """
        place_obj = event.get("place")
        place = None
        if isinstance(place_obj, Mapping):
            name = str(place_obj.get("matching") or place_obj.get("canonical")
                       or place_obj.get("name") or "")
            gid = place_obj.get("geonames_id")
            place = Place(name, int(gid) if gid is not None else None, place_obj.get("country"))
        date = event.get("date")
        if isinstance(date, Mapping):
            date = date.get("value")
        return cls(
            article_id=article_id,
            source=source,
            published_at=published_at,
            type=str(event.get("type") or "event"),
            place=place,
            date=_day(date),
            actors=_names(event.get("actors")),
            targets=_names(event.get("targets")),
            casualties={str(k): int(v) for k, v in (event.get("casualties") or {}).items()
                        if isinstance(v, int) and not isinstance(v, bool) and v >= 0},
        )


    def to_message(self) -> dict[str, Any]:
        """The report as a compact JSON object (internal topic ``dedup.events``)."""
        return {
            "a": self.article_id, "o": self.source, "t": self.published_at, "y": self.type,
            "pl": self.place.to_json() if self.place else None, "d": self.date,
            "ac": list(self.actors), "tg": list(self.targets), "c": dict(self.casualties),
            "g": list(self.gist),
        }

    @classmethod
    def from_message(cls, msg: Mapping[str, Any]) -> EventReport:
        """Inverse of :meth:`to_message`."""
        place = msg.get("pl")
        return cls(
            article_id=msg["a"], source=msg["o"], published_at=msg["t"], type=msg["y"],
            place=None if place is None else Place(
                place["name"], place["geonames_id"], place["country"]),
            date=msg["d"], actors=tuple(msg["ac"]), targets=tuple(msg["tg"]),
            casualties={str(k): int(v) for k, v in msg["c"].items()},
            # A value no CRC-32 gives (a corrupt message) would not pack: dropped.
            gist=tuple(v for v in (int(h) for h in msg.get("g") or ()) if 0 <= v <= 0xFFFFFFFF),
        )


def _names(items: Any) -> tuple[str, ...]:
    out: list[str] = []
    for item in items or ():
        name = item.get("matching") or item.get("canonical") if isinstance(item, Mapping) else item
        if name:
            out.append(str(name))
    return tuple(out)


#: Flags of events that did not (yet) happen: they are not merged into happenings.
NOT_HAPPENED = ("negated", "hypothetical", "future")


def reports_from_article(article: Mapping[str, Any]) -> list[EventReport]:
    """The event reports of one extracted article (``articles.extracted`` message).

    Resolves the entity ids the facts step uses for actor, target and place
    into the entities' folded names, GeoNames ids and countries, and folds
    the casualty counts of each event into ``{kind: count}`` (the highest
    figure per kind when a sentence gives several).  Negated, hypothetical
    and future events are skipped.

    Args:
        article: Object with ``id``, ``source``, ``published_at``,
            ``entities`` (entity.v1 objects) and ``facts`` (with ``events``).

    Returns:
        One :class:`EventReport` per event that happened.
    """
    entities = {e.get("id"): e for e in article.get("entities") or () if isinstance(e, Mapping)}
    facts = article.get("facts") or {}
    reports: list[EventReport] = []
    # Several events often share a sentence: one gist each.
    gists: dict[tuple[int, int], tuple[int, ...]] = {}
    for event in facts.get("events") or ():
        if any(event.get(flag) for flag in NOT_HAPPENED):
            continue
        place_ent = entities.get(event.get("place"))
        place = None
        if place_ent is not None:
            gid = place_ent.get("geonames_id")
            place = Place(
                str(place_ent.get("matching") or place_ent.get("canonical") or ""),
                int(gid) if gid is not None else None,
                place_ent.get("country"),
            )
        casualties: dict[str, int] = {}
        for c in event.get("casualties") or ():
            count = c.get("count") if c.get("count") is not None else c.get("min")
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                casualties[c["kind"]] = max(count, casualties.get(c["kind"], 0))
        date = event.get("date") or {}
        sentence = event.get("sentence") or {}
        span = (int(sentence.get("start", 0)), int(sentence.get("end", 0)))
        if span not in gists:
            gists[span] = sentence_gist(str(article.get("text") or "")[span[0]:span[1]])
        reports.append(EventReport(
            article_id=str(article.get("id")),
            source=article.get("source"),
            published_at=article.get("published_at"),
            type=str(event.get("type") or "event"),
            place=place,
            date=_day(date.get("value") if isinstance(date, Mapping) else date),
            actors=_names([entities[i] for i in [event.get("actor")] if i in entities]),
            targets=_names([entities[i] for i in [event.get("target")] if i in entities]),
            casualties=casualties,
            gist=gists[span],
        ))
    return reports


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Words too common to tell sentences apart (``data/common_words.tsv``)."""
    with COMMON_WORDS_PATH.open(encoding="utf-8") as fh:
        return frozenset(line.split("\t", 1)[0].strip() for line in fh
                         if line.strip() and not line.startswith("#"))


def gist_words(text: str) -> set[str]:
    """The words a sentence gist is made of: folded words of three letters or more."""
    return set(_WORD.findall(fold(text)))


def sentence_gist(text: str) -> tuple[int, ...]:
    """A small sketch of a sentence's words, to tell whether two reports share their account.

    The :data:`GIST_SIZE` smallest CRC-32 values of the sentence's distinct
    folded words of three letters or more (shorter ones are mostly particles
    and prepositions), leaving out :func:`common_words`, ascending.  CRC-32
    rather than ``hash()``: gists travel between processes, whose string
    hashes differ.
    """
    words = gist_words(text) - common_words()
    return tuple(sorted({zlib.crc32(w.encode("utf-8")) for w in words})[:GIST_SIZE])


def pack_gist(gist: Iterable[int]) -> str:
    """A gist as the stored event keeps it: base64 of its values as big-endian 32-bit words.

    As a list of integers a 24-value gist costs about 0.75 KB of Python
    objects in the store; packed, under 0.2 KB (and 128 characters in the
    changelog instead of about 270).
    """
    values = tuple(gist)
    return binascii.b2a_base64(_layout(len(values)).pack(*values), newline=False).decode()


# One compiled layout per gist length (a short sentence has fewer than GIST_SIZE words).
_GIST_LAYOUTS = [struct.Struct(f">{n}I") for n in range(GIST_SIZE + 1)]


def _layout(n: int) -> struct.Struct:
    return _GIST_LAYOUTS[n] if n <= GIST_SIZE else struct.Struct(f">{n}I")


def _unpack(packed: str) -> tuple[int, ...]:
    raw = binascii.a2b_base64(packed)
    return _layout(len(raw) >> 2).unpack(raw)


def _lazy_gists(record: Mapping[str, Any]) -> Iterable[tuple[int, ...]]:
    # Unpacked only when read: evidence_agrees reads none when a day or an actor
    # decides, and stops at the first that links.
    for g in record.get("gists") or ():
        yield _unpack(g) if isinstance(g, str) else tuple(g)


def event_gists(record: Mapping[str, Any]) -> list[tuple[int, ...]]:
    """The sentence gists a stored merged event keeps (packed, or lists from before packing)."""
    return list(_lazy_gists(record))


def gist_similarity(a: Iterable[int], b: Iterable[int]) -> float:
    """Estimated Jaccard similarity of the word sets behind two gists.

    Exact when the two word sets have at most :data:`GIST_SIZE` words together.

    The :data:`GIST_SIZE` smallest values of the union are the union's own
    bottom-k sketch; the share of them found in both gists estimates the
    Jaccard similarity (a value among them that is in both sets is in both
    gists, since each gist keeps its set's smallest values).
    """
    sa = set(a)
    if not sa or sa.isdisjoint(b):
        return 0.0
    sb = set(b)
    union = sorted(sa | sb)[:GIST_SIZE]
    return sum(1 for h in union if h in sa and h in sb) / len(union)


def _day(value: Any) -> str | None:
    """A day-resolution ISO date, or None (a month or year does not pin an event)."""
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return value[:10]
    return None


def merge_key(report: EventReport) -> str | None:
    """The key reports must share to be merged: type, place and main actor, or type and gist.

    The date and the sentence are compared after the key (see
    :func:`evidence_agrees`), so they are not part of it.  A report without a
    place is keyed by its type and the smallest value of its sentence gist
    (``type|~value``): reports whose sentences share most words share that
    value as often as their word sets overlap (min-hashing), and only the
    sentence can link them.  A report with neither is never merged.
    """
    if report.place is None:
        return f"{report.type}|~{report.gist[0]}" if report.gist else None
    actor = report.actors[0] if report.actors else ""
    return f"{report.type}|{report.place.key()}|{actor}"


def evidence_agrees(*, key: str, dated: bool, gists: Iterable[Iterable[int]],
                    gist: Iterable[int], gist_link: float = GIST_LINK) -> bool:
    """Beyond a shared key and time, whether something ties two reports to one happening.

    Type and place alone do not: the merge audit found that most merged
    events with neither a date nor an actor joined different happenings (two
    Gaza strikes of one week, every mention of the Iran deal).  A day both
    reports give, a main actor in the key, or sentences that share most words
    (:data:`GIST_LINK`) do.  A placeless key has only the sentence.

    Args:
        key: The shared merge key.
        dated: Both the event and the report give the (same) day.
        gists: Sentence gists of the event's reports.
        gist: The report's gist.
        gist_link: Least gist similarity that ties two sentences.
    """
    _, place, actor = _key_parts(key)
    if not place.startswith("~") and (dated or actor):
        return True
    return any(gist_similarity(g, gist) >= gist_link for g in gists)


def _key_parts(key: str) -> tuple[str, str, str]:
    """(type, place part, actor) of a merge key; the actor is empty for placeless keys."""
    etype, _, rest = key.partition("|")
    place, _, actor = rest.partition("|")
    return etype, place, actor


def _when_agrees(date: str | None, first_seen: float, last_seen: float,
                 report_date: str | None, ts: float, window_days: float) -> bool:
    """Whether a report's time fits an event's.

    The same day when both are dated, else published within ``window_days`` of
    the event's reports.
    """
    if date and report_date:
        return date == report_date
    window = window_days * 86_400.0
    return first_seen - window <= ts <= last_seen + window


def linked(a: EventReport, b: EventReport, window_days: float = 3.0,
           gist_link: float = GIST_LINK) -> bool:
    """Whether the merger would put two reports into one merged event.

    The pairwise form of :meth:`EventMerger.add` (which compares a report with
    the event its first report founded), for evaluating the merge rule on
    labelled pairs of reports.  Without a publication time on either side only
    a common day links them (the merger would use its clock instead).

    Args:
        a: One report.
        b: Another report (of another article).
        window_days: As :class:`EventMerger`'s.
        gist_link: As :class:`EventMerger`'s.
    """
    key = merge_key(a)
    if key is None or key != merge_key(b):
        return False
    return times_agree(a, b, window_days) and evidence_agrees(
        key=key, dated=bool(a.date and b.date), gists=[a.gist], gist=b.gist,
        gist_link=gist_link)


def times_agree(a: EventReport, b: EventReport, window_days: float = 3.0) -> bool:
    """The same day when both reports give one, else published within ``window_days``."""
    ta, tb = parse_time(a.published_at), parse_time(b.published_at)
    if ta is None or tb is None:
        return bool(a.date and a.date == b.date)
    return _when_agrees(a.date, ta, ta, b.date, tb, window_days)


@dataclass(frozen=True, slots=True)
class MergedEvent:
    """One real-world event with every report of it.

    Attributes:
        event_id: Stable id (from the first report's article and key).
        record: The stored JSON record (see :meth:`to_json`).
        is_new: True when this report created the event.
    """

    event_id: str
    record: Mapping[str, Any]
    is_new: bool

    @property
    def report_count(self) -> int:
        """Number of articles that reported the event."""
        return int(self.record["report_count"])

    def casualty_consensus(self, kind: str) -> int | None:
        """Consensus figure of one casualty kind, or None if nobody gave one."""
        entry = self.record["casualties"].get(kind)
        return None if entry is None else int(entry["consensus"])

    def to_json(self) -> dict[str, Any]:
        """JSON object described by ``schemas/defs/dedup.v1.json#/$defs/merged_event``."""
        out = {"event_id": self.event_id, **self.record, "is_new": self.is_new}
        for internal in _INTERNAL:
            out.pop(internal, None)
        out["first_seen"] = _iso(float(self.record["first_seen"]))
        out["last_seen"] = _iso(float(self.record["last_seen"]))
        return out


def merged_record(event: MergedEvent) -> dict[str, Any]:
    """The ``events.merged`` record of a merged event as it stands (``events.merged.v1.json``).

    Every report that joins the event is one change, so the revision is the
    number of reports before the latest: 0 when the event is founded.  It is
    a function of the stored record, not of the report being handled: a
    redelivered report (already counted) gives the event's current record
    again, with its current revision, never an older one.

    Args:
        event: The merged event, as :meth:`EventMerger.add` returns it.

    Returns:
        The record, keyed on the topic by ``event_id``.
    """
    out = event.to_json()
    del out["is_new"]
    return {"schema_version": 1, "event_id": event.event_id,
            "revision": event.report_count - 1, "closed": False, **out}


def closed_record(event: MergedEvent) -> dict[str, Any]:
    """The last ``events.merged`` record of an event that has left the window.

    No report can join it any more (a report older than the window is not
    merged), so subscribers may treat it as final: the same state as its last
    record, with ``closed`` true and one more revision.  It is not a
    tombstone: a compacted topic keeps it, so the topic stays the history of
    every happening (``docs/deduplicator.md`` says how to bound it).

    Args:
        event: An event :meth:`EventMerger.take_closed` returned.

    Returns:
        The record, keyed on the topic by ``event_id``.
    """
    return {**merged_record(event), "revision": event.report_count, "closed": True}


def merged_records(events: Iterable[MergedEvent]) -> list[dict[str, Any]]:
    """One ``events.merged`` record per merged event among ``events``: its latest state.

    An article's reports may touch one event twice (the second report of the
    same article counts nothing); its record is published once, in the order
    the event first appears.
    """
    latest: dict[str, MergedEvent] = {}
    for event in events:
        latest[event.event_id] = event
    return [merged_record(e) for e in latest.values()]


class EventMerger:
    """Links event reports of the same happening across articles.

    Args:
        store: All state (a dict, or a Faust table in the stream).
        window_days: How far apart in time two reports without a common date may be,
            and how long an event is kept behind the newest report time seen;
            a report older than that is not merged.
        max_articles: Most article ids kept on one merged event (counts stay exact).
        clock: Processing time, used when a report has no ``published_at``.
        closing_grace: Messages of a partition after which a closing handed out
            by :meth:`take_closed` is surely published and leaves the outbox; at
            least the wiring's batch size.
        gist_link: Least sentence-gist similarity that ties a report to an event
            (see :func:`evidence_agrees`).
    """

    def __init__(
        self,
        store: MutableMapping[str, Any] | None = None,
        *,
        window_days: float = 3.0,
        max_articles: int = 50,
        clock: Callable[[], float] = time.time,
        closing_grace: int = 1_000,
        gist_link: float = GIST_LINK,
    ) -> None:
        if window_days <= 0:
            raise ValueError(f"window_days must be positive, got {window_days}")
        if closing_grace < 1:
            raise ValueError(f"closing_grace must be at least 1, got {closing_grace}")
        self.store: MutableMapping[str, Any] = {} if store is None else store
        self.window_days = window_days
        self.max_articles = max_articles
        self.clock = clock
        self.closing_grace = closing_grace
        self.gist_link = gist_link
        # Evicted since the last take_closed(), by outbox key; also in the store.
        self._closed: dict[str, list[MergedEvent]] = {}
        # Per outbox key, the messages seen (take_closed calls) and, per event
        # id handed out by this process, the count when it was handed out.
        # Not state: an outbox restored from the changelog is handed out again.
        self._seen: dict[str, int] = {}
        self._handed: dict[str, dict[str, int]] = {}

    def take_closed(self, partition: int | None = None) -> list[MergedEvent]:
        """The closings to publish after this message, as the events last stood.

        Call once per input message (after its reports were added), with the
        partition they were added in: the events evicted meanwhile, and any
        in this partition's outbox that this process has not handed out (an
        outbox restored after a crash or a rebalance).  Closings handed out
        ``closing_grace`` messages ago leave the outbox here.

        Args:
            partition: As given to :meth:`add` (None for a store that sees every report).

        Returns:
            Each event once per process (twice at most across a restart); the
            caller publishes a :func:`closed_record` for each.
        """
        key = _outbox_key(partition)
        fresh = self._closed.pop(key, [])
        seen = self._seen[key] = self._seen.get(key, 0) + 1
        handed = self._handed.setdefault(key, {})
        box = self.store.get(key)
        if not box and not handed:
            return fresh
        out = list(fresh)
        # Every event handed out is still in the box (both lose it together
        # below), so the box holds len(box) - len(handed) events not handed out
        # yet: after a restore, any of them.  Looking from the end for just that
        # many keeps a message's cost to its own closings rather than the whole
        # grace period's.  (After a rebalance `handed` may still hold events the
        # other worker took out of the box: those restored closings then wait
        # until the stale entries have had their grace, and are not lost.)
        fresh_ids = {e.event_id for e in fresh}
        for eid in fresh_ids:
            handed.setdefault(eid, seen)
        unhanded = len(box or ()) - len(handed)
        if unhanded > 0:
            new: list[tuple[str, Any]] = []
            for eid, rec in reversed(box or ()):
                if eid not in handed:
                    new.append((eid, rec))
                    if len(new) == unhanded:
                        break
            for eid, rec in reversed(new):
                handed[eid] = seen
                out.append(MergedEvent(eid, rec, is_new=False))
        # Handed out in order, so the ones past their grace come first.
        done = []
        for eid, at in handed.items():
            if seen - at < self.closing_grace:
                break
            done.append(eid)
        if done:
            gone = set(done)
            rest = [item for item in box or () if item[0] not in gone]
            if not rest:
                self.store.pop(key, None)
            elif len(rest) < len(box or ()):
                self.store[key] = rest
            for eid in done:
                del handed[eid]
        return out

    def add(self, report: EventReport, partition: int | None = None) -> MergedEvent | None:
        """Merge one report into its event (created when new).

        Args:
            report: The report.
            partition: The partition of the report's merge key when the store
                is a table partitioned by it (the window is then kept per
                partition); None for a store that sees every report.

        Returns:
            The merged event after this report, or None when the report has no
            merge key (no place) or is older than the window (``window_days``
            behind the newest report time seen in its partition).
        """
        key = merge_key(report)
        if key is None:
            return None
        ts = parse_time(report.published_at)
        ts = self.clock() if ts is None else ts
        hour = self._advance(ts, partition)
        if hour is None:
            # Older than the window: its happening may have been forgotten, and
            # merging would found it again under the id it had (published
            # revisions would start over at 0).  Every report of a forgotten
            # event is this old, so no event id is ever founded twice.
            return None
        ids: list[str] = list(self.store.get("k:" + key) or ())
        found: tuple[str, dict[str, Any]] | None = None
        # A key without an actor can gather hundreds of events in a busy week
        # (every undated "agreement" in Iran): a report is compared with the
        # newest ones only, where its happening is, which bounds its cost.  A
        # redelivered report must still find the event it founded or joined,
        # however old (founding it again would restart its revisions at 0): its
        # own id, or, among the older events, one holding its article.
        own = _event_id(key, report)
        newest = len(ids) - _SCAN_LIMIT
        for n, eid in enumerate(ids):
            rec = self.store.get("e:" + eid)
            if rec is None:
                continue
            if eid == own:
                found = (eid, rec)
                break
            if found is None and (self._same_happening(key, rec, report, ts) if n >= newest
                                  else report.article_id in rec["articles"]):
                found = (eid, rec)
        if found is None:
            eid = own
            rec = {
                "type": report.type,
                "place": report.place.to_json() if report.place else None,
                "date": report.date,
                "actors": list(report.actors),
                "targets": list(report.targets),
                "first_seen": ts,
                "last_seen": ts,
                "report_count": 0,
                "sources": [],
                "articles": [],
                "casualties": {},
                # Internal (not published, see MergedEvent.to_json): the key the
                # event is filed under, and sentence gists of its reports (packed).
                "key": key,
                "gists": [],
            }
            ids = [i for i in ids if ("e:" + i) in self.store] + [eid]
            self.store["k:" + key] = ids
            is_new = True
        else:
            eid, rec = found
            is_new = False
        if report.article_id in rec["articles"]:
            return MergedEvent(eid, rec, is_new=False)  # redelivered report
        rec = _merged(rec, report, ts, self.max_articles)
        self.store["e:" + eid] = rec
        self._remember_hour(hour, eid, partition)
        return MergedEvent(eid, rec, is_new)

    def _same_happening(self, key: str, rec: Mapping[str, Any], report: EventReport,
                        ts: float) -> bool:
        if not _when_agrees(rec["date"], float(rec["first_seen"]), float(rec["last_seen"]),
                            report.date, ts, self.window_days):
            return False
        # An event stored before gists existed has none: only a day or an actor ties it.
        return evidence_agrees(key=key, dated=bool(rec["date"] and report.date),
                               gists=_lazy_gists(rec), gist=report.gist,
                               gist_link=self.gist_link)

    def _advance(self, ts: float, partition: int | None) -> int | None:
        """Move the window to ``ts``; the hour bucket of ``ts``, or None when it is out of it."""
        hour = math.floor(ts / _HOUR)
        meta_key = _META if partition is None else f"{_META}{partition}"
        meta = self.store.get(meta_key) or {"top": hour, "hours": []}
        top = max(int(meta["top"]), hour)
        cutoff = top - math.ceil(self.window_days * 24)
        hours = list(meta["hours"])
        keep = [h for h in hours if h >= cutoff]
        for h in hours:
            if h < cutoff:
                self._evict_hour(_hour_key(h, partition), cutoff * _HOUR, partition)
        if hour >= cutoff and hour not in keep:
            keep = sorted([*keep, hour])
        if top != meta["top"] or keep != hours:
            self.store[meta_key] = {"top": top, "hours": keep}
        return hour if hour >= cutoff else None

    def _remember_hour(self, hour: int, eid: str, partition: int | None) -> None:
        key = _hour_key(hour, partition)
        ids = list(self.store.get(key) or ())
        if eid not in ids:
            self.store[key] = [*ids, eid]

    def _evict_hour(self, key: str, cutoff_ts: float, partition: int | None) -> None:
        closed = []
        for eid in self.store.get(key) or ():
            rec = self.store.get("e:" + eid)
            # An event touched again later sits in a later hour too: keep it.
            if rec is not None and float(rec["last_seen"]) < cutoff_ts:
                closed.append(MergedEvent(eid, rec, is_new=False))
        if closed:
            box = _outbox_key(partition)
            # Written before the deletions: a changelog cut short by a crash then
            # holds the closing whenever it holds the deletion.
            # Without the gists: a closing publishes none, and they were about a third
            # of a kept record's size (the key stays: dedup-rekey routes closings by it).
            self.store[box] = [*(self.store.get(box) or ()),
                               *([e.event_id, {k: v for k, v in e.record.items()
                                               if k != "gists"}] for e in closed)]
            self._closed.setdefault(box, []).extend(closed)
        self.store.pop(key, None)
        for event in closed:
            del self.store["e:" + event.event_id]
            self._unlink(_record_key(event.record), event.event_id)

    def _unlink(self, key: str, eid: str) -> None:
        ids = [i for i in self.store.get("k:" + key) or () if i != eid]
        if ids:
            self.store["k:" + key] = ids
        else:
            self.store.pop("k:" + key, None)


def _outbox_key(partition: int | None) -> str:
    return "o:" if partition is None else f"o:{partition}"


def _hour_key(hour: int, partition: int | None) -> str:
    return f"w:{hour}" if partition is None else f"w:{partition}:{hour}"


def record_merge_key(rec: Mapping[str, Any]) -> str:
    """The merge key of a stored merged event, as :func:`merge_key` gave its first report.

    (For re-keying the state to another partition count: ``rekey.py``.)
    """
    return _record_key(rec)


def _record_key(rec: Mapping[str, Any]) -> str:
    """The merge key of a stored event (as :func:`merge_key` gave it)."""
    if rec.get("key"):
        return str(rec["key"])
    place = rec["place"] or {}
    pkey = Place(place.get("name", ""), place.get("geonames_id"), place.get("country")).key()
    actor = rec["actors"][0] if rec["actors"] else ""
    return f"{rec['type']}|{pkey}|{actor}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def _event_id(key: str, report: EventReport) -> str:
    """The id of the event a report founds.

    The gist is part of it: two reports of one article under one key that do
    not link (two sentences about two strikes in one city) found two events.
    """
    gist = ",".join(map(str, report.gist))
    raw = f"{key}|{report.date or ''}|{report.article_id}|{gist}".encode()
    return "v" + hashlib.blake2b(raw, digest_size=8).hexdigest()


def _merged(rec: Mapping[str, Any], report: EventReport, ts: float, max_articles: int
            ) -> dict[str, Any]:
    """A new record with one more report in it (the old one is left unchanged)."""
    out = dict(rec)
    out["report_count"] = int(rec["report_count"]) + 1
    out["first_seen"] = min(float(rec["first_seen"]), ts)
    out["last_seen"] = max(float(rec["last_seen"]), ts)
    out["articles"] = [*rec["articles"], report.article_id][-max_articles:]
    if report.source is not None and report.source not in rec["sources"]:
        out["sources"] = [*rec["sources"], report.source]
    if not out["date"] and report.date:
        out["date"] = report.date
    out["actors"] = _union(rec["actors"], report.actors)
    out["targets"] = _union(rec["targets"], report.targets)
    # An event stored before gists gets them from its next reports.
    out["gists"] = _gists(rec.get("gists") or [], report.gist)
    casualties = dict(rec["casualties"])
    source = report.source or report.article_id
    for kind, count in report.casualties.items():
        entry = casualties.get(kind) or {"by_source": {}}
        by_source = dict(entry["by_source"])
        by_source[source] = max(count, int(by_source.get(source, 0)))
        figures = sorted(by_source.values())
        casualties[kind] = {
            "consensus": _median(figures),
            "min": figures[0],
            "max": figures[-1],
            "by_source": by_source,
        }
    out["casualties"] = casualties
    return out


def _median(figures: list[int]) -> int:
    # Round half up: with two sources saying 4 and 5, "5" is the safer toll.
    return math.floor(statistics.median(figures) + 0.5)


def _gists(old: list[Any], gist: tuple[int, ...]) -> list[str]:
    """The event's gists with the report's added: the founder's first, at most a few.

    Stored packed (:func:`pack_gist`); lists of integers, as events stored
    before packing hold them, are packed on the way.
    """
    kept = [g if isinstance(g, str) else pack_gist(g) for g in old]
    if not gist or len(kept) >= _GISTS_KEPT:
        return kept
    packed = pack_gist(gist)
    return kept if packed in kept else [*kept, packed]


def _union(old: list[str], new: tuple[str, ...]) -> list[str]:
    return [*old, *(n for n in new if n not in old)]
