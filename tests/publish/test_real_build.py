"""build → push → load_dataset("OWNER/NAME") on a real spectroset build, both layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builder.config.loading import load_config
from builder.pipeline import build

from tests.helpers.publish import HF_TOKEN, FakeHub, hub_env, make_client_env, run_client, verify

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-audio"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("real-build")
    audio = base / "audio"
    for label in ("tabla", "kick_drum"):  # 8 real recordings (flac, ogg, aiff) keep this quick
        shutil.copytree(DEMO / label, audio / label)
    outs = {}
    for layout in ("imagefolder", "parquet"):
        cfg = load_config(REPO / "examples" / "demo.yaml",
                          [f"source.path={audio}", f"output.path={base / layout}", f"output.layout={layout}",
                           "output.splits={train: 0.5, test: 0.5}"])
        build(cfg, workers=1, progress=False)
        outs[layout] = cfg.output.path
    return outs


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
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
