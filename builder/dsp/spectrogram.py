"""Spectrograms: STFT → power → (mel) → scale → (DCT), torchaudio's definitions.

The math is written once, over an array namespace ``xp``: numpy (with scipy's FFT) on the CPU,
torch on a GPU (``spectrogram.device: cuda|auto``). Only the STFT itself differs between the two
(:func:`stft_numpy`, :func:`stft_torch`); the window, mel filterbank blocks and DCT are the same
float32 constants. The CPU path never imports torch: its import alone (1–2 s, ~220 MB per worker)
cost more than the work on short builds; its FFT is scipy's (:func:`rfft_last_axis`).

:class:`Spectrogrammer` resolves defaults and caches the constants once per (config, sample rate),
like torchaudio's transform modules. Its call is the boundary later stages build on: a waveform
batch ``(batch, samples)`` float32 → scaled ``(batch, bins, frames)`` float32 array of the
backend (numpy, or a torch tensor on the device), where bins is n_fft//2+1 (stft), n_mels (mel)
or n_mfcc (mfcc). Every window is scaled on its own (``ref: max`` and ``top_db`` are per window),
so a batch equals its items one by one. ``power``, ``linear`` and ``scale`` take and give
``(batch, bins, frames)`` too; inside, frames come first (``(batch, frames, bins)``): the FFT's
natural output order on the CPU, where the mel product is a plain matmul.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .filterbank import config_filterbank, create_dct, window

if TYPE_CHECKING:
    from ..config.sections import SpectrogramConfig

MEL_BLOCK = 16  # mel filters per dense block of the filterbank product
NP_PAD = {"reflect": "reflect", "constant": "constant", "replicate": "edge", "circular": "wrap"}


@lru_cache(maxsize=None)
def rfft_last_axis():
    """``rfft(frames)`` over the last axis of a float32 array the FFT may overwrite → complex64.

    Always scipy's pocketfft, even where mkl_fft or torch is installed: the images never depend on
    what else is installed (MKL's float32 FFT rounds differently: docs/install.md). Per 313×2048
    block: 0.96 ms, against 0.47 (MKL, 1 GB of libraries), 0.78 (pyFFTW, whose timed plans change
    the bytes run to run) and 0.92 ms (ducc0). One thread: parallelism comes from the workers.
    """
    r2c = _pocketfft_r2c()
    if r2c is not None:
        return lambda a: r2c(a, (a.ndim - 1,), True, 0, None, 1)  # (axes, forward, no scaling, out, threads)
    import scipy.fft

    return lambda a: scipy.fft.rfft(a, axis=-1, overwrite_x=True, workers=1)


def _pocketfft_r2c():
    """scipy.fft's own pocketfft extension (``scipy.fft._pocketfft.pypocketfft``), loaded by itself,
    or None where this scipy has no such file. ``import scipy.fft`` took 0.18–0.26 s of every
    build here (its array-API layer imports numpy.f2py, numpy.testing and scipy.special), against
    0.02 s for the extension: 5% of 600 five-second clips at ``-j 1`` (bench/profile.py). It is the
    function ``scipy.fft.rfft`` calls, with the arguments it passes, so the bytes are the same
    (tests/dsp/test_spectrogram.py compares them); a later ``import scipy.fft`` reuses this module.
    """
    import importlib.machinery
    import importlib.util
    import os

    import scipy

    folder = os.path.join(os.path.dirname(scipy.__file__), "fft", "_pocketfft")
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(folder, f"pypocketfft{suffix}")
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("scipy.fft._pocketfft.pypocketfft", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return getattr(module, "r2c", None)
    return None


def stft_numpy(x: np.ndarray, n_fft: int, hop_length: int, win: np.ndarray, center: bool, pad_mode: str) -> np.ndarray:
    """Complex one-sided STFT of ``(batch, samples)`` float32, shape ``(batch, frames, n_fft//2+1)``
    complex64: torch.stft's framing (``win`` already zero-padded to ``n_fft``), on numpy."""
    if center:
        x = centre_pad(x, n_fft // 2, pad_mode)
    frames = frame_view(x, n_fft, hop_length)
    # The windowed frames, one contiguous copy. einsum, not ``frames * win``: the same products,
    # but the ufunc's loop over this overlapping view took 0.40 ms a 5-s window against 0.21.
    return rfft_last_axis()(np.einsum("...j,j->...j", frames, win))


def frame_view(x: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """``(batch, frames, n_fft)`` read-only view of ``(batch, samples)``'s frames every
    ``hop_length`` samples: ``sliding_window_view(...)[:, ::hop]``, without its 12 µs of argument
    handling per call."""
    n = x.shape[-1]
    if n < n_fft:
        return np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[:, ::hop_length]  # its error
    b, s = x.strides
    return np.lib.stride_tricks.as_strided(x, (x.shape[0], (n - n_fft) // hop_length + 1, n_fft),
                                           (b, hop_length * s, s), writeable=False)


def centre_pad(x: np.ndarray, pad: int, pad_mode: str) -> np.ndarray:
    """``(batch, samples)`` padded by ``pad`` on each side, as torch.stft's ``center``. Reflection,
    the default, is three slice copies: np.pad's general path cost 0.2 ms per 5-s window."""
    n = x.shape[-1]
    if pad_mode != "reflect" or n <= pad:
        return np.pad(x, ((0, 0), (pad, pad)), mode=NP_PAD[pad_mode])
    out = np.empty((x.shape[0], n + 2 * pad), dtype=x.dtype)
    out[:, pad : pad + n] = x
    out[:, :pad] = x[:, 1 : pad + 1][:, ::-1]
    out[:, pad + n :] = x[:, n - 1 - pad : n - 1][:, ::-1]
    return out


def stft_torch(x, n_fft: int, hop_length: int, win, center: bool, pad_mode: str):
    """As :func:`stft_numpy`, through ``torch.stft`` on the tensor's device (a transposed view)."""
    import torch

    spec = torch.stft(x, n_fft=n_fft, hop_length=hop_length, win_length=n_fft, window=win, center=center,
                      pad_mode=pad_mode, normalized=False, onesided=True, return_complex=True)
    return spec.transpose(-2, -1)


def squared_parts(xp, spec):
    """``(..., bins, 2)`` float32 view of a complex array's re² and im², squared in place (``spec``
    is consumed): one pass over contiguous memory, where ``abs()**2`` takes two over a hypot."""
    ri = spec.view(np.float32).reshape(spec.shape + (2,)) if xp is np else xp.view_as_real(spec)
    ri *= ri
    return ri


def power_of(xp, spec, power: float):
    """``|spec|**power`` of a complex array (consumed for power 2); re² + im² there is within
    about one float32 ulp of torchaudio's ``abs()**2`` (< 1e-4 dB, see the parity tests)."""
    if power == 2.0:
        ri = squared_parts(xp, spec)
        return ri[..., 0] + ri[..., 1]
    mag = xp.abs(spec)
    return mag if power == 1.0 else mag ** power


def to_db(xp, x, multiplier: float, amin: float, ref: float | str, top_db: float | None):
    """torchaudio.functional.amplitude_to_db, per window: ``ref='max'`` makes each window's peak 0 dB."""
    db = x.clip(amin, None)  # a new array: the in-place steps below do not touch x
    xp.log10(db, out=db)
    db *= multiplier
    if ref == "max":
        db -= xp.amax(db, axis=(-2, -1), keepdims=True)
    elif ref != 1.0:
        db -= multiplier * float(np.log10(max(amin, ref)))
    if top_db is not None:
        db = xp.maximum(db, xp.amax(db, axis=(-2, -1), keepdims=True) - top_db)
    return db


def mel_blocks(fb: np.ndarray) -> tuple[tuple[int, int], list[tuple[int, int, int, int, np.ndarray]]]:
    """The FFT band ``(lo, hi)`` some filter uses, and ``(m0, m1, a, b, weights (b-a, m1-m0))`` per
    run of MEL_BLOCK filters over FFT bins ``a:b``. Each filter touches a few neighbouring bins,
    so these small dense products are 1/20 of the full one, and faster than a sparse product."""
    rows = np.flatnonzero(fb.max(axis=1) > 0)
    lo, hi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
    blocks = []
    for m0 in range(0, fb.shape[1], MEL_BLOCK):
        part = fb[lo:hi, m0 : m0 + MEL_BLOCK]
        used = np.flatnonzero(part.max(axis=1) > 0)
        a, b = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 0)
        blocks.append((m0, m0 + part.shape[1], lo + a, lo + b, np.ascontiguousarray(part[a:b], dtype=np.float32)))
    return (lo, hi), blocks


def padded_window(cfg: SpectrogramConfig) -> np.ndarray:
    """The analysis window centred in ``n_fft`` zeros, as torch.stft pads a shorter ``win_length``."""
    win = np.zeros(cfg.n_fft, dtype=np.float32)
    left = (cfg.n_fft - cfg.win_length) // 2
    win[left : left + cfg.win_length] = window(cfg.window, cfg.win_length)
    return win


def to_numpy(a) -> np.ndarray:
    """A backend array (numpy, or a torch tensor on any device) as a host numpy array."""
    return a if isinstance(a, np.ndarray) else a.detach().cpu().numpy()


class Spectrogrammer:
    """Computes the configured spectrogram for batches of windows at one sample rate.

    ``device`` is ``cpu`` or ``cuda`` (see :func:`resolve_device`); ``backend`` defaults to numpy
    on the CPU and torch elsewhere (torch on the CPU is there for parity tests).
    """

    def __init__(self, cfg: SpectrogramConfig, sample_rate: int, device: str = "cpu", backend: str | None = None):
        self.cfg, self.sample_rate, self.device = cfg, sample_rate, device
        self.backend = backend or ("numpy" if device == "cpu" else "torch")
        if self.backend == "numpy":
            self.xp, self._stft, const = np, stft_numpy, (lambda a: a)
        else:
            import torch

            self.xp, self._stft = torch, stft_torch
            const = lambda a: torch.tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        self.window = const(padded_window(cfg))
        self.band, self.blocks, self.dct = None, [], None
        if cfg.kind in ("mel", "mfcc"):
            self.band, blocks = mel_blocks(config_filterbank(cfg, sample_rate))  # (n_freqs, n_mels)
            # For power 2 each row is doubled: the product reads re² and im² side by side and sums
            # them itself, which saves a pass over the spectrum (see linear).
            rep = 2 if cfg.power == 2.0 else 1
            self.blocks = [(m0, m1, a, b, const(np.repeat(w, rep, axis=0))) for m0, m1, a, b, w in blocks if b > a]
        if cfg.kind == "mfcc":
            self.dct = const(create_dct(cfg.n_mfcc, cfg.n_mels).T.astype(np.float32))  # (n_mfcc, n_mels)

    @property
    def n_bins(self) -> int:
        return {"stft": self.cfg.n_freqs, "mel": self.cfg.n_mels, "mfcc": self.cfg.n_mfcc}[self.cfg.kind]

    def n_frames(self, n_samples: int) -> int:
        if self.cfg.center:
            return n_samples // self.cfg.hop_length + 1
        return (n_samples - self.cfg.n_fft) // self.cfg.hop_length + 1

    def as_batch(self, windows):
        """``(samples,)`` or ``(batch, samples)`` → a float32 ``(batch, samples)`` backend array."""
        if self.backend == "numpy":
            x = np.asarray(windows, dtype=np.float32)
        else:
            import torch

            x = torch.as_tensor(windows, dtype=torch.float32, device=self.device)
        return x[None] if x.ndim == 1 else x

    def power(self, x, power: float | None = None):
        """``|STFT|**power`` over all bins, ``(batch, n_fft//2+1, frames)`` (a transposed view)."""
        c = self.cfg
        spec = self._stft(x, c.n_fft, c.hop_length, self.window, c.center, c.pad_mode)
        return _bins_first(power_of(self.xp, spec, c.power if power is None else power))

    def linear(self, x):
        """Power (or magnitude) spectrogram, mel-filtered for mel/mfcc; before any log.
        ``(batch, bins, frames)``: a transposed view of the frames-first product."""
        c = self.cfg
        if c.kind == "stft":
            return self.power(x)
        spec = self._stft(x, c.n_fft, c.hop_length, self.window, c.center, c.pad_mode)
        batch, frames = spec.shape[:2]
        if c.power == 2.0:  # re² and im² side by side: the product sums them (weights doubled)
            parts = squared_parts(self.xp, spec)
            take = lambda a, b: parts[..., a:b, :].reshape(batch, frames, 2 * (b - a))  # noqa: E731
        else:
            mag = power_of(self.xp, spec, c.power)
            take = lambda a, b: mag[..., a:b]  # noqa: E731
        mel = self.xp.zeros((batch, frames, c.n_mels), dtype=self.window.dtype)
        if self.backend == "torch":
            mel = mel.to(self.window.device)
        for m0, m1, a, b, w in self.blocks:
            mel[..., m0:m1] = take(a, b) @ w
        return _bins_first(mel)

    def scale(self, lin):
        """dB, log, PCEN or linear, per window, of ``(batch, bins, frames)``; shape unchanged."""
        c = self.cfg
        if c.scale == "db":
            return to_db(self.xp, lin, 10.0 if c.power == 2.0 else 20.0, c.amin, c.ref, c.top_db)
        if c.scale == "log":
            return self.xp.log(lin + c.log_epsilon)
        if c.scale == "pcen":
            return self.pcen(lin)
        return lin

    def pcen(self, lin):
        """``librosa.pcen`` of the linear spectrogram per window (builder/dsp/channels.py)."""
        from .channels import pcen

        return pcen(lin, self.sample_rate, self.cfg.hop_length, **self.cfg.pcen.model_dump())

    def __call__(self, windows):
        """``(batch, samples)`` float32 → scaled ``(batch, bins, frames)`` float32, C-contiguous."""
        x = self.as_batch(windows)
        if self.backend == "numpy":
            return np.ascontiguousarray(self._scaled(x))
        import torch

        with torch.inference_mode():
            return self._scaled(x).contiguous()

    def _scaled(self, x):
        out = self.scale(self.linear(x))
        return self.dct @ out if self.dct is not None else out  # (batch, n_mfcc, frames)


def _bins_first(a):
    """``(batch, frames, bins)`` → ``(batch, bins, frames)``, a view in numpy and torch alike."""
    return a.transpose(0, 2, 1) if isinstance(a, np.ndarray) else a.transpose(1, 2)


def resolve_device(name: str) -> str:
    """``cpu`` or ``cuda``; only ``auto`` and ``cuda`` import torch, to ask for a GPU."""
    if name == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return name
