"""Hostile configs at the CLI: ``error: ...`` lines (one per problem), exit 2, never a traceback.

``tests/config/test_config.py`` fuzzes ``load_config`` itself; here the whole command is exercised, as a
subprocess for a handful of hostile files and in-process (``builder.cli.main.main``) for a fuzz of
``--set`` values. Every config points at a source folder that does not exist, so even a config
that happens to be valid stops with a one-line error before any work.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.cli.main import main

from tests.helpers.cli import DEMO, REPO, cli_env, run_cli, write_config, write_tone

MISSING = "/nonexistent/spectroset-test-source"
GOOD = f"name: fuzz\nsource: {MISSING}\n"

HOSTILE = {
    "unclosed.yaml": "name: x\nsource: [unclosed\n",
    "list.yaml": "- a\n- b\n",
    "scalar.yaml": "just a string\n",
    "binary.yaml": b"\xff\xfe\x00\x01\x80garbage",
    "utf16.yaml": "\ufeffname: x\nsource: /x\n".encode("utf-16-le"),
    "empty.yaml": "",
    "tabs.yaml": "source:\n\tpath: /x\n",
    "python_tag.yaml": "!!python/object/apply:os.system ['echo PWNED']\n",
    "recursive.yaml": f"name: &a [*a]\nsource: {MISSING}\n",
    "deep.yaml": f"source: {MISSING}\nspectrogram: " + "[" * 3000 + "]" * 3000 + "\n",
    "laughs.yaml": "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                   f"source: {MISSING}\n",
    "many_problems.yaml": f"bogus: 1\nsource: {MISSING}\nspectrogram: {{n_mels: -1, hop_length: 0, f_min: 9000, "
                          "f_max: 100, n_fft: .nan}\nimage: {size: [0, -1]}\nwindows: {duration: .inf}\n",
    "types.yaml": "name: ''\nsource: {path: 5, labels: {csv: [1]}}\nwindows: abc\n"
                  "output: {max_shard_size: lots, splits: {train: 2}}\n",
    "keys.yaml": f"1: 2\nnull: 3\n? [a, b]\n: c\nsource: {MISSING}\n",
}


def _check_error_output(rc: int, out: str, err: str, name: str, min_lines: int = 1) -> None:
    assert "Traceback" not in out + err, err
    assert rc == 2, (name, rc, err)
    lines = err.strip().splitlines()
    assert len(lines) >= min_lines and all(line.startswith("error: ") for line in lines), err
    assert all(name in line for line in lines), err  # each line names the file (or --set)
    assert "PWNED" not in out + err


def test_hostile_config_files_at_the_cli(tmp_path):
    for name, text in HOSTILE.items():
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        done = run_cli("build", path, "-o", tmp_path / "out", timeout=60)
        _check_error_output(done.returncode, done.stdout, done.stderr, name,
                            min_lines=5 if name == "many_problems.yaml" else 1)
        assert done.stdout == ""
    assert not (tmp_path / "out").exists()


def test_missing_config_and_bad_jobs(tmp_path):
    done = run_cli("build", tmp_path / "nope.yaml", timeout=60)
    _check_error_output(done.returncode, done.stdout, done.stderr, "nope.yaml")
    (tmp_path / "ok.yaml").write_text(GOOD)
    done = run_cli("build", tmp_path / "ok.yaml", "-j", "0", timeout=60)
    _check_error_output(done.returncode, done.stdout, done.stderr, "-j")
    done = run_cli("build", tmp_path, timeout=60)  # a folder, not a file
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr



def test_the_process_entry_exits_with_mains_code(tmp_path, monkeypatch):
    """``spectroset`` and ``python -m builder`` run ``cli.run``: main's exit code, its heap frozen."""
    import gc
    import sys

    from builder.cli import main as cli

    monkeypatch.setattr(sys, "argv", ["spectroset", "build", str(tmp_path / "nope.yaml")])
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.run()
    finally:
        gc.unfreeze()  # this test process goes on
    assert exit_.value.code == 2

# -- --set fuzz ------------------------------------------------------------------------------------

KEYS = ["name", "audio.sample_rate", "windows.duration", "windows.hop", "windows.last", "windows.min_last",
        "spectrogram.kind", "spectrogram.n_fft", "spectrogram.n_mels", "spectrogram.f_min", "spectrogram.f_max",
        "spectrogram.ref", "spectrogram.top_db", "spectrogram.window", "image.size", "image.normalize",
        "image.colormap", "image.png_compress_level", "output.layout", "output.splits", "output.splits.train",
        "output.max_shard_size", "output.include", "publish.hf.tags", "spectrogram", "windows", "image"]
