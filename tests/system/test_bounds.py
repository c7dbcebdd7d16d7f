"""Resource bounds, each met with one clear line (issue 26): huge configs, hops under one frame,
more folds than recordings, label CSVs with a million unmatched rows, events by the hundred
thousand, and ``--debug``, which adds a traceback and changes nothing else."""

from __future__ import annotations

from tests.helpers.cli import run_cli, write_config, write_tone


def test_debug_adds_a_traceback_and_keeps_the_exit_code(tmp_path):
    src = tmp_path / "src"
    write_tone(src / "wren" / "a.wav", 1.1)
    write_tone(src / "robin" / "b.wav", 1.1)
    cfg = write_config(tmp_path / "c.yaml", src, tmp_path / "out", output={"splits": {"train": 1.0}})
    assert run_cli("build", cfg, "-j", "1", "--quiet").returncode == 0
    cases = [("build", cfg, "-j", "1", "--set", "spectrogram.n_mels=8"),  # changed config: BuildError, 3
             ("build", cfg, "--set", "nope=1"),  # config error, 2
             ("inspect", tmp_path / "src")]  # not a build, 4
    for argv in cases:
        plain, debug = run_cli(*argv), run_cli("--debug", *argv)
        assert plain.returncode in (2, 3, 4) and "Traceback" not in plain.stderr, plain.stderr
        assert debug.returncode == plain.returncode, (argv, debug.stderr)
        assert "Traceback" in debug.stderr
        assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip().splitlines()[-1]  # the same line


def test_a_hop_under_one_spectrogram_frame_is_refused_naming_the_key(tmp_path):
    src = tmp_path / "src"
    write_tone(src / "wren" / "a.wav", 1.1)
    cfg = write_config(tmp_path / "c.yaml", src, tmp_path / "out",
                       windows={"duration": 0.5, "hop": 1e-9, "select": "first", "per_recording": 2})
    done = run_cli("build", cfg, "-j", "1")  # before: one sample, 16,000 windows per second of audio
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "windows.hop: 1e-09 s is 1 sample(s) at 16000 Hz, less than one spectrogram frame (hop_length 160)" \
        in done.stderr and "use at least 0.01 s" in done.stderr
    assert not (tmp_path / "out").exists()
    done = run_cli("build", cfg, "-j", "1", "--quiet", "--set", "windows.hop=0.01")  # one frame: fine
    assert done.returncode == 0, done.stderr


def test_a_huge_config_or_list_is_refused_before_parsing_naming_the_file_and_the_bound(tmp_path):
    from builder.config.loading import MAX_CONFIG_BYTES, MAX_LIST_ITEMS

    huge = tmp_path / "huge.yaml"  # 4 MB, a 2-million-item list: before, 139 s and 1.5 GB, then "aliases"
    huge.write_text("name: x\nsource: /nonexistent\npublish:\n  hf:\n    tags: [" + "1," * 2_000_000 + "1]\n")
    long = tmp_path / "long.yaml"  # 60 kB: fits the size bound, not the list bound
    long.write_text("name: x\nsource:\n  path: /nonexistent\n  extensions:\n" + "  - wav\n" * 20_000)
    for path, want in ((long, f"error: {long}: the list at line 5 has more than {MAX_LIST_ITEMS:,} items"),
                       (huge, f"error: {huge}: more than {MAX_CONFIG_BYTES:,} bytes, the bound on a config file")):
        done = run_cli("build", path, "-o", tmp_path / "out")
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith(want) and "alias" not in done.stderr, done.stderr
    (tmp_path / "ok.yaml").write_text("name: x\nsource: /nonexistent\n")
    done = run_cli("build", tmp_path / "ok.yaml", "-o", tmp_path / "out", "--set",
                   "publish.hf.tags=[" + "a," * 20_000 + "a]")
    assert done.returncode == 2 and done.stderr.startswith(  # --set values too
        f"error: --set publish.hf.tags: the list at line 1 has more than {MAX_LIST_ITEMS:,} items")
    assert not (tmp_path / "out").exists()


