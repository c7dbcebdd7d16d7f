"""Labelling windows from an :class:`EventIndex` gives exactly the labels of the old scan of every
event (kept here as the reference), for any events, windows and recording lengths."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.sources.event_index import EventIndex
from builder.sources.events import EPS, Event, label_window, overlaps


def scan_label_window(events, start, end, min_overlap, background, duration=math.inf):
    """``label_window`` as it was: every event of the recording looked at for every window."""
    events = [e for e in events if e.start < duration - EPS]
    cover = overlaps(events, start, min(end, duration))
    inside = {e.label for e in events if e.start >= start - EPS and e.end <= end + EPS and e.end > e.start}
    hits = {lab: s for lab, s in cover.items() if s >= min_overlap - EPS or lab in inside}
    if not hits:
        return (background, (background,)) if background is not None else (None, ())
    best = min(hits, key=lambda lab: (-round(hits[lab], 9), lab))
    return best, (best, *sorted(lab for lab in hits if lab != best))


# Times as spectroset makes them: events rounded to the microsecond (read_events), windows from
# sample counts; on a coarse grid, nudged by a few microseconds, so bounds meet, nearly meet, nest.
times = st.builds(lambda q, nudge: round(q * 0.25 + nudge * 1e-6, 6), st.integers(0, 80), st.integers(-2, 2))


@st.composite
def events(draw):
    out = []
    for start, length, label in draw(st.lists(st.tuples(times, st.one_of(times, st.just(1e-6)),
                                                        st.sampled_from("abc")), max_size=40)):
        out.append(Event(max(0.0, start), max(0.0, start) + max(length, 1e-6), label))
    return sorted(set(out))


@pytest.mark.parametrize("scan,labels", [(0, 0), (EventIndex.SCAN, EventIndex.LABELS)])  # 0, 0: trees only
@settings(max_examples=400, deadline=None)
@given(evs=events(), windows=st.lists(st.tuples(times, times), min_size=1, max_size=8),
       min_overlap=st.sampled_from([0.0, 0.1, 0.5, 0.75, 2.0]), background=st.sampled_from([None, "bg"]),
       duration=st.one_of(st.just(math.inf), times, st.builds(lambda n, rate: n / rate, st.integers(0, 20 * 16000),
                                                              st.sampled_from([16000, 22050, 44100]))))
def test_same_labels_as_scanning_every_event(scan, labels, evs, windows, min_overlap, background, duration):
    index = EventIndex(evs)
    index.SCAN, index.LABELS = scan, labels
    for a, length in windows:
        start, end = a, a + max(length, 0.25)
        want = scan_label_window(evs, start, end, min_overlap, background, duration)
        assert label_window(index, start, end, min_overlap, background, duration) == want
        assert label_window(evs, start, end, min_overlap, background, duration) == want
        lo, hi = start - EPS, end + EPS
        assert index.touching(lo, hi) == [e for e in evs if e.start < hi and e.end > lo]


def test_one_long_event_does_not_make_every_query_scan():
    """A recording-long event plus 1e5 short ones: each window still looks at a handful."""
    evs = [Event(0.0, 1e5, "drone")] + [Event(i + 0.1, i + 0.2, "call") for i in range(100_000)]
    index, seen = EventIndex(evs), []

    class Counting(list):
        def __getitem__(self, i):
            seen.append(len(range(*i.indices(len(self)))) if isinstance(i, slice) else 1)
            return list.__getitem__(self, i)

    index.events = Counting(index.events)  # events read, by the tree or a short scan
    for i in range(0, 100_000, 997):
        assert [e.label for e in index.touching(i + 0.05, i + 0.15)] == ["drone", "call"]
    assert sum(seen) <= 4 * len(range(0, 100_000, 997))  # a scan of all: 100,001 per window
