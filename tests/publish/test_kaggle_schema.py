"""The column schema of Kaggle's ``resources``: types Kaggle knows, our columns described."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from builder.publish.kaggle_schema import NOTES, csv_fields, parquet_fields


def test_csv_columns_numeric_only_where_every_value_is_a_number(tmp_path):
    path = tmp_path / "metadata.csv"
    path.write_text("file_name,label,start,site\nwren/a_5.png,1,0.0,A3\nowl/b_5.png,2,,7\n", encoding="utf-8")
    fields = {f["name"]: f for f in csv_fields(path)}
    assert [f["type"] for f in fields.values()] == ["string", "string", "numeric", "string"]  # a label stays a name
    assert fields["start"]["description"] == NOTES["start"] and fields["site"]["description"] == "site"


def test_parquet_columns_typed_and_class_names_told(tmp_path):
    table = pa.table({"label": pa.array([0, 1], pa.int64()), "start": [0.0, 5.0], "source": ["a.ogg", "b.ogg"],
                      "image": [{"bytes": b"x", "path": "p"}] * 2})
    features = {"info": {"features": {"label": {"names": ["owl", "wren"], "_type": "ClassLabel"}}}}
    table = table.replace_schema_metadata({"huggingface": json.dumps(features)})
    pq.write_table(table, tmp_path / "s.parquet")
    fields = {f["name"]: f for f in parquet_fields(tmp_path / "s.parquet")}
    assert fields["label"] == {"name": "label", "type": "integer", "description": f"{NOTES['label']}: class index into owl, wren"}
    assert fields["start"]["type"] == "numeric" and fields["source"]["type"] == "string"
    assert "type" not in fields["image"] and "struct" in fields["image"]["description"]  # no Kaggle type: told in words
