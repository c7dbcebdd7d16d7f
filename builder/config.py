"""The build config: YAML → frozen, validated, typed objects, before any audio is read.

A relative path written in a config file resolves against that file's folder (against the working
directory for a bundled preset); one typed on the command line (``--set source.path=…``, ``-o``)
against the working directory, as a shell user expects. Derived defaults (``windows.hop``, ``spectrogram.win_length``,
``spectrogram.f_max`` where the rate is fixed) are filled here, so stages never guess.
Errors are :class:`ConfigError` lines of the form ``file: dotted.key: message``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from .errors import ConfigError

AUDIO_EXTENSIONS = ("wav", "aif", "aiff", "flac", "ogg", "oga", "opus", "mp3", "m4a")
_INTERNAL_LOC = re.compile(r"^[a-z0-9_-]+\[.*\]$|^function-")  # pydantic's own names: lax-or-strict[...], union[...]
_KEYED = re.compile(r"^@([\w.]+)@ (.*)$", re.S)
# Pillow's default ``Image.MAX_IMAGE_PIXELS``: a larger PNG warns (2x: raises DecompressionBombError)
# in every reader of the dataset, so no image may be larger. Not read from PIL: a user who raised it
# in their session must not make a config valid that their dataset's users cannot open.
MAX_IMAGE_PIXELS = 89_478_485
# What one window may hold in a worker: its samples (float32) plus its complex STFT (complex64).
# A fixed bound, not the machine's memory, so a config is valid or not everywhere.
MAX_WINDOW_BYTES = 2 << 30
MAX_YAML_NODES = 100_000  # a config has hundreds; an alias bomb expands to billions


def _bad(key: str, message: str) -> ValueError:
    """A validation error that names a key below the model it is raised in."""
    return ValueError(f"@{key}@ {message}")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)


class CsvLabels(Frozen):
    csv: Union[Path, str]  # a file, or an fsspec URL (s3://bucket/train.csv) kept as a string
    file_column: str = "filename"
    label_column: str = "primary_label"
    extra_labels_column: str | None = None
    # CSV columns carried onto every row (attribution: author, license, url, latitude, rating …)
    keep_columns: tuple[str, ...] = ()

    @field_validator("keep_columns")
    @classmethod
    def _keep(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        taken = {"file_name", "image", "label", "labels", "source", "start", "end", "fold", "spectrogram", "audio"}
        for name in v:
            if not name or name in taken:
                raise ValueError(f"{name!r} is a column spectroset writes itself; keep another CSV column")
        if len(set(v)) != len(v):
            raise ValueError("lists a column twice")
        return v

    @field_validator("csv", mode="before")
    @classmethod
    def _csv(cls, v: Any) -> Any:
        return _path_or_url(v, "s3://bucket/train.csv", "file")

    @property
    def name(self) -> str:
        """The CSV's file name, for messages."""
        return str(self.csv).rstrip("/").rsplit("/", 1)[-1]


