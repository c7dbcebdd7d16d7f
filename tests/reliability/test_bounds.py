"""Resource bounds, each met with one clear line (issue 26): huge configs, hops under one frame,
more folds than recordings, label CSVs with a million unmatched rows, events by the hundred
thousand, and ``--debug``, which adds a traceback and changes nothing else."""

from __future__ import annotations

from . import run_cli, write_config, write_tone


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
    cfg = write_config(tmp_path / "c.yaml", src, tmp_path / "out", windows={"duration": 0.5, "hop": 1e-9, "select": "first", "per_recording": 2})
    done = run_cli("build", cfg, "-j", "1")  # before: one sample, 16,000 windows per second of audio
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "windows.hop: 1e-09 s is 1 sample(s) at 16000 Hz, less than one spectrogram frame (hop_length 160)" \
        in done.stderr and "use at least 0.01 s" in done.stderr
    assert not (tmp_path / "out").exists()
    done = run_cli("build", cfg, "-j", "1", "--quiet", "--set", "windows.hop=0.01")  # one frame: fine
    assert done.returncode == 0, done.stderr