yaml_like = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "null", "~", "[]", "{}", "[1, 2, 3]", "{a: 1}", "-1", "0", "1e999", ".nan", "-.inf",
                     "0x10", "0o7", "1_000", "yes", "'quoted", "[unclosed", "{a: [}", "&x [*x]", "*undefined",
                     "!!python/name:os.system", "!!binary AAAA", "2020-01-01", "12:30:00", "max", "viridis",
                     "notacolormap", "500MB", "lots", "'\x00'", "\x00", "\udcff"]),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
# Line-breaking characters in a key are left out here: the CLI echoes the key unescaped, so the
# message spans two lines (see test_key_with_a_line_break_stays_one_line below).
_no_breaks = st.characters(exclude_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
keys = st.one_of(st.sampled_from(KEYS), st.text(_no_breaks, min_size=0, max_size=20),
                 st.lists(st.sampled_from(["a", "windows", "image", "size", ""]), max_size=4).map(".".join))


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def fuzz_dir():
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "cfg.yaml").write_text(GOOD)
        yield Path(d)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(keys, yaml_like), min_size=1, max_size=3))
def test_set_fuzz_gives_error_lines_never_a_traceback(fuzz_dir, assignments):
    # never point a fuzzed build at a real folder: the source stays the missing one
    sets = [f"--set={k}={v}" for k, v in assignments if "source" not in k.lower()]
    out_dir = tempfile.mkdtemp(dir=fuzz_dir)  # fresh: an earlier example's OUT must not interfere
    rc, out, err = _main(["build", str(fuzz_dir / "cfg.yaml"), *sets, "-o", f"{out_dir}/out"])
    assert "Traceback" not in out + err
    assert rc == 2, err
    assert not Path(out_dir, "out").exists()  # nothing written for a config or source error
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), err


def test_key_with_a_line_break_stays_one_line(fuzz_dir):
    rc, out, err = _main(["build", str(fuzz_dir / "cfg.yaml"), "--set=bad\nkey\x85x=1", "-o", str(fuzz_dir / "o")])
    assert rc == 2 and len(err.strip().splitlines()) == 1, err


# -- the first hour (#14): README paths, builds of nothing, folders that are not builds ------------

BIRDCLEF_PRESET = REPO / "configs" / "birdclef-mel.yaml"


