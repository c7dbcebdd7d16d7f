"""builder.dsp.spectrogram: parity with torchaudio/librosa reference arrays, and properties.

The reference arrays (tests/fixtures/reference/README.md) were computed by torchaudio 2.11 and
librosa 0.11 from the first seconds of a CC0 tabla loop. Each case below names the parameters that
reproduce them with our config; where the two libraries differ (padding, mel scale, norm, ref,
amin), the case says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from builder.config.sections import ImageConfig, SpectrogramConfig
from builder.dsp.render import to_image, to_uint8
from builder.dsp.spectrogram import Spectrogrammer

REFERENCE = Path(__file__).parents[1] / "fixtures" / "reference"
EPS32 = float(np.finfo(np.float32).eps)
DB_PER_NEPER = 20 / np.log(10)  # d(20·log10 A) / (dA / A)

MEL_32K = dict(n_fft=2048, hop_length=512, n_mels=128, f_min=50.0, f_max=14000.0)
LIBROSA_MEL = dict(mel_scale="slaney", norm="slaney", pad_mode="constant")  # librosa's defaults

# (file, array, sample rate, config, comparison)
CASES = [
    # T.Spectrogram() → T.AmplitudeToDB(): power dB, amin 1e-10, no top_db.
    ("seed002_torchaudio_spectrogram_db.npz", "db", 32000,
     dict(kind="stft", n_fft=400, hop_length=200, top_db=None), "db"),
    ("torchaudio_mel128_db.npz", "db", 32000, dict(MEL_32K), "db"),
    ("torchaudio_mel128_db.npz", "mel_power", 32000, dict(MEL_32K, scale="linear"), "relative"),
    # librosa.power_to_db(ref=np.max, top_db=80).
    ("librosa_mel128_db.npz", "db", 32000, dict(MEL_32K, **LIBROSA_MEL, ref="max"), "db"),
    ("librosa_mel128_db.npz", "mel_power", 32000, dict(MEL_32K, **LIBROSA_MEL, scale="linear"), "relative"),
    # librosa.amplitude_to_db(|stft|, ref=np.max): magnitude (power 1) dB, amin 1e-5, top_db 80.
    ("seed000_librosa_stft_db.npz", "db", 44100,
     dict(kind="stft", power=1.0, amin=1e-5, ref="max", pad_mode="constant"), "db"),
    ("seed001_mfcc13.npz", "mfcc_torchaudio", 22050, dict(kind="mfcc", n_mfcc=13), "mfcc"),
    ("seed001_mfcc13.npz", "mfcc_librosa", 22050, dict(kind="mfcc", n_mfcc=13, **LIBROSA_MEL), "mfcc"),
    # np.log(|librosa.stft(y)| + 1e-4).
    ("seed003_log_stft.npz", "log_stft", 22050,
     dict(kind="stft", power=1.0, scale="log", pad_mode="constant"), "log"),
]

# Arrays that are not spectrogram outputs, or are compared by the image tests below.
NOT_SPECTROGRAMS = {"waveform", "params", "uint8", "image512"}


def load(name: str) -> tuple[dict, dict]:
    d = np.load(REFERENCE / name)
    return {k: d[k] for k in d.files}, json.loads(str(d["params"]))


def compute(waveform: np.ndarray, sample_rate: int, **cfg) -> np.ndarray:
    return Spectrogrammer(SpectrogramConfig(**cfg), sample_rate)(waveform)[0]


def assert_db_close(ours: np.ndarray, ref: np.ndarray, atol: float = 1e-3) -> None:
    """dB arrays equal within ``atol``, plus the float32 FFT noise where the value is far below the peak.

    Two float32 FFTs (torch's and numpy's) differ by about eps32 × the largest magnitude, in
    absolute terms. A bin x dB below the peak is 10**(-x/20) of the peak magnitude, so that same
    absolute error is 10**(x/20) times larger relative to it: about 1e-6 dB at the peak, 0.01 dB
    80 dB down, 1 dB 120 dB down. Near the peak the 1e-3 dB of the README applies unchanged.
    """
    below_peak = ref.max() - ref
    fft_noise = DB_PER_NEPER * EPS32 * 10 ** (below_peak / 20)
    excess = np.abs(ours - ref) - (atol + fft_noise)
    assert excess.max() <= 0, f"worst excess {excess.max():.4g} dB at {np.unravel_index(excess.argmax(), ref.shape)}"
    near = below_peak <= 60
    assert np.abs(ours - ref)[near].max() <= atol


def test_every_reference_array_has_a_parity_case():
    covered = {(name, array) for name, array, *_ in CASES}
    present = {
        (path.name, array)
        for path in REFERENCE.glob("*.npz")
        for array in np.load(path).files
        if array not in NOT_SPECTROGRAMS
    }
    assert present and present <= covered


@pytest.mark.parametrize("name, array, sample_rate, cfg, compare", CASES, ids=[f"{c[0][:-4]}:{c[1]}" for c in CASES])
def test_reference_parity(name, array, sample_rate, cfg, compare):
    d, params = load(name)
    assert params["sample_rate"] == sample_rate
    ours, ref = compute(d["waveform"], sample_rate, **cfg), d[array]
    assert ours.shape == ref.shape
    if compare == "db":
        assert_db_close(ours, ref)
    elif compare == "relative":
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())
    elif compare == "mfcc":
        # Each coefficient sums 128 dB bands with weights up to sqrt(2/128), so the per-band
        # 1e-3 dB (more near the top_db floor) adds up to a little more.
        np.testing.assert_allclose(ours, ref, atol=2e-3)
    elif compare == "log":
        # log(|X| + eps) turns the absolute float32 FFT error (≈ eps32 × peak magnitude ≈ 1e-5
        # here) into an error of 1e-5 / (|X| + eps): up to ~0.1 where |X| is near zero and the
        # 1e-4 epsilon dominates. Where |X| >= 10 × eps the error is below 1e-3; check there
        # tightly, and everywhere against that noise model.
        eps = params["epsilon"]
        magnitude = np.exp(ref.astype(np.float64)) - eps
        peak = magnitude.max()
        solid = magnitude >= 10 * eps
        assert solid.mean() > 0.8
        np.testing.assert_allclose(ours[solid], ref[solid], atol=2e-3)
        assert (np.abs(ours - ref) <= 2e-3 + EPS32 * peak / (np.maximum(magnitude, 0) + eps)).all()
    else:  # pragma: no cover
        raise AssertionError(compare)


def notebook_uint8(db: np.ndarray) -> np.ndarray:
    """Seed 002's image step, verbatim: min-max to 0..255, truncated by astype."""
    return ((db - db.min()) / (db.max() - db.min()) * 255).astype(np.uint8)


