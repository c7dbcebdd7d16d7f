"""Workers write their recording's files: images (each named in the unit's intent log first) or
spools, and a stop (never a write elsewhere) where a worker does not see the build's output folder."""

from __future__ import annotations

import hashlib

import pytest

from builder.run import worker
from builder.config.output import SplitsConfig
from builder.errors import BuildError
from builder.layouts import units
from builder.layouts.units import Target, Unit, check_visible, new_token, run_unit
from builder.plan.place import Placement
from builder.store.ledger import read_intent_log
from builder.store.state_dir import intent_log, spool_rel
from builder.pipeline import build
from builder.store.state import Journal
from builder.run.worker import FileJob

from tests.helpers.layouts import demo_config, snapshot, tone


def _target(out, token, spool=False, rel="rec.wav", **kw) -> Target:
    fields = dict(rel=rel, folder="birds", stem="rec", split="train", splits=SplitsConfig())
    return Target(str(out), token, spool, Placement(**{**fields, **kw}))


def _unit(tmp_path, path, *overrides, **target):
    out = tmp_path / "out"
    cfg = demo_config(out, path.parent, *overrides)
    token = new_token(out)
    return Unit(FileJob(str(path), path.name, "1:1", cfg), _target(out, token, **target)), out


def test_planned_is_the_spool_or_the_intent_log_exact_names(tmp_path):
    assert _target(tmp_path, "t").planned("a/rec.wav") == intent_log("a/rec.wav")
    assert _target(tmp_path, "t", spool=True).planned("a/rec.wav") == spool_rel("a/rec.wav")
    assert intent_log("a/rec.wav") != intent_log("a/rec2.wav")


def test_images_are_written_in_the_worker_and_only_metadata_comes_back(tmp_path):
    unit, out = _unit(tmp_path, tone(tmp_path / "src" / "rec.wav", 2.0))
    result, files = run_unit(unit)
    assert result.reason is None and len(result.rows) == 3  # 1-s windows every 0.5 s
    assert result.paths == ["train/birds/rec_1.png", "train/birds/rec_1.5.png", "train/birds/rec_2.png"]
    assert all(row.png is None and row.size > 0 for row in result.rows)
    assert read_intent_log(out, unit.target.planned("rec.wav")) == [(f, sha) for f, sha, _ in files]  # before written
    assert [f for f, _, _ in files] == result.paths
    assert all((out / p).read_bytes().startswith(b"\x89PNG") for p in result.paths)
    assert [(sha, size) for _, sha, size in files] == [
        (hashlib.sha256((out / p).read_bytes()).hexdigest(), (out / p).stat().st_size) for p in result.paths]


