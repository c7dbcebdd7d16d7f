"""Representations beyond one grey dB image: PCEN, deltas, and the channels of an image.

The math is librosa 0.11's, as pure functions on ``(batch, bins, frames)`` arrays:

- :func:`pcen` equals ``librosa.pcen(S * input_scale, sr=sample_rate, hop_length=hop_length, ...)``
  applied to each window on its own (librosa's defaults: the smoothing coefficient ``b`` from
  ``time_constant``, ``max_size=1``, and ``scipy.signal.lfilter`` started from
  ``lfilter_zi`` — the state of a filter that has seen a constant input of 1, *not* the first frame).
- :func:`delta` equals ``librosa.feature.delta(values, width=width, order=order, axis=-1)``:
  a Savitzky-Golay derivative with ``mode='interp'`` (a polynomial fit at the edges).

Both take a numpy array or a torch tensor and return the same kind. A tensor (the GPU path,
``device: cuda``) is copied to the host, filtered there by the same scipy code, and copied back:
an IIR filter runs frame after frame, which a GPU does no faster, and one code path keeps the GPU
build equal to the CPU build to the last bit. :func:`stack_channels` builds the
``(batch, channels, bins, frames)`` stack that ``image.channels`` asks for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CHANNELS = ("spectrogram", "delta", "delta2", "pcen")


def _host(x: Any) -> tuple[np.ndarray, Any]:
    """``(numpy array, how to give the result back as the input's kind)``."""
    if isinstance(x, np.ndarray):
        return x, lambda y: y
    import torch  # only a tensor gets here, so torch is already imported

    device = x.device
    return x.detach().cpu().numpy(), lambda y: torch.from_numpy(np.ascontiguousarray(y)).to(device)


def pcen_b(sample_rate: float, hop_length: int, time_constant: float) -> float:
    """librosa's smoothing coefficient: solves ``b² + (1 - b) / T - 2 = 0`` for ``T`` frames, the
    full width at half maximum of the filter's squared frequency response."""
    t_frames = time_constant * sample_rate / float(hop_length)
    return float((np.sqrt(1 + 4 * t_frames**2) - 1) / (2 * t_frames**2))


def pcen(S: Any, sample_rate: float, hop_length: int, gain: float = 0.98, bias: float = 2.0,
         power: float = 0.5, time_constant: float = 0.4, eps: float = 1e-6,
         input_scale: float = 2.0**31) -> Any:
    """Per-channel energy normalisation of ``S`` ``(batch, bins, frames)`` (≥ 0: power or magnitude,
    linear), along frames; float32 out, same shape, numpy or torch like ``S``.

    Computed in float64 as librosa does (its lfilter state is float64), then rounded once.
    """
    import scipy.signal  # 0.7 s to import: only builds that ask for PCEN or deltas pay it

    x, back = _host(S)
    x = np.asarray(x, dtype=np.float64) * input_scale
    b = pcen_b(sample_rate, hop_length, time_constant)
    zi = np.full(x.shape[:-1] + (1,), scipy.signal.lfilter_zi([b], [1, b - 1])[0])  # every bin, every window
    smooth, _ = scipy.signal.lfilter([b], [1, b - 1], x, zi=zi, axis=-1)
    # librosa works in log space here "for stability": the same expressions, so the same roundings.
    agc = np.exp(-gain * (np.log(eps) + np.log1p(smooth / eps)))
    if power == 0:
        out = np.log1p(x * agc)
    elif bias == 0:
        with np.errstate(divide="ignore"):  # log(0) = -inf → exp(-inf) = 0, as in librosa
            out = np.exp(power * (np.log(x) + np.log(agc)))
    else:
        out = (bias**power) * np.expm1(power * np.log1p(x * agc / bias))
    return back(out.astype(np.float32))


def delta(values: Any, width: int = 9, order: int = 1) -> Any:
    """``order``-th derivative of ``values`` ``(..., frames)`` along frames, per frame, by a
    Savitzky-Golay filter of ``width`` frames (odd, ≥ 3, ≤ frames); float32, numpy or torch."""
    import scipy.signal

    x, back = _host(values)
    out = scipy.signal.savgol_filter(np.asarray(x, dtype=np.float32), width, polyorder=order, deriv=order,
                                     axis=-1, mode="interp")
    return back(out.astype(np.float32, copy=False))


def stack_channels(scaled: Any, names: tuple[str, ...], delta_width: int = 9, pcen_of=None) -> Any:
    """``(batch, bins, frames)`` scaled spectrograms → ``(batch, len(names), bins, frames)``.

    ``spectrogram`` is ``scaled`` itself; ``delta``/``delta2`` its first/second derivative over
    frames; ``pcen`` is ``pcen_of()``, called once, giving PCEN of the same windows ``(batch, bins,
    frames)``. One channel is a view of ``scaled``, so a grey build computes nothing more.
    """
    made: dict[str, Any] = {"spectrogram": scaled}
    for name in names:
        if name not in made:
            made[name] = (delta(scaled, delta_width, 1) if name == "delta" else
                          delta(scaled, delta_width, 2) if name == "delta2" else pcen_of())
    parts = [made[n][:, None] for n in names]
    if len(parts) == 1:
        return parts[0]
    if isinstance(scaled, np.ndarray):
        return np.concatenate(parts, axis=1)
    import torch

    return torch.cat(parts, dim=1)


def spectrogram_channels(spectrogrammer, batch: np.ndarray, names: tuple[str, ...], delta_width: int = 9):
    """``(scaled, stack)`` for a batch of windows ``(batch, samples)``: the scaled spectrogram
    ``(batch, bins, frames)`` and the ``image.channels`` stack ``(batch, channels, bins, frames)``,
    both on the spectrogrammer's device. A ``pcen`` channel reuses the same linear spectrogram,
    so a window's STFT runs once whatever the channels."""
    if "pcen" not in names:
        scaled = spectrogrammer(batch)
        return scaled, stack_channels(scaled, names, delta_width)
    # pcen is never beside mfcc (config), so there is no DCT to apply; numpy on the CPU, no torch
    lin = spectrogrammer.linear(spectrogrammer.as_batch(batch))
    scaled = spectrogrammer.scale(lin)
    return scaled, stack_channels(scaled, names, delta_width, lambda: spectrogrammer.pcen(lin))


def channel_pixels(stack, image) -> np.ndarray:
    """``(batch, channels, bins, frames)`` → uint8 ``(batch, rows, frames)`` grey for one channel,
    else ``(batch, rows, frames, 3)`` RGB: each channel of each window normalised on its own, exactly
    as the grey image (``render.to_uint8``), so channel 1 of an RGB image is the grey image. Two
    channels leave blue at 0; beyond three, the image shows the first three (the arrays hold all)."""
    from .render import to_uint8

    b, c = stack.shape[:2]
    if c == 1:
        return to_uint8(stack[:, 0], image)
    u8 = to_uint8(stack[:, :3].reshape((b * min(c, 3),) + tuple(stack.shape[2:])), image)
    u8 = u8.reshape((b, min(c, 3)) + u8.shape[1:])
    rgb = np.zeros(u8.shape[:1] + u8.shape[2:] + (3,), dtype=np.uint8)
    rgb[..., : u8.shape[1]] = np.moveaxis(u8, 1, -1)
    return rgb