def seed002() -> tuple[dict, np.ndarray]:
    d, _ = load("seed002_torchaudio_spectrogram_db.npz")
    return d, compute(d["waveform"], 32000, kind="stft", n_fft=400, hop_length=200, top_db=None)


def assert_pixels_close(ours: np.ndarray, ref: np.ndarray, max_fraction_off: float, solid=None) -> None:
    # Truncation turns a 1e-5 dB difference into one level where a value sits on a level boundary.
    # Only where ``solid``: far below the peak a float32 FFT's absolute error (about 1e-7 of the
    # peak magnitude, -140 dB of its power) moves a value by up to a dB, which is 2 levels over
    # seed 002's 128-dB range; how the FFT library rounds then decides (it differs by CPU).
    diff = np.abs(ours.astype(int) - ref.astype(int))
    assert diff[solid if solid is not None else ...].max() <= 1
    assert diff.max() <= 3
    assert (diff > 0).mean() < max_fraction_off


def above_fft_noise(d) -> np.ndarray:
    """Pixels of seed 002's reference within 100 dB of its peak: clear of float32 FFT noise."""
    return d["db"] >= d["db"].max() - 100


def test_seed002_uint8_from_our_db_within_one_level():
    d, db = seed002()
    assert_pixels_close(notebook_uint8(db), d["uint8"], 0.001, above_fft_noise(d))


