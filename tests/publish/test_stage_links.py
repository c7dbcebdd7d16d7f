"""A push never works through a link in OUT's private state: ``.spectroset``, its ``publish`` folder
or a publisher's work folder linked to a user's folder (outside OUT or inside it) is refused with one
line naming the link, before anything is written, staged or uploaded; the user's files stay as they
were. Real ``spectroset push`` runs (dry runs too) against the local fake Hub and Kaggle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.publish import KAGGLE_TOKEN, hub_env, kaggle_env, run_client

USER_FILES = {"thesis.tex": b"\\chapter{One}", "data/raw.csv": b"id,value\n1,2\n", "lock": b"my own lock",
              "token": b"my own token", "train.zip": b"my own archive"}


def user_folder(folder: Path) -> Path:
    for rel, data in USER_FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def listing(folder: Path) -> dict[str, bytes]:
    """Every file and folder under ``folder`` (hidden ones too), with the bytes of each file."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(folder.rglob("*"))}


def one_error(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("linked, where, to, dry", [
    (".spectroset/publish/kaggle", "outside", "kaggle", False),  # the repro
    (".spectroset/publish/kaggle", "inside", "kaggle", False),   # a user's folder in OUT itself
    (".spectroset/publish", "outside", "kaggle", False),
    (".spectroset/publish/hf", "outside", "hf", False),          # was a traceback: rmtree on a link
    (".spectroset/publish", "inside", "hf", False),
    (".spectroset", "outside", "kaggle", False),                 # the lock would go into the user's folder
    (".spectroset/publish/kaggle", "outside", "kaggle", True),   # a dry run says what the push would
    (".spectroset/publish/hf", "inside", "hf", True),
])
def test_a_linked_work_folder_is_refused_and_the_user_files_stay(imagefolder_out, tmp_path, hub, kaggle, client_env,
                                                                  linked, where, to, dry):
    out = imagefolder_out
    mine = user_folder(tmp_path / "mine" if where == "outside" else out / "notes")
    link = out / linked
    if link.exists():  # the fixture's own .spectroset: a user replaced it with a link
        for p in sorted(link.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        link.rmdir()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(mine, target_is_directory=True)
    before = listing(mine)
    env = hub_env(client_env, hub) if to == "hf" else kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
    target = ["--repo", "alice/birds"] if to == "hf" else ["--id", "alice/tiny-birds"]
    stage = tmp_path / "stage"
    pushed = run_client("push", out, "--to", to, *target, *(["--dry-run", stage] if dry else []), env=env)
    assert listing(mine) == before, pushed.output  # nothing deleted, written or added there
    assert pushed.returncode != 0, pushed.output
    line = one_error(pushed)
    assert f"{out / linked} is a link" in line and "remove the link" in line, line
    assert hub.repos == {} and kaggle.datasets == {} and kaggle.blobs == {}
    assert not stage.exists()


@pytest.mark.parametrize("to", ["hf", "kaggle"])
def test_a_dry_run_folder_named_by_a_link_is_followed(imagefolder_out, tmp_path, client_env, to):
    """STAGE is a root the user named: a link there leads to the (empty) folder it names, which
    receives the stage; it was a traceback (rmdir on the link)."""
    (tmp_path / "disk2" / "stage").mkdir(parents=True)
    stage = tmp_path / "stage"
    stage.symlink_to(tmp_path / "disk2" / "stage", target_is_directory=True)
    done = run_client("push", imagefolder_out, "--to", to, "--dry-run", stage, env=client_env)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.output
    assert stage.is_symlink() and (tmp_path / "disk2" / "stage" / "build.json").is_file()
    assert [p.name for p in (tmp_path / "disk2").iterdir()] == ["stage"]  # no *.incomplete folder left
