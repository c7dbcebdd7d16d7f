"""A full disk while a push stages its upload: one ``error:`` line, a non-zero exit, nothing sent (no
dataset, no blob on the fake Kaggle), the built files and the stage's folder as they were, and the
same push goes through once there is space.

Two ways in, as in ``tests/system/test_disk.py``: a real size-limited tmpfs in a private mount
namespace (``unshare -m``; the kernel answers ENOSPC, skipped where it cannot mount), and a file size
limit (``RLIMIT_FSIZE``, EFBIG from the kernel for any writer, which runs everywhere).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import skip_without_private_tmpfs

from tests.helpers.publish import HERE, KAGGLE_TOKEN, kaggle_env, relist, run_client

BIG = 1 << 20  # one built file of this many bytes: the Kaggle zip of its split cannot be smaller


def _dataset(out: Path) -> Path:
    (out / "train" / "cat" / "big.png").write_bytes(os.urandom(BIG))
    relist(out)
    return out


def _listing(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, the lock (which holds the pid of its last holder) aside."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "lock"}


def _one_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def _nothing_sent(kaggle) -> None:
    assert kaggle.datasets == {} and kaggle.blobs == {}


def _limited(*args, env: dict) -> subprocess.CompletedProcess:
    """``push_client.py ARGS`` with no file allowed past ``BIG // 4`` bytes."""
    def limit() -> None:  # Python ignores SIGXFSZ: a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (BIG // 4, BIG // 4))

    return subprocess.run([sys.executable, str(HERE / "push_client.py"), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120, preexec_fn=limit)


def test_a_file_size_limit_while_staging_for_kaggle_is_one_line(imagefolder_out, kaggle, client_env):
    out = _dataset(imagefolder_out)
    before = _listing(out)
    env = kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
    done = _limited("push", out, "--to", "kaggle", env=env)
    line = _one_error(done.stderr)
    assert done.returncode == 3 and line.startswith(f"error: cannot write {out}/.spectroset/publish/"), done.stderr
    assert "File too large" in line
    _nothing_sent(kaggle)
    assert _listing(out) == before  # the old stage (none) kept, no scratch folder left
    again = run_client("push", out, "--to", "kaggle", env=env)
    assert again.returncode == 0, again.output
    assert "created https://www.kaggle.com/datasets/alice/tiny-birds" in again.stdout


def test_a_file_size_limit_in_a_hub_dry_run_is_one_line(imagefolder_out, tmp_path, client_env):
    out, stage = _dataset(imagefolder_out), tmp_path / "stages" / "hf"
    done = _limited("push", out, "--to", "hf", "--dry-run", stage, env=client_env)
    line = _one_error(done.stderr)
    assert done.returncode == 3 and "big.png: File too large" in line, done.stderr
    assert list((tmp_path / "stages").iterdir()) == []  # no stage, no half-copied *.incomplete folder
    again = run_client("push", out, "--to", "hf", "--dry-run", stage, env=client_env)
    assert again.returncode == 0 and (stage / "train" / "cat" / "big.png").stat().st_size == BIG, again.output


SCRIPT = r"""
set -u
mount -t tmpfs -o size={size} tmpfs "$MNT" || exit 77
cp -a "$SRC" "$MNT/out"
"$PY" "$CLIENT" push "$MNT/out" --to kaggle > "$RES/full.out" 2> "$RES/full.err"; echo $? > "$RES/full.rc"
cp -a "$MNT/out" "$RES/after"
mount -o remount,size=64m "$MNT"
"$PY" "$CLIENT" push "$MNT/out" --to kaggle > "$RES/freed.out" 2> "$RES/freed.err"; echo $? > "$RES/freed.rc"
"""


def test_a_full_disk_while_staging_for_kaggle_is_one_line(imagefolder_out, tmp_path, kaggle, client_env):
    skip_without_private_tmpfs()
    out = _dataset(imagefolder_out)
    before = _listing(out)
    pages = sum(-(-p.stat().st_size // 4096) + 1 for p in out.rglob("*"))  # files and folders, generously
    mnt, res = tmp_path / "mnt", tmp_path / "res"
    mnt.mkdir()
    res.mkdir()
    env = dict(kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN), MNT=str(mnt), RES=str(res),
               SRC=str(out), PY=sys.executable, CLIENT=str(HERE / "push_client.py"))
    script = SCRIPT.format(size=(pages * 4096 + BIG // 2) // 4096 * 4096)  # the copy fits, the zip cannot
    done = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode == 77:
        pytest.skip(f"cannot mount a private tmpfs here: {done.stderr.strip()}")
    rc = {name: int((res / f"{name}.rc").read_text()) for name in ("full", "freed")}
    err = (res / "full.err").read_text()
    line = _one_error(err)
    assert rc["full"] == 3 and "no space left on the device" in line, err
    assert line.endswith("free space and rerun to resume")
    assert _listing(res / "after") == before  # nothing half-staged is left behind
    assert rc["freed"] == 0, (res / "freed.err").read_text()
    sent = kaggle.datasets["alice/tiny-birds"]
    assert sent.versions == [sent.create] and len(kaggle.blobs) == len(sent.create["files"])  # none sent before


def test_a_disk_error_in_a_hub_dry_run_names_the_copy_that_failed_not_the_built_file(imagefolder_out, tmp_path,
                                                                                     client_env):
    out, stage = _dataset(imagefolder_out), tmp_path / "stages" / "hf"
    line = _one_error(_limited("push", out, "--to", "hf", "--dry-run", stage, env=client_env).stderr)
    named = line.removeprefix("error: cannot write ").split(": File too large")[0]
    assert Path(named).parent.parent.parent.parent == tmp_path / "stages", line  # STAGE's *.incomplete/train/cat/
    assert named.endswith("/train/cat/big.png") and str(out) not in line, line
