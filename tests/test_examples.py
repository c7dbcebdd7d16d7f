"""examples/train.py, as a user runs it on a build of the bundled demo audio (CI installs the gpu
extra, so torch is there; elsewhere the training tests skip with the reason)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.helpers.cli import DEMO, PYTHON, REPO, cli_env, run_cli

TRAIN = REPO / "examples" / "train.py"
ROW = re.compile(r"^(\S.*?)\s+(\d+)\s+(0\.\d{3}|1\.000)\s+(0\.\d{3}|1\.000)\s+(0\.\d{3}|1\.000)$", re.M)


def _train(out, *args: str, cwd):
    (cwd / "tmp").mkdir()
    return subprocess.run([PYTHON, str(TRAIN), str(out), *args], capture_output=True, text=True,
                          env=cli_env(TMPDIR=str(cwd / "tmp")), cwd=cwd)


@pytest.mark.parametrize("build, held_out", [
    # a BirdCLEF preset with the fold column: one round per fold, recordings never span folds
    (["birdclef-mel", "--set", "output.folds=5", "--set", "output.splits=null"],
     [f"fold {i}" for i in range(5)]),
    # the demo's train/validation/test splits by recording, in the parquet layout
    ([REPO / "examples" / "demo.yaml", "--set", "output.layout=parquet"], ["validation", "test"]),
], ids=["imagefolder-folds", "parquet-splits"])
def test_train_example_prints_accuracy_per_fold_or_split(torch, tmp_path, build, held_out):
    out = tmp_path / "out"
    built = run_cli("build", *build, "--set", f"source.path={DEMO}", "--set", f"output.path={out}", "-j", "1",
                    cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    ran = _train(out, "--epochs", "1", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    rows = {m.group(1): m.groups()[1:] for m in ROW.finditer(ran.stdout)}
    assert [name for name in rows if name != "mean"] == held_out, ran.stdout
    assert "evaluating on" in ran.stdout and "majority" in ran.stdout
    assert not list((tmp_path / "tmp").glob("spectroset-train-*")), "the example's dataset cache is left behind"


def test_train_example_without_torch_says_which_extra_in_one_line(tmp_path):
    # sys.modules["torch"] = None makes `import torch` raise ImportError, as on a lean install
    ran = subprocess.run([PYTHON, "-c", "import runpy, sys; sys.modules['torch'] = None; "
                          f"sys.argv = ['train.py', 'OUT']; runpy.run_path({str(TRAIN)!r}, run_name='__main__')"],
                         capture_output=True, text=True, env=cli_env(), cwd=tmp_path)
    assert ran.returncode != 0
    assert ran.stderr.strip().splitlines() == ['examples/train.py needs torch: pip install "spectroset[gpu]"']