def test_more_folds_than_recordings_are_clamped_with_one_warning(tmp_path):
    import pyarrow.parquet as pq

    src = tmp_path / "src"
    for i in range(6):
        write_tone(src / ("wren" if i % 2 else "robin") / f"r{i}.wav", 0.6, freq=300 + 50 * i)
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"splits": {"train": 1.0}, "folds": 50})
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "output.folds" in line]
    assert warnings[0] == ("warning: output.folds: 50 folds but 6 train recording(s), and a recording is never split: "
                           "using 6 folds (0-5); lower output.folds or add recordings"), done.stderr
    assert warnings[1:] == ["warning: output.folds: 6 of 6 folds lack labels of the 2 in train (fold 0 lacks wren; "
                            "fold 1 lacks robin; fold 2 lacks wren; fold 3 lacks robin; fold 4 lacks wren; 1 more fold "
                            "too); a label needs as many train recordings as folds to be in every fold"], done.stderr
    rows = pq.read_table(out / "train" / "metadata.parquet", columns=["file_name", "fold"]).to_pylist()
    folds = {row["file_name"].split("_")[0]: row["fold"] for row in rows}
    assert sorted(folds.values()) == list(range(6))  # before: 5, 10, 14, 38 … and 44 empty folds
    assert "- `fold`: 0-5, a stratified group k-fold" in (out / "README.md").read_text()


def test_a_hundred_thousand_events_on_one_file_label_in_near_linear_time(tmp_path):
    """Every event-centred window is labelled (``background: null`` drops the unlabelled ones
    before ``per_recording`` picks): before, each window scanned all 1e5 events, hours in all."""
    import csv

    import pyarrow.parquet as pq

    src = tmp_path / "src"
    write_tone(src / "long.wav", 101.0)
    with open(tmp_path / "events.csv", "w", newline="") as fh:
        rows = csv.writer(fh)
        rows.writerow(["filename", "start", "end", "label"])
        rows.writerows(["long.wav", f"{i / 1000:.3f}", f"{i / 1000 + 0.0005:.4f}", "owl" if i % 2 else "wren"]
                       for i in range(100_000))
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"splits": {"train": 1.0}},
                       source={"labels": {"events": str(tmp_path / "events.csv"), "background": None}},
                       windows={"duration": 0.5, "select": "events", "per_recording": 3})
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    rows = pq.read_table(out / "train" / "metadata.parquet", columns=["start", "label", "labels"]).to_pylist()
    assert rows == [{"start": start, "label": 0, "labels": [0, 1]}  # owl, wren (ids): 0.125 s each, a tie, by name
                    for start in (0.0, 0.00025, 0.00125)]  # the first event's window at 0, then one per start


def test_a_million_label_rows_not_found_print_a_summary_and_go_to_a_side_file(tmp_path):
    import csv
    import json

    src = tmp_path / "src"
    write_tone(src / "a.wav", 0.6)
    write_tone(src / "b.wav", 0.6, freq=600)
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as fh:
        rows = csv.writer(fh)
        rows.writerow(["filename", "primary_label"])
        rows.writerows([["a.wav", "wren"], ["b.wav", "robin"]])
        rows.writerows([f"gone/{i:07d}.wav", "owl"] for i in range(1_000_000))
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"splits": {"train": 1.0}},
                       source={"labels": {"csv": str(labels)}})
    for run in ("built", "up to date"):
        done = run_cli("build", cfg, "-j", "1")
        assert done.returncode == 0 and run in done.stdout, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) < 30, lines[:40]  # before: 1,000,022
        assert lines[-1] == f"  1000000 file(s) skipped (all in {out / 'skipped.csv'})", lines[-3:]
        assert lines[-2] == "  ... and 999980 more"
        assert "  skipped gone/0000000.wav: listed in labels.csv but not found under source.path" in lines
    record = json.loads((out / "build.json").read_text())
    assert (out / "build.json").stat().st_size < 100_000  # before: 118 MB
    assert record["skipped_total"] == 1_000_000 and record["skipped_file"] == "skipped.csv"
    assert len(record["skipped"]) == 100 and "skipped.csv" in record["files"]
    with open(out / "skipped.csv", newline="") as fh:
        listed = list(csv.DictReader(fh))
    assert len(listed) == 1_000_000 and listed[-1]["path"] == "gone/0999999.wav"
    card = (out / "README.md").read_text()
    assert "1000000 source file(s) were skipped; `skipped.csv` lists each" in card
    assert "1000000 more could not be used (`skipped.csv` lists each with its reason)" in card
