"""One math thread per process: set before the libraries load (the CLI), or by threadpoolctl after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from builder.threads import CAPPED_VAR, THREAD_VARS

REPO = Path(__file__).resolve().parents[1]

# Loaded by every Python process of the build (the CLI, the forkserver, its workers) through
# PYTHONPATH: once builder.worker is imported, its settling step reports the thread count of every
# math library loaded, and whether threadpoolctl had to be imported to get there.
SITECUSTOMIZE = r"""
import importlib.abc, json, os, sys


def _patch(module):
    settle = module._settle_process

    def probe():
        settle()
        needed = "threadpoolctl" in sys.modules
        from threadpoolctl import threadpool_info
        seen = {d["internal_api"]: d["num_threads"] for d in threadpool_info()}
        with open(os.path.join(os.environ["PROBE_DIR"], f"{os.getpid()}.json"), "w") as f:
            json.dump({"threads": seen, "threadpoolctl_needed": needed}, f)

    module._settle_process = probe


class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "builder.worker":
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else finder.find_spec(name, path, target)
            if spec is not None:
                break
        real = spec.loader.exec_module

        def exec_module(module):
            real(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Hook())
"""


def _probe(tmp_path, jobs: str, env: dict) -> list[dict]:
    """Reports of the processes that rendered a build of the demo recording (twice with -j 2)."""
    recording = sorted((REPO / "examples" / "demo-audio").rglob("*.wav"))[0]
    src, hook, probes = tmp_path / "src" / "a", tmp_path / "hook", tmp_path / "probes"
    for folder in (src, hook, probes):
        folder.mkdir(parents=True)
    for name in ["a.wav", "b.wav"][: int(jobs)]:  # two recordings: the pool starts
        (src / name).write_bytes(recording.read_bytes())
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    keep = {k: v for k, v in os.environ.items() if k not in THREAD_VARS + (CAPPED_VAR,)}
    env = {**keep, "PYTHONPATH": os.pathsep.join([str(hook), str(REPO)]), "PROBE_DIR": str(probes), **env}
    done = subprocess.run([sys.executable, "-m", "builder", "build", "birdclef-mel", "--set",
                           f"source.path={src.parent}", "-o", str(tmp_path / "out"), "-j", jobs, "--quiet"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = [json.loads(p.read_text()) for p in probes.glob("*.json")]
    assert found, done.stderr
    return found


def test_the_cli_caps_math_threads_before_they_load_inline_and_in_workers(tmp_path):
    for jobs in ("1", "2"):
        for report in _probe(tmp_path / jobs, jobs, {}):
            assert report["threads"] and set(report["threads"].values()) == {1}, report
            assert report["threadpoolctl_needed"] is False, report  # the variables were in place first


def test_a_users_own_thread_setting_is_kept_and_capped_by_threadpoolctl(tmp_path):
    for report in _probe(tmp_path, "1", {"OMP_NUM_THREADS": "2"}):
        # BLAS and MKL (whose FFT we run) capped; OpenMP itself may keep the user's 2 (MKL loads it
        # lazily, after the cap), which nothing of ours uses once MKL is at one thread.
        assert report["threads"]["openblas"] == report["threads"].get("mkl", 1) == 1, report
        assert report["threadpoolctl_needed"] is True, report
