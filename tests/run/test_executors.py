"""Where a pool's workers come from: forked from the CLI itself, or from a forkserver anywhere else."""

from __future__ import annotations

import os
import subprocess
import sys

from builder.run.process import THREAD_VARS
from builder.run.progress import Progress
from tests.helpers.probe import REPO, probe_build


def test_the_clis_workers_fork_from_the_cli_itself(tmp_path):
    reports, cli = probe_build(tmp_path, "2", {})
    assert len({r["pid"] for r in reports}) == 2, reports
    assert {r["ppid"] for r in reports} == {cli}, reports  # no forkserver in between


def _python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTROSET_")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


CAPPED = "from builder.run import process; process.configure(fork=process.cap_threads_at_start())\n"


def test_only_a_capped_process_of_one_thread_without_torch_forks_its_workers():
    assert _python("from builder.run.executors import forks_here; print(forks_here())") == ["False"]  # not capped
    assert _python(CAPPED + """
import sys, threading, types
from builder.run.executors import forks_here
alone = forks_here()
stop = threading.Event()
other = threading.Thread(target=stop.wait)
other.start()
print(alone, forks_here())
stop.set()
sys.modules["torch"] = types.ModuleType("torch")
print(forks_here())
""") == ["True", "False", "False"]


def test_a_process_with_another_thread_gets_its_workers_from_a_forkserver():
    own, *parents = _python(CAPPED + """
import os, threading
from builder.run.executors import ProcessExecutor
stop = threading.Event()
threading.Thread(target=stop.wait).start()
executor = ProcessExecutor(2)
print(os.getpid(), *{executor.pool.submit(os.getppid).result() for _ in range(4)})
executor.close()
stop.set()
""")
    assert parents and own not in parents


def test_the_progress_bar_starts_no_thread():
    before = len(os.listdir("/proc/self/task"))
    bar = Progress(3, True)
    try:
        assert bar.bar is not None
        assert len(os.listdir("/proc/self/task")) == before
    finally:
        bar.close()


def test_the_fork_policy_is_a_setting_not_an_environment_variable():
    env = "".join(f"os.environ[{name!r}] = '1'\n" for name in ("SPECTROSET_THREADS_CAPPED", *THREAD_VARS))
    assert _python("import os\n" + env + """
from builder.run import process
from builder.run.executors import forks_here
print(forks_here())  # capped by the environment, but nobody set the policy
process.configure(fork=True, threads_capped=True)
print(forks_here())
""") == ["False", "True"]


def test_forkserver_workers_are_told_by_the_pool_that_their_libraries_loaded_capped():
    told = _python(CAPPED + """
import threading
from builder.run import process
from builder.run.executors import ProcessExecutor
stop = threading.Event()
threading.Thread(target=stop.wait).start()
executor = ProcessExecutor(2)
print(*{executor.pool.submit(process.settings).result().threads_capped for _ in range(4)})
executor.close()
stop.set()
""")
    assert told == ["True"]


def test_importing_spectroset_changes_nothing_in_the_process():
    assert _python("""
import importlib, os, pkgutil, signal
import builder
calls = []
os.umask = lambda *a: calls.append(("umask", a)) or 0o22
signal.signal = lambda *a: calls.append(("signal", a))
environ = dict(os.environ)
for module in pkgutil.walk_packages(builder.__path__, "builder."):
    if module.name != "builder.__main__":
        importlib.import_module(module.name)
print(len(calls), calls, [k for k in {*os.environ, *environ} if os.environ.get(k) != environ.get(k)])
""") == ["0", "[]", "[]"]