def test_seed002_uint8_and_image_through_render(torch):
    d, db = seed002()
    # The notebook's Image.fromarray puts frequency bin 0 on the top row: origin upper.
    cfg = ImageConfig(normalize="minmax", origin="upper", size=(512, 512), resample="bicubic")
    pixels = to_uint8(db[None], cfg)[0]
    np.testing.assert_array_equal(to_uint8(torch.from_numpy(db)[None], cfg)[0], pixels)  # the GPU path's code
    assert_pixels_close(pixels, d["uint8"], 0.001, above_fft_noise(d))
    assert_pixels_close(np.asarray(to_image(pixels, cfg)), d["image512"], 0.005)
    lower = to_uint8(db[None], cfg.model_copy(update={"origin": "lower"}))[0]
    assert_pixels_close(lower[::-1], d["uint8"], 0.001, above_fft_noise(d))


# --------------------------------------------------------------------------- properties

BATCH_CONFIGS = {
    "stft-db": dict(kind="stft"),
    "stft-db-ref-max": dict(kind="stft", ref="max", top_db=60.0),
    "stft-log": dict(kind="stft", scale="log"),
    "mel-db": dict(kind="mel"),
    "mel-db-ref-max": dict(kind="mel", ref="max"),
    "mel-linear": dict(kind="mel", scale="linear", power=1.0),
    "mfcc": dict(kind="mfcc", n_mfcc=20),
}


@pytest.mark.parametrize("cfg", BATCH_CONFIGS.values(), ids=BATCH_CONFIGS.keys())
def test_batch_equals_single(cfg):
    sr, n = 16000, 8000
    t = np.arange(n) / sr
    rng = np.random.default_rng(1)
    # Very different levels, so a batch-wide ref or top_db would change every window but one.
    windows = np.stack([
        rng.standard_normal(n),
        0.01 * np.sin(2 * np.pi * 440 * t),
        30 * np.sin(2 * np.pi * (200 + 3000 * t) * t),
    ]).astype(np.float32)
    spec = Spectrogrammer(SpectrogramConfig(n_fft=512, hop_length=128, n_mels=40, **cfg), sr)
    batch = spec(windows)
    assert batch.shape == (3, spec.n_bins, spec.n_frames(n))
    for i, w in enumerate(windows):
        np.testing.assert_allclose(batch[i], spec(w)[0], rtol=1e-6, atol=1e-4)


# The first and last frames reach into the reflect padding, which folds the sine back on itself
# and smears its peak into the neighbouring bin.
INTERIOR = slice(2, -2)


def sine(freq: float, sr: int, seconds: float = 1.0) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr).astype(np.float32)


