"""``croissant.json``: Croissant 1.0 (ML Commons) metadata beside the card, in every layout.

One RecordSet per split whose fields are the dataset's columns: ``image`` as ``sc:ImageObject``,
``label`` (an index) referencing a ``label_names`` enumeration, the kept CSV columns with their types.
Parquet builds read the shards' columns; image folders join each split's metadata file to its
PNG files on the file name (``FileSet`` of the images, ``fileProperty: filepath``).

Written as plain JSON-LD, not through ``mlcroissant``'s classes: that library (pandas, rdflib,
networkx, …) is only a test dependency, and the document is small and fixed. The tests check it
with ``mlcroissant`` (validation, and one record per row).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from ..config.licenses import hub_fields
from ..plan.names import plural
from .features import columns
from .inputs import CardInputs

CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "citeAs": "cr:citeAs", "column": "cr:column",
    "conformsTo": "dct:conformsTo", "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"}, "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/", "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract",
    "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject", "fileSet": "cr:fileSet",
    "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath",
    "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path", "recordSet": "cr:recordSet",
    "references": "cr:references", "regex": "cr:regex", "repeated": "cr:repeated", "replace": "cr:replace",
    "sc": "https://schema.org/", "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField",
    "transform": "cr:transform", "samplingRate": "cr:samplingRate", "equivalentProperty": "cr:equivalentProperty",
}
NAME = "croissant.json"
PARQUET = "application/x-parquet"
TAR = "application/x-tar"
LICENSE_URL = "https://huggingface.co/docs/hub/repositories-licenses"
_TYPES = {"string": "sc:Text", "float64": "sc:Float", "float32": "sc:Float", "int64": "sc:Integer",
          "int32": "sc:Integer", "bool": "sc:Boolean"}


def _file_object(rel: str, sha256: str, fmt: str) -> dict:
    return {"@type": "cr:FileObject", "@id": rel, "name": rel, "contentUrl": rel, "encodingFormat": fmt,
            "sha256": sha256}


def _field(split: str, name: str, data_type: str, source: dict, description: str, **extra) -> dict:
    return {"@type": "cr:Field", "@id": f"{split}/{name}", "name": name, "description": description,
            "dataType": data_type, "source": source, **extra}


def _columns(build) -> list[tuple[str, str, str]]:
    """(column, Croissant dataType, description) for every column but the image, in card order."""
    out = []
    # every layout stores label ids: the shards and the image folders' metadata.parquet alike
    for c in columns(build.plan, build.cfg):
        if c.kind == "label":
            out.append((c.name, "sc:Integer", "class label: an index into label_names"))
        elif c.kind == "labels":
            out.append((c.name, "sc:Integer", "every label of the recording"))
        elif c.kind == "value":
            out.append((c.name, _TYPES.get(c.dtype, "sc:Text"), c.name))
        # spectrogram arrays and audio clips have no Croissant 1.0 type that mlcroissant reads: left out
    return out


def document(build: CardInputs, record: dict, licence: str, citation: str | None, url: str | None = None) -> dict:
    """The Croissant document for a finished build (``build.files`` holds every data file's sha256)."""
    cfg, plan = build.cfg, build.plan
    distribution, record_sets = [], []
    names = plan.label_names
    if plan.labelled:
        record_sets.append({
            "@type": "cr:RecordSet", "@id": "label_names", "name": "label_names", "dataType": "sc:Enumeration",
            "description": "The class names; `label` holds an index into them",
            "key": {"@id": "label_names/name"},
            "field": [{"@type": "cr:Field", "@id": "label_names/index", "name": "index", "dataType": "sc:Integer"},
                      {"@type": "cr:Field", "@id": "label_names/name", "name": "name", "dataType": "sc:Text"}],
            "data": [{"label_names/index": i, "label_names/name": n} for i, n in enumerate(names)],
        })
    for split in record["splits"]:
        pattern = build.data_files[split]
        if build.layout == "webdataset":
            distribution += _tar_files(build, split, pattern)
            record_sets.append(_tar_records(split, _tar_includes(build) == "**/*.png"))
            continue
        if build.layout == "parquet":
            files = sorted(rel for rel in build.files if rel.startswith(pattern.split("*")[0]) and rel.endswith(".parquet"))
            for rel in files:
                distribution.append(_file_object(rel, build.files[rel], PARQUET))
            distribution.append({"@type": "cr:FileSet", "@id": f"{split}-parquet", "name": f"{split}-parquet",
                                 "encodingFormat": PARQUET, "includes": f"{pattern.rstrip('*')}*.parquet"})
            table = {"fileSet": {"@id": f"{split}-parquet"}}
            image = _field(split, "image", "sc:ImageObject", {**table, "extract": {"column": "image"},
                                                              "transform": {"jsonPath": "bytes"}}, "spectrogram PNG")
            fields = [image]
        else:
            meta = build.metadata[split]
            fmt = PARQUET
            distribution.append(_file_object(meta, build.files[meta], fmt))
            folder = meta.rpartition("/")[0]
            distribution.append({"@type": "cr:FileSet", "@id": f"{split}-images", "name": f"{split}-images",
                                 "encodingFormat": "image/png", "includes": _includes(build, folder)})
            table = {"fileObject": {"@id": meta}}
            # mlcroissant joins on the path below the FileSet's folder and reports the full path: the
            # regex leaves the first as it is and cuts the second down to it
            prefix = f"{folder}/" if folder else ""
            fields = [
                _field(split, "image", "sc:ImageObject", {"fileSet": {"@id": f"{split}-images"},
                                                          "extract": {"fileProperty": "content"}}, "spectrogram PNG"),
                _field(split, "file_name", "sc:Text",
                       {"fileSet": {"@id": f"{split}-images"}, "extract": {"fileProperty": "filepath"},
                        "transform": {"regex": _path_regex(build, prefix)}},
                       "the image's path inside its split folder",
                       references={"fileObject": {"@id": meta}, "extract": {"column": "file_name"}}),
            ]
        for name, data_type, description in _columns(build):
            extra = {"repeated": True} if name == "labels" else {}
            if name == "label":
                extra["references"] = {"field": {"@id": "label_names/index"}}
            fields.append(_field(split, name, data_type, {**table, "extract": {"column": name}}, description, **extra))
        record_sets.append({"@type": "cr:RecordSet", "@id": split, "name": split,
                            "description": f"The {split} split: one record per window.", "field": fields})
    doc = {
        "@context": CONTEXT, "@type": "sc:Dataset", "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": cfg.name,
        "description": f"Spectrogram images of {plural(record['sources'], 'recording')}, "
                       f"{plural(record['windows'], 'window')} "
                       f"of {cfg.windows.duration:g} s, built by spectroset.",
        "license": _licence_url(licence),
        "url": url or "https://huggingface.co/datasets/" + (cfg.publish.hf.repo_id or "OWNER/NAME"),
        "version": "1.0.0", "citeAs": citation or f"{cfg.name}, a spectrogram dataset built with spectroset",
        "keywords": sorted({"audio", "spectrogram", *cfg.publish.hf.tags}),
        "distribution": distribution, "recordSet": record_sets,
    }
    return doc


def _tar_files(build, split: str, pattern: str) -> list[dict]:
    """A webdataset split: each tar shard, and the ``FileSet`` of the PNGs inside them."""
    tars = sorted(rel for rel in build.files if rel.startswith(pattern.split("*")[0]) and rel.endswith(".tar"))
    files = [_file_object(rel, build.files[rel], TAR) for rel in tars]
    return files + [{"@type": "cr:FileSet", "@id": f"{split}-images", "name": f"{split}-images",
                     "containedIn": [{"@id": rel} for rel in tars], "encodingFormat": "image/png",
                     "includes": _tar_includes(build)}]


def _tar_includes(build) -> str | list[str]:
    """The glob(s) of the PNG members: keys lie below label folders, or at the top (no label folder)."""
    folders = {bool(e.folder) for e in build.plan.entries.values()} or {True}
    found = [glob for glob, there in (("*.png", False in folders), ("**/*.png", True in folders)) if there]
    return found[0] if len(found) == 1 else found


def _tar_records(split: str, folders: bool) -> dict:
    """A webdataset split's records: each sample's image and key (its name in the tar without
    ``.png``: the label folder and the file name, cut from the path an archive was extracted to).
    Its ``KEY.json`` columns have no Croissant 1.0 reader for one JSON file per record: the card's
    header types them (``json``)."""
    images = {"fileSet": {"@id": f"{split}-images"}}
    key = r"^(?:.*/)?([^/]+/[^/]+)\.png$" if folders else r"^(?:.*/)?([^/]+)\.png$"
    return {"@type": "cr:RecordSet", "@id": split, "name": split,
            "description": f"The {split} split: one record per window (a sample of the tar shards).",
            "field": [_field(split, "image", "sc:ImageObject", {**images, "extract": {"fileProperty": "content"}},
                             "spectrogram PNG (KEY.png)"),
                      _field(split, "key", "sc:Text", {**images, "extract": {"fileProperty": "filepath"},
                                                       "transform": {"regex": key}},
                             "the sample's key: its KEY.json holds the label and the other columns")]}


def _licence_url(licence: str) -> str:
    """Croissant's ``license``: the Hub's page for its id, a licence's own page where the Hub has no
    id for it (``other`` with a ``license_link``), else ``unknown``/``other``."""
    fields = hub_fields(licence)
    if fields.get("license_link", "").startswith("http"):
        return fields["license_link"]
    return fields["license"] if fields["license"] in ("unknown", "other") else f"{LICENSE_URL}#{fields['license']}"


def _includes(build, folder: str) -> str | list[str]:
    """The glob(s) of a split's images: ``**/*.png`` needs a folder below the split's, so images
    lying directly in it (multi-label events: no label folders) take ``*.png``, and both where
    both kinds exist. Images at OUT's top (mirror of a flat source) take ``*_*.png``, every
    image's ``<stem>_<end>.png``: not ``preview.png`` beside them."""
    prefix = f"{folder}/" if folder else ""
    below = {rel[len(prefix):] for rel in build.files if rel.startswith(prefix) and rel.endswith(".png")}
    flat = "*.png" if prefix else "*_*.png"
    patterns = [f"{prefix}{glob}" for glob, there in ((flat, any("/" not in r for r in below)),
                                                      ("**/*.png", any("/" in r for r in below))) if there]
    return patterns[0] if len(patterns) == 1 else patterns or f"{prefix}**/*.png"


def _path_regex(build, prefix: str) -> str:
    """A regex whose group is an image's path relative to its metadata file, from a relative or an
    absolute path: below ``<split>/``, or (mirror, no split folder) from the first source folder.

    mlcroissant applies it twice: to each file's full path for the join, then to the joined value,
    already cut. The first branch cuts a full path (a split folder followed by as many folders as the
    images lie below it, so a folder of OUT's own path named like the split is passed over); the
    second leaves a cut one as it is, so reading logs no "Could not match" per row."""
    import re

    if prefix:
        depths = sorted({len(e.folder.split("/")) if e.folder else 0 for e in build.plan.entries.values()}) or [0]
        below = f"(?:[^/]+/){{{depths[0]},{depths[-1]}}}[^/]+"
        return f"^(?:.*?/)?{re.escape(prefix)}({below})$|^(.+)$"
    tops = sorted({e.folder.split("/")[0] for e in build.plan.entries.values() if e.folder})
    alternatives = [f"(?:{'|'.join(map(re.escape, tops))})/.+"] if tops else []
    return f"^(?:.*?/)?({'|'.join([*alternatives, '[^/]+'])})$"


def croissant_bytes(build: CardInputs, record: dict, licence: str, citation: str | None) -> bytes:
    """``croissant.json`` as written beside the card."""
    doc = document(build, record, licence, citation)
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def retarget(text: str, url: str | None, licence: str | None, moved: str = "") -> str:
    """``croissant.json`` for one push: the dataset's real URL and licence; files under the folder
    ``moved`` (Kaggle's flattened ``data/``) are named from the top."""
    doc = json.loads(text)
    for item in doc.get("distribution", []) if moved else ():
        for key in ("contentUrl", "includes"):
            if str(item.get(key, "")).startswith(moved):
                item[key] = item[key][len(moved):]
    if url:
        doc["url"] = url
    if licence:
        doc["license"] = _licence_url(licence)
    # The day of this push (UTC): a build has no publication date, and dating it from the build's
    # clock or the recordings' mtimes (a clone's checkout time) would change its bytes between reruns.
    doc["datePublished"] = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
