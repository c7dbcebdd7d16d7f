"""The dataset card tells a person what they have, and its header makes load_dataset exact."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from builder.pipeline import build

from tests.helpers.layouts import DEMO, birdclef_source, demo_config

CSV_LABELS = "source.labels={{csv: {csv}, extra_labels_column: secondary_labels}}"


def header_and_body(out):
    text = (out / "README.md").read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    audio, table = birdclef_source(root)
    cfg = demo_config(root / "out", audio, CSV_LABELS.format(csv=table), "output.layout=parquet",
                      "output.include={arrays: true, audio: true}", "output.splits={train: 0.5, test: 0.5}",
                      "publish.hf.repo_id=someone/birds")
    return cfg, build(cfg, workers=1, progress=False).record


def test_header_declares_configs_features_and_sizes(built):
    cfg, record = built
    header, _ = header_and_body(cfg.output.path)
    (config,) = header["configs"]
    assert config["data_files"] == [{"split": "train", "path": "data/train-*"}, {"split": "test", "path": "data/test-*"}]
    names = [f["name"] for f in config["features"]]
    assert names == ["image", "label", "labels", "source", "start", "end", "audio_seconds", "spectrogram", "audio"]
    sizes = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert sizes == record["splits"]
    assert all(s["num_bytes"] > 0 for s in header["dataset_info"]["splits"])


def test_card_is_what_huggingface_hub_writes(built):
    # card_files joins header and body itself; DatasetCard must read and write it back unchanged
    from huggingface_hub import DatasetCard

    text = (built[0].output.path / "README.md").read_text(encoding="utf-8")
    card = DatasetCard(text)
    assert str(card) == text
    assert card.data.license and card.data.to_dict()["configs"]


def test_body_tells_what_is_there(built):
    cfg, record = built
    _, body = header_and_body(cfg.output.path)
    assert 'load_dataset("someone/birds")' in body and "load_dataset(\"path/to/this/folder\")" in body
    for column in ("`labels`", "`spectrogram`", "`audio`", "`source`", "`start`, `end`"):
        assert column in body, column
    assert "64 bins × 101 frames" in body and "24-bit FLAC at 32000 Hz" in body
    assert "zzonly" in body and "only among the secondary labels" in body
    seconds = float(re.search(r"\(([0-9.]+) s of audio\)", body).group(1))
    assert seconds == pytest.approx(6 * 1.6, abs=0.2)  # build.json keeps hours to 4 decimals
    for label, per_split in record["counts"].items():
        cells = " | ".join(str(per_split.get(s, 0)) for s in record["splits"])
        assert f"| {label} | {cells} | {sum(per_split.values())} |" in body
    assert "![A few windows per label](preview.png)" in body and (cfg.output.path / "preview.png").is_file()
    assert "all windows of a recording are in one split" in body
    assert "data/{split}-NNNNN-of-NNNNN.parquet" in body


def test_build_record_names_the_png_encoder_version(built):
    """The PNGs are deflated by libdeflate (``render.ENCODER``): build.json's versions say which."""
    import importlib.metadata

    from builder.dsp.render import ENCODER

    _, record = built
    assert record["versions"]["deflate"] == importlib.metadata.version("deflate") and "deflate" in ENCODER
    assert "isal" not in record["versions"]


def test_stats_json_and_card_agree(built):
    cfg, record = built
    stats = json.loads((cfg.output.path / "stats.json").read_text())
    assert stats["split"] == "train" and len(stats["per_bin_mean"]) == len(stats["per_bin_std"]) == 64
    assert stats["frames"] == record["splits"]["train"] * 101
    _, body = header_and_body(cfg.output.path)
    assert f"mean {stats['mean']:.4f}, std {stats['std']:.4f}" in body
    assert "stats.json" in record["files"]


def test_imagefolder_card_names_its_metadata_file(tmp_path):
    audio, table = birdclef_source(tmp_path)
    cfg = demo_config(tmp_path / "out", audio, CSV_LABELS.format(csv=table), "output.splits={train: 1.0}")
    build(cfg, workers=1, progress=False)
    header, body = header_and_body(cfg.output.path)
    assert "configs" not in header  # datasets finds train/** and the features on its own
    assert "`metadata.parquet` in each split folder" in body



