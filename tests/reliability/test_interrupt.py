"""Ctrl-C, and a kill of the CLI alone: the workers stop with it, and a rerun finishes the build.

The CLI's workers fork from it and hold copies of its descriptors (the output lock among them), so a
worker that outlived its CLI would keep every later build of that folder out. Ctrl-C goes to the
whole process group, as a terminal sends it; the kill goes to the CLI's pid only, as an OOM killer
or ``kill -9 PID`` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import PYTHON, REPO, cli_env, run_cli, snapshot, write_config, write_tone

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from probe import sitecustomize  # noqa: E402


def _source(root: Path) -> Path:
    src = root / "src"
    for i in range(12):
        write_tone(src / f"c{i % 2}" / f"r{i:02d}.flac", 20.0, freq=200 + 31 * i)
    return src


def _start(cfg: Path, out: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "builder", "build", str(cfg), "-o", str(out), "-j", "2"], cwd=REPO,
                            env=cli_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for_images(out: Path, proc: subprocess.Popen) -> None:
    """Until the workers have written images (the build is under way), or the build ended."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.suffix == ".png" for p in out.rglob("*.png")):
            return
        time.sleep(0.01)


def _children(pid: int) -> set[int]:
    kids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.add(int(entry))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _all_gone(workers: set[int]) -> bool:
    """Whether every worker has exited, within a minute (they die as the CLI does, not before)."""
    deadline = time.monotonic() + 60
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not any(_alive(w) for w in workers)


def _finishes_like_a_clean_build(tmp_path: Path, cfg: Path, out: Path) -> None:
    again = run_cli("build", cfg, "-o", out, "-j", "2")
    assert again.returncode == 0, again.stderr
    clean = run_cli("build", cfg, "-o", tmp_path / "clean" / out.name, "-j", "2")  # the card names the folder
    assert clean.returncode == 0, clean.stderr
    assert snapshot(out) == snapshot(tmp_path / "clean" / out.name)


def test_killing_the_cli_alone_takes_its_workers_with_it(tmp_path):
    cfg, out = write_config(tmp_path / "c.yaml", _source(tmp_path)), tmp_path / "out"
    proc = _start(cfg, out)
    _wait_for_images(out, proc)
    workers = _children(proc.pid)
    assert proc.poll() is None and workers, "the build ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert _all_gone(workers), "workers outlived the CLI"
    _finishes_like_a_clean_build(tmp_path, cfg, out)


@pytest.mark.parametrize("env", [{}, {"OMP_NUM_THREADS": "2"}], ids=["forked", "forkserver"])
def test_ctrl_c_stops_the_build_and_its_workers_with_one_line(tmp_path, env):
    # A user's own thread setting leaves the CLI's math libraries uncapped: workers then come
    # from a forkserver (its children, not the CLI's), and are stopped the same way.
    cfg, out = write_config(tmp_path / "c.yaml", _source(tmp_path)), tmp_path / "out"
    proc = _start(cfg, out, **env)
    _wait_for_images(out, proc)
    workers = _children(proc.pid)
    assert proc.poll() is None and workers, "the build ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; rerun the same command to resume", stderr
    assert "Traceback" not in stderr, stderr
    assert _all_gone(workers), "workers outlived the CLI"
    _finishes_like_a_clean_build(tmp_path, cfg, out)


# Loaded by the CLI through PYTHONPATH: Ctrl-C arrives as the config starts to be validated (where
# pydantic builds its schemas); the marker is written only if the CLI held it until validation ended.
HOOK = sitecustomize("builder.loading", r"""
def _patch(module):
    parse = module.parse_config

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        open(os.environ["HELD_MARKER"], "w").close()
        return parse(*args, **kwargs)

    module.parse_config = interrupted
""")


def test_ctrl_c_while_the_config_is_validated_is_held_then_answered_with_one_line(tmp_path):
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK)
    cfg = write_config(tmp_path / "c.yaml", _source(tmp_path))
    env = cli_env(PYTHONPATH=os.pathsep.join([str(tmp_path / "hook"), str(REPO)]),
                  HELD_MARKER=str(tmp_path / "held"))
    done = run_cli("build", cfg, "-o", tmp_path / "out", "-j", "2", env=env)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "interrupted; rerun the same command to resume"
    assert (tmp_path / "held").exists()  # validation went on to its end with the Ctrl-C pending
