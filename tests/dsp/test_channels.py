"""builder.dsp.channels: PCEN and deltas against librosa 0.11 on real recordings, and their properties.

Real recordings come from ../shared/corpus where it exists and from the bundled
examples/demo-audio always, so the parity tests run without ../shared. Tolerances are the issue's:
PCEN within 1% on >= 99.9% of values, delta channels within 2 grey levels on >= 99% of pixels.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import librosa
import numpy as np
import pytest
from PIL import Image

from builder.dsp.channels import channel_pixels, delta, pcen, pcen_b, stack_channels
from builder.config.sections import Config, ImageConfig, SpectrogramConfig
from builder.errors import ConfigError
from builder.config.loading import parse_config
from builder.dsp.spectrogram import Spectrogrammer

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-audio"
CORPUS = REPO.parent / "shared" / "corpus" / "classes"
RATE = 32000
MEL = dict(n_fft=2048, hop_length=512, n_mels=128, f_min=50.0, f_max=14000.0)
# A bird song, a tabla stroke and a drum loop; corpus birds too where ../shared is present.
DEMO_FILES = ["tabla/tabla_tun1.ogg", "drum_loop/loop_amen.ogg", "game_sfx/arcade_upgrade1.wav"]
CORPUS_FILES = ["great_tit", "bengalese_finch", "storm_petrel"]


def recordings() -> list[Path]:
    found = [DEMO / f for f in DEMO_FILES]
    for label in CORPUS_FILES:
        folder = CORPUS / label
        if folder.is_dir():
            found.append(sorted(p for p in folder.iterdir() if p.is_file())[0])
    return found


@lru_cache(maxsize=16)
def waveform(path: Path, seconds: float = 5.0) -> np.ndarray:
    """The first seconds of a recording, mono at 32 kHz (soxr, as builds resample), zero-padded to
    that length as a build pads a short window."""
    y, _ = librosa.load(path, sr=RATE, mono=True, duration=seconds)
    return np.pad(y, (0, int(seconds * RATE) - len(y))).astype(np.float32)  # cached: tests only read it


def linear(y: np.ndarray, **cfg) -> np.ndarray:
    return Spectrogrammer(SpectrogramConfig(**{**MEL, **cfg, "scale": "linear"}), RATE)(y)[0]


def fraction_within(ours: np.ndarray, ref: np.ndarray, rtol: float) -> float:
    return float(np.mean(np.abs(ours - ref) <= rtol * np.abs(ref)))


def seed_uint8(values: np.ndarray) -> np.ndarray:
    """Notebook normalisation of one ``(bins, frames)`` array: per-window min-max → astype(uint8)."""
    v = values.astype(np.float32)
    span = v.max() - v.min()
    return ((v - v.min()) / (span if span > 0 else 1) * 255).astype(np.uint8)[::-1]


# --------------------------------------------------------------------------- PCEN


@pytest.mark.parametrize("power", [2.0, 1.0])
@pytest.mark.parametrize("path", recordings(), ids=lambda p: p.name)
def test_pcen_scale_equals_librosa_pcen_of_the_configured_spectrogram(path, power):
    y = waveform(path)
    S = linear(y, power=power)
    ours = Spectrogrammer(SpectrogramConfig(**MEL, power=power, scale="pcen"), RATE)(y)[0]
    ref = librosa.pcen(S * 2.0**31, sr=RATE, hop_length=512, gain=0.98, bias=2.0, power=0.5,
                       time_constant=0.4, eps=1e-6)
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    assert fraction_within(ours, ref, 0.01) >= 0.999


@pytest.mark.parametrize("path", recordings()[:2], ids=lambda p: p.name)
def test_pcen_end_to_end_matches_librosa_mel_then_pcen(path):
    """librosa computes the mel spectrogram too (its constant padding, htk, no norm). Values of S
    more than 100 dB under the window's peak are float32 FFT round-off in both libraries
    (a resampled recording has no content above its old Nyquist) and are left out."""
    y = waveform(path)
    ours = Spectrogrammer(SpectrogramConfig(**MEL, power=1.0, scale="pcen", pad_mode="constant"), RATE)(y)[0]
    M = librosa.feature.melspectrogram(y=y, sr=RATE, n_fft=2048, hop_length=512, n_mels=128, fmin=50.0,
                                       fmax=14000.0, htk=True, norm=None, power=1.0)
    ref = librosa.pcen(M * 2.0**31, sr=RATE, hop_length=512)
    keep = M > M.max() * 1e-5
    assert keep.sum() > 5000
    assert fraction_within(ours[keep], ref[keep], 0.01) >= 0.999


def test_pcen_settings_reach_librosa():
    y = waveform(DEMO / DEMO_FILES[0])
    S = linear(y)
    settings = dict(gain=0.8, bias=10.0, power=0.25, time_constant=0.06, eps=1e-3, input_scale=1e4)
    cfg = SpectrogramConfig(**MEL, scale="pcen", pcen=settings)
    ours = Spectrogrammer(cfg, RATE)(y)[0]
    scale = settings.pop("input_scale")
    ref = librosa.pcen(S * scale, sr=RATE, hop_length=512, **settings)
    assert fraction_within(ours, ref, 0.01) >= 0.999


def test_pcen_smoothing_coefficient_is_librosas():
    # librosa.pcen(b=None): b = (sqrt(1 + 4 T²) - 1) / (2 T²), T = time_constant * sr / hop
    T = 0.4 * 32000 / 512
    assert pcen_b(32000, 512, 0.4) == pytest.approx((np.sqrt(1 + 4 * T**2) - 1) / (2 * T**2), rel=1e-15)


def test_pcen_of_a_constant_input_is_its_steady_state():
    """A constant c filtered from librosa's start state: the smoother tends to c, so PCEN tends to
    bias^p * ((1 + c / (bias * (eps + c)^gain))^p - 1)."""
    c, gain, bias, power, eps = 3.0, 0.98, 2.0, 0.5, 1e-6
    out = pcen(np.full((1, 2, 4000), c / 2.0**31, dtype=np.float32), RATE, 512)
    steady = bias**power * ((1 + c / (bias * (eps + c) ** gain)) ** power - 1)
    assert out[0, :, -1] == pytest.approx(steady, rel=1e-5)


@pytest.mark.parametrize("scale", ["pcen"])
def test_pcen_batch_equals_single(scale):
    ys = [waveform(DEMO / f, 1.0) for f in DEMO_FILES]
    spec = Spectrogrammer(SpectrogramConfig(**MEL, scale=scale), RATE)
    batch = spec(np.stack(ys))
    for i, y in enumerate(ys):
        assert np.array_equal(batch[i], spec(y)[0])


# --------------------------------------------------------------------------- deltas


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("path", recordings(), ids=lambda p: p.name)
def test_delta_channels_within_two_grey_levels_of_librosa(path, order):
    """Our dB mel → image channel vs librosa's own dB mel → librosa.feature.delta → min-max uint8."""
    y = waveform(path)
    scaled = Spectrogrammer(SpectrogramConfig(**MEL, pad_mode="constant"), RATE)(y)
    names = ("spectrogram", "delta", "delta2")
    rgb = channel_pixels(stack_channels(scaled, names), ImageConfig(channels=names))[0]
    M = librosa.feature.melspectrogram(y=y, sr=RATE, n_fft=2048, hop_length=512, n_mels=128, fmin=50.0,
                                       fmax=14000.0, htk=True, norm=None)
    db = librosa.power_to_db(M, ref=1.0, amin=1e-10, top_db=80.0)
    ref = seed_uint8(librosa.feature.delta(db, width=9, order=order, axis=-1))
    off = np.abs(rgb[..., order].astype(int) - ref.astype(int))
    assert np.mean(off <= 2) >= 0.99