@pytest.mark.parametrize("labelled, multilabel", [(True, False), (True, True), (False, False)])
@pytest.mark.parametrize("overrides", [
    ["output.include={arrays: false, audio: false}"],
    ["output.include={arrays: true, audio: true}", "output.folds=3"],
    ["output.include={arrays: true, audio: false}", "image.channels=[spectrogram, delta, delta2]"],
    ["output.include={arrays: false, audio: true}", "audio.sample_rate=null"],
], ids=["plain", "arrays-audio-folds", "channels", "audio-own-rate"])
def test_card_features_written_out_equal_datasets_own(tmp_path, labelled, multilabel, overrides):
    """One features table: the header's YAML (written without importing datasets) is what datasets
    writes for the features the layouts embed, and those have the types the card promises."""
    from types import SimpleNamespace

    from datasets import Array2D, Array3D, Audio, ClassLabel, List, Value

    from builder.card.features import as_datasets, as_yaml, columns

    cfg = demo_config(tmp_path, DEMO, *overrides)
    names = ["amecro", "barswa", "zz only"]
    plan = SimpleNamespace(labelled=labelled, multilabel=multilabel, label_names=names,
                           columns={"rating": "float64", "author": "string"})
    table = columns(plan, cfg)
    feats = as_datasets(table)
    assert as_yaml(table) == feats._to_yaml_list()
    assert list(feats) == [c.name for c in table]
    assert feats["image"]._type == "Image" and feats["source"] == Value("string") and feats["end"] == Value("float64")
    assert feats["rating"] == Value("float64") and feats["author"] == Value("string")
    assert feats.get("label") == (ClassLabel(names=names) if labelled else None)
    assert feats.get("labels") == (List(ClassLabel(names=names)) if multilabel else None)
    assert feats.get("fold") == (Value("int32") if cfg.output.folds else None)
    rate = cfg.audio.sample_rate
    assert feats.get("audio") == ((Audio(sampling_rate=rate) if rate else Audio()) if cfg.output.include.audio else None)
    if "spectrogram" in feats:
        channels = len(cfg.image.channels)
        assert isinstance(feats["spectrogram"], Array2D if channels == 1 else Array3D)
        assert feats["spectrogram"].dtype == "float16" and len(feats["spectrogram"].shape) == (2 if channels == 1 else 3)
    assert ("spectrogram" in feats) == bool(cfg.output.include.arrays and rate)


def test_card_imports_point_one_way_and_never_up():
    """The card package reads one features table (card/features.py) and imports nothing above it:
    layouts import card, never the reverse; inside card no two modules import each other, also
    through imports inside functions."""
    grimp = pytest.importorskip("grimp")

    graph = grimp.build_graph("builder", exclude_type_checking_imports=True, cache_dir=None)
    below = {"card", "run", "plan", "sources", "store", "config", "dsp", "errors"}
    card = sorted(m for m in graph.modules if m.startswith("builder.card."))
    for module in card:
        up = sorted(m for m in graph.find_modules_directly_imported_by(module) if m.split(".")[1] not in below)
        assert not up, f"{module} imports {up}, above card"
        circle = [m for m in card if m != module and graph.chain_exists(module, m) and graph.chain_exists(m, module)]
        assert not circle, f"{module} and {circle} import each other"


def test_header_info_and_configs_as_datasets_writes_them(built):
    """dataset_info and configs in the form (and key order) of datasets' own writers."""
    from datasets import DatasetInfo, Features, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    cfg, _ = built
    header, _ = header_and_body(cfg.output.path)
    ours = header["dataset_info"]
    splits = SplitDict()
    for s in ours["splits"]:
        splits.add(SplitInfo(name=s["name"], num_bytes=s["num_bytes"], num_examples=s["num_examples"]))
    info = DatasetInfo(features=Features._from_yaml_list(ours["features"]), splits=splits,
                       download_size=ours["download_size"], dataset_size=ours["dataset_size"])
    data = DatasetCardData()
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    assert data.to_dict()["dataset_info"] == ours and list(data.to_dict()["dataset_info"]) == list(ours)
    assert header["configs"][0]["features"] == ours["features"]