def _one_error_line(rc: int, out: str, err: str, code: int) -> str:
    assert "Traceback" not in out + err, err
    assert rc == code, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_readme_example_resolves_set_paths_against_the_working_directory(tmp_path):
    # verbatim: spectroset build configs/birdclef-mel.yaml -o out/birdclef --set source.path=train_audio
    (tmp_path / "configs").mkdir()
    shutil.copy(BIRDCLEF_PRESET, tmp_path / "configs" / "birdclef-mel.yaml")
    for label in ("kick_drum", "tabla"):
        src = sorted((DEMO / label).iterdir())[0]
        (tmp_path / "train_audio" / label).mkdir(parents=True)
        shutil.copy(src, tmp_path / "train_audio" / label / src.name)
    done = run_cli("build", "configs/birdclef-mel.yaml", "-o", "out/birdclef", "--set", "source.path=train_audio",
                   "-j", "1", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "from 2 recordings" in done.stdout
    assert (tmp_path / "out" / "birdclef" / "build.json").is_file()
    assert "--set source.path" in BIRDCLEF_PRESET.read_text()  # the preset's comment says how


def test_a_misspelt_set_key_names_the_set_and_suggests(tmp_path):
    rc, out, err = _main(["build", "birdclef-mel", "--set", "spectrogram.nmels=64", "-o", str(tmp_path / "o")])
    line = _one_error_line(rc, out, err, 2)
    assert line.startswith("error: --set spectrogram.nmels: unknown key (did you mean spectrogram.n_mels")
    assert "birdclef-mel.yaml" not in line


def test_a_misspelt_preset_name_suggests_the_preset(tmp_path):
    rc, out, err = _main(["build", "birdclef-mle", "-o", str(tmp_path / "o")])
    line = _one_error_line(rc, out, err, 2)
    assert line == ("error: birdclef-mle: no such config file or preset (did you mean birdclef-mel? "
                    "see `spectroset presets`)")
    rc, out, err = _main(["build", "nothing-like-a-preset", "-o", str(tmp_path / "o")])
    assert "did you mean" not in _one_error_line(rc, out, err, 2)


@pytest.mark.parametrize("case", ["empty", "no_class_folders", "csv_without_folders", "all_unreadable"])
def test_a_build_of_nothing_fails_with_one_line_saying_what_to_try(tmp_path, case):
    src, sets = tmp_path / "src", []
    src.mkdir()
    if case == "no_class_folders":
        write_tone(src / "a.wav", 0.6)
        want = f"no class sub-folders under {src}: put files in {src}/<label>/ or set source.labels: none"
    elif case == "csv_without_folders":
        write_tone(src / "part1" / "XC1.wav", 0.6)
        (tmp_path / "t.csv").write_text("filename,primary_label\nXC1.wav,wren\n")
        sets = ["--set", f"source.labels={{csv: {tmp_path / 't.csv'}}}"]
        want = "filename column has no folder part ('XC1.wav')"
    elif case == "all_unreadable":
        (src / "wren").mkdir()
        (src / "wren" / "a.wav").write_text("not audio")
        want = "no window built: every recording was skipped (1, listed above)"
    else:
        want = f"no audio files under {src}"
    cfg = write_config(tmp_path / "c.yaml", src, tmp_path / "out")
    for strict in ([], ["--strict"]):
        done = run_cli("build", cfg, "-j", "1", "--quiet", *sets, *strict)
        assert want in _one_error_line(done.returncode, done.stdout, done.stderr, 1), done.stderr
    if case == "all_unreadable":
        assert "skipped wren/a.wav:" in done.stdout
    else:
        assert not (tmp_path / "out").exists()  # found before any work


def test_conflicting_csv_rows_stop_the_build_naming_file_and_lines(tmp_path):
    src = tmp_path / "src"
    write_tone(src / "wren" / "a.wav", 0.6)
    (tmp_path / "t.csv").write_text("filename,primary_label\nwren/a.wav,wren\nwren/a.wav,robin\n")
    cfg = write_config(tmp_path / "c.yaml", src, tmp_path / "out", source={"labels": {"csv": "t.csv"}})
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    line = _one_error_line(done.returncode, done.stdout, done.stderr, 2)
    assert "t.csv lists 'wren/a.wav' on lines 2 and 3 with different values (primary_label 'wren' vs 'robin')" in line
    assert not (tmp_path / "out").exists()


def test_an_alias_bomb_and_a_huge_image_are_refused_before_work(tmp_path):
    bomb = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
                     + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)])
    (tmp_path / "bomb.yaml").write_text(bomb + f"\nsource: {MISSING}\n")
    rc, out, err = _main(["build", str(tmp_path / "bomb.yaml"), "-o", str(tmp_path / "out")])
    assert "alias" in _one_error_line(rc, out, err, 2)
    rc, out, err = _main(["build", "birdclef-mel", "--set", "image.size=[16384, 16384]", "--set",
                          f"source.path={DEMO}", "-o", str(tmp_path / "out")])
    assert _one_error_line(rc, out, err, 2).startswith("error: --set image.size: 16384x16384 is 268,435,456 pixels")
    assert not (tmp_path / "out").exists()


def _not_builds(root: Path) -> dict[str, tuple[Path, str]]:
    cases = {
        "empty_folder": ("", "not a built dataset (no build.json)"),
        "unfinished": ("", "unfinished: rerun the build"),
        "empty_json": ("{}", "not a spectroset build record"),
        "foreign_json": ('{"name": "thesis", "version": 3}', "not a spectroset build record"),
        "list_json": ("[1, 2]", "not a spectroset build record (expected a JSON object)"),
        "broken_json": ("{", "unreadable"),
    }
    out = {}
    for name, (text, want) in cases.items():
        folder = root / name
        folder.mkdir()
        (folder / "README.md").write_text("# my thesis\n")
        if text:
            (folder / "build.json").write_text(text)
        if name == "unfinished":
            (folder / ".spectroset").mkdir()
        out[name] = (folder, want)
    out["no_such_folder"] = (root / "missing", "no such folder")
    return out


def test_inspect_report_and_push_refuse_anything_but_a_finished_build(tmp_path):
    for name, (folder, want) in _not_builds(tmp_path).items():
        for argv in (["inspect", str(folder)], ["report", str(folder), "-o", str(tmp_path / "r.html")],
                     ["push", str(folder), "--to", "hf", "--dry-run", str(tmp_path / "stage")]):
            rc, out, err = _main(argv)
            assert want in _one_error_line(rc, out, err, 4), (name, argv, err)
        assert not (tmp_path / "r.html").exists() and not (tmp_path / "stage").exists()


