"""Re-keying the band-keyed deduplicator's state for another partition count.

Every table record of the band-keyed path sits in the changelog partition of
the input partition that wrote it, and every input partition is a key's
hash modulo the partition count (``docs/deduplicator.md``).  After a change
of the count from ``P`` to ``P'`` each record is recomputed here from what
it holds:

* ``dedup-articles``: ``a:<id>``, ``p:<id>``, ``v:<id>`` go to the partition
  of the article id (Kafka's murmur2, as the producer of ``articles.extracted``
  and ``dedup.notes`` routes it); ``c:<cluster>`` to the partition of the
  story's root (the first id of its members).
* ``dedup-bands``: ``s:<p>:<id>`` (or the older ``s:<id>``) to every
  partition holding one of the article's band keys under ``P'``, as
  ``s:<p'>:<id>`` (recomputed from its signature), so a signature may be
  copied to more or fewer partitions than before.
* ``merged-events``: ``k:<merge key>`` and ``e:<event id>`` to the partition
  of the merge key (the event's is recomputed from its record); the closings
  of an outbox ``o:<p>`` each to the outbox of its event's new partition (the
  new workers publish them again: a closing is published at least once).

The per-partition window bookkeeping (``m:<p>``, ``w:<p>:<hour>``) is
rebuilt: each remembered id keeps the hour bucket it had, in the partition
its records now sit in, and the window's top is the newest of those hours.

Articles still waiting for replies cannot be carried over (their expected
replies name partitions under ``P``): :func:`rekey_articles` refuses them.

The one-partition deduplicator keeps other tables (``dedup-state``,
``event-state``, ``dedup-stories``: :mod:`marsad.deduplicator.core`).
:func:`from_single` recasts them as the band-keyed tables of one partition,
which then go through the same functions, so a deployment that started on
one machine can move to several without forgetting its window.
This module imports neither Faust nor Kafka.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from marsad.deduplicator import minhash as mh
from marsad.deduplicator.banded import (
    band_partition,
    event_partition,
    parse_signature_key,
    signature_key,
)
from marsad.deduplicator.core import DedupConfig
from marsad.deduplicator.events import record_merge_key

#: The band-keyed path's tables, as the worker names them (``agent.register_banded``).
ARTICLES = "dedup-articles"
BANDS = "dedup-bands"
EVENTS = "merged-events"
TABLES: tuple[str, ...] = (ARTICLES, BANDS, EVENTS)

#: The one-partition path's tables (``agent.register``): recast by :func:`from_single`.
SINGLE_STATE = "dedup-state"
SINGLE_EVENTS = "event-state"
SINGLE_STORIES = "dedup-stories"
SINGLE_TABLES: tuple[str, ...] = (SINGLE_STATE, SINGLE_EVENTS, SINGLE_STORIES)

_HOUR = 3600.0

#: Per partition, the live records of one table: ``{partition: {key: value}}``.
State = dict[int, dict[str, Any]]


class RekeyError(ValueError):
    """The state cannot be carried over as it is (the message says why and what to do)."""


def changelog_topic(app_id: str, group: str, table: str) -> str:
    """The changelog topic Faust gives a table of the worker ``marsad worker <group>``.

    The Faust app id is ``<MARSAD_APP_ID>-<group>`` (``worker.create_app``);
    Faust names a table's changelog ``<app id>-<table>-changelog``.
    """
    return f"{app_id}-{group}-{table}-changelog"


def latest(records: Iterable[tuple[int, str, Any]]) -> State:
    """The live records of a changelog read in offset order: the latest value per key.

    Args:
        records: ``(partition, key, value)`` in offset order within each
            partition; a value of None is a deletion (a tombstone).

    Returns:
        Per partition, each key's latest value; deleted keys left out.
    """
    state: State = {}
    for partition, key, value in records:
        part = state.setdefault(partition, {})
        if value is None:
            part.pop(key, None)
        else:
            part[key] = value
    return state


def _bucket_hours(old: State) -> dict[str, int]:
    """Each id's hour bucket in the old window lists (the latest when listed twice)."""
    hours: dict[str, int] = {}
    for part in old.values():
        for key, ids in part.items():
            if key.startswith("w:"):
                hour = int(key.rsplit(":", 1)[1])
                for i in ids or ():
                    hours[i] = max(hour, hours.get(i, hour))
    return hours


def _window(partition: int, placed: Mapping[str, Iterable[int]]) -> dict[str, Any]:
    """The window records of one partition holding ``placed`` ids, each in its hours."""
    by_hour: dict[int, list[str]] = {}
    for i in sorted(placed):
        for hour in sorted(set(placed[i])):
            by_hour.setdefault(hour, []).append(i)
    if not by_hour:
        return {}
    hours = sorted(by_hour)
    out: dict[str, Any] = {f"m:{partition}": {"top": hours[-1], "hours": hours}}
    out.update({f"w:{partition}:{h}": ids for h, ids in by_hour.items()})
    return out