class EventLabels(Frozen):
    """Time-stamped labels (``builder/events.py``): a CSV, or a folder of Raven selection tables.
    Column names left at their CSV defaults mean Raven's own names in a Raven table."""

    events: Path  # a CSV file, or a folder of *.selections.txt
    file_column: str = "filename"
    start_column: str | None = "start"  # null: each row is the `segment` seconds ending at end_column (BirdCLEF)
    end_column: str = "end"
    label_column: str = "label"
    label_separator: str | None = None  # " " for BirdCLEF's space-separated labels
    segment: float = Field(default=5.0, gt=0)
    min_overlap: float = Field(default=0.5, ge=0)
    background: str | None = "nocall"

    @field_validator("background")
    @classmethod
    def _background(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must be a label name, or null to drop windows without an event")
        return v

    def for_raven(self, columns: list[str]) -> "EventLabels":
        """This spec with Raven's column names where the CSV defaults are not in the table."""
        from .events import RAVEN_LABELS

        raven = {"file_column": ("filename", "Begin File"), "start_column": ("start", "Begin Time (s)"),
                 "end_column": ("end", "End Time (s)")}
        update = {k: new for k, (default, new) in raven.items() if getattr(self, k) == default and default not in columns}
        if self.label_column == "label" and "label" not in columns:
            update["label_column"] = next((c for c in RAVEN_LABELS if c in columns), "label")
        return self.model_copy(update=update)


_NAMED = "literal[folder|none]"  # a tag _INTERNAL_LOC hides from error keys


def _labels_kind(v: Any) -> str:
    """Which labels model a value is for: a mapping with ``events`` is time-stamped labels, so its
    errors never mention the CSV model's keys (and the other way round)."""
    if isinstance(v, dict):
        return "EventLabels" if "events" in v else "CsvLabels"
    if isinstance(v, (CsvLabels, EventLabels)):
        return type(v).__name__
    return _NAMED


def _path_or_url(v: Any, example: str, kind: str = "folder") -> Any:
    from .fsutil import is_url

    if v is None or isinstance(v, Path) or is_url(v):
        return v
    if not isinstance(v, str) or not v:
        raise ValueError(f"must be a {kind}, or a URL such as {example}")
    return Path(v)


class SourceConfig(Frozen):
    path: Union[Path, str]  # a folder, or an fsspec URL (memory://, s3://, ...) kept as a string
    labels: Annotated[Union[Annotated[Literal["folder", "none"], Tag(_NAMED)], Annotated[CsvLabels, Tag("CsvLabels")],
                            Annotated[EventLabels, Tag("EventLabels")]], Discriminator(_labels_kind)] = "folder"
    extensions: tuple[str, ...] = AUDIO_EXTENSIONS

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, v: Any) -> Any:
        return _path_or_url(v, "s3://bucket/audio")

    @field_validator("extensions")
    @classmethod
    def _lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({e.lower().lstrip(".") for e in v}))


class AudioConfig(Frozen):
    sample_rate: int | None = Field(default=None, gt=0, le=768_000)


