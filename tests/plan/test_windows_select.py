"""builder.plan.windows selection: first / loudest / random / events on tone bursts at known times."""

from __future__ import annotations

import numpy as np
import pytest

from builder.config.sections import WindowsConfig
from builder.sources.events import Event, label_window
from builder.plan.windows import EventCutter, Selector, WindowCutter, event_starts, rms

SR = 100  # 1 s = 100 samples


def bursts(total_s: float, at: list[tuple[float, float, float]]) -> np.ndarray:
    """Silence with 10-Hz tone bursts ``(start_s, end_s, amplitude)``."""
    x = np.zeros(int(total_s * SR), np.float32)
    for a, b, amp in at:
        t = np.arange(int(a * SR), int(b * SR))
        x[t] = amp * np.sin(2 * np.pi * 10 * t / SR)
    return x


def stream(cutter, x: np.ndarray, block: int = 37):
    """All windows a cutter gives for ``x`` fed in blocks of ``block`` samples."""
    out = []
    for i in range(0, len(x), block):
        out += list(cutter.feed(x[i : i + block]))
    return out + list(cutter.finish())


def select(x: np.ndarray, rel: str = "r.wav", block: int = 37, **kw):
    cfg = WindowsConfig(duration=1.0, **kw)
    sel = Selector(cfg, rel)
    chosen = []
    for w, s in stream(WindowCutter(cfg, SR), x, block):
        chosen += list(sel.offer(w, s))
    return [w.index for w, _ in chosen + list(sel.finish())]


def test_tone_bursts_give_exact_labels_per_window():
    x = bursts(6.0, [(1.2, 1.9, 0.5), (3.0, 4.6, 0.5)])
    events = [Event(1.2, 1.9, "owl"), Event(3.0, 4.6, "wren")]
    cfg = WindowsConfig(duration=1.0)
    got = [label_window(events, w.start, w.end, 0.5, "nocall")[0] for w, _ in stream(WindowCutter(cfg, SR), x)]
    assert got == ["nocall", "owl", "nocall", "wren", "wren", "nocall"]  # 4-5 s: 0.6 s of wren


def test_first():
    assert select(np.ones(550, np.float32), select="first", per_recording=2) == [0, 1]


@pytest.mark.parametrize("block", [7, 37, 1000])
def test_loudest_finds_the_bursts_in_time_order(block):
    x = bursts(8.0, [(6.1, 6.9, 0.9), (1.0, 2.0, 0.5), (4.0, 5.0, 0.2)])
    assert select(x, block=block, select="loudest", per_recording=1) == [6]
    assert select(x, block=block, select="loudest", per_recording=2) == [1, 6]
    assert select(x, block=block, select="loudest", per_recording=3) == [1, 4, 6]
    assert select(x, block=block, select="loudest", per_recording=20) == list(range(8))


def test_loudest_ties_go_to_the_earlier_window():
    assert select(np.ones(500, np.float32), select="loudest", per_recording=2) == [0, 1]


def test_rms_of_a_padded_window_counts_real_samples_only():
    x = np.zeros(100, np.float32)
    x[:50] = 1.0
    assert rms(x, 50) == 1.0 and rms(x, 100) == pytest.approx(np.sqrt(0.5))


def test_random_is_seeded_by_recording_and_seed_and_stable_for_any_blocking():
    x = np.ones(2000, np.float32)  # 20 windows
    first = select(x, select="random", per_recording=5, seed=1)
    assert len(first) == 5 and first == sorted(first)
    assert select(x, block=3, select="random", per_recording=5, seed=1) == first
    assert select(x, block=20000, select="random", per_recording=5, seed=1) == first
    assert select(x, select="random", per_recording=5, seed=2) != first
    assert select(x, rel="other.wav", select="random", per_recording=5, seed=1) != first
    # a longer recording keeps the earlier choice where it still ranks best
    assert set(select(x[:1000], select="random", per_recording=20, seed=1)) == set(range(10))


@pytest.mark.parametrize("block", [5, 37, 100000])
def test_events_centre_a_window_on_each_event_clamped_to_the_recording(block):
    events = [Event(0.1, 0.3, "a"), Event(2.0, 3.0, "b"), Event(2.4, 2.6, "c"), Event(9.8, 9.9, "d")]
    cfg = WindowsConfig(duration=1.0, select="events")
    x = np.arange(1000, dtype=np.float32)  # 10 s; each sample holds its own index
    got = stream(EventCutter(events, cfg, SR), x, block)
    # a: clamped to 0; b and c share the centre 2.5 s (cut once); d: moved back to end at 10 s
    assert [(w.index, w.start_sample, w.valid_samples) for w, _ in got] == [(0, 0, 100), (1, 200, 100), (3, 900, 100)]
    for w, s in got:
        assert np.array_equal(s, x[w.start_sample : w.start_sample + 100])
    assert [label_window(events, w.start, w.end, 0.5, "bg")[1] for w, _ in got] == [("a",), ("b", "c"), ("d",)]


def test_events_in_a_recording_shorter_than_a_window_follow_last():
    events = [Event(0.2, 0.3, "a")]
    pad = stream(EventCutter(events, WindowsConfig(duration=1.0, select="events"), SR), np.ones(60, np.float32))
    assert [(w.start_sample, w.valid_samples) for w, _ in pad] == [(0, 60)] and len(pad[0][1]) == 100
    drop = WindowsConfig(duration=1.0, select="events", last="drop")
    assert stream(EventCutter(events, drop, SR), np.ones(60, np.float32)) == []


def test_event_starts_are_centred():
    cfg = WindowsConfig(duration=2.0, select="events")
    assert event_starts([Event(5.0, 6.0, "a"), Event(3.0, 3.2, "b")], cfg, SR) == [(0, 210, 300), (1, 450, 500)]


def test_events_past_the_end_give_no_window():
    events = [Event(0.2, 0.4, "a"), Event(12.0, 13.0, "late")]
    got = stream(EventCutter(events, WindowsConfig(duration=1.0, select="events"), SR), np.ones(500, np.float32))
    assert [(w.index, w.start_sample) for w, _ in got] == [(0, 0)]


def test_select_needs_per_recording():
    with pytest.raises(ValueError, match="per_recording"):
        WindowsConfig(select="loudest")
