"""The ``source:`` section of the config: where the audio is and how it is labelled (folder names,
a CSV of file → label, or time-stamped events from a CSV or Raven selection tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator

from .geometry import Frozen, _path_or_url

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
