"""The bundled BirdCLEF presets drop slivers: a 0.04-s tail does not become a labelled 5-s image
(``windows.min_last``), while a recording shorter than one window still gives its padded window."""

from __future__ import annotations

import json

import pytest

from builder.config.loading import load_config
from tests.helpers.cli import run_cli, write_tone


@pytest.mark.parametrize("preset", ["birdclef-mel", "birdclef-pcen-rgb", "birdclef-soundscapes", "seed002-birdclef-2023"])
def test_birdclef_presets_drop_slivers(preset):
    assert load_config(preset).windows.min_last >= 0.5


def test_a_004_s_tail_gives_no_window_from_the_cli(tmp_path):
    src, out = tmp_path / "train_audio", tmp_path / "out"
    write_tone(src / "amecro" / "tail.wav", 5.04, rate=32000)  # one 5-s window and a 0.04-s sliver
    write_tone(src / "barswa" / "short.wav", 0.6, rate=32000)  # a short call, shorter than a window: padded, kept
    result = run_cli("build", "birdclef-mel", "--set", f"source.path={src}", "-o", out, "-j", "1", "-q")
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "build.json").read_text())
    assert record["windows"] == 2 and sum(record["splits"].values()) == 2