def test_a_requested_split_that_gets_no_window_is_named_in_a_warning(tmp_path):
    src = tmp_path / "src"
    write_tone(src / "wren" / "a.wav", 0.6)
    write_tone(src / "robin" / "b.wav", 0.6)
    cfg = write_config(tmp_path / "c.yaml", src, tmp_path / "out")
    done = run_cli("build", cfg, "-j", "1", "--quiet", "--set", "output.splits={train: 0.8, validation: 0.1, test: 0.1}")
    assert done.returncode == 0, done.stderr
    assert "warning: output.splits: validation, test got no window (2 recording(s)" in done.stderr
    assert "Traceback" not in done.stderr


# -- field fixes (#31): presets from any folder, shapes, quiet, small things ----------------------


def test_a_bundled_preset_runs_from_any_folder_and_writes_to_the_working_directory(tmp_path):
    done = run_cli("build", "events-raven", "-j", "1", "--quiet", "--set", "windows.duration=5.0",
                   "--set", "windows.hop=5.0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "events-raven" / "build.json").is_file()
    done = run_cli("build", REPO / "configs" / "events-raven.yaml", "-j", "1", "--quiet", "--set",
                   "windows.duration=5.0", "--set", "windows.hop=5.0", cwd=tmp_path)  # by path: the same
    assert done.returncode == 0, done.stderr
    assert not (REPO / "configs" / "out").exists()
    rc, out, err = _main(["build", "birdclef-mel", "--set", f"source.path={tmp_path / 'train_audio'}"])
    line = _one_error_line(rc, out, err, 2)
    assert "not a folder" in line and "--set source.path=" in line


@pytest.mark.parametrize("typed, meant", [("raven", "events-raven"), ("BirdCLEF-Mel", "birdclef-mel")])
def test_a_preset_name_in_another_case_or_a_part_of_one_suggests_it(tmp_path, typed, meant):
    rc, out, err = _main(["build", typed, "-o", str(tmp_path / "o")])
    assert f"did you mean {meant}" in _one_error_line(rc, out, err, 2)


def test_a_shape_set_as_a_scalar_says_the_shape_or_means_the_obvious(tmp_path):
    rc, out, err = _main(["build", "birdclef-mel", "--set", "image.size=512", "-o", str(tmp_path / "o")])
    assert _one_error_line(rc, out, err, 2) == "error: --set image.size: must be [width, height] in pixels, e.g. [512, 512]"
    rc, out, err = _main(["build", "birdclef-mel", "--set", "image.channels=7", "-o", str(tmp_path / "o")])
    assert "must be a list of channel names, e.g. [spectrogram]" in _one_error_line(rc, out, err, 2)
    from builder.config.loading import load_config

    assert load_config("birdclef-mel", ["image.channels=pcen"]).image.channels == ("pcen",)


def _bad_mp3(path: Path) -> Path:
    """An mp3 with zeros in a frame: it decodes, and libmpg123 prints 'Note: Illegal Audio-MPEG-Header'
    to file descriptor 2 on the way."""
    import numpy as np
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.3 * np.sin(np.arange(32000) * 0.06)).astype(np.float32), 16000, format="MP3",
             subtype="MPEG_LAYER_III")
    data = path.read_bytes()
    path.write_bytes(data[:2000] + b"\0" * 400 + data[2000:])
    return path


def test_quiet_prints_the_summary_only_and_decoder_chatter_never_reaches_the_terminal(tmp_path, capfd):
    src = tmp_path / "src"
    write_tone(src / "wren" / "good.wav", 1.0)
    _bad_mp3(src / "wren" / "noisy.mp3")
    for i in range(6):
        (src / "robin" / f"empty{i}.wav").parent.mkdir(parents=True, exist_ok=True)
        (src / "robin" / f"empty{i}.wav").write_bytes(b"")
    cfg = write_config(tmp_path / "c.yaml", src, output={"splits": {"train": 1.0}})
    assert main(["build", str(cfg), "-q", "-j", "1", "-o", str(tmp_path / "one")]) == 0  # decodes in this process
    out, err = capfd.readouterr()
    assert "MPEG" not in out + err and "Note:" not in out + err, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("built ") and lines[1] == "  6 file(s) skipped (listed in build.json)"
    done = run_cli("build", cfg, "-q", "-j", "2", "-o", tmp_path / "two")  # decodes in worker processes
    assert done.returncode == 0, done.stderr
    assert "MPEG" not in done.stdout + done.stderr and len(done.stdout.strip().splitlines()) == 2, done.stderr