@pytest.mark.parametrize("window", ["hann", "hamming", "blackman"])
def test_1khz_sine_peaks_in_its_stft_bin(window):
    sr, n_fft = 16000, 512  # bin spacing 31.25 Hz: 1 kHz is exactly bin 32
    spec = compute(sine(1000, sr), sr, kind="stft", n_fft=n_fft, hop_length=128, window=window, scale="linear")
    assert spec.shape == (n_fft // 2 + 1, sr // 128 + 1)
    assert (spec[:, INTERIOR].argmax(axis=0) == 32).all()


def htk_band_edges(f_min: float, f_max: float, n_mels: int) -> np.ndarray:
    """Independent of builder.dsp.filterbank: HTK mel points, band k spans points k..k+2."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    return 700 * (10 ** (np.linspace(mel(f_min), mel(f_max), n_mels + 2) / 2595) - 1)


@pytest.mark.parametrize("n_mels, f_min, f_max", [(20, 0, 8000), (40, 50, 7000), (64, 300, 3400), (128, 0, 8000)])
def test_1khz_sine_peaks_in_the_mel_band_centred_nearest_1khz(n_mels, f_min, f_max):
    sr = 16000
    mel = compute(sine(1000, sr), sr, n_fft=512, hop_length=128, n_mels=n_mels, f_min=f_min, f_max=f_max)
    edges = htk_band_edges(f_min, f_max, n_mels)
    expected = int(np.abs(edges[1:-1] - 1000).argmin())
    assert (mel[:, INTERIOR].argmax(axis=0) == expected).all()
    assert edges[expected] < 1000 < edges[expected + 2]


def test_ref_max_puts_each_window_peak_at_0_db_and_top_db_clips_below_it():
    spec = Spectrogrammer(SpectrogramConfig(n_fft=256, hop_length=64, ref="max", top_db=50.0), 8000)
    x = np.stack([sine(440, 8000), 1e-3 * sine(1000, 8000)])
    out = spec(x)
    np.testing.assert_allclose(out.max(axis=(1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.min(axis=(1, 2)), -50.0, atol=1e-4)


def test_frames_follow_centered_and_uncentered_framing():
    n = 16000
    for center, expected in [(True, n // 160 + 1), (False, (n - 400) // 160 + 1)]:
        spec = Spectrogrammer(SpectrogramConfig(kind="stft", n_fft=400, hop_length=160, center=center), 16000)
        assert spec(np.zeros(n, np.float32)).shape == (1, 201, expected) and spec.n_frames(n) == expected


def test_silence_gives_the_floor_not_nan():
    for cfg in [dict(kind="stft"), dict(kind="mel"), dict(kind="mfcc"), dict(kind="mel", ref="max"), dict(scale="log")]:
        out = compute(np.zeros(4000, np.float32), 16000, n_fft=512, hop_length=128, n_mels=40, **cfg)
        assert np.isfinite(out).all(), cfg


@pytest.mark.parametrize("pad_mode", ["reflect", "constant", "replicate", "circular"])
@pytest.mark.parametrize("n_fft, win_length, hop", [(2048, 2048, 512), (512, 400, 160), (400, 400, 200)])
def test_numpy_stft_equals_torch_stft(pad_mode, n_fft, win_length, hop, torch):
    """The CPU path's framing, padding and window placement are torch.stft's: the same values
    within float32 FFT noise (torch's FFT is MKL's, ours scipy's pocketfft)."""
    from builder.dsp.spectrogram import padded_window, stft_numpy

    x = torch.randn(2, 8000)
    cfg = SpectrogramConfig(kind="stft", n_fft=n_fft, win_length=win_length, hop_length=hop)
    win = padded_window(cfg)
    torch_win = torch.hann_window(win_length, dtype=torch.float64).float()  # as filterbank.window
    expected = torch.stft(x, n_fft, hop, win_length, torch_win, center=True, pad_mode=pad_mode,
                          return_complex=True).numpy()
    ours = stft_numpy(x.numpy(), n_fft, hop, win, True, pad_mode).transpose(0, 2, 1)
    assert ours.dtype == np.complex64 and ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_centre_pad_reflects_as_np_pad():
    from builder.dsp.spectrogram import centre_pad

    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 1025, 1026, 9000):
        for pad in (1, 2, 4, 1024):
            x = rng.standard_normal((2, n)).astype(np.float32)
            if n > pad:  # shorter ones take np.pad's path
                np.testing.assert_array_equal(centre_pad(x, pad, "reflect"), np.pad(x, ((0, 0), (pad, pad)), mode="reflect"))


def test_the_fft_is_scipy_rfft_bit_for_bit_without_importing_scipy_fft():
    """The CPU FFT loads scipy.fft's pocketfft extension by itself (0.02 s instead of 0.2 s of
    imports a build): it must give exactly scipy.fft.rfft's bits, and not import scipy.fft."""
    import subprocess
    import sys

    import scipy.fft

    from builder.dsp.spectrogram import rfft_last_axis

    frames = np.random.default_rng(0).standard_normal((3, 313, 2048)).astype(np.float32)
    ours = rfft_last_axis()(frames.copy())
    theirs = scipy.fft.rfft(frames, axis=-1, workers=1)
    assert ours.dtype == theirs.dtype == np.complex64
    assert np.array_equal(ours.view(np.uint32), theirs.view(np.uint32))
    code = ("import sys; from builder.dsp.spectrogram import rfft_last_axis, _pocketfft_r2c; rfft_last_axis(); "
            "assert _pocketfft_r2c() is not None; print('scipy.fft' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
