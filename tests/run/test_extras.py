"""builder.extras: a build that needs an extra which is not installed says which, in one line.

Each case runs the real CLI in a process where the optional module cannot be imported (its
``sys.modules`` entry is None, as Python does for a blocked import), whether or not it is
installed here: the lean install (``pip install spectroset``) has neither torch nor ray.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.cli import DEMO as DEMO_AUDIO, REPO, cli_env

BLOCKED_CLI = ("import sys; sys.modules['torch'] = sys.modules['ray'] = None; "
               "from builder.cli.main import run; run()")


def blocked_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKED_CLI, *args], capture_output=True, text=True,
                          env=cli_env(), cwd=REPO, timeout=300)


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_a_gpu_device_without_torch_names_the_gpu_extra_before_any_work(tmp_path, device):
    out = tmp_path / "out"
    done = blocked_cli("build", "birdclef-mel", "-o", str(out), "-j", "2", "--set", f"source.path={DEMO_AUDIO}",
                       "--set", f"spectrogram.device={device}")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f'error: spectrogram.device: {device} needs torch, which is not installed: pip install "spectroset[gpu]"']
    assert not out.exists()  # before any work: no output folder, no lock, no journal


def test_the_ray_executor_without_ray_names_the_ray_extra_before_any_work(tmp_path):
    out = tmp_path / "out"
    done = blocked_cli("build", "birdclef-mel", "-o", str(out), "--executor", "ray",
                       "--set", f"source.path={DEMO_AUDIO}")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        'error: --executor: ray needs ray, which is not installed: pip install "spectroset[ray]"']
    assert not out.exists()


def test_the_cpu_build_runs_without_torch(tmp_path):
    """The lean install's own path: device cpu never imports torch (nor needs it)."""
    out = tmp_path / "out"
    done = blocked_cli("build", "birdclef-mel", "-o", str(out), "-j", "1", "--quiet",
                       "--set", f"source.path={DEMO_AUDIO}")
    assert done.returncode == 0, done.stderr
    assert list(out.rglob("*.png"))
