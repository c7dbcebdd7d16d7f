"""Spectrograms on torch: STFT → power → (mel) → scale → (DCT), torchaudio's definitions.

:class:`Spectrogrammer` resolves defaults and caches the window, filterbank and DCT once per
(config, sample rate), like torchaudio's transform modules; the math is in the functions.
Input is a batch of equal-length windows ``(batch, samples)``; output ``(batch, bins, frames)``
float32, where bins is n_fft//2+1 (stft), n_mels (mel) or n_mfcc (mfcc). Every window is scaled
on its own (``ref: max`` and ``top_db`` are per window), so a batch equals its items one by one.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .config import SpectrogramConfig
from .filterbank import config_filterbank, create_dct, window


def stft(x: torch.Tensor, n_fft: int, hop_length: int, win: torch.Tensor, center: bool, pad_mode: str) -> torch.Tensor:
    """Complex one-sided STFT, shape ``(batch, n_fft//2+1, frames)``."""
    return torch.stft(
        x, n_fft=n_fft, hop_length=hop_length, win_length=win.shape[-1], window=win,
        center=center, pad_mode=pad_mode, normalized=False, onesided=True, return_complex=True,
    )


def power_of(spec: torch.Tensor, power: float) -> torch.Tensor:
    """``|spec|**power``. For power 2, re² + im² is 4x cheaper than torchaudio's abs().pow(2)
    and differs from it by about one float32 ulp (< 1e-4 dB, see the parity tests)."""
    if power == 2.0:
        ri = torch.view_as_real(spec)
        re, im = ri[..., 0], ri[..., 1]
        return re * re + im * im
    mag = spec.abs()
    return mag if power == 1.0 else mag.pow(power)


def stft_power(
    x: torch.Tensor, n_fft: int, hop_length: int, win: torch.Tensor, center: bool, pad_mode: str, power: float
) -> torch.Tensor:
    """``|STFT(x)|**power``, shape ``(batch, n_fft//2+1, frames)``; as torchaudio.functional.spectrogram."""
    return power_of(stft(x, n_fft, hop_length, win, center, pad_mode), power)


def to_db(x: torch.Tensor, multiplier: float, amin: float, ref: float | str, top_db: float | None) -> torch.Tensor:
    """torchaudio.functional.amplitude_to_db, per window: ``ref='max'`` makes each window's peak 0 dB."""
    db = multiplier * torch.log10(torch.clamp(x, min=amin))
    if ref == "max":
        db = db - db.amax(dim=(-2, -1), keepdim=True)
    elif ref != 1.0:
        db = db - multiplier * float(np.log10(max(amin, ref)))
    if top_db is not None:
        db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - top_db)
    return db


class Spectrogrammer:
    """Computes the configured spectrogram for batches of windows at one sample rate."""

    def __init__(self, cfg: SpectrogramConfig, sample_rate: int, device: str = "cpu"):
        self.cfg, self.sample_rate = cfg, sample_rate
        self.device = torch.device(device)
        self.window = torch.tensor(window(cfg.window, cfg.win_length), dtype=torch.float32, device=self.device)
        self.fb = self.band = None
        if cfg.kind in ("mel", "mfcc"):
            fb = config_filterbank(cfg, sample_rate)
            rows = np.flatnonzero(fb.max(axis=1) > 0)  # FFT bins that feed some mel band
            lo, hi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
            self.band = (lo, hi)
            self.fb = torch.tensor(fb[lo:hi].T, dtype=torch.float32, device=self.device)  # (n_mels, band)
            # Each filter touches a few bins: as CSR the product does ~1/50 of the dense work.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
                self.fb_sparse = self.fb.to_sparse_csr()
        self.dct = None
        if cfg.kind == "mfcc":
            self.dct = torch.tensor(create_dct(cfg.n_mfcc, cfg.n_mels).T, dtype=torch.float32, device=self.device)

    @property
    def n_bins(self) -> int:
        return {"stft": self.cfg.n_freqs, "mel": self.cfg.n_mels, "mfcc": self.cfg.n_mfcc}[self.cfg.kind]

    def n_frames(self, n_samples: int) -> int:
        if self.cfg.center:
            return n_samples // self.cfg.hop_length + 1
        return (n_samples - self.cfg.n_fft) // self.cfg.hop_length + 1

    def linear(self, x: torch.Tensor) -> torch.Tensor:
        """Power (or magnitude) spectrogram, mel-filtered for mel/mfcc; before any log."""
        c = self.cfg
        if c.kind == "stft":
            return stft_power(x, c.n_fft, c.hop_length, self.window, c.center, c.pad_mode, c.power)
        lo, hi = self.band  # only the FFT bins some mel filter uses
        spec = power_of(stft(x, c.n_fft, c.hop_length, self.window, c.center, c.pad_mode)[:, lo:hi, :], c.power)
        return torch.stack([torch.sparse.mm(self.fb_sparse, item) for item in spec])  # (batch, n_mels, frames)

    def scale(self, lin: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        if c.scale == "db":
            return to_db(lin, 10.0 if c.power == 2.0 else 20.0, c.amin, c.ref, c.top_db)
        if c.scale == "log":
            return torch.log(lin + c.log_epsilon)
        return lin

    @torch.inference_mode()
    def __call__(self, windows: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(windows, dtype=torch.float32, device=self.device)
        if x.dim() == 1:
            x = x.unsqueeze(0)
        out = self.scale(self.linear(x))
        if self.dct is not None:
            out = torch.matmul(self.dct, out)  # (batch, n_mfcc, frames)
        return out


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name
