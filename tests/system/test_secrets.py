"""Hub and Kaggle tokens never reach stdout, stderr, logs or any file a build writes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import cli_env, run_cli, write_config, write_tone

HF_MARKER = "hf_SpectrosetSecretMarker0123456789"
KAGGLE_MARKER = "KaggleSecretMarker0123456789abcdef"


def _env(tmp_path: Path) -> dict[str, str]:
    hf_home = tmp_path / "hf-home"
    hf_home.mkdir()
    (hf_home / "token").write_text(HF_MARKER)
    kaggle_dir = tmp_path / "kaggle"
    kaggle_dir.mkdir()
    (kaggle_dir / "kaggle.json").write_text(json.dumps({"username": "someone", "key": KAGGLE_MARKER}))
    return cli_env(HF_TOKEN=HF_MARKER, HUGGING_FACE_HUB_TOKEN=HF_MARKER, HF_HOME=str(hf_home),
                   KAGGLE_USERNAME="someone", KAGGLE_KEY=KAGGLE_MARKER, KAGGLE_CONFIG_DIR=str(kaggle_dir),
                   KAGGLE_API_TOKEN=KAGGLE_MARKER)


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return [m for m in (HF_MARKER, KAGGLE_MARKER) if m.encode() in data]


def test_tokens_never_printed_or_written(tmp_path):
    src = tmp_path / "src"
    for i in range(3):
        write_tone(src / f"l{i % 2}" / f"r{i}.wav", 1.1, freq=300 + 100 * i)
    (src / "l0" / "broken.wav").write_bytes(b"not audio")  # the skipped-file path is printed too
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "cfg.yaml", src, publish={"hf": {"repo_id": "someone/data"},
                                                             "kaggle": {"id": "someone/data"}})
    env = _env(tmp_path)
    runs = [
        run_cli("--debug", "build", cfg, "-o", out, "-j", "2", env=env),
        run_cli("--debug", "build", cfg, "-o", out, "-j", "2", env=env),  # up to date
        run_cli("--debug", "build", cfg, "-o", out, "--set", "spectrogram.n_mels=8", env=env),  # refused
        run_cli("--debug", "build", cfg, "-o", out, "--set", "nope=1", env=env),  # config error
        run_cli("inspect", out, "--verify", env=env),
    ]
    assert runs[0].returncode == 0, runs[0].stderr
    assert "up to date" in runs[1].stdout and runs[4].returncode == 0
    assert runs[2].returncode != 0 and runs[3].returncode != 0  # with --debug: raised, traceback shown
    for r in runs:
        assert _leaks(r.stdout + r.stderr) == [], r.args
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "journal.sqlite" for p in files) and (out / "build.json").is_file()
    for p in files:  # private state included
        assert _leaks(p.read_bytes()) == [], p
    record = json.loads((out / "build.json").read_text())
    assert "token" not in json.dumps(record["config"]).lower()
