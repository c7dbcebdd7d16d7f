"""A recording's annotated events, indexed once for labelling its windows one after another. Pure.

Labelling each window by scanning every event is windows x events: hours for 1e5 events on one
file with ``windows.select: events``. :class:`EventIndex` answers what
:func:`builder.events.label_window` asks in O(labels x log E) per window, whatever the number
of events or how densely they overlap the window:

- each label's events merged into disjoint spans with running lengths, so the seconds of a
  window they cover are a difference of two sums, found by bisection (:meth:`EventIndex.cover`);
- each label's earliest end among its events from each start on, so "an event wholly inside the
  window" is one bisection too (:meth:`EventIndex.inside`);
- a max-tree of the events' ends, for the events that touch a window (:meth:`EventIndex.touching`),
  which the rare windows near a recording's end use, and recordings with many labels.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from itertools import accumulate, groupby
from operator import attrgetter
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .events import Event

ORDER = attrgetter("start", "end", "label")  # Event's own order, compared as tuples: 10x faster to sort


class _Label:
    """One label's events (sorted): their union as disjoint spans ``a[i]``-``b[i]`` with running
    lengths ``run``, and ``first_end[i]``, the earliest end of the events from the i-th start on."""

    __slots__ = ("a", "b", "run", "starts", "first_end")

    def __init__(self, events: list[Event]):
        self.a: list[float] = []
        self.b: list[float] = []
        for e in events:
            if e.end <= e.start:
                continue  # covers nothing
            if self.a and e.start <= self.b[-1]:
                self.b[-1] = max(self.b[-1], e.end)
            else:
                self.a.append(e.start)
                self.b.append(e.end)
        self.run = [0.0, *accumulate(y - x for x, y in zip(self.a, self.b))]
        self.starts = [e.start for e in events]
        ends = [e.end if e.end > e.start else math.inf for e in events]
        self.first_end = list(accumulate(reversed(ends), min))[::-1]

    def covered(self, lo: float, hi: float) -> float | None:
        """Seconds of ``[lo, hi)`` the spans cover; None when they do not overlap it at all."""
        i, j = bisect_right(self.b, lo), bisect_left(self.a, hi)
        if j <= i or hi <= lo:
            return None
        return self.run[j] - self.run[i] - max(0.0, lo - self.a[i]) - max(0.0, self.b[j - 1] - hi)

    def inside(self, lo: float, hi: float) -> bool:
        """Whether an event (of positive length) starts at ``lo`` or later and ends by ``hi``."""
        i = bisect_left(self.starts, lo)
        return i < len(self.starts) and self.first_end[i] <= hi


class EventIndex:
    """The events of one recording, sorted, with each label's spans (see the module docstring)."""

    SCAN = 32  # up to this many candidate events are filtered directly: cheaper than the tree
    LABELS = 64  # up to this many labels are each asked; more: only those of the touching events

    def __init__(self, events: Iterable[Event]):
        self.events = tuple(sorted(events, key=ORDER))
        self.starts = [e.start for e in self.events]
        self.reach = list(accumulate((e.end for e in self.events), max))  # latest end so far
        by_label = sorted(self.events, key=lambda e: e.label)  # stable: each label's stay sorted
        self.labels = {label: _Label(list(group)) for label, group in groupby(by_label, key=lambda e: e.label)}
        self.size = 1 << max(0, len(self.events) - 1).bit_length()
        tree = [-math.inf] * (2 * self.size)
        tree[self.size : self.size + len(self.events)] = [e.end for e in self.events]
        for i in range(self.size - 1, 0, -1):
            tree[i] = max(tree[2 * i], tree[2 * i + 1])
        self.ends = tree

    def __len__(self) -> int:
        return len(self.events)

    def starting_in(self, lo: float, hi: float) -> bool:
        """Whether some event starts in ``[lo, hi)``."""
        i = bisect_left(self.starts, lo)
        return i < len(self.starts) and self.starts[i] < hi

    def cover(self, lo: float, hi: float, near: tuple[float, float]) -> dict[str, float]:
        """Seconds of ``[lo, hi)`` each label's events cover (overlapping ones once), for the
        labels that overlap it; ``near`` bounds the events that can touch it (for many labels)."""
        if len(self.labels) <= self.LABELS:
            labels = self.labels
        else:
            labels = {lab: self.labels[lab] for lab in {e.label for e in self.touching(*near)}}
        out = {}
        for label, spans in labels.items():
            seconds = spans.covered(lo, hi)
            if seconds is not None:
                out[label] = seconds
        return out

    def inside(self, label: str, lo: float, hi: float) -> bool:
        """Whether an event of ``label`` lies wholly in ``[lo, hi]``."""
        return self.labels[label].inside(lo, hi)

    def touching(self, lo: float, hi: float) -> list[Event]:
        """The events with ``start < hi`` and ``end > lo``, in sorted order: O(log E + found)."""
        first, stop = bisect_right(self.reach, lo), bisect_left(self.starts, hi)
        if stop - first <= self.SCAN:
            return [e for e in self.events[first:stop] if e.end > lo]
        out, todo = [], [(1, 0, self.size)]  # (node, its first event, past its last)
        while todo:
            node, a, b = todo.pop()
            if a >= stop or b <= first or self.ends[node] <= lo:
                continue
            if node >= self.size:
                out.append(self.events[a])
                continue
            mid = (a + b) // 2
            todo.append((2 * node + 1, mid, b))
            todo.append((2 * node, a, mid))  # popped first: events come out in order
        return out
