"""The ``source:`` section of the config: where the audio is and how it is labelled (folder names,
a CSV of file → label, or time-stamped events from a CSV or Raven selection tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from .geometry import Frozen, _bad, _path_or_url

AUDIO_EXTENSIONS = ("wav", "aif", "aiff", "flac", "ogg", "oga", "opus", "mp3", "m4a")
# A Raven selection table's label column, tried in order when label_column is left at "label".
RAVEN_LABELS = ("Species", "Annotation", "Label", "label", "Class")


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
        taken = {"file_name", "image", "label", "labels", "source", "start", "end", "audio_seconds", "fold", "spectrogram", "audio"}
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
    """Time-stamped labels (``builder/sources/events.py``): a CSV, or a folder of Raven selection tables.
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
        raven = {"file_column": ("filename", "Begin File"), "start_column": ("start", "Begin Time (s)"),
                 "end_column": ("end", "End Time (s)")}
        update = {k: new for k, (default, new) in raven.items() if getattr(self, k) == default and default not in columns}
        if self.label_column == "label" and "label" not in columns:
            update["label_column"] = next((c for c in RAVEN_LABELS if c in columns), "label")
        return self.model_copy(update=update)


_NAMED = "literal[folder|none]"  # a tag loading._INTERNAL_LOC hides from error keys


def _labels_kind(v: Any) -> str:
    """Which labels model a value is for: a mapping with ``events`` is time-stamped labels, so its
    errors never mention the CSV model's keys (and the other way round)."""
    if isinstance(v, dict):
        return "EventLabels" if "events" in v else "CsvLabels"
    if isinstance(v, (CsvLabels, EventLabels)):
        return type(v).__name__
    return _NAMED


_DATASET_KEYS = frozenset({"dataset", "revision", "split", "label_column", "audio_column", "keep_splits"})
# A split name kept from a source dataset (``keep_splits``) names a folder and a ``datasets`` split.
SPLIT_NAME = r"[A-Za-z0-9_]+"


class SourceConfig(Frozen):
    path: Union[Path, str, None] = None  # a folder, or an fsspec URL (memory://, s3://, ...) kept as a string
    # An audio dataset stored as parquet (builder/sources/dataset.py): a local folder, a Hub repo id
    # (user/name) or hf://datasets/user/name[@revision]; then `path` is left out.
    dataset: str | None = None
    revision: str | None = None  # a branch, tag or commit of a Hub dataset (default: main)
    split: tuple[str, ...] = ()  # the dataset's splits to read (default: all)
    label_column: str | None = None  # default: the first ClassLabel (or Sequence(ClassLabel)) column
    audio_column: str | None = None  # default: the first Audio column
    keep_splits: bool = False  # the dataset's own splits instead of output.splits
    labels: Annotated[Union[Annotated[Literal["folder", "none"], Tag(_NAMED)], Annotated[CsvLabels, Tag("CsvLabels")],
                            Annotated[EventLabels, Tag("EventLabels")]], Discriminator(_labels_kind)] = "folder"
    extensions: tuple[str, ...] = AUDIO_EXTENSIONS

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, v: Any) -> Any:
        return _path_or_url(v, "s3://bucket/audio")

    @field_validator("split", mode="before")
    @classmethod
    def _splits(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else () if v is None else v

    @model_validator(mode="after")
    def _one_source(self) -> "SourceConfig":
        if (self.path is None) == (self.dataset is None):
            raise _bad("path", "give source.path (an audio folder) or source.dataset (a parquet audio dataset), "
                               "not both (a preset's path goes with --set source.path=null)" if self.path is not None
                       else "missing: give source.path=AUDIO_FOLDER or source.dataset=USER/NAME")
        if self.dataset is None:
            for key in ("revision", "label_column", "audio_column"):
                if getattr(self, key) is not None:
                    raise _bad(key, "only applies to source.dataset")
            if self.split or self.keep_splits:
                raise _bad("split" if self.split else "keep_splits", "only applies to source.dataset")
        elif not isinstance(self.labels, str):
            raise _bad("labels", "a dataset's labels come from its columns (source.label_column); "
                                 "leave labels out, or set it to none")
        return self

    def unused_keys(self) -> set[str]:
        """The dataset keys when no dataset is read: left out of hashes and records, so a folder
        build's config hash and build.json are what they were before these keys existed."""
        return set(_DATASET_KEYS) if self.dataset is None else set()

    @property
    def on_hub(self) -> bool:
        """Whether ``dataset`` names a Hub dataset (public, kept whole) rather than a local folder."""
        return self.dataset is not None and (self.dataset.startswith("hf://")
                                             or not Path(self.dataset).expanduser().is_absolute())

    @property
    def origin(self) -> str:
        """Where the recordings come from, as the card says it."""
        if self.dataset is None:
            return "the source folder"
        name = self.dataset if self.on_hub else Path(self.dataset).name
        return f"the audio dataset `{name}`" + (f" (revision `{self.revision}`)" if self.revision else "")

    @field_validator("extensions")
    @classmethod
    def _lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({e.lower().lstrip(".") for e in v}))