def _is_window_key(key: str) -> bool:
    return key.startswith(("m:", "w:"))


def _unknown(table: str, key: str) -> RekeyError:
    return RekeyError(f"{table}: a record with an unknown key {key!r}; this version of "
                      "dedup-rekey does not know where it belongs (nothing written)")


def rekey_articles(old: State, partitions: int, partition_of: Callable[[str], int]) -> State:
    """The ``dedup-articles`` records, each in its partition under ``partitions``.

    Args:
        old: The table's live records per old partition.
        partitions: The new partition count (for the window keys only:
            ``partition_of`` already computes modulo it).
        partition_of: An article id's partition under the new count (the
            producer's partitioner: ``agent.partitioner``).

    Returns:
        The new state per partition (partitions without records left out).

    Raises:
        RekeyError: An article still waits for replies, or a key is unknown.
    """
    waiting = sorted(k[2:] for part in old.values() for k, v in part.items()
                     if k.startswith("a:") and v.get("st") == "wait")
    if waiting:
        raise RekeyError(
            f"{len(waiting)} article(s) still wait for band or event replies (e.g. "
            f"{', '.join(waiting[:3])}): let the deduplicator drain articles.extracted and "
            "the dedup.* topics before stopping it, then run dedup-rekey again")
    bucket = _bucket_hours(old)
    new: State = {}
    placed: dict[int, dict[str, list[int]]] = {}
    for part in old.values():
        for key, value in part.items():
            if _is_window_key(key):
                continue
            if key.startswith(("a:", "p:", "v:")):
                aid = key[2:]
                target = partition_of(aid)
                if key.startswith("a:"):
                    hour = bucket.get(aid, math.floor(float(value["t"]) / _HOUR))
                    placed.setdefault(target, {})[aid] = [hour]
            elif key.startswith("c:"):
                # A story lives with its root, the first of its members.
                target = partition_of(value["ids"][0])
            else:
                raise _unknown(ARTICLES, key)
            new.setdefault(target, {})[key] = value
    for target, ids in placed.items():
        new[target].update(_window(target, ids))
    _check_range(new, partitions)
    return new


def rekey_bands(
    old: State, partitions: int, old_partitions: int, keys_of: Callable[[dict[str, Any]], list[str]]
) -> State:
    """The ``dedup-bands`` records: each signature in every partition of its band keys.

    Args:
        old: The table's live records per old partition.
        partitions: The new partition count.
        old_partitions: The old one (to check the band keys are recomputed right).
        keys_of: A stored signature record's band keys (LSH bands and the
            exact key), as the worker computes them with its dedup settings.

    Returns:
        The new state per partition.

    Raises:
        RekeyError: A signature sits where its recomputed keys do not lead
            (other dedup settings than the workers'), or a key is unknown.
    """
    bucket = _bucket_hours(old)
    records: dict[str, dict[str, Any]] = {}
    for p, part in sorted(old.items()):
        for key, value in part.items():
            if _is_window_key(key):
                continue
            if not key.startswith("s:"):
                raise _unknown(BANDS, key)
            _, aid = parse_signature_key(key)
            if aid not in records:
                records[aid] = value
                keys = keys_of(value)
                if p not in {band_partition(k, old_partitions) for k in keys}:
                    raise RekeyError(
                        f"dedup-bands: the signature of {aid} is in partition {p}, where none "
                        f"of its band keys lead with {old_partitions} partitions: run "
                        "dedup-rekey with the workers' MARSAD_DEDUP_* settings")
    new: State = {}
    placed: dict[int, dict[str, list[int]]] = {}
    for aid, value in records.items():
        hour = bucket.get(aid, math.floor(float(value["t"]) / _HOUR))
        for target in sorted({band_partition(k, partitions) for k in keys_of(value)}):
            new.setdefault(target, {})[signature_key(target, aid)] = value
            placed.setdefault(target, {})[aid] = [hour]
    for target, ids in placed.items():
        new[target].update(_window(target, ids))
    return new


def rekey_events(old: State, partitions: int) -> State:
    """The ``merged-events`` records, each in the partition of its merge key.

    Raises:
        RekeyError: A key is unknown.
    """
    hours: dict[str, set[int]] = {}
    for part in old.values():
        for key, ids in part.items():
            if key.startswith("w:"):
                for eid in ids or ():
                    hours.setdefault(eid, set()).add(int(key.rsplit(":", 1)[1]))
    new: State = {}
    placed: dict[int, dict[str, set[int]]] = {}
    for part in old.values():
        for key, value in part.items():
            if _is_window_key(key):
                continue
            if key.startswith("o:"):
                for eid, rec in value or ():
                    target = event_partition(record_merge_key(rec), partitions)
                    box = new.setdefault(target, {}).setdefault(f"o:{target}", [])
                    box.append([eid, rec])
                continue
            if key.startswith("k:"):
                target = event_partition(key[2:], partitions)
            elif key.startswith("e:"):
                eid = key[2:]
                target = event_partition(record_merge_key(value), partitions)
                placed.setdefault(target, {})[eid] = hours.get(
                    eid, {math.floor(float(value["last_seen"]) / _HOUR)})
            else:
                raise _unknown(EVENTS, key)
            new.setdefault(target, {})[key] = value
    for target, eids in placed.items():
        new[target].update(_window(target, eids))
    return new


