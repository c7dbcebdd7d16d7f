"""The card's "Use it for training" section (``card/use.py``): the leak-free split or fold loop
first, runnable as printed, and the one sentence on why a random row split is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers.cli import cli_env, run_cli, write_config, write_tone


def _corpus(src: Path) -> None:
    for label, n in (("wren", 5), ("robin", 5)):
        for i in range(n):
            write_tone(src / label / f"{label}{i}.wav", 1.2, freq=300 + 500 * len(label) + 40 * i)


def _use(card: str) -> tuple[str, str]:
    """``(the section's text, its Python block)``."""
    section = card.split("## Use it for training\n", 1)[1].split("\n## ", 1)[0]
    return section, section.split("```python\n", 1)[1].split("```", 1)[0]


def _build(tmp_path: Path, name: str, **output) -> Path:
    src, out = tmp_path / "src", tmp_path / name
    if not src.exists():
        _corpus(src)
    done = run_cli("build", write_config(tmp_path / f"{name}.yaml", src, out, output=output), "-j", "1", "-q")
    assert done.returncode == 0, done.stderr
    return out


def test_the_use_section_comes_right_after_loading_and_its_loop_runs_as_printed(tmp_path):
    out = _build(tmp_path, "both", splits={"train": 0.6, "validation": 0.4}, folds=3)
    card = (out / "README.md").read_text()
    assert card.index("## Load it\n") < card.index("## Use it for training") < card.index("## Dataset Structure")
    text, code = _use(card)
    assert 'train, held_out = ds["train"], ds["validation"]' in code
    assert "for k in range(3):" in code and 'input_columns="fold"' in code
    assert len(code.strip().splitlines()) <= 10
    assert "Do not split the rows at random (`train_test_split`" in text and "near-duplicates" in text
    # the loop as printed, on this folder: every recording's windows on one side of each cut
    assert _run(code, out, "assert not set(train['source']) & set(held_out['source'])\nprint(k)") == "2"


def _run(code: str, out: Path, check: str, tar: bool = False) -> str:
    """Run the card's code on ``out``, then ``check``; every cut keeps recordings whole (``tar``: a
    webdataset build, whose ``source`` is a field of the ``json`` column)."""
    src = "{{j['source'] for j in {0}['json']}}" if tar else "set({0}['source'])"
    script = code.replace('"OWNER/NAME"', repr(str(out))) + (
        f"\nassert not {src.format('fit')} & {src.format('val')} and val.num_rows and fit.num_rows\n" + check)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=cli_env(HF_DATASETS_CACHE=str(out.parent / "cache")))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_build_without_held_out_split_or_folds_shows_a_hold_out_by_recording(tmp_path):
    out = _build(tmp_path, "one", splits={"train": 1.0})
    text, code = _use((out / "README.md").read_text())
    assert "one split and no folds (`output.folds: 5` adds them)" in text
    assert 'input_columns="source"' in code and '"fold"' not in code
    assert _run(code, out, "print(len(held))") == "2"  # 10 recordings: every 5th


def test_a_split_by_window_is_called_leaky_and_the_folds_offered_instead(tmp_path):
    out = _build(tmp_path, "window", splits={"train": 0.6, "validation": 0.4, "by": "window"}, folds=2)
    text, code = _use((out / "README.md").read_text())
    assert "drawn by window (`output.splits.by: window`)" in text and "too high" in text
    assert "held_out" not in code and "for k in range(2):" in code


def test_a_webdataset_builds_loop_runs_as_printed_on_its_json_column(tmp_path):
    """webdataset rows are ``__key__``, ``__url__``, ``png``, ``json``: ``fold`` and ``source`` are in ``json``."""
    out = _build(tmp_path, "tar", splits={"train": 0.6, "validation": 0.4}, folds=3, layout="webdataset")
    text, code = _use((out / "README.md").read_text())
    assert 'input_columns="json"' in code and 'input_columns="fold"' not in code and "`KEY.json`" in text
    check = "assert not {j['source'] for j in train['json']} & {j['source'] for j in held_out['json']}\nprint(k)"
    assert _run(code, out, check, tar=True) == "2"
    out = _build(tmp_path, "tar-one", splits={"train": 1.0}, layout="webdataset")
    text, code = _use((out / "README.md").read_text())
    assert 'input_columns="source"' not in code
    assert _run(code, out, "print(len(held))", tar=True) == "2"
