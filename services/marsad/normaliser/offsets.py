"""Offset maps from a derived text (display or matching view) back to the original.

A map is a list of *runs*.  Each run covers a contiguous stretch of the view
and says which stretch of the original it came from:

* a **copy run** (view length == original length) maps character by
  character, so any sub-span maps exactly;
* a **block run** (lengths differ: a collapsed whitespace run, an HTML entity,
  an NFKC ligature, a deleted diacritic folded into its letter, an inserted
  space) maps as a whole: any view span that touches it maps to the whole
  original block (an inserted character maps to an empty original span).

Runs are stored as parallel integer lists so that a typical article (a few
dozen runs) costs nothing to map and serialises compactly.  Building a map
never loops over characters in Python: builders append whole chunks.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


class OffsetMap:
    """Map spans of a view text to spans of the original text.

    Args:
        runs: ``[view_start, orig_start, view_len, orig_len]`` rows, sorted by
            ``view_start`` and covering the view contiguously from 0.
        view_length: Length of the view text (checked against the runs).
    """

    __slots__ = ("_ol", "_os", "_vl", "_vs", "view_length")

    def __init__(self, runs: Sequence[Sequence[int]] = (), view_length: int | None = None) -> None:
        self._vs: list[int] = []
        self._os: list[int] = []
        self._vl: list[int] = []
        self._ol: list[int] = []
        expected = 0
        for run in runs:
            if len(run) != 4:
                raise ValueError(f"a run has 4 integers, got {run!r}")
            vs, os_, vl, ol = (int(x) for x in run)
            if vs != expected or vl < 0 or ol < 0 or os_ < 0:
                raise ValueError(f"runs must be contiguous and non-negative, got {run!r}")
            if self._os and os_ < self._os[-1]:
                raise ValueError(f"runs must be monotone in the original, got {run!r}")
            self._vs.append(vs)
            self._os.append(os_)
            self._vl.append(vl)
            self._ol.append(ol)
            expected = vs + vl
        if view_length is not None and view_length != expected:
            raise ValueError(f"runs cover {expected} characters, view has {view_length}")
        self.view_length = expected

    @classmethod
    def identity(cls, length: int) -> OffsetMap:
        """Return the map of a view that is a verbatim copy of ``length`` characters."""
        return cls([[0, 0, length, length]] if length else [])

    @classmethod
    def from_arrays(
        cls,
        view_starts: npt.NDArray[np.integer[Any]],
        orig_starts: npt.NDArray[np.integer[Any]],
        view_lens: npt.NDArray[np.integer[Any]],
        orig_lens: npt.NDArray[np.integer[Any]],
    ) -> OffsetMap:
        """Build a map from four equal-length integer arrays of runs.

        The runs are trusted (not checked): for builders that compute them
        vectorised, contiguous from 0 and monotone by construction.
        """
        m = cls()
        m._vs = view_starts.tolist()
        m._os = orig_starts.tolist()
        m._vl = view_lens.tolist()
        m._ol = orig_lens.tolist()
        m.view_length = m._vs[-1] + m._vl[-1] if m._vs else 0
        return m

    def __len__(self) -> int:
        return len(self._vs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OffsetMap) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"OffsetMap({self.to_json()!r})"

    def _orig_start(self, pos: int) -> int:
        """Original offset where the view character at ``pos`` starts."""
        i = bisect.bisect_right(self._vs, pos) - 1
        if self._vl[i] == self._ol[i]:
            return self._os[i] + (pos - self._vs[i])
        return self._os[i]

    def _orig_end(self, pos: int) -> int:
        """Original offset where the view character at ``pos`` ends."""
        i = bisect.bisect_right(self._vs, pos) - 1
        if self._vl[i] == self._ol[i]:
            return self._os[i] + (pos - self._vs[i]) + 1
        return self._os[i] + self._ol[i]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the view span ``[start, end)`` to the original span it came from.

        Args:
            start: Start offset in the view.
            end: End offset in the view (exclusive), ``start <= end``.

        Returns:
            ``(orig_start, orig_end)``; an empty view span maps to an empty
            original span at the corresponding position.

        Raises:
            ValueError: If the span is outside the view.
        """
        if not 0 <= start <= end <= self.view_length:
            raise ValueError(f"span {start}:{end} outside a view of {self.view_length}")
        if not self._vs:
            return (0, 0)
        if start == end:
            at_end = start == self.view_length
            p = self._orig_end(start - 1) if at_end else self._orig_start(start)
            return (p, p)
        return (self._orig_start(start), self._orig_end(end - 1))

    def _orig_length(self) -> int:
        """Where the last run ends in the original."""
        return self._os[-1] + self._ol[-1] if self._os else 0

    def _copy(self) -> OffsetMap:
        m = OffsetMap()
        m._vs, m._os, m._vl, m._ol = list(self._vs), list(self._os), list(self._vl), list(self._ol)
        m.view_length = self.view_length
        return m

    def runs(self) -> list[tuple[int, int, int, int]]:
        """Return the runs as ``(view_start, orig_start, view_len, orig_len)`` tuples."""
        return list(zip(self._vs, self._os, self._vl, self._ol, strict=True))

    def to_json(self) -> list[list[int]]:
        """Return the compact JSON form: ``[[view_start, orig_start, view_len, orig_len], ...]``."""
        return [list(r) for r in self.runs()]

    @classmethod
    def from_json(cls, data: Any) -> OffsetMap:
        """Rebuild a map from :meth:`to_json` output.

        Raises:
            ValueError: If the data is not a valid list of runs.
        """
        if not isinstance(data, list):
            raise ValueError("an offset map is a list of runs")
        return cls(data)

    def compose(self, inner: OffsetMap) -> OffsetMap:
        """Chain this map (view -> middle text) with ``inner`` (middle -> original).

        Args:
            inner: The map of the middle text this view was derived from.

        Returns:
            A map from this view straight to the original.
        """
        if (
            len(inner._vs) == 1
            and inner._os[0] == 0
            and inner._vl[0] == inner._ol[0] >= self._orig_length()
        ):
            # The inner map is the identity (e.g. a display text that needed no
            # change): every run of this map stays as it is.
            return self._copy()
        b = MapBuilder()
        for _vs, ms, vl, ml in self.runs():
            if vl == ml and vl:
                # A copied stretch of the middle text: split it at inner run borders.
                i = bisect.bisect_right(inner._vs, ms) - 1
                pos = ms
                end = ms + ml
                while pos < end:
                    ivs, ios, ivl, iol = inner._vs[i], inner._os[i], inner._vl[i], inner._ol[i]
                    stop = min(end, ivs + ivl)
                    if ivl == iol:
                        b.add(stop - pos, ios + (pos - ivs), stop - pos)
                    else:
                        # Part of a block stays a block (never a coincidental copy).
                        b.block(stop - pos, ios, iol)
                    pos = stop
                    i += 1
            else:
                o0, o1 = inner.to_original(ms, ms + ml)
                b.block(vl, o0, o1 - o0)
        return b.build()