class WindowsConfig(Frozen):
    duration: float = Field(default=5.0, gt=0, le=3600)
    hop: float | None = Field(default=None, gt=0)
    last: Literal["pad", "drop"] = "pad"
    min_last: float = Field(default=0.0, ge=0)
    min_duration: float = Field(default=0.0, ge=0)
    skip_silent_below_db: float | None = Field(default=None, le=0)
    select: Literal["all", "first", "loudest", "random", "events"] = "all"
    per_recording: int | None = Field(default=None, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _derive(self) -> "WindowsConfig":
        if self.hop is None:
            object.__setattr__(self, "hop", self.duration)
        if self.select in ("first", "loudest", "random") and self.per_recording is None:
            raise _bad("per_recording", f"select: {self.select} needs per_recording (how many windows to keep)")
        if self.select == "all" and self.per_recording is not None:
            raise _bad("per_recording", "select: all keeps every window; use first, loudest or random to cap them")
        if self.min_last > self.duration:
            raise _bad("min_last", f"must be <= windows.duration ({self.duration:g})")
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
    win_length: int | None = Field(default=None, gt=0)
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
    pcen: PcenConfig = PcenConfig()
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

    @model_validator(mode="after")
    def _derive(self) -> "SpectrogramConfig":
        if self.win_length is None:
            object.__setattr__(self, "win_length", self.n_fft)
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


class SplitsConfig(Frozen):
    train: float = Field(default=1.0, ge=0, le=1)
    validation: float = Field(default=0.0, ge=0, le=1)
    test: float = Field(default=0.0, ge=0, le=1)
    by: Literal["source", "window"] = "source"
    stratify: bool = True
    seed: int = 0

    @model_validator(mode="after")
    def _sum(self) -> "SplitsConfig":
        total = self.train + self.validation + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise _bad("train", f"train + validation + test must be 1 (got {total:g})")
        return self

    @property
    def fractions(self) -> dict[str, float]:
        """Non-empty splits in canonical order."""
        out = {"train": self.train, "validation": self.validation, "test": self.test}
        return {k: v for k, v in out.items() if v > 0}


class IncludeConfig(Frozen):
    arrays: bool = False
    audio: bool = False


class OutputConfig(Frozen):
    path: Union[Path, str, None] = None  # a folder, or an fsspec URL the build is mirrored to
    staging: Path | None = None  # where a URL output is built first (default: a cache folder)
    layout: Literal["imagefolder", "parquet", "mirror"] = "imagefolder"
    max_shard_size: int = 500_000_000
    splits: SplitsConfig = SplitsConfig()
    include: IncludeConfig = IncludeConfig()
    stats: bool = True
    folds: int | None = Field(default=None, ge=2, le=100)  # a `fold` column: stratified group k-fold (splits.py)

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, v: Any) -> Any:
        return _path_or_url(v, "s3://bucket/dataset")

    @field_validator("max_shard_size", mode="before")
    @classmethod
    def _bytes(cls, v: Any) -> Any:
        return parse_size(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _mirror(self) -> "OutputConfig":
        if self.layout == "mirror" and len(self.splits.fractions) > 1:
            raise _bad("splits", "the mirror layout has no splits")
        if self.max_shard_size < 1_000_000:
            raise _bad("max_shard_size", "must be at least 1MB")
        return self


class HubPublish(Frozen):
    repo_id: str | None = None
    private: bool = False
    license: str | None = None  # overrides publish.license on the Hub
    tags: tuple[str, ...] = ()
    source_datasets: tuple[str, ...] = ()  # Hub ids of the datasets the recordings come from


class KagglePublish(Frozen):
    id: str | None = None
    title: str | None = None
    subtitle: str | None = None
    license: str | None = None  # overrides publish.license on Kaggle
    keywords: tuple[str, ...] = ()
    public: bool = False


class PublishConfig(Frozen):
    license: str | None = None  # the dataset's licence on both targets, Hub id or Kaggle name; None: unknown
    citation: str | None = None  # BibTeX (or text) for the card's Citation section and Croissant's citeAs
    hf: HubPublish = HubPublish()
    kaggle: KagglePublish = KagglePublish()

    @model_validator(mode="after")
    def _licences(self) -> "PublishConfig":
        from .licenses import check

        for key, value in (("license", self.license), ("hf.license", self.hf.license),
                           ("kaggle.license", self.kaggle.license)):
            try:
                if value is not None:
                    check(value)  # names the closest valid ids
            except ValueError as exc:
                raise _bad(key, str(exc)) from None
        return self


class Config(Frozen):
    name: str = Field(min_length=1, max_length=200)
    source: SourceConfig
    audio: AudioConfig = AudioConfig()
    windows: WindowsConfig = WindowsConfig()
    spectrogram: SpectrogramConfig = SpectrogramConfig()
    image: ImageConfig = ImageConfig()
    output: OutputConfig = OutputConfig()
    publish: PublishConfig = PublishConfig()

    @model_validator(mode="after")
    def _cross(self) -> "Config":
        sr, spec = self.audio.sample_rate, self.spectrogram
        if self.windows.select == "events" and not isinstance(self.source.labels, EventLabels):
            raise _bad("windows.select", "events needs time-stamped labels (source.labels.events)")
        if self.output.include.arrays and sr is None:
            raise _bad("output.include.arrays", "needs a fixed audio.sample_rate (every array has one shape)")
        if sr is not None:
            nyquist = sr / 2
            if spec.f_max is None:
                spec = spec.model_copy(update={"f_max": float(nyquist)})
                object.__setattr__(self, "spectrogram", spec)
            elif spec.f_max > nyquist:
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
        data = self.model_dump(mode="json", exclude={"publish": True, "output": {"path", "staging"}})
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_geometry(cfg: Config, sample_rate: int) -> None:
    """Checks that need a sample rate: window long enough, every mel filter non-empty, and one
    window's image and memory bounded (:data:`MAX_IMAGE_PIXELS`, :data:`MAX_WINDOW_BYTES`)."""
    spec = cfg.spectrogram
    n = int(round(cfg.windows.duration * sample_rate))
    if spec.center and spec.pad_mode == "reflect" and n <= spec.n_fft // 2:
        raise _bad("windows.duration", f"{cfg.windows.duration:g} s is shorter than n_fft/2 at {sample_rate} Hz")
    frames = n // spec.hop_length + 1 if spec.center else max(1, (n - spec.n_fft) // spec.hop_length + 1)
    if {"delta", "delta2"} & set(cfg.image.channels) and cfg.image.delta_width > frames:
        raise _bad("image.delta_width", f"a {cfg.image.delta_width}-frame delta filter is longer than the {frames} "
                                        f"frames of a window at {sample_rate} Hz")
    rows = {"stft": spec.n_freqs, "mel": spec.n_mels, "mfcc": spec.n_mfcc}[spec.kind]
    if cfg.image.size is None and cfg.image.style == "raw" and rows * frames > MAX_IMAGE_PIXELS:
        raise _bad("spectrogram.hop_length", f"a {cfg.windows.duration:g}-s window at {sample_rate} Hz makes a "
                   f"{frames}x{rows} image ({rows * frames:,} pixels), more than Pillow opens without a "
                   f"decompression-bomb warning ({MAX_IMAGE_PIXELS:,}): raise hop_length, shorten "
                   "windows.duration or set image.size")
    need = n * 4 + spec.n_freqs * frames * 8 + rows * frames * 4 * len(cfg.image.channels)
    if need > MAX_WINDOW_BYTES:
        raise _bad("windows.duration", f"one {cfg.windows.duration:g}-s window at {sample_rate} Hz needs "
                   f"{need / 2**30:.1f} GiB in a worker (samples, STFT, channels; at most "
                   f"{MAX_WINDOW_BYTES >> 30} GiB): shorten it or raise spectrogram.hop_length")
    if spec.kind != "stft":
        from .filterbank import empty_mel_filters

        f_max = spec.f_max if spec.f_max is not None else sample_rate / 2
        if spec.f_min >= f_max:
            raise _bad("spectrogram.f_min", f"must be < f_max ({f_max:g}) at {sample_rate} Hz")
        empty = empty_mel_filters(spec, sample_rate, f_max)
        if empty:
            raise _bad(
                "spectrogram.n_mels",
                f"{spec.n_mels} mel bands are more than n_fft={spec.n_fft} can fill between "
                f"{spec.f_min:g} and {f_max:g} Hz at {sample_rate} Hz ({empty} would be empty)",
            )


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.I)