def band_keys_of(config: DedupConfig) -> Callable[[dict[str, Any]], list[str]]:
    """A stored signature record's band keys, as the band agent computes them.

    The LSH band keys of its signature and the exact key (``x`` + exact
    fingerprint, ``banded._exact_key``).
    """
    def keys(rec: dict[str, Any]) -> list[str]:
        values = mh.Signature.decode_values(rec["g"])
        return [*mh.band_key_strings(values, config.bands, config.seed), "x" + rec["x"]]

    return keys


def _check_range(state: State, partitions: int) -> None:
    bad = [p for p in state if not 0 <= p < partitions]
    if bad:
        raise RekeyError(f"partition function gave {bad} for {partitions} partitions")


def count(state: State) -> int:
    """Records in a state, all partitions together."""
    return sum(len(part) for part in state.values())


def from_single(state: Mapping[str, Any], stories: Mapping[str, Any]) -> tuple[State, State]:
    """The one-partition deduplicator's article tables as band-keyed ones of one partition.

    ``a:`` records become band-keyed article records (a story's root keeps
    its founder's output fields from ``dedup-stories`` for re-publication,
    every copy points at the root) and signature records (``s:<id>``);
    ``c:`` records become stories listing their remembered members, root
    first, with the revision ``dedup-stories`` kept.  A story whose root has
    left the window gets its oldest remembered member as root (the band-keyed
    path keeps a story with its root).  Exact copies, which the one-partition
    path stores without a signature, take the signature of an article with
    the same words; an article without words has none and is only
    remembered as decided.  Fingerprints (``x:``), buckets (``b:``) and the
    window bookkeeping are derived again.

    Args:
        state: The live records of ``dedup-state``.
        stories: The live records of ``dedup-stories``.

    Returns:
        ``(dedup-articles, dedup-bands)`` as partition 0 of 1, for
        :func:`rekey_articles` and :func:`rekey_bands`; ``event-state`` needs
        no recasting (:func:`rekey_events` takes it as it is).

    Raises:
        RekeyError: A key is unknown.
    """
    records: dict[str, dict[str, Any]] = {}
    clusters: dict[str, dict[str, Any]] = {}
    for key, value in state.items():
        if key.startswith("a:"):
            records[key[2:]] = value
        elif key.startswith("c:"):
            clusters[key[2:]] = value
        elif not key.startswith(("x:", "b:", "w:", "m:")):
            raise _unknown(SINGLE_STATE, key)
    by_words = {r["x"]: r["g"] for r in records.values() if r.get("g")}
    members: dict[str, list[str]] = {}
    for aid, rec in sorted(records.items(), key=lambda item: (float(item[1]["t"]), item[0])):
        members.setdefault(rec["c"], []).append(aid)
    articles: dict[str, Any] = {}
    bands: dict[str, Any] = {}
    hours: dict[int, list[str]] = {}
    for cluster, ids in members.items():
        crec = clusters.get(cluster) or {}
        root = crec.get("r") if crec.get("r") in records else ids[0]
        story = stories.get("f:" + cluster) or {}
        ordered = [root, *(i for i in ids if i != root)]
        articles["c:" + cluster] = {"n": int(crec.get("n", len(ids))),
                                    "src": list(crec.get("src") or ()), "ids": ordered,
                                    "rev": int(story.get("rev", 0))}
        for aid in ids:
            rec = records[aid]
            out: dict[str, Any] = {"t": rec["t"], "o": rec.get("o"), "c": cluster, "r": root}
            if aid == root:
                out["st"] = "root"
                if story.get("pl") is not None and crec.get("r") == root:
                    out["pl"] = story["pl"]
            else:
                out.update({"st": "dup", "d": rec.get("d") or root})
            articles["a:" + aid] = out
            hours.setdefault(int(rec.get("h", math.floor(float(rec["t"]) / _HOUR))),
                             []).append(aid)
            signature = rec.get("g") or by_words.get(rec["x"])
            if signature:
                bands["s:" + aid] = {"g": signature, "x": rec["x"], "t": rec["t"],
                                     "o": rec.get("o")}
    for key in stories:
        if not key.startswith(("f:", "w:", "m:")):
            raise _unknown(SINGLE_STORIES, key)
    window = {f"w:0:{h}": ids for h, ids in hours.items()}
    return {0: {**articles, **window}}, {0: {**bands, **window}}
