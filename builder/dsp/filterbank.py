"""Mel filterbanks, windows and the DCT matrix, in numpy float64 (cast once by the caller).

Definitions follow torchaudio.functional (``melscale_fbanks``, ``create_dct``) and librosa
(``filters.mel``); they agree where their parameters agree (htk/slaney scale, slaney norm).
Kept free of torch so config validation can check geometry without importing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..config.sections import SpectrogramConfig


def hz_to_mel(freq: np.ndarray | float, mel_scale: str) -> np.ndarray:
    freq = np.asarray(freq, dtype=np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + freq / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    linear = freq / f_sp
    with np.errstate(divide="ignore"):
        log = min_log_mel + np.log(np.maximum(freq, 1e-30) / min_log_hz) / logstep
    return np.where(freq >= min_log_hz, log, linear)


def mel_to_hz(mels: np.ndarray, mel_scale: str) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)


def mel_filterbank(
    n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int, norm: str | None, mel_scale: str
) -> np.ndarray:
    """Triangular filters, shape ``(n_freqs, n_mels)`` like torchaudio's ``melscale_fbanks``."""
    all_freqs = np.linspace(0.0, sample_rate / 2, n_freqs)
    m_pts = np.linspace(hz_to_mel(f_min, mel_scale), hz_to_mel(f_max, mel_scale), n_mels + 2)
    f_pts = mel_to_hz(m_pts, mel_scale)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    if norm == "slaney":
        fb *= 2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels])
    return fb


def config_filterbank(cfg: SpectrogramConfig, sample_rate: int, f_max: float | None = None) -> np.ndarray:
    f_max = f_max if f_max is not None else (cfg.f_max if cfg.f_max is not None else sample_rate / 2)
    # n_fft // 2 + 1 here, not the config's ``n_freqs``: dsp calls nothing on the config above it
    return mel_filterbank(cfg.n_fft // 2 + 1, cfg.f_min, f_max, cfg.n_mels, sample_rate, cfg.norm, cfg.mel_scale)


def empty_mel_filters(cfg: SpectrogramConfig, sample_rate: int, f_max: float) -> int:
    """How many mel filters would catch no FFT bin at all."""
    fb = config_filterbank(cfg, sample_rate, f_max)
    return int((fb.max(axis=0) <= 0.0).sum())


def create_dct(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II matrix, shape ``(n_mels, n_mfcc)`` (torchaudio ``create_dct(norm='ortho')``)."""
    n = np.arange(n_mels, dtype=np.float64)
    k = np.arange(n_mfcc, dtype=np.float64)[:, None]
    dct = np.cos(np.pi / n_mels * (n + 0.5) * k)
    dct[0] *= 1.0 / np.sqrt(2.0)
    dct *= np.sqrt(2.0 / n_mels)
    return dct.T


def window(name: str, length: int) -> np.ndarray:
    """Periodic analysis windows, as torch.hann_window(periodic=True) and librosa's fftbins=True."""
    n = np.arange(length, dtype=np.float64)
    phase = 2.0 * np.pi * n / length
    if name == "hann":
        return 0.5 - 0.5 * np.cos(phase)
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    if name == "blackman":
        return 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2 * phase)
    return np.ones(length)
