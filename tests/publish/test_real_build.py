"""build → push → load_dataset("OWNER/NAME") on a real spectroset build, in each layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from builder.config.loading import load_config
from builder.pipeline import build

from tests.helpers.publish import (HF_TOKEN, KAGGLE_TOKEN, FakeHub, client_env, hub_env, kaggle,  # noqa: F401
                                  kaggle_env, make_client_env, run_client, verify)

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-audio"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("real-build")
    audio = base / "audio"
    for label in ("tabla", "kick_drum"):  # 8 real recordings (flac, ogg, aiff) keep this quick
        shutil.copytree(DEMO / label, audio / label)
    outs = {}
    for layout in ("imagefolder", "parquet", "webdataset"):
        cfg = load_config(REPO / "examples" / "demo.yaml",
                          [f"source.path={audio}", f"output.path={base / layout}", f"output.layout={layout}",
                           "output.splits={train: 0.5, test: 0.5}"])
        build(cfg, workers=1, progress=False)
        outs[layout] = cfg.output.path
    return outs


@pytest.mark.parametrize("layout", ["imagefolder", "parquet", "webdataset"])
def test_real_build_round_trips_through_the_hub(layout, built, tmp_path):
    env = make_client_env(tmp_path)
    out = built[layout]
    with FakeHub({HF_TOKEN: "alice"}) as hub:
        push = run_client("push", out, "--to", "hf", "--repo", f"alice/demo-{layout}", env=hub_env(env, hub))
        assert push.returncode == 0, push.output
        report = verify(f"{out}=alice/demo-{layout}", env=hub_env(env, hub))[f"{out}=alice/demo-{layout}"]
    assert "error" not in report, report.get("error")
    assert report["local"] == report["remote"] and sum(report["local"].values()) > 8
    assert "ClassLabel(names=['kick_drum', 'tabla'])" in report["features"]["train"]


def test_webdataset_goes_to_kaggle_as_flat_tar_shards_that_load(built, kaggle, client_env, tmp_path):
    """Kaggle gets the tar shards as top-level files and a card whose ``configs`` name them there: the
    upload, laid out as Kaggle serves it, loads with ``load_dataset`` row for row."""
    out = built["webdataset"]
    env = kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
    result = run_client("push", out, "--to", "kaggle", "--id", "alice/demo-wds", "--license", "cc0-1.0", env=env)
    assert result.returncode == 0, result.output
    files = kaggle.files_of(kaggle.datasets["alice/demo-wds"].create)
    tars = sorted(p.name for p in (out / "data").glob("*.tar"))
    assert tars and set(tars) <= set(files) and not any(name.endswith(".zip") for name in files)
    assert all(files[name] == (out / "data" / name).read_bytes() for name in tars)
    served = tmp_path / "kaggle-input"
    for name, data in files.items():
        (served / name).parent.mkdir(parents=True, exist_ok=True)
        (served / name).write_bytes(data)
    report = verify(str(served), env=client_env)[str(served)]
    assert "error" not in report, report.get("error")
    assert report["splits"] == json.loads((out / "build.json").read_text())["splits"]
