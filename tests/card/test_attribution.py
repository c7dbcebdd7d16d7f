"""Attribution kept and trust written down: CSV columns on every row (typed), the card's header and
sections through huggingface_hub's DatasetCard, and croissant.json read back by mlcroissant."""

from __future__ import annotations

import json

import pytest

from builder.errors import SourceError
from builder.pipeline import build

from tests.helpers.layouts import ATTRIBUTION, attributed_source, demo_config, load

KEEP = "source.labels={{csv: {csv}, keep_columns: [{cols}]{extra}}}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("attribution")
    audio, table = attributed_source(root)
    outs = {}
    for layout in ("imagefolder", "parquet"):
        extra = ", extra_labels_column: secondary_labels" if layout == "parquet" else ""
        cfg = demo_config(root / layout, audio, KEEP.format(csv=table, cols=", ".join(ATTRIBUTION), extra=extra),
                          f"output.layout={layout}", "output.splits={train: 0.5, test: 0.5}",
                          *(["publish.license=cc-by-4.0"] if layout == "parquet" else []))
        outs[layout] = (cfg, build(cfg, workers=1, progress=False).record)
    return outs


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_kept_columns_are_on_every_row_typed_as_in_the_csv(built, layout):
    cfg, record = built[layout]
    ds = load(cfg.output.path)
    train = ds["train"]
    for name, dtype in (("author", "string"), ("license", "string"), ("url", "string"), ("latitude", "float64"),
                        ("longitude", "float64"), ("rating", "float64")):
        assert train.features[name].dtype == dtype, name
    rows = [r for split in ds.values() for r in split.remove_columns("image")]
    assert len(rows) == record["windows"]
    by_source = {r["source"]: r for r in rows}
    assert by_source["amecro/a1.wav"]["author"] == "Ann Author" and by_source["amecro/a1.wav"]["rating"] == 4.5
    assert by_source["amecro/a2.wav"]["latitude"] is None  # an empty cell is null, not 0 or ""
    assert by_source["amecro/a3.wav"]["license"] is None
    assert by_source["barswa/b3.wav"]["longitude"] == 4.0 and by_source["barswa/b3.wav"]["url"].endswith("/6")
    assert type(train.features["label"]).__name__ == "ClassLabel"


def test_integer_columns_stay_integers(tmp_path):
    audio, table = attributed_source(tmp_path)
    text = table.read_text().replace(",4.5\n", ",4\n").replace(",2.5\n", ",2\n")
    table.write_text(text)
    cfg = demo_config(tmp_path / "out", audio, KEEP.format(csv=table, cols="rating, author", extra=""),
                      "output.splits={train: 1.0}")
    build(cfg, workers=1, progress=False)
    train = load(cfg.output.path)["train"]
    assert train.features["rating"].dtype == "int64" and sorted(set(train["rating"])) == [0, 1, 2, 3, 4, 5]


def test_an_edited_cell_is_picked_up_by_the_next_build(tmp_path):
    audio, table = attributed_source(tmp_path)
    cfg = demo_config(tmp_path / "out", audio, KEEP.format(csv=table, cols="author", extra=""),
                      "output.splits={train: 1.0}")
    build(cfg, workers=1, progress=False)
    table.write_text(table.read_text().replace("Ann Author", "Ann B. Author"))
    report = build(cfg, workers=1, progress=False)
    assert not report.up_to_date
    import pyarrow.parquet as pq

    authors = pq.read_table(cfg.output.path / "train" / "metadata.parquet").column("author").to_pylist()
    assert "Ann B. Author" in authors and "Ann Author" not in authors


def test_a_missing_kept_column_is_one_line(tmp_path):
    audio, table = attributed_source(tmp_path)
    cfg = demo_config(tmp_path / "out", audio, KEEP.format(csv=table, cols="author, recordist", extra=""))
    with pytest.raises(SourceError, match="source.labels.keep_columns: no column 'recordist' in train_metadata.csv"):
        build(cfg, workers=1, progress=False)


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_card_loads_with_huggingface_hub_and_has_every_section(built, layout):
    from huggingface_hub import DatasetCard

    cfg, record = built[layout]
    card = DatasetCard.load(cfg.output.path / "README.md")
    data = card.data.to_dict()
    assert data["license"] == ("cc-by-4.0" if layout == "parquet" else "unknown")  # no licence: unknown
    assert data["size_categories"] == ["n<1K"] and data["task_categories"] == ["image-classification"]
    assert data["task_ids"] == [("multi-label" if layout == "parquet" else "multi-class") + "-image-classification"]
    info = data["dataset_info"]
    names = [f["name"] for f in info["features"]]
    assert names[-6:] == list(ATTRIBUTION)
    # image folders: the metadata's schema carries the features, the card has no configs (docs/card.md)
    assert [f["name"] for f in data["configs"][0]["features"]] == names if layout == "parquet" else "configs" not in data
    assert info["dataset_size"] == sum(s["num_bytes"] for s in info["splits"]) > 0
    assert info["download_size"] > 0 and {s["name"]: s["num_examples"] for s in info["splits"]} == record["splits"]
    for section in ("## Sources", "## Uses", "## Personal and sensitive information", "## Licence", "## Citation"):
        assert section in card.text, section
    assert "| Creative Commons Attribution 4.0 | 3 |" in card.text  # the recordings' licences, counted
    if layout == "parquet":  # cc-by-4.0 grants more than CC BY-NC-SA and the unknown one
        assert "**Warning:** `cc-by-4.0` grants more than the licence of 3 recordings" in card.text
    else:
        assert "`license: unknown`" in card.text and "**Warning:**" not in card.text
    assert "`latitude`, `longitude` column(s) give where recordings were made" in card.text


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_croissant_validates_and_reads_one_record_per_row(built, layout):
    mlc = pytest.importorskip("mlcroissant")
    cfg, record = built[layout]
    path = cfg.output.path / "croissant.json"
    doc = json.loads(path.read_text())
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0" and doc["version"] == "1.0.0"
    assert doc["license"].endswith("#cc-by-4.0") if layout == "parquet" else doc["license"] == "unknown"
    dataset = mlc.Dataset(str(path))  # raises on a validation error
    assert not dataset.metadata.ctx.issues.errors
    for split, n in record["splits"].items():
        rows = list(dataset.records(split))
        assert len(rows) == n
        first = rows[0]
        assert first[f"{split}/image"].size == (101, 64)
        assert first[f"{split}/author"] and isinstance(first[f"{split}/rating"], float)
        label = first[f"{split}/label"]
        assert label in (0, 1, 2)  # an index into label_names, in both layouts
    enum = list(dataset.records("label_names"))
    assert [r["label_names/name"].decode() if isinstance(r["label_names/name"], bytes) else r["label_names/name"]
            for r in enum][:2] == ["amecro", "barswa"]
    assert "croissant.json" in json.loads((cfg.output.path / "build.json").read_text())["files"]