@pytest.mark.parametrize("width", [3, 9, 15])
@pytest.mark.parametrize("order", [1, 2])
def test_delta_equals_librosa_exactly_on_the_same_values(width, order):
    values = linear(waveform(DEMO / DEMO_FILES[1], 2.0))[None]
    ref = librosa.feature.delta(values[0], width=width, order=order, axis=-1)
    assert np.allclose(delta(values, width, order)[0], ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())


def test_delta_of_a_ramp_is_its_slope_and_delta2_of_a_parabola_its_curvature():
    t = np.arange(50, dtype=np.float32)
    ramp = np.broadcast_to(3.0 * t - 7, (2, 4, 50))
    parabola = np.broadcast_to(0.5 * t**2, (2, 4, 50))
    assert np.allclose(delta(ramp, 9, 1), 3.0, atol=1e-4)  # the edges too: mode 'interp' fits the polynomial
    assert np.allclose(delta(parabola, 9, 2), 1.0, atol=1e-3)


def test_tensors_give_the_numpy_answers_bit_for_bit(torch):
    """The GPU path hands tensors in: they are filtered on the host by the same code."""
    S = linear(waveform(DEMO / DEMO_FILES[0], 1.0))[None]
    t = torch.from_numpy(S.copy())
    for fn in (lambda x: pcen(x, RATE, 512), lambda x: delta(x, 9, 1), lambda x: delta(x, 9, 2)):
        out = fn(t)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
        assert np.array_equal(out.numpy(), fn(S))


# --------------------------------------------------------------------------- channels → pixels


