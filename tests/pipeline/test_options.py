"""How to run a build is one frozen options object, and a build leaves its caller's process as it was."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from builder.config.loading import load_config
from builder.pipeline import BuildOptions, build
from builder.run.process import THREAD_VARS

REPO = Path(__file__).resolve().parents[2]


def two_recordings(tmp_path: Path):
    """A config over two copies of a demo recording (two: a pool of two starts for them)."""
    recording = sorted((REPO / "examples" / "demo-audio").rglob("*.wav"))[0]
    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    for name in ("a.wav", "b.wav"):
        (src / name).write_bytes(recording.read_bytes())
    return load_config("birdclef-mel", [f"source.path={src.parent}", f"output.path={tmp_path / 'out'}"])


def test_build_takes_one_frozen_keyword_only_options_object(tmp_path):
    cfg = two_recordings(tmp_path)
    with pytest.raises(TypeError):
        BuildOptions(1)  # keyword-only
    options = BuildOptions(workers=1, progress=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.force = True
    assert build(cfg, options).decoded == 2
    assert build(cfg, workers=1, progress=False).up_to_date  # the keyword form makes the same object
    assert build(cfg, options, force=True).decoded == 2  # a keyword changes one field of the options
    with pytest.raises(TypeError):
        build(cfg, options, jobs=2)  # a name BuildOptions does not have


@pytest.mark.parametrize("jobs", [1, 2], ids=["inline", "forkserver"])
def test_a_build_leaves_its_callers_environment_as_it_was(tmp_path, monkeypatch, jobs):
    for name in THREAD_VARS:  # what a notebook without thread settings has
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    assert build(two_recordings(tmp_path), workers=jobs, progress=False).decoded == 2
    assert dict(os.environ) == before
