"""The build config's schema: frozen, validated, typed models, checked before any audio is read.

:class:`Config` and the sections that decide what a window becomes (``audio:``, ``windows:``,
``spectrogram:``, ``image:``); ``source:`` is in :mod:`builder.config.source`, ``output:`` and
``publish:`` in :mod:`builder.config.output`. Derived defaults (``windows.hop``,
``spectrogram.win_length``, ``spectrogram.f_max`` where the rate is fixed) are filled here, so stages
never guess. Reading a file, ``--set`` overrides and one-line errors live in
:mod:`builder.config.loading`; the base model, bounds and checks that need a sample rate in
:mod:`builder.config.geometry`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from .output import OutputConfig, PublishConfig
from .source import EventLabels, SourceConfig
from .geometry import MAX_IMAGE_PIXELS, Frozen, _bad, check_geometry


def null_means_default(*keys: str):
    """A before-validator for a model's body: ``keys`` set to null are dropped, so a null derived
    value means its computed default (a ``default_factory`` that reads the fields validated before
    it), as a key left out does."""

    def unset(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data and data[k] is None for k in keys):
            data = {k: v for k, v in data.items() if not (k in keys and v is None)}
        return data

    return model_validator(mode="before")(classmethod(unset))


class AudioConfig(Frozen):
    sample_rate: int | None = Field(default=None, gt=0, le=768_000)


class WindowsConfig(Frozen):
    duration: float = Field(default=5.0, gt=0, le=3600)
    hop: float = Field(default_factory=lambda data: data["duration"], gt=0)  # left out or null: duration
    last: Literal["pad", "drop"] = "pad"
    min_last: float = Field(default=0.0, ge=0)
    min_duration: float = Field(default=0.0, ge=0)
    skip_silent_below_db: float | None = Field(default=None, le=0)
    select: Literal["all", "first", "loudest", "random", "events"] = "all"
    per_recording: int | None = Field(default=None, ge=1)
    seed: int = 0

    _null_hop = null_means_default("hop")

    @model_validator(mode="after")
    def _check(self) -> "WindowsConfig":
        if self.select in ("first", "loudest", "random") and self.per_recording is None:
            raise _bad("per_recording", f"select: {self.select} needs per_recording (how many windows to keep)")
        if self.select == "all" and self.per_recording is not None:
            raise _bad("per_recording", "select: all keeps every window; use first, loudest or random to cap them")
        if self.min_last > self.duration:
            raise _bad("min_last", f"{self.min_last:g} must be <= windows.duration ({self.duration:g}): set it too, "
                       f"e.g. --set windows.min_last={self.duration:g}")
        return self


class PcenConfig(Frozen):
    """``librosa.pcen`` settings (librosa's defaults; its docstring example feeds magnitudes,
    ``power: 1``, scaled by ``input_scale`` 2**31, as if int32 samples were read)."""

    gain: float = Field(default=0.98, ge=0)
    bias: float = Field(default=2.0, ge=0)
    power: float = Field(default=0.5, ge=0)
    time_constant: float = Field(default=0.4, gt=0)
    eps: float = Field(default=1.0e-6, gt=0)
    input_scale: float = Field(default=2.0**31, gt=0)


class SpectrogramConfig(Frozen):
    kind: Literal["stft", "mel", "mfcc"] = "mel"
    n_fft: int = Field(default=2048, ge=8, le=1 << 16)
    win_length: int = Field(default_factory=lambda data: data["n_fft"], gt=0)  # left out or null: n_fft
    hop_length: int = Field(default=512, gt=0)
    window: Literal["hann", "hamming", "blackman", "rectangular"] = "hann"
    center: bool = True
    pad_mode: Literal["reflect", "constant", "replicate", "circular"] = "reflect"
    power: float = Field(default=2.0, gt=0)
    n_mels: int = Field(default=128, gt=0, le=4096)
    f_min: float = Field(default=0.0, ge=0)
    f_max: float | None = Field(default=None, gt=0)
    mel_scale: Literal["htk", "slaney"] = "htk"
    norm: Literal["slaney"] | None = None
    n_mfcc: int = Field(default=13, gt=0)
    scale: Literal["db", "log", "linear", "pcen"] = "db"
    pcen: PcenConfig = Field(default_factory=PcenConfig)
    ref: Union[float, Literal["max"]] = 1.0
    amin: float = Field(default=1e-10, gt=0)
    top_db: float | None = Field(default=80.0, gt=0)
    log_epsilon: float = Field(default=1e-4, gt=0)
    device: Literal["cpu", "cuda", "auto"] = "cpu"

    @field_validator("ref")
    @classmethod
    def _ref_positive(cls, v: Any) -> Any:
        if v != "max" and not v > 0:
            raise ValueError("must be a positive number or 'max'")
        return v

    _null_win_length = null_means_default("win_length")

    @model_validator(mode="after")
    def _check(self) -> "SpectrogramConfig":
        if self.win_length > self.n_fft:
            raise _bad("win_length", f"must be <= n_fft ({self.n_fft})")
        if self.f_max is not None and self.f_min >= self.f_max:
            raise _bad("f_min", f"must be < f_max ({self.f_max:g})")
        if self.kind == "mfcc":
            if self.n_mfcc > self.n_mels:
                raise _bad("n_mfcc", f"must be <= n_mels ({self.n_mels})")
            if self.scale in ("linear", "pcen"):
                raise _bad("scale", "mfcc needs a log scale before the DCT: use db or log")
        return self

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1


Channel = Literal["spectrogram", "delta", "delta2", "pcen"]


class ImageConfig(Frozen):
    channels: tuple[Channel, ...] = ("spectrogram",)  # 1 → grey, 2-3 → RGB, more: arrays only
    delta_width: int = Field(default=9, ge=3)  # frames of the delta/delta2 Savitzky-Golay filter
    normalize: Union[Literal["minmax"], tuple[float, float]] = "minmax"
    size: tuple[int, int] | None = None
    resample: Literal["nearest", "bilinear", "bicubic", "lanczos"] = "bicubic"
    origin: Literal["lower", "upper"] = "lower"
    colormap: str | None = None
    png_compress_level: int = Field(default=1, ge=0, le=9)
    style: Literal["raw", "figure"] = "raw"

    @field_validator("channels", mode="before")
    @classmethod
    def _channel_list(cls, v: Any) -> Any:
        if isinstance(v, str):  # `channels: pcen` can only mean [pcen]
            return [v]
        if not isinstance(v, (list, tuple)):
            raise ValueError("must be a list of channel names, e.g. [spectrogram] or [pcen, delta, delta2]")
        return v

    @field_validator("size", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        if v is not None and (not isinstance(v, (list, tuple)) or len(v) != 2):  # 512: square? width only?
            raise ValueError("must be [width, height] in pixels, e.g. [512, 512]")
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("needs at least one channel, e.g. [spectrogram]")
        twice = sorted({c for c in v if v.count(c) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} listed twice")
        return v

    @field_validator("delta_width")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 != 1:
            raise ValueError("must be odd (a centred Savitzky-Golay window), e.g. 9")
        return v

    @model_validator(mode="after")
    def _one_grey(self) -> "ImageConfig":
        if len(self.channels) > 1:
            for key, value, why in (("colormap", self.colormap, "a colormap colours one grey channel"),
                                    ("normalize", self.normalize if self.normalize != "minmax" else None,
                                     "a fixed range fits one scale; several channels are each normalised minmax"),
                                    ("style", self.style if self.style != "raw" else None,
                                     "a figure draws one channel")):
                if value is not None:
                    raise _bad(key, f"{why}: not with image.channels {list(self.channels)}")
        return self

    @field_validator("normalize")
    @classmethod
    def _range(cls, v: Any) -> Any:
        if isinstance(v, tuple) and not v[0] < v[1]:
            raise ValueError("fixed range [low, high] needs low < high")
        return v

    @field_validator("size")
    @classmethod
    def _size(cls, v: Any) -> Any:
        if v is not None and not (0 < v[0] <= 16384 and 0 < v[1] <= 16384):
            raise ValueError("[width, height] must be between 1 and 16384")
        if v is not None and v[0] * v[1] > MAX_IMAGE_PIXELS:
            raise ValueError(f"{v[0]}x{v[1]} is {v[0] * v[1]:,} pixels, more than Pillow opens without a "
                             f"decompression-bomb warning ({MAX_IMAGE_PIXELS:,})")
        return v

    @field_validator("colormap")
    @classmethod
    def _cmap(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from matplotlib import colormaps  # only when a colormap is asked for

        if v not in colormaps:
            raise ValueError(f"unknown colormap {v!r} (e.g. viridis, magma, inferno)")
        return v


class Config(Frozen):
    name: str = Field(min_length=1, max_length=200)
    source: SourceConfig
    audio: AudioConfig = Field(default_factory=AudioConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    spectrogram: SpectrogramConfig = Field(default_factory=SpectrogramConfig)
    image: ImageConfig = Field(default_factory=ImageConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)

    @model_validator(mode="before")
    @classmethod
    def _default_f_max(cls, data: Any) -> Any:
        """With a fixed ``audio.sample_rate``, ``spectrogram.f_max`` left out or null is its Nyquist
        frequency. The two sections are validated here first; one that fails is left as it was, to
        report its own errors in its own place."""
        if not isinstance(data, dict):
            return data
        try:
            rate = AudioConfig.model_validate(data.get("audio", {})).sample_rate
            spec = SpectrogramConfig.model_validate(data.get("spectrogram", {}))
        except ValidationError:
            return data
        if rate is not None and spec.f_max is None:
            data = {**data, "spectrogram": spec.model_copy(update={"f_max": float(rate / 2)})}
        return data

    @model_validator(mode="after")
    def _cross(self) -> "Config":
        sr, spec = self.audio.sample_rate, self.spectrogram
        if self.source.keep_splits and (len(self.output.splits.fractions) > 1 or self.output.layout == "mirror"):
            raise _bad("source.keep_splits", "keeps the dataset's own splits: leave output.splits out "
                       "(--set output.splits=null drops a preset's)"
                       + (" (and the mirror layout has no splits)" if self.output.layout == "mirror" else ""))
        if self.windows.select == "events" and not isinstance(self.source.labels, EventLabels):
            raise _bad("windows.select", "events needs time-stamped labels (source.labels.events)")
        if self.output.include.arrays and sr is None:
            raise _bad("output.include.arrays", "needs a fixed audio.sample_rate (every array has one shape)")
        if sr is not None:
            nyquist = sr / 2
            if spec.f_max > nyquist:
                raise _bad("spectrogram.f_max", f"must be <= sample_rate / 2 ({nyquist:g})")
            if spec.f_min >= spec.f_max:
                raise _bad("spectrogram.f_min", f"must be < f_max ({spec.f_max:g})")
            check_geometry(self, sr)
        channels = self.image.channels
        if len(channels) > 3 and not self.output.include.arrays:
            raise _bad("image.channels", f"{len(channels)} channels: an image holds 3; more need output.include.arrays")
        if "pcen" in channels and spec.kind == "mfcc":
            raise _bad("image.channels", "pcen needs a stft or mel spectrogram, not mfcc")
        if "pcen" in channels and spec.scale == "pcen":
            raise _bad("image.channels", "pcen is already the spectrogram channel (spectrogram.scale: pcen)")
        return self

    def hash(self) -> str:
        """Hash of everything that changes output bytes (not where they go, nor publish)."""
        # A dataset's revision is left out too: each row's bytes are in its fingerprint, so a new
        # revision rebuilds only the rows it changed instead of refusing as a changed config.
        # The dataset keys of a folder source are left out: a folder build's hash is what it always was.
        data = self.model_dump(mode="json", exclude={"publish": True, "output": {"path", "staging"},
                                                     "source": self.source.unused_keys() | {"revision"}})
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def public_dict(cfg: Config) -> dict:
    """The config as a plain dict for cards and build.json: paths shown by folder name only."""
    data = cfg.model_dump(mode="json", exclude={"source": cfg.source.unused_keys()})
    if data["source"]["path"] is not None:
        data["source"]["path"] = Path(data["source"]["path"]).name
    if data["source"].get("dataset") is not None and not cfg.source.on_hub:  # a local folder
        data["source"]["dataset"] = Path(data["source"]["dataset"]).name
    labels = data["source"]["labels"]
    if isinstance(labels, dict):
        for key in ("csv", "events"):
            if key in labels:
                labels[key] = Path(labels[key]).name
    data["output"]["path"] = Path(data["output"]["path"]).name
    data["output"].pop("staging", None)
    return data
