"""The ``output:`` and ``publish:`` sections of the config: where a build goes and who sees it.

``output:`` is the layout (imagefolder, parquet, mirror or webdataset), the folder or fsspec URL it is written
to, the shard size, the train/validation/test splits, k folds, and what each row carries besides
the image; ``publish:`` is the licence, the citation and the Hugging Face Hub and Kaggle targets.
:class:`builder.config.sections.Config` holds both; ``source:`` is in :mod:`builder.config.source`. Where a
build goes (``output.path``, ``output.staging``) and ``publish:`` are left out of
:meth:`builder.config.sections.Config.hash`: they do not change a byte of the dataset.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from .geometry import Frozen, _bad, _path_or_url, parse_size


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
    layout: Literal["imagefolder", "parquet", "mirror", "webdataset"] = "imagefolder"
    max_shard_size: int = 500_000_000
    splits: SplitsConfig = Field(default_factory=SplitsConfig)
    include: IncludeConfig = Field(default_factory=IncludeConfig)
    stats: bool = True
    folds: int | None = Field(default=None, ge=2, le=100)  # a `fold` column: stratified group k-fold (splits.py)

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, v: Any) -> Any:
        return _path_or_url(v, "s3://bucket/dataset")

    @field_validator("splits", mode="before")
    @classmethod
    def _no_splits(cls, v: Any) -> Any:
        return {} if v is None else v  # `splits: null`: no split, as when the key is left out (one train split)

    @field_validator("max_shard_size", mode="before")
    @classmethod
    def _bytes(cls, v: Any) -> Any:
        return parse_size(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _mirror(self) -> "OutputConfig":
        if self.layout == "mirror" and len(self.splits.fractions) > 1:
            raise _bad("splits", "the mirror layout has no splits (drop output.splits, or --set output.splits=null)")
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
    hf: HubPublish = Field(default_factory=HubPublish)
    kaggle: KagglePublish = Field(default_factory=KagglePublish)

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