def test_inspect_of_a_build_json_that_is_not_json_says_what_a_build_then_does(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    write_tone(src / "wren" / "a.wav", 0.6)
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"splits": {"train": 1.0}})
    assert _main(["build", str(cfg), "--quiet", "-j", "1"])[0] == 0
    (out / "build.json").write_text("{")  # cut short by hand: spectroset's state is still there
    assert _one_error_line(*_main(["inspect", str(out)]), 4).endswith("rerun the build to replace it "
                                                                     "(move it away first if spectroset did not write it)")
    assert _main(["build", str(cfg), "--quiet", "-j", "1"])[0] == 0 and _main(["inspect", str(out)])[0] == 0
    other = tmp_path / "thesis"  # no state: a build refuses the folder, so inspect must not say "rerun the build"
    other.mkdir()
    (other / "build.json").write_text("{")
    line = _one_error_line(*_main(["inspect", str(other)]), 4)
    assert "rerun" not in line and "not a folder `spectroset build` wrote" in line
    assert _main(["build", str(cfg), "--quiet", "-j", "1", "-o", str(other)])[0] == 3


def test_an_output_folder_holding_only_placeholders_is_built_into_and_they_stay(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    write_tone(src / "wren" / "a.wav", 0.6)
    out.mkdir()
    (out / ".gitkeep").write_bytes(b"")
    (out / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"splits": {"train": 1.0}})
    for extra in ([], ["--force"]):
        rc, text, err = _main(["build", str(cfg), "-j", "1", *extra])
        assert rc == 0, err
        assert (out / ".gitkeep").read_bytes() == b"" and (out / ".DS_Store").read_bytes() == b"\0\0\0\1Bud1"
    assert _main(["inspect", str(out), "--verify"])[0] == 0
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")  # anything else is still refused
    assert _main(["build", str(cfg), "-j", "1", "-o", str(tmp_path / "other")])[0] == 3


def test_inspect_of_a_foreign_build_json_says_what_a_build_then_does(tmp_path):
    """``inspect`` on a folder whose build.json is JSON but not ours (``{"a":1}``) said "If so, rebuild
    it with `spectroset build`", and that build was then refused (exit 3): without a state folder it
    must say so; with one (spectroset built there) a rebuild is what replaces it."""
    src = tmp_path / "src"
    write_tone(src / "wren" / "a.wav", 0.6)
    cfg = write_config(tmp_path / "c.yaml", src)
    for state in (False, True):
        out = tmp_path / f"out{int(state)}"
        if state:
            assert _main(["build", str(cfg), "-o", str(out), "-j", "1", "--quiet"])[0] == 0
        out.mkdir(exist_ok=True)
        (out / "build.json").write_text('{"a":1}')
        line = _one_error_line(*_main(["inspect", str(out)]), 4)
        assert "not a spectroset build record (unknown key 'a')" in line and "If so" not in line
        assert ("rerun the build to replace it" in line) == state, line
        assert ("not a folder `spectroset build` wrote or can rebuild; build into a new folder" in line) != state
        assert _main(["build", str(cfg), "-o", str(out), "-j", "1", "--quiet"])[0] == (0 if state else 3)


def test_events_raven_in_an_install_without_examples_names_the_preset_and_the_keys(tmp_path):
    """In a wheel install (the presets shipped, no ``examples/`` beside them) ``build events-raven``
    said ``source.path: not a folder: <cwd>/../examples/demo-audio``: a nonsense path. It names the
    preset and the ``--set`` keys instead, and builds once they are given."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "builder", site / "builder", ignore=shutil.ignore_patterns("__pycache__"))  # presets copied
    env = cli_env(PYTHONPATH=str(site))
    work = tmp_path / "work"
    work.mkdir()
    done = run_cli("build", "events-raven", env=env, cwd=work)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == ("error: events-raven.yaml: source.path: ../examples/demo-audio is the checkout's "
                                   "examples/ folder, which this install lacks: the preset runs as is only from a "
                                   "spectroset checkout; give your own with --set source.path=AUDIO_FOLDER "
                                   "--set source.labels.events=TABLES")
    done = run_cli("build", "events-raven", "-j", "1", "--quiet", "--set", f"source.path={DEMO}", "--set",
                   f"source.labels.events={REPO / 'examples' / 'demo-raven'}", "--set", "windows.duration=5.0",
                   "--set", "windows.hop=5.0", env=env, cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / "out" / "events-raven" / "build.json").is_file()