def test_one_channel_is_the_scaled_spectrogram_unchanged(torch):
    scaled = torch.randn(3, 8, 20)
    stack = stack_channels(scaled, ("spectrogram",))
    assert stack.shape == (3, 1, 8, 20) and torch.equal(stack[:, 0], scaled)


def test_channel_one_of_an_rgb_image_is_the_grey_image():
    from builder.dsp.render import render, to_uint8

    scaled = Spectrogrammer(SpectrogramConfig(**MEL), RATE)(np.stack([waveform(DEMO / f, 1.0) for f in DEMO_FILES]))
    for image in (ImageConfig(), ImageConfig(size=(224, 224)), ImageConfig(origin="upper")):
        grey = to_uint8(scaled, image)
        names = ("spectrogram", "delta", "delta2")
        rgb_cfg = image.model_copy(update={"channels": names})
        rgb = channel_pixels(stack_channels(scaled, names), rgb_cfg)
        assert rgb.shape == grey.shape + (3,)
        for i in range(len(grey)):
            g = np.asarray(Image.open(io.BytesIO(render(grey[i], image))))
            c = np.asarray(Image.open(io.BytesIO(render(rgb[i], rgb_cfg))))
            assert c.shape == g.shape + (3,) and np.array_equal(c[..., 0], g)


def test_two_channels_leave_blue_empty_and_more_than_three_show_the_first_three(torch):
    scaled = torch.randn(2, 8, 30)
    two = channel_pixels(stack_channels(scaled, ("spectrogram", "delta")), ImageConfig(channels=("spectrogram", "delta")))
    assert two.shape == (2, 8, 30, 3) and not two[..., 2].any() and two[..., 1].any()
    four = ("spectrogram", "delta", "delta2", "pcen")
    stack = stack_channels(scaled, four, pcen_of=lambda: scaled.abs())
    assert stack.shape == (2, 4, 8, 30)
    assert np.array_equal(channel_pixels(stack, ImageConfig(channels=four)),
                          channel_pixels(stack[:, :3], ImageConfig(channels=four[:3])))


# --------------------------------------------------------------------------- config


def config(**sections) -> Config:
    base = {"name": "t", "source": {"path": "audio"}, "audio": {"sample_rate": RATE}}
    return parse_config({**base, **sections}, "x.yaml", REPO)


@pytest.mark.parametrize("sections, key", [
    (dict(image={"channels": []}), "image.channels"),
    (dict(image={"channels": ["spectrogram", "spectrogram"]}), "image.channels"),
    (dict(image={"channels": ["spectrogram", "sobel"]}), "image.channels.1"),
    (dict(image={"channels": ["spectrogram", "delta", "delta2", "pcen"]}), "image.channels"),
    (dict(image={"channels": ["spectrogram", "pcen"]}, spectrogram={"kind": "mfcc"}), "image.channels"),
    (dict(image={"channels": ["spectrogram", "pcen"]}, spectrogram={"scale": "pcen"}), "image.channels"),
    (dict(image={"channels": ["spectrogram", "delta"], "colormap": "magma"}), "image.colormap"),
    (dict(image={"channels": ["spectrogram", "delta"], "normalize": [-80, 0]}), "image.normalize"),
    (dict(image={"channels": ["spectrogram", "delta"], "style": "figure"}), "image.style"),
    (dict(image={"delta_width": 8}), "image.delta_width"),
    (dict(image={"delta_width": 1}), "image.delta_width"),
    (dict(image={"channels": ["spectrogram", "delta"], "delta_width": 401}), "image.delta_width"),
    (dict(spectrogram={"kind": "mfcc", "scale": "pcen"}), "spectrogram.scale"),
    (dict(spectrogram={"pcen": {"time_constant": 0}}), "spectrogram.pcen.time_constant"),
    (dict(spectrogram={"pcen": {"gain": -1}}), "spectrogram.pcen.gain"),
    (dict(spectrogram={"pcen": {"eps": 0}}), "spectrogram.pcen.eps"),
    (dict(spectrogram={"pcen": {"alpha": 1}}), "spectrogram.pcen.alpha"),
])
def test_bad_channel_settings_name_their_key(sections, key):
    with pytest.raises(ConfigError) as err:
        config(**sections)
    assert err.value.key == key


def test_defaults_are_librosas_and_four_channels_fit_in_arrays():
    cfg = config(image={"channels": ["spectrogram", "delta", "delta2", "pcen"]},
                 output={"include": {"arrays": True}})
    p = cfg.spectrogram.pcen
    assert (p.gain, p.bias, p.power, p.time_constant, p.eps, p.input_scale) == (0.98, 2.0, 0.5, 0.4, 1e-6, 2.0**31)
    assert config().image.channels == ("spectrogram",) and config().image.delta_width == 9