def test_a_recording_that_breaks_halfway_leaves_no_images(tmp_path, monkeypatch):
    unit, out = _unit(tmp_path, tone(tmp_path / "src" / "rec.wav", 4.0))
    real, calls = worker.render_batch, {"n": 0}

    def breaks_on_the_third_batch(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise IndexError("decoder bug")
        return real(*args)

    monkeypatch.setattr(worker, "render_batch", breaks_on_the_third_batch)
    monkeypatch.setattr(worker, "batch_size", lambda spec, n: 1)
    result, files = run_unit(unit)
    assert result.reason.startswith("unexpected error") and result.paths == [] and result.rows == [] and files == []
    assert calls["n"] == 3 and not (out / "train").exists()  # the two images written are gone again


def test_a_spool_holds_each_rows_bytes_at_its_offset(tmp_path):
    unit, out = _unit(tmp_path, tone(tmp_path / "src" / "rec.wav", 2.0), "output.include={arrays: true}", spool=True)
    result, files = run_unit(unit)
    assert result.paths == [spool_rel("rec.wav")] and not (out / "train").exists()
    assert files == [(spool_rel("rec.wav"), hashlib.sha256((out / spool_rel("rec.wav")).read_bytes()).hexdigest(),
                      (out / spool_rel("rec.wav")).stat().st_size)]
    direct = worker.process_file(unit.job)
    with units.SpoolReader(out) as spools:
        for row, ref in zip(result.rows, direct.rows):
            png, array, audio = spools.read(result.paths[0], row.offset)
            assert png == ref.png and (array == ref.array).all() and audio is None
            assert row.png is None and row.array is None and row.size == len(png) + array.nbytes


def test_a_worker_that_does_not_see_the_output_folder_stops_the_build(tmp_path):
    out = tmp_path / "out"
    new_token(out)
    with pytest.raises(BuildError, match=r"not the build's folder on worker host .+ same path"):
        check_visible(str(out), "another build's token")
    with pytest.raises(BuildError, match="every node must mount it"):
        check_visible(str(tmp_path / "elsewhere"), "t")


def test_process_workers_check_the_token_before_writing(tmp_path, monkeypatch):
    """The driver hands out a token the folder does not hold: the forked workers refuse to write."""
    from builder import pipeline

    monkeypatch.setattr(pipeline, "new_token", lambda out: (new_token(out), "not-the-token")[1])
    cfg = demo_config(tmp_path / "out")
    with pytest.raises(BuildError, match="not the build's folder on worker host"):
        build(cfg, workers=2, progress=False)
    assert not list((tmp_path / "out").glob("*/*/*.png"))


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_a_kill_between_begin_and_commit_is_cleaned_up_at_the_next_start(tmp_path, layout):
    """A run records a new recording's spool or intent log, its worker writes the files, and the
    run dies before the commit; the recording is then deleted. No build.json ever listed those
    files: only the ledger's intent (and the log it names) can find them."""
    src = tmp_path / "src"
    tone(src / "a" / "one.wav", 1.5)
    sets = (f"output.layout={layout}", "output.splits={train: 1.0}")
    cfg, clean = demo_config(tmp_path / "killed" / "out", src, *sets), demo_config(tmp_path / "clean" / "out", src, *sets)
    build(cfg, workers=1, progress=False)
    build(clean, workers=1, progress=False)
    out, new = cfg.output.path, tone(src / "b" / "two.wav", 2.5, freq=700)
    target = _target(out, new_token(out), folder="b", stem="two", spool=layout == "parquet", rel="b/two.wav")
    journal = Journal(out)
    journal.ledger.intend([target.planned("b/two.wav")], unit="b/two.wav")
    journal.close()
    written = run_unit(Unit(FileJob(str(new), "b/two.wav", "1:1", cfg), target))[0].paths
    assert len(written) == (1 if layout == "parquet" else 4) and all((out / p).is_file() for p in written)
    new.unlink()
    build(cfg, workers=1, progress=False)
    assert [p for p in written if (out / p).exists()] == []
    assert not (out / target.planned("b/two.wav")).exists()
    assert snapshot(out) == snapshot(clean.output.path)


def test_window_splits_put_one_recordings_images_in_several_folders_the_ledger_names(tmp_path):
    src = tmp_path / "src"
    tone(src / "birds" / "long.wav", 12.0)
    sets = ("output.splits={train: 0.5, validation: 0.25, test: 0.25, by: window}",)
    one, two = demo_config(tmp_path / "one" / "out", src, *sets), demo_config(tmp_path / "two" / "out", src, *sets)
    build(one, workers=1, progress=False)
    build(two, workers=2, progress=False)
    assert snapshot(one.output.path) == snapshot(two.output.path)
    out = one.output.path
    images = sorted(p.relative_to(out).as_posix() for p in out.glob("*/birds/*.png"))
    assert {p.split("/")[0] for p in images} == {"train", "validation", "test"}
    journal = Journal(out, (worker.FileResult, worker.Row))
    rec, owned = journal.get("birds/long.wav"), journal.ledger.of_units(["birds/long.wav"])
    journal.close()
    assert sorted(rec.paths) == images == owned


def test_hops_of_half_a_millisecond_give_one_file_per_row(tmp_path):
    """Names carry the window end to the microsecond: 0.5 ms hops never share a file."""
    src = tmp_path / "src"
    tone(src / "birds" / "click.wav", 0.03)
    cfg = demo_config(tmp_path / "out", src, "windows={duration: 0.01, hop: 0.0005}", "output.splits={train: 1.0}",
                      "spectrogram={kind: mel, n_fft: 64, hop_length: 16, n_mels: 8}", "image.size=null")
    record = build(cfg, workers=1, progress=False).record
    images = list((cfg.output.path / "train" / "birds").glob("*.png"))
    import pyarrow.parquet as pq

    rows = pq.read_table(cfg.output.path / "train" / "metadata.parquet").to_pylist()
    assert len(rows) == len(images) == record["windows"] == len({r["file_name"] for r in rows}) > 40
    assert "birds/click_0.0105.png" in {r["file_name"] for r in rows}
