"""``source.dataset: USER/NAME`` read from a Hub with the real ``huggingface_hub`` client (the
loopback fake Hub of tests/publish/): the parquet shards are downloaded into the client's cache
once, the build equals a folder build of the same recordings label by label, a new revision
decodes only its changed rows, and a Hub that cannot be reached or has no such dataset is one line."""

from __future__ import annotations

import io
import socket

from tests.helpers.audio_dataset import SPLITS, audio_table, dataset_config, dataset_files, folder_build, one_error, pngs_by_label
from tests.helpers.cli import DEMO, run_cli, write_tone
from tests.helpers.publish import hub_env, make_client_env


def _downloads(hub) -> int:
    return len([r for r in hub.requests("GET") if "/resolve/" in r[1] and r[1].endswith(".parquet")])


def test_a_served_dataset_gives_per_label_the_pngs_of_a_folder_build(tmp_path, hub):
    commit = hub.seed("bob/sounds", dataset_files(DEMO, SPLITS))
    env = hub_env(make_client_env(tmp_path / "client"), hub, token=None)
    out = tmp_path / "out"
    done = run_cli("build", dataset_config(tmp_path, "bob/sounds"), "-o", out, "-j", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert pngs_by_label(out) == pngs_by_label(folder_build(tmp_path))
    card = (out / "README.md").read_text()
    assert "\nlicense: cc-by-4.0\n" in card and "\nsource_datasets:\n- bob/sounds\n" in card
    fetched = _downloads(hub)
    assert fetched == 2  # the two shards, once
    url = tmp_path / "by-url"  # the same at one commit, spelt as a URL; the cache answers
    done = run_cli("build", dataset_config(tmp_path, f"hf://datasets/bob/sounds@{commit}"), "-o", url, "-j", "1",
                   env=env)
    assert done.returncode == 0, done.stderr
    assert pngs_by_label(url) == pngs_by_label(out) and _downloads(hub) == fetched
    offline = tmp_path / "offline"  # no Hub at all: the cached revision still builds
    done = run_cli("build", dataset_config(tmp_path, "bob/sounds"), "-o", offline, "-j", "1",
                   env=dict(env, HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr
    assert pngs_by_label(offline) == pngs_by_label(out)


def test_a_new_revision_decodes_only_its_changed_row(tmp_path, hub):
    import pyarrow.parquet as pq

    hub.seed("bob/sounds", dataset_files(DEMO, SPLITS))
    env = hub_env(make_client_env(tmp_path / "client"), hub, token=None)
    cfg, out = dataset_config(tmp_path, "bob/sounds"), tmp_path / "out"
    assert run_cli("build", cfg, "-o", out, "-j", "1", env=env).returncode == 0
    files = dataset_files(DEMO, SPLITS)
    changed = write_tone(tmp_path / "bd_boom.aiff", 1.2, freq=880.0).read_bytes()
    rows = [(rel.split("/")[-1], changed if "bd_boom" in rel else (DEMO / rel).read_bytes(), int("tabla" in rel))
            for rel in SPLITS["train"]]
    buf = io.BytesIO()
    pq.write_table(audio_table(rows, ["kick_drum", "tabla"]), buf)
    files["data/train-00000-of-00001.parquet"] = buf.getvalue()
    hub.seed("bob/sounds", files, branch="v2")
    done = run_cli("build", cfg, "-o", out, "-j", "1", "--set", "source.revision=v2", env=env)
    assert done.returncode == 0, done.stderr
    assert "(1 decoded, 3 reused)" in done.stdout, done.stdout


def test_an_unreachable_hub_or_a_missing_dataset_is_one_line(tmp_path, hub):
    env = hub_env(make_client_env(tmp_path / "client"), hub, token=None)
    line = one_error(run_cli("build", dataset_config(tmp_path, "bob/none"), "-o", tmp_path / "o1", env=env))
    assert "source.dataset: no dataset bob/none on the Hub" in line
    hub.seed("bob/sounds", dataset_files(DEMO, SPLITS))
    line = one_error(run_cli("build", dataset_config(tmp_path, "bob/sounds", revision="v9"), "-o", tmp_path / "o0",
                             env=env))
    assert "source.revision: bob/sounds has no revision v9" in line
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = dict(env, HF_ENDPOINT=closed)
    line = one_error(run_cli("build", dataset_config(tmp_path, "bob/sounds"), "-o", tmp_path / "o2", env=env))
    assert line.startswith("error: source.dataset: cannot reach the Hub for bob/sounds@main"), line
    assert not (tmp_path / "o2").exists()


def test_only_the_chosen_split_is_downloaded(tmp_path, hub):
    hub.seed("bob/sounds", dataset_files(DEMO, SPLITS))
    env = hub_env(make_client_env(tmp_path / "client"), hub, token=None)
    out = tmp_path / "out"
    done = run_cli("build", dataset_config(tmp_path, "bob/sounds", split="test", keep_splits=True), "-o", out,
                   "-j", "1", env=env)
    assert done.returncode == 0, done.stderr
    got = [r[1] for r in hub.requests("GET") if "/resolve/" in r[1] and r[1].endswith(".parquet")]
    assert len(got) == 1 and got[0].endswith("/data/test-00000-of-00001.parquet"), got
    assert sorted(pngs_by_label(out)) == ["tabla"]
