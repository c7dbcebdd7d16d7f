"""builder.plan.windows: planning windows, cutting them, and streaming equals planning on the whole."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.config.sections import WindowsConfig
from builder.plan.windows import Window, WindowCutter, cut, plan_windows, too_short

SR = 100  # 1 s = 100 samples keeps the expected plans readable


def spans(windows: list[Window]) -> list[tuple[int, int]]:
    """(start_sample, valid_samples) of each window."""
    return [(w.start_sample, w.valid_samples) for w in windows]


@pytest.mark.parametrize(
    "total, options, expected",
    [
        # exact multiples: no partial window
        (300, {}, [(0, 100), (100, 100), (200, 100)]),
        # a partial last window is kept, zero-padded
        (350, {}, [(0, 100), (100, 100), (200, 100), (300, 50)]),
        # ... when it holds at least min_last seconds
        (350, {"min_last": 0.5}, [(0, 100), (100, 100), (200, 100), (300, 50)]),
        (350, {"min_last": 0.6}, [(0, 100), (100, 100), (200, 100)]),
        (350, {"last": "drop"}, [(0, 100), (100, 100), (200, 100)]),
        # hop < duration: overlapping windows; one partial window covers the rest
        (250, {"hop": 0.5}, [(0, 100), (50, 100), (100, 100), (150, 100)]),
        (260, {"hop": 0.5}, [(0, 100), (50, 100), (100, 100), (150, 100), (200, 60)]),
        # hop > duration: gaps; audio that falls in the last gap gives no window
        (500, {"hop": 2.0}, [(0, 100), (200, 100), (400, 100)]),
        (550, {"hop": 2.0}, [(0, 100), (200, 100), (400, 100)]),
        (650, {"hop": 2.0}, [(0, 100), (200, 100), (400, 100), (600, 50)]),
        # shorter than one window
        (40, {}, [(0, 40)]),
        (40, {"last": "drop"}, []),
        (40, {"min_last": 0.5}, []),
        # min_duration skips the whole recording
        (150, {"min_duration": 2.0}, []),
        (200, {"min_duration": 2.0}, [(0, 100), (100, 100)]),
        # nothing to cut
        (0, {}, []),
    ],
)
def test_plan_windows(total, options, expected):
    windows = plan_windows(total, WindowsConfig(duration=1.0, **options), SR)
    assert spans(windows) == expected
    assert [w.index for w in windows] == list(range(len(expected)))
    assert all(w.n_samples == 100 and w.sample_rate == SR for w in windows)


def test_too_short_gives_a_reason_only_when_no_windows_come_out_for_length():
    cfg = WindowsConfig(duration=1.0, min_duration=2.0)
    assert "empty" in too_short(0, cfg, SR)
    assert "min_duration" in too_short(150, cfg, SR)
    assert too_short(200, cfg, SR) is None


def test_window_times_in_seconds():
    w = plan_windows(350, WindowsConfig(duration=1.0), SR)[-1]
    assert (w.start, w.end) == (3.0, 4.0)  # the nominal end of a padded window


def test_cut_pads_the_last_window_with_zeros():
    samples = np.arange(1, 351, dtype=np.float32)
    last = plan_windows(350, WindowsConfig(duration=1.0), SR)[-1]
    out = cut(samples, last)
    assert out.shape == (100,) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:50], samples[300:])
    assert not out[50:].any()


def test_cut_from_a_buffer_that_starts_later():
    samples = np.arange(1000, dtype=np.float32)
    w = plan_windows(1000, WindowsConfig(duration=1.0), SR)[3]
    np.testing.assert_array_equal(cut(samples[250:], w, offset=250), samples[300:400])


# --------------------------------------------------------------------------- properties

@st.composite
def window_plans(draw, min_duration: bool = True):
    """A windows config, a sample rate and a recording length giving at most a few hundred windows."""
    sr = draw(st.sampled_from([8, 100, 1000, 8000]))
    duration = draw(st.floats(0.05, 1.0))
    hop = draw(st.none() | st.floats(0.05, 1.5))
    cfg = WindowsConfig(
        duration=duration,
        hop=hop,
        last=draw(st.sampled_from(["pad", "drop"])),
        min_last=draw(st.floats(0, duration)),
        min_duration=draw(st.floats(0, 3.0)) if min_duration and draw(st.booleans()) else 0.0,
    )
    total = draw(st.integers(0, int(12 * sr)))
    return cfg, sr, total


@given(window_plans())
@settings(max_examples=200, deadline=None)
def test_plan_properties(plan):
    cfg, sr, total = plan
    windows = plan_windows(total, cfg, sr)
    n, hop = max(1, round(cfg.duration * sr)), max(1, round(cfg.hop * sr))
    assert [w.index for w in windows] == list(range(len(windows)))
    assert all(w.n_samples == n for w in windows)
    assert [w.start_sample for w in windows] == [i * hop for i in range(len(windows))]
    assert all(0 < w.valid_samples <= w.n_samples for w in windows)
    assert all(w.valid_samples == n for w in windows[:-1])  # only the last may be partial
    assert all(w.start_sample < total for w in windows)
    assert all(w.start_sample + w.valid_samples <= total for w in windows)
    if windows and windows[-1].valid_samples < n:
        assert cfg.last == "pad" and windows[-1].valid_samples >= round(cfg.min_last * sr)
    if too_short(total, cfg, sr):
        assert windows == []


@given(duration=st.floats(0.001, 10.0), sr=st.integers(1, 96000))
@settings(max_examples=100, deadline=None)
def test_window_length_is_the_duration_rounded_to_samples(duration, sr):
    windows = plan_windows(int(duration * sr) + 1, WindowsConfig(duration=duration), sr)
    assert windows and windows[0].n_samples == max(1, round(duration * sr))


def stream(cfg: WindowsConfig, sr: int, samples: np.ndarray, blocks: list[int]) -> list[tuple[Window, np.ndarray]]:
    """Feed ``samples`` to a WindowCutter in blocks of the given sizes (cycled), then finish."""
    cutter, out, pos, i = WindowCutter(cfg, sr), [], 0, 0
    n = cutter.n
    while pos < len(samples):
        size = blocks[i % len(blocks)]
        out += list(cutter.feed(samples[pos : pos + size]))
        pos, i = pos + size, i + 1
        if cfg.min_duration == 0:
            assert len(cutter.buffer) < n  # holds less than one window between blocks
    return out + list(cutter.finish())


@given(window_plans(), st.lists(st.integers(1, 3000), min_size=1, max_size=8))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_streaming_equals_planning_on_the_whole(plan, blocks):
    cfg, sr, total = plan
    samples = np.random.default_rng(total).standard_normal(total).astype(np.float32)
    expected = [(w, cut(samples, w)) for w in plan_windows(total, cfg, sr)]
    got = stream(cfg, sr, samples, blocks)
    assert [w for w, _ in got] == [w for w, _ in expected]
    for (_, a), (_, b) in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_streaming_skips_a_recording_shorter_than_min_duration():
    # plan_windows gives nothing for a 1.5 s recording when min_duration is 2 s; the cutter
    # cannot know the total until the end, so it must not hand out windows before it does.
    cfg = WindowsConfig(duration=1.0, min_duration=2.0)
    samples = np.ones(150, np.float32)
    assert plan_windows(150, cfg, SR) == []
    assert stream(cfg, SR, samples, [50]) == []


def test_streaming_with_one_sample_blocks_and_gaps():
    cfg = WindowsConfig(duration=0.3, hop=0.5)
    samples = np.arange(260, dtype=np.float32)
    got = stream(cfg, SR, samples, [1])
    assert spans([w for w, _ in got]) == [(0, 30), (50, 30), (100, 30), (150, 30), (200, 30), (250, 10)]
    np.testing.assert_array_equal(got[-1][1], np.r_[samples[250:], np.zeros(20, np.float32)])
