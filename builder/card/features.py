"""The one features table of a build: every column a split has, in order, with its type.

Everything that declares the columns reads it: the card's header (``dataset_info`` and
``configs``, :func:`as_yaml`), the card's Columns section and Croissant's fields (the table
itself), and the layouts' ``datasets.Features`` (:func:`as_datasets`: the parquet shards'
embedded schema, an image folder's ``metadata.parquet``). The table is written out once, as the
YAML list ``datasets`` writes into a card (``Features._to_yaml_list``); :func:`as_datasets` reads
that list back with ``datasets``' own card reader, so the features a build embeds are the ones
``load_dataset`` reads from its header. Only :func:`as_datasets` imports ``datasets`` (with
pandas, 0.4-0.8 s and ~100 MB): the card, header and Croissant do not need it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column. ``kind``: ``image``, ``label`` (a ``ClassLabel``), ``labels`` (a list of them),
    ``value`` (a ``Value`` of ``dtype``), ``array`` (``dtype`` values of ``shape``) or ``audio``."""

    name: str
    kind: str
    dtype: str = ""
    names: tuple[str, ...] = ()  # label, labels: the class names, in id order
    shape: tuple[int, ...] = ()  # array: (bins, frames), or (channels, bins, frames)
    rate: int | None = None  # audio: the sampling rate; None: each recording's own


def columns(plan, cfg) -> list[Column]:
    """The columns every split of this build has (``plan``: its ``DatasetPlan``)."""
    names = tuple(plan.label_names)
    out = [Column("image", "image")]
    if plan.labelled:
        out.append(Column("label", "label", names=names))
    if plan.multilabel:
        out.append(Column("labels", "labels", names=names))
    out += [Column("source", "value", "string"), Column("start", "value", "float64"), Column("end", "value", "float64"),
            Column("audio_seconds", "value", "float64")]
    if cfg.output.folds:
        out.append(Column("fold", "value", "int32"))
    out += [Column(name, "value", dtype) for name, dtype in plan.columns.items()]
    include, rate = cfg.output.include, cfg.audio.sample_rate
    if include.arrays and rate:
        from ..dsp.spectrogram import Spectrogrammer
        from ..plan.windows import window_samples

        spec = Spectrogrammer(cfg.spectrogram, rate)
        shape = (spec.n_bins, spec.n_frames(window_samples(cfg.windows, rate)[0]))
        channels = len(cfg.image.channels)  # several: every channel, (channels, bins, frames)
        out.append(Column("spectrogram", "array", "float16", shape=shape if channels == 1 else (channels, *shape)))
    if include.audio:
        out.append(Column("audio", "audio", rate=rate or None))
    return out


def as_yaml(table: list[Column]) -> list[dict]:
    """The table as ``datasets`` writes features into a card (``Features._to_yaml_list``)."""
    out = []
    for c in table:
        if c.kind in ("label", "labels"):  # a new dict per column: a shared one is dumped as a YAML anchor
            names = {"class_label": {"names": {str(i): n for i, n in enumerate(c.names)}}}
            out.append({"name": c.name, "dtype" if c.kind == "label" else "list": names})
        elif c.kind == "array":
            out.append({"name": c.name, "dtype": {f"array{len(c.shape)}_d": {"shape": list(c.shape), "dtype": c.dtype}}})
        elif c.kind == "audio":
            out.append({"name": c.name, "dtype": {"audio": {"sampling_rate": c.rate}} if c.rate else "audio"})
        else:
            out.append({"name": c.name, "dtype": c.dtype or c.kind})
    return out


TAR_MEMBERS = {"image": "png", "array": "npy", "audio": "flac"}  # a column's member in a webdataset sample


def as_tar_yaml(table: list[Column]) -> list[dict]:
    """The table as a webdataset build's samples load: ``__key__`` and ``__url__`` (what ``datasets``'
    tar reader adds), ``png``, ``json`` (a struct of the label and value columns: KEY.json holds label
    names, which the ``ClassLabel`` turns into ids), ``npy`` and ``flac`` (``TAR_MEMBERS``)."""
    from dataclasses import replace

    members = {c.kind: replace(c, name=TAR_MEMBERS[c.kind]) for c in table if c.kind in TAR_MEMBERS}
    out = [{"name": "__key__", "dtype": "string"}, {"name": "__url__", "dtype": "string"}]
    out += as_yaml([members["image"]])
    fields = as_yaml([c for c in table if c.kind not in TAR_MEMBERS])
    if fields:
        out.append({"name": "json", "struct": fields})
    return out + as_yaml([members[kind] for kind in ("array", "audio") if kind in members])


def as_datasets(table: list[Column]):
    """The table as ``datasets.Features``, read from :func:`as_yaml` as ``load_dataset`` reads a card."""
    from datasets import Features

    return Features._from_yaml_list(as_yaml(table))
