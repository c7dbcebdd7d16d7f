"""builder.dsp.filterbank: mel filters, DCT and windows against librosa, scipy and torch."""

from __future__ import annotations

import numpy as np
import pytest

from builder.config.sections import SpectrogramConfig
from builder.dsp.filterbank import config_filterbank, create_dct, empty_mel_filters, hz_to_mel, mel_filterbank, mel_to_hz, window

# (sample_rate, n_fft, n_mels, f_min, f_max): the notebook defaults plus narrow-band and telephone cases.
GEOMETRIES = [
    (22050, 2048, 128, 0.0, 11025.0),
    (32000, 2048, 128, 50.0, 14000.0),
    (16000, 512, 40, 20.0, 8000.0),
    (8000, 256, 20, 300.0, 3400.0),
]


@pytest.mark.parametrize("mel_scale", ["htk", "slaney"])
@pytest.mark.parametrize("norm", [None, "slaney"])
@pytest.mark.parametrize("sample_rate, n_fft, n_mels, f_min, f_max", GEOMETRIES)
def test_mel_filterbank_matches_librosa(sample_rate, n_fft, n_mels, f_min, f_max, norm, mel_scale):
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(n_fft // 2 + 1, f_min, f_max, n_mels, sample_rate, norm, mel_scale)
    theirs = librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max,
        htk=mel_scale == "htk", norm=norm, dtype=np.float64,
    )
    assert ours.shape == (n_fft // 2 + 1, n_mels)
    np.testing.assert_allclose(ours.T, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mel_scale", ["htk", "slaney"])
def test_mel_scale_matches_librosa_and_round_trips(mel_scale):
    librosa = pytest.importorskip("librosa")
    freqs = np.array([0.0, 20.0, 500.0, 999.9, 1000.0, 1000.1, 4000.0, 16000.0, 48000.0])
    mels = hz_to_mel(freqs, mel_scale)
    np.testing.assert_allclose(mels, librosa.hz_to_mel(freqs, htk=mel_scale == "htk"), rtol=1e-12)
    np.testing.assert_allclose(mel_to_hz(mels, mel_scale), freqs, rtol=1e-12, atol=1e-9)


def test_config_filterbank_defaults_f_max_to_nyquist():
    cfg = SpectrogramConfig(n_fft=512, n_mels=40)
    expected = mel_filterbank(257, 0.0, 8000.0, 40, 16000, None, "htk")
    np.testing.assert_array_equal(config_filterbank(cfg, 16000), expected)


@pytest.mark.parametrize(
    "n_fft, n_mels, sample_rate, expected_empty",
    [
        (2048, 128, 32000, 0),
        (1024, 128, 16000, 0),
        (512, 64, 16000, 0),
        (512, 128, 16000, 1),
        (256, 128, 16000, 14),
    ],
)
def test_empty_mel_filters_counts_filters_without_any_fft_bin(n_fft, n_mels, sample_rate, expected_empty):
    cfg = SpectrogramConfig(n_fft=n_fft, n_mels=n_mels)
    assert empty_mel_filters(cfg, sample_rate, sample_rate / 2) == expected_empty


def test_empty_mel_filters_agrees_with_the_filterbank_itself():
    cfg = SpectrogramConfig(n_fft=256, n_mels=128)
    fb = config_filterbank(cfg, 16000)
    # The low filters are narrower than one FFT bin spacing (62.5 Hz) and fall between bins.
    assert empty_mel_filters(cfg, 16000, 8000.0) == int((fb.max(axis=0) == 0).sum()) > 0


@pytest.mark.parametrize("n_mfcc, n_mels", [(13, 128), (20, 40), (1, 8), (40, 40)])
def test_dct_is_scipy_orthonormal_dct_ii(n_mfcc, n_mels):
    scipy_fft = pytest.importorskip("scipy.fft")
    x = np.random.default_rng(0).standard_normal((5, n_mels))
    dct = create_dct(n_mfcc, n_mels)
    assert dct.shape == (n_mels, n_mfcc)
    np.testing.assert_allclose(x @ dct, scipy_fft.dct(x, type=2, norm="ortho", axis=-1)[:, :n_mfcc], atol=1e-12)


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman"])
@pytest.mark.parametrize("length", [400, 1024, 2048, 7])
def test_windows_are_periodic_like_torch(name, length, torch):
    expected = getattr(torch, f"{name}_window")(length, periodic=True, dtype=torch.float64).numpy()
    np.testing.assert_allclose(window(name, length), expected, atol=1e-12)


def test_rectangular_window_is_ones():
    np.testing.assert_array_equal(window("rectangular", 16), np.ones(16))