def parse_size(text: str) -> int:
    """'500MB' → 500_000_000; '1GiB' → 1_073_741_824."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (e.g. 500MB)")
    unit = m.group(2).lower().rstrip("b")
    base = 1024 if unit.endswith("i") else 1000
    power = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}[unit.rstrip("i")]
    return int(float(m.group(1)) * base**power)


# --------------------------------------------------------------------------- loading


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses a document whose aliases expand past :data:`MAX_YAML_NODES` nodes.

    PyYAML shares an aliased node instead of copying it, so a "billion laughs" document loads in
    kilobytes; it is the first deep copy (or a model walking it) that grows to gigabytes. The
    expanded size is counted on the composed graph, each node once (memoised), before anything
    is constructed.
    """

    def compose_document(self):
        node = super().compose_document()
        _expanded_size(node)
        return node


def _expanded_size(root: yaml.Node) -> int:
    """Nodes the document has once every alias is copied out; ``yaml.YAMLError`` past the bound."""
    sizes: dict[int, int] = {}
    stack, active = [(root, False)], set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else \
            node.value if isinstance(node, yaml.SequenceNode) else []
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_YAML_NODES:
                raise yaml.YAMLError(f"its aliases expand to more than {MAX_YAML_NODES:,} values (an alias bomb?)")
            continue
        if key in active:
            raise yaml.YAMLError("the YAML refers to itself (a recursive alias)")
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with aliases bounded (see :class:`_BoundedLoader`)."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _set_error(msg: str, key: str) -> ConfigError:
    return _error(msg, key, "", [key])


