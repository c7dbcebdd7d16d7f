"""Ctrl-C, and a kill of the CLI alone: the workers stop with it, and a rerun finishes the build.

The CLI's workers fork from it and hold copies of its descriptors (the output lock among them), so a
worker that outlived its CLI would keep every later build of that folder out. Ctrl-C goes to the
whole process group, as a terminal sends it; the kill goes to the CLI's pid only, as an OOM killer
or ``kill -9 PID`` does. On the forkserver path (a user's own thread setting, a URL output) the
build also has a forkserver and a resource tracker: none of them may outlive the CLI either.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.cli import PYTHON, REPO, cli_env, run_cli, snapshot, write_config, write_tone
from tests.helpers.probe import sitecustomize


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


def _session(sid: int) -> set[int]:
    """Every live process of the build: the CLI ran in a session of its own (``_start``), which its
    workers, forkserver and resource tracker inherit whoever their parent is now."""
    return {p for p, stat in _processes() if int(stat[3]) == sid and stat[0] not in "ZX"}


def _processes():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            yield int(entry), stat.rsplit(")", 1)[1].split()


def _session_ends(sid: int) -> set[int]:
    """The processes of the build still alive after a generous bound (they go within a second)."""
    deadline = time.monotonic() + 20
    while _session(sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _session(sid)


def _finishes_like_a_clean_build(tmp_path: Path, cfg: Path, out: Path) -> None:
    again = run_cli("build", cfg, "-o", out, "-j", "2")
    assert again.returncode == 0, again.stderr
    clean = run_cli("build", cfg, "-o", tmp_path / "clean" / out.name, "-j", "2")  # the card names the folder
    assert clean.returncode == 0, clean.stderr
    assert snapshot(out) == snapshot(tmp_path / "clean" / out.name)


PATHS = pytest.mark.parametrize("env", [{}, {"OMP_NUM_THREADS": "2"}], ids=["forked", "forkserver"])


@PATHS
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["kill", "term", "int"])
def test_signalling_the_cli_alone_takes_every_process_of_the_build_with_it(tmp_path, env, sig):
    # On the forkserver path the workers are the forkserver's children: they, the forkserver and
    # the resource tracker outlived a killed CLI (PPID 1) and went on writing images into OUT.
    cfg, out = write_config(tmp_path / "c.yaml", _source(tmp_path)), tmp_path / "out"
    proc = _start(cfg, out, **env)
    _wait_for_images(out, proc)
    helpers = _session(proc.pid) - {proc.pid}
    assert proc.poll() is None and helpers, "the build ended before it could be signalled"
    os.kill(proc.pid, sig)
    _, stderr = proc.communicate(timeout=60)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:  # SIGTERM is answered as Ctrl-C is: the workers stopped, one line, a non-zero exit
        stopped = "terminated" if sig == signal.SIGTERM else "interrupted"
        assert proc.returncode == (143 if sig == signal.SIGTERM else 130), stderr
        assert stderr.strip().splitlines()[-1] == f"{stopped}; rerun the same command to resume", stderr
        assert "Traceback" not in stderr, stderr
    assert not _session_ends(proc.pid), "processes of the build outlived the CLI"
    _finishes_like_a_clean_build(tmp_path, cfg, out)


@PATHS
def test_ctrl_c_stops_the_build_and_its_workers_with_one_line(tmp_path, env):
    # A user's own thread setting leaves the CLI's math libraries uncapped: workers then come
    # from a forkserver (its children, not the CLI's), and are stopped the same way.
    cfg, out = write_config(tmp_path / "c.yaml", _source(tmp_path)), tmp_path / "out"
    proc = _start(cfg, out, **env)
    _wait_for_images(out, proc)
    assert proc.poll() is None and _session(proc.pid) - {proc.pid}, "the build ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; rerun the same command to resume", stderr
    assert "Traceback" not in stderr, stderr
    assert not _session_ends(proc.pid), "processes of the build outlived the CLI"
    _finishes_like_a_clean_build(tmp_path, cfg, out)


# Loaded by the CLI through PYTHONPATH: Ctrl-C arrives as the config starts to be validated (where
# pydantic builds its schemas); the marker is written only if the CLI held it until validation ended.
HOOK = sitecustomize("builder.config.loading", r"""
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


# Loaded by every process of the build through PYTHONPATH: in the forkserver only, Ctrl-C reaches
# the whole process group while the forkserver imports what a recording needs (its preload).
PRELOAD_HOOK = sitecustomize("builder.run.worker", r"""
def _patch(module):
    if sys.argv[:1] == ["-c"] and "multiprocessing.forkserver" in sys.modules:
        os.killpg(os.getpgrp(), signal.SIGINT)
""")


def test_ctrl_c_while_the_forkserver_preloads_prints_one_line_and_no_traceback(tmp_path):
    # The forkserver used to answer a Ctrl-C during its first half second of imports with a
    # KeyboardInterrupt traceback; it is started deaf to Ctrl-C, as its workers are.
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(PRELOAD_HOOK)
    cfg, out = write_config(tmp_path / "c.yaml", _source(tmp_path)), tmp_path / "out"
    proc = _start(cfg, out, OMP_NUM_THREADS="2", PYTHONPATH=os.pathsep.join([str(tmp_path / "hook"), str(REPO)]))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "interrupted; rerun the same command to resume", stderr
    assert not _session_ends(proc.pid), "processes of the build outlived the CLI"
    _finishes_like_a_clean_build(tmp_path, cfg, out)