def _shown(out, env):
    import subprocess
    import sys

    from tests.helpers.layouts import REPO

    return subprocess.run([sys.executable, str(REPO / "examples" / "show.py"), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)


def test_make_demo_show_reads_its_own_clone_with_a_shared_cache(tmp_path):
    """``make demo`` in a second clone after the first was deleted: with one HF cache for both, the
    second clone's show.py got the first clone's cached rows (FileNotFoundError on its images)."""
    import os
    import shutil

    first, second = tmp_path / "clone1" / "out" / "demo", tmp_path / "clone2" / "out" / "demo"
    build(demo_config(first), workers=1, progress=False)
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "hf-cache"), "HF_HUB_OFFLINE": "1"}
    assert _shown(first, env).returncode == 0
    shutil.copytree(first, second)
    shutil.rmtree(tmp_path / "clone1")
    done = _shown(second, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"load_dataset('{second}')" in done.stdout and "train         38 rows" in done.stdout


def _own_files(out, cache: str):
    """``load_dataset(out)`` through the shared ``cache``: every split's rows point at out's own PNGs,
    with the features, splits and columns the card declares (label a ClassLabel of the card's names)."""
    from datasets import Features, Image, load_dataset

    ds = load_dataset(str(out), cache_dir=cache)
    header, _ = header_and_body(out)
    assert list(ds) == [s["name"] for s in header["dataset_info"]["splits"]]
    for split in ds.values():
        assert split.features == Features._from_yaml_list(header["dataset_info"]["features"])
        for row in split.cast_column("image", Image(decode=False)):
            path = Path(row["image"]["path"])
            assert path.is_relative_to(out), path
    return ds


@pytest.mark.parametrize("layout", ["imagefolder", "mirror"])
def test_load_dataset_of_a_copy_reads_the_copys_files_with_a_shared_cache(tmp_path, layout):
    """datasets keyed a local folder's cache on its name and the card's ``configs`` (patterns, not
    files): a copy of an image folder, loaded after the first was deleted, read the first one's PNGs
    (FileNotFoundError). Without ``configs`` the key holds the folder's own files."""
    import shutil

    first, second = tmp_path / "a" / "demo", tmp_path / "b" / "demo"
    extra = ["output.splits={train: 1.0}"] if layout == "mirror" else []
    build(demo_config(first, DEMO, f"output.layout={layout}", *extra), workers=1, progress=False)
    cache = str(tmp_path / "hf-cache")
    _own_files(first, cache)
    shutil.copytree(first, second)
    shutil.rmtree(first)
    ds = _own_files(second, cache)
    assert ds["train"][0]["image"].size == (101, 64)
    assert ds["train"].features["label"].names == ["drum_loop", "game_sfx", "kick_drum", "tabla"]


def test_two_builds_with_one_folder_name_each_read_their_own(tmp_path):
    """A second clone's ``make demo``: the same build at another place, loaded with one cache."""
    cache = str(tmp_path / "hf-cache")
    for where in ("a", "b"):
        out = tmp_path / where / "demo"
        build(demo_config(out), workers=1, progress=False)
        assert sum(len(split) for split in _own_files(out, cache).values()) == 79


@pytest.fixture(scope="module")
def imagefolder_arrays(tmp_path_factory):
    """A multi-label imagefolder build with arrays (metadata.parquet): the header has two ClassLabels."""
    root = tmp_path_factory.mktemp("card-if")
    audio, table = birdclef_source(root)
    cfg = demo_config(root / "out", audio, CSV_LABELS.format(csv=table), "output.include={arrays: true, audio: false}",
                      "output.splits={train: 0.5, test: 0.5}")
    return cfg, build(cfg, workers=1, progress=False).record


@pytest.mark.parametrize("which", ["parquet", "imagefolder"])
def test_card_is_a_hub_card_with_sizes_datasets_reports(which, built, imagefolder_arrays):
    """What the Hub and push_to_hub would say: DatasetCardData takes the header as it is, no YAML
    anchors (datasets never writes them), num_bytes within 1% of ``Dataset._estimate_nbytes`` (what
    push_to_hub writes), the template's sections filled from the build."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from tests.helpers.layouts import load

    cfg, record = built if which == "parquet" else imagefolder_arrays
    text = (cfg.output.path / "README.md").read_text(encoding="utf-8")
    header, body = header_and_body(cfg.output.path)
    assert not re.search(r"[&*]id\d+", text)  # no &id001 / *id001
    assert DatasetCardData(**header).to_dict() == header and str(DatasetCard(text)) == text
    ds = load(cfg.output.path)
    for split in header["dataset_info"]["splits"]:
        ours, theirs = split["num_bytes"], ds[split["name"]]._estimate_nbytes()
        assert abs(ours - theirs) <= 0.01 * theirs, (split["name"], ours, theirs)
    for section in ("## Dataset Structure", "## Dataset Creation", "### Source data", "### Annotations",
                    "## Bias, Risks, and Limitations", "### Recommendations"):
        assert f"\n{section}\n" in body, section
    totals = {label: sum(c.values()) for label, c in record["counts"].items()}
    top = min(totals, key=lambda k: (-totals[k], k))  # ties by name
    assert f"`{top}` is {totals[top]} of {record['windows']} windows" in body
    padded = sum(1 for split in ds.values() for end in split["end"] if end > 1.6)  # 1.6-s recordings
    assert padded and f"Zero-padded windows: {padded} of {record['windows']} windows" in body
    assert "6 recordings read from the source folder (6 .wav)" in body and "`primary_label` column" in body


def test_a_licence_the_hub_lacks_is_other_with_its_name_and_link(tmp_path):
    from huggingface_hub import DatasetCard

    cfg = demo_config(tmp_path / "out", DEMO, "publish.license=US-Government-Works")
    build(cfg, workers=1, progress=False)
    card = DatasetCard((cfg.output.path / "README.md").read_text(encoding="utf-8"))
    assert (card.data.license, card.data.license_name) == ("other", "us-government-works")
    assert card.data.license_link == "https://www.usa.gov/government-works"
    assert "published under U.S. Government Works (`US-Government-Works`" in card.text
    croissant = json.loads((cfg.output.path / "croissant.json").read_text())
    assert croissant["license"] == "https://www.usa.gov/government-works"


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_card_is_written_from_plain_data_the_layout_hands_it(tmp_path, monkeypatch, layout):
    # issue 27: the card called back up into the layout (data_files, size_of, write_atomic, …);
    # now the layout hands it a frozen CardInputs and writes the bytes it returns
    import dataclasses

    from builder.card import card as card_module
    from builder.card.inputs import CardInputs
    from builder.layouts.base import Layout

    given, original = [], card_module.card_files

    def spy(inputs, *args, **kwargs):
        given.append((inputs, args, kwargs))
        return original(inputs, *args, **kwargs)

    monkeypatch.setattr(card_module, "card_files", spy)
    audio, table = birdclef_source(tmp_path)
    cfg = demo_config(tmp_path / "out", audio, CSV_LABELS.format(csv=table), f"output.layout={layout}")
    build(cfg, workers=1, progress=False)
    ((inputs, args, kwargs),) = given
    assert isinstance(inputs, CardInputs) and dataclasses.is_dataclass(inputs)
    assert not any(isinstance(getattr(inputs, f.name), Layout) for f in dataclasses.fields(inputs))
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.layout = "other"
    again = original(inputs, *args, **kwargs)  # no layout, no file system: the same bytes again
    assert list(again) == ["README.md", "croissant.json"]
    assert all((cfg.output.path / rel).read_bytes() == data for rel, data in again.items())