def apply_override(data: dict, assignment: str, origin: str) -> str:
    """Apply one ``--set a.b.c=value`` (the value is parsed as YAML); returns the dotted key."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError("expected KEY=VALUE", file=f"--set {assignment}")
    key = key.strip()
    try:
        value = load_yaml(raw) if raw.strip() else None
    except RecursionError:
        raise _set_error("value nests too deeply", key) from None
    except yaml.YAMLError as exc:
        why = str(exc) if type(exc) is yaml.YAMLError else exc.__class__.__name__
        raise _set_error(f"value is not YAML: {why}", key) from None
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None or isinstance(child, str):
            child = node[part] = {} if child is None else {"path": child} if part == "source" else {}
        if not isinstance(child, dict):
            raise _set_error(f"{part} is not a section", key)
        node = child
    node[parts[-1]] = value
    return key


def _resolve_paths(data: dict, base: Path) -> None:
    from .fsutil import is_url

    def fix(parent: dict | None, key: str) -> None:
        if isinstance(parent, dict) and isinstance(parent.get(key), str) and not is_url(parent[key]):
            try:
                p = Path(parent[key]).expanduser()
            except RuntimeError:  # "~someone" with no such user
                raise ValueError(f"@{key}@ cannot expand {parent[key]!r}: no such user's home folder") from None
            parent[key] = os.path.normpath(p if p.is_absolute() else (base / p))

    source = data.get("source")
    if isinstance(source, dict):
        fix(source, "path")
        if isinstance(source.get("labels"), dict):
            fix(source["labels"], "csv")
            fix(source["labels"], "events")
    output = data.get("output") if isinstance(data.get("output"), dict) else None
    fix(output, "path")
    fix(output, "staging")


_UNION_MODELS = ("CsvLabels", "EventLabels")


def config_keys(model: type[BaseModel] = None, prefix: str = "") -> list[str]:
    """Every dotted key a config may set, sections included (``spectrogram``, ``spectrogram.n_mels``)."""
    import typing

    keys = []
    for name, field in (model or Config).model_fields.items():
        keys.append(prefix + name)
        todo = [field.annotation]
        while todo:
            t = todo.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                keys += config_keys(t, f"{prefix}{name}.")
            else:
                todo += typing.get_args(t)
    return list(dict.fromkeys(keys))


def did_you_mean(key: str) -> str:
    """`` (did you mean a.b?)`` for the closest valid keys to an unknown one, else ``""``."""
    import difflib

    valid = config_keys()
    leaf = key.rsplit(".", 1)[-1]
    close = [k for k in valid if k.rsplit(".", 1)[-1] == leaf]  # the right name in the wrong section
    close = close or difflib.get_close_matches(key, valid, n=2, cutoff=0.75)
    if not close:  # a short typo in a long path
        leaves = {k.rsplit(".", 1)[-1]: k for k in reversed(valid)}
        close = [leaves[m] for m in difflib.get_close_matches(leaf, list(leaves), n=2, cutoff=0.7)]
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def _where(key: str | None, origin: str, set_keys: list[str]) -> tuple[str, str | None]:
    """(file, key) for a message: ``--set KEY`` when an override wrote ``key`` (or a section above
    or below it), else the config file and the key."""
    for k in reversed(set_keys):
        if key and (key == k or key.startswith(k + ".") or k.startswith(key + ".")):
            return f"--set {k}", None if key == k else key
    return origin, key


def _format(exc: ValidationError, origin: str, set_keys: list[str] = ()) -> ConfigError:
    errors = exc.errors()
    # A mapping under a Literal|Model union fails both branches; the Literal complaint is noise then.
    model_fields = {e["loc"][: [str(p) for p in e["loc"]].index(m)] for e in errors for m in _UNION_MODELS
                    if m in map(str, e["loc"])}
    errors = [e for e in errors if not (e["type"] == "literal_error" and e["loc"][:-1] in model_fields)]
    lines = []
    for err in errors:
        loc = [str(p) for p in err["loc"]
               if not _INTERNAL_LOC.match(str(p)) and str(p) not in _UNION_MODELS]
        msg = err["msg"].removeprefix("Value error, ")
        m = _KEYED.match(msg)
        if m:
            loc, msg = loc + [m.group(1)], m.group(2)
        key = ".".join(dict.fromkeys(loc)) or "(top level)"
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + did_you_mean(key)
        lines.append(_error(msg, key, origin, set_keys))
    lines[0].details = [str(e) for e in lines]
    return lines[0]


def _error(msg: str, key: str | None, origin: str, set_keys: list[str]) -> ConfigError:
    """A ConfigError whose line names ``--set KEY`` or the file; ``.key`` is the full key either way."""
    where, shown = _where(key, origin, set_keys)
    error = ConfigError(msg, file=where, key=shown)
    error.key = key
    return error


def parse_config(data: Any, origin: str, base: Path, overrides: list[str] = ()) -> Config:
    """Validate a loaded YAML document (plus --set overrides) into a :class:`Config`.

    Paths in ``data`` resolve against ``base``; paths set by ``overrides`` against the working
    directory (they were typed in a shell there).
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping", file=origin)
    try:
        data = json.loads(json.dumps(data, default=str))  # deep copy; YAML dates etc. become strings
    except (ValueError, RecursionError):
        raise ConfigError("the YAML refers to itself (a recursive alias) or nests too deeply", file=origin) from None
    _resolve(data, base, origin)
    set_keys = [apply_override(data, assignment, origin) for assignment in overrides]
    _resolve(data, Path.cwd(), "--set")  # only the overrides' paths are still relative
    data.setdefault("name", Path(origin).stem)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise _format(exc, origin, set_keys) from None
    except ValueError as exc:  # geometry checks raised outside pydantic's wrapping
        m = _KEYED.match(str(exc))
        raise _error(m.group(2) if m else str(exc), m.group(1) if m else None, origin, set_keys) from None
    if cfg.output.path is None:
        default = base / "out" / re.sub(r"[^\w.-]+", "-", cfg.name).strip("-.")
        cfg = cfg.model_copy(update={"output": cfg.output.model_copy(update={"path": default})})
    return cfg