class MapBuilder:
    """Accumulate runs chunk by chunk while a view text is being built."""

    __slots__ = ("_ol", "_os", "_vl", "_vpos")

    def __init__(self) -> None:
        self._os: list[int] = []
        self._vl: list[int] = []
        self._ol: list[int] = []
        self._vpos = 0

    @property
    def view_length(self) -> int:
        """Length of the view built so far."""
        return self._vpos

    def add(self, view_len: int, orig_start: int, orig_len: int) -> None:
        """Append a run; adjacent copy runs that continue each other are merged.

        Args:
            view_len: Characters added to the view (0 adds nothing).
            orig_start: Where the source of these characters starts in the original.
            orig_len: How many original characters they replace (equal to
                ``view_len`` for a copy, anything else for a block).
        """
        if view_len <= 0:
            return
        if (
            view_len == orig_len
            and self._vl
            and self._vl[-1] == self._ol[-1]
            and self._os[-1] + self._ol[-1] == orig_start
        ):
            self._vl[-1] += view_len
            self._ol[-1] += orig_len
        else:
            self._os.append(orig_start)
            self._vl.append(view_len)
            self._ol.append(orig_len)
        self._vpos += view_len

    def block(self, view_len: int, orig_start: int, orig_len: int) -> None:
        """Append text that replaces an original stretch as a whole.

        A run whose two lengths are equal would read as a copy, so an
        equal-length replacement of several characters (e.g. reordered
        combining marks) is written as one-character runs that each map to
        the whole original stretch.
        """
        if view_len == orig_len and view_len > 1:
            for _ in range(view_len):
                self._os.append(orig_start)
                self._vl.append(1)
                self._ol.append(orig_len)
            self._vpos += view_len
        else:
            self.add(view_len, orig_start, orig_len)

    def build(self) -> OffsetMap:
        """Return the finished map."""
        m = OffsetMap()
        vs = 0
        for vl in self._vl:
            m._vs.append(vs)
            vs += vl
        m._os = list(self._os)
        m._vl = list(self._vl)
        m._ol = list(self._ol)
        m.view_length = vs
        return m