def _resolve(data: dict, base: Path, origin: str) -> None:
    if isinstance(data.get("source"), str):
        data["source"] = {"path": data["source"]}
    try:
        _resolve_paths(data, base)
    except ValueError as exc:
        m = _KEYED.match(str(exc))
        raise ConfigError(m.group(2), file=origin, key=m.group(1)) from None


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Load a config file, or a bundled preset by name (see ``spectroset presets``)."""
    from .presets import find_preset

    path = Path(path)
    origin, base = str(path), path.resolve().parent
    if not path.is_file():
        preset = find_preset(str(path))
        if preset is None:
            raise ConfigError("no such config file or preset (see `spectroset presets`)", file=str(path))
        path, origin, base = preset, preset.name, Path.cwd()
    try:
        text = path.read_text(encoding="utf-8")
        data = load_yaml(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc.__class__.__name__}", file=origin) from None
    except RecursionError:
        raise ConfigError("the YAML nests too deeply", file=origin) from None
    except yaml.YAMLError as exc:
        if type(exc) is yaml.YAMLError:  # ours: the alias bound
            raise ConfigError(str(exc), file=origin) from None
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{problem}", file=origin, key=where) from None
    return parse_config(data, origin, base, overrides)


def public_dict(cfg: Config) -> dict:
    """The config as a plain dict for cards and build.json: paths shown by folder name only."""
    data = cfg.model_dump(mode="json")
    data["source"]["path"] = Path(data["source"]["path"]).name
    labels = data["source"]["labels"]
    if isinstance(labels, dict):
        for key in ("csv", "events"):
            if key in labels:
                labels[key] = Path(labels[key]).name
    data["output"]["path"] = Path(data["output"]["path"]).name
    data["output"].pop("staging", None)
    return data
