"""builder.config.sections and builder.config.loading: YAML → validated Config; each failure is one ConfigError line (file, key)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.config.sections import Config
from builder.errors import ConfigError
from builder.config.loading import load_config
from builder.config.geometry import parse_size


def write(folder: Path, text: str, name: str = "x.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(folder: Path, text: str, overrides: list[str] = ()) -> Config:
    return load_config(write(folder, text), list(overrides))


def config_error(folder: Path, text: str, overrides: list[str] = ()) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(folder, text, overrides)
    message = str(info.value)
    assert "\n" not in message, message
    return info.value


# --------------------------------------------------------------------------- defaults


def test_derived_defaults_are_filled(tmp_path):
    cfg = load(tmp_path, "source: audio\nwindows: {duration: 2.5}\nspectrogram: {n_fft: 1024}\n")
    assert cfg.windows.hop == 2.5
    assert cfg.spectrogram.win_length == 1024
    assert cfg.spectrogram.f_max is None  # no fixed rate: each file's Nyquist, decided later
    assert cfg.name == "x"


def test_f_max_defaults_to_nyquist_when_the_rate_is_fixed(tmp_path):
    cfg = load(tmp_path, "source: audio\naudio: {sample_rate: 32000}\n")
    assert cfg.spectrogram.f_max == 16000.0


def test_loading_one_config_does_not_change_the_next(tmp_path):
    # The f_max default must be filled on this config's own spectrogram section, never on a
    # default instance that later configs share.
    plain = "source: audio\n"
    first = load(tmp_path, plain)
    load(tmp_path, "source: audio\naudio: {sample_rate: 32000}\n")
    again = load(tmp_path, plain)
    assert again.spectrogram.f_max is None
    assert again.hash() == first.hash()
    assert load(tmp_path, "source: audio\naudio: {sample_rate: 8000}\n").spectrogram.f_max == 4000.0


# --------------------------------------------------------------------------- paths


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    text = "source: {path: ../audio, labels: {csv: meta/train.csv}}\noutput: {path: built}\n"
    cfg = load_config(write(folder, text))
    assert cfg.source.path == tmp_path.resolve() / "audio"
    assert cfg.source.labels.csv == folder.resolve() / "meta" / "train.csv"
    assert cfg.output.path == folder.resolve() / "built"


def test_paths_typed_with_set_resolve_against_the_working_directory(tmp_path, monkeypatch):
    folder, here = tmp_path / "configs", tmp_path / "work"
    folder.mkdir(), here.mkdir()
    monkeypatch.chdir(here)
    text = "source: {path: ../audio, labels: {csv: meta/train.csv}}\noutput: {path: built}\n"
    cfg = load_config(write(folder, text), ["source.path=train_audio", "source.labels.csv=labels/t.csv",
                                            "output.path=out/x"])
    assert cfg.source.path == here.resolve() / "train_audio"
    assert cfg.source.labels.csv == here.resolve() / "labels" / "t.csv"
    assert cfg.output.path == here.resolve() / "out" / "x"
    cfg = load_config(write(folder, "source: audio\n"), ["source=train_audio", "source.labels={csv: t.csv}"])
    assert cfg.source.path == here.resolve() / "train_audio"
    assert cfg.source.labels.csv == here.resolve() / "t.csv"
    cfg = load_config(write(folder, "source: audio\n"), ["name=renamed"])  # the file's path is untouched
    assert cfg.source.path == folder.resolve() / "audio"


def test_source_shorthand_absolute_paths_and_default_output(tmp_path):
    audio = tmp_path / "elsewhere" / "audio"
    cfg = load(tmp_path, f"name: Bird Calls 2024!\nsource: {audio}\n")
    assert cfg.source.path == audio
    assert cfg.output.path == tmp_path.resolve() / "out" / "Bird-Calls-2024"


# --------------------------------------------------------------------------- errors

SR16K = "audio: {sample_rate: 16000}\n"


@pytest.mark.parametrize(
    "text, key, fragment",
    [
        ("bogus: 1\n", "bogus", "unknown key"),
        ("spectrogram: {bogus: 1}\n", "spectrogram.bogus", "unknown key"),
        ("windows: {durration: 5}\n", "windows.durration", "unknown key"),
        ("spectrogram: {n_mels: abc}\n", "spectrogram.n_mels", "integer"),
        ("spectrogram: {n_mels: 1.5}\n", "spectrogram.n_mels", "integer"),
        ("spectrogram: {kind: cqt}\n", "spectrogram.kind", "'stft', 'mel' or 'mfcc'"),
        ("spectrogram: 3\n", "spectrogram", "dictionary"),
        ("name: [1, 2]\n", "name", "string"),
        ("spectrogram: {f_min: 9000, f_max: 8000}\n", "spectrogram.f_min", "must be < f_max"),
        ("spectrogram: {f_min: 8000, f_max: 8000}\n", "spectrogram.f_min", "must be < f_max"),
        (SR16K + "spectrogram: {f_min: 9000}\n", "spectrogram.f_min", "must be < f_max"),
        (SR16K + "spectrogram: {f_max: 9000}\n", "spectrogram.f_max", "sample_rate / 2"),
        ("spectrogram: {hop_length: 0}\n", "spectrogram.hop_length", "greater than 0"),
        ("spectrogram: {hop_length: -512}\n", "spectrogram.hop_length", "greater than 0"),
        ("windows: {hop: 0}\n", "windows.hop", "greater than 0"),
        (SR16K + "spectrogram: {n_fft: 256, n_mels: 128}\n", "spectrogram.n_mels", "14 would be empty"),
        ("spectrogram: {win_length: 4096}\n", "spectrogram.win_length", "must be <= n_fft"),
        ("spectrogram: {kind: mfcc, n_mfcc: 200}\n", "spectrogram.n_mfcc", "must be <= n_mels"),
        ("spectrogram: {kind: mfcc, scale: linear}\n", "spectrogram.scale", "log scale"),
        ("spectrogram: {ref: -1}\n", "spectrogram.ref", "positive"),
        (SR16K + "windows: {duration: 0.01}\n", "windows.duration", "shorter than n_fft/2"),
        ("windows: {duration: 1, min_last: 2}\n", "windows.min_last", "2 must be <= windows.duration (1): set it too"),
        ("output: {splits: {train: 0.5}}\n", "output.splits.train", "must be 1"),
        ("output: {max_shard_size: 10XB}\n", "output.max_shard_size", "not a size"),
        ("output: {max_shard_size: 10KB}\n", "output.max_shard_size", "at least 1MB"),
        ("image: {colormap: nope}\n", "image.colormap", "unknown colormap"),
    ],
)
def test_invalid_values_name_the_file_and_the_key(tmp_path, text, key, fragment):
    error = config_error(tmp_path, "source: audio\n" + text)
    path = str(tmp_path / "x.yaml")
    assert str(error).startswith(f"{path}: {key}: "), str(error)
    assert fragment in str(error)
    assert (error.file, error.key) == (path, key)


def test_missing_source_is_named(tmp_path):
    assert str(config_error(tmp_path, "")).endswith("source: Field required")


def test_unknown_key_inside_csv_labels_is_named(tmp_path):
    error = config_error(tmp_path, "source: {path: a, labels: {csv: l.csv, bogus: 1}}\n")
    assert error.key == "source.labels.bogus" and "unknown key" in str(error), str(error)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_a_config_that_is_not_a_mapping(tmp_path, text):
    assert "must be a YAML mapping" in str(config_error(tmp_path, text))


def test_yaml_syntax_errors_name_the_line(tmp_path):
    error = config_error(tmp_path, "source: audio\nspectrogram: [unclosed\n")
    assert str(error).startswith(f"{tmp_path / 'x.yaml'}: line 3: ")


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [*a]\nsource: audio\n",  # a YAML alias that contains itself
        "source: audio\nx: " + "[" * 3000 + "]" * 3000 + "\n",  # nesting deeper than the recursion limit
        "source: '~no_such_user_spectroset/audio'\n",  # a home folder that does not exist
        'source: audio\n"a\\nb": 1\n',  # a key with a line break must not break the one-line message
    ],
    ids=["recursive-alias", "deep-nesting", "unknown-home", "newline-key"],
)
def test_hostile_yaml_gives_one_config_error_line(tmp_path, text):
    config_error(tmp_path, text)


@pytest.mark.parametrize("key", ["windows.hop", "spectrogram.power", "spectrogram.f_max", "spectrogram.top_db"])
def test_infinite_numbers_are_rejected(tmp_path, key):
    section, name = key.split(".")
    error = config_error(tmp_path, f"source: audio\n{section}: {{{name}: .inf}}\n")
    assert error.key == key


# --------------------------------------------------------------------------- --set


def test_set_overrides_with_yaml_typed_values(tmp_path):
    cfg = load(
        tmp_path,
        "source: audio\nspectrogram: {n_mels: 128}\n",
        ["spectrogram.n_mels=64", "spectrogram.ref=max", "spectrogram.top_db=null", "windows.duration=2.5",
         "audio.sample_rate=32000", "output.splits.seed=7"],
    )
    assert cfg.spectrogram.n_mels == 64 and isinstance(cfg.spectrogram.n_mels, int)
    assert cfg.spectrogram.ref == "max" and cfg.spectrogram.top_db is None
    assert cfg.windows.duration == 2.5 and cfg.windows.hop == 2.5
    assert cfg.audio.sample_rate == 32000 and cfg.output.splits.seed == 7


def test_set_source_on_a_shorthand_source(tmp_path):
    cfg = load(tmp_path, "source: audio\n", ["source.labels=none"])
    assert cfg.source.path == tmp_path / "audio" and cfg.source.labels == "none"


@pytest.mark.parametrize(
    "assignment, key",
    [
        ("spectrogram.n_mels", "spectrogram.n_mels"),
        ("=3", "=3"),
        ("spectrogram.n_mels=[1", "spectrogram.n_mels"),
        ("spectrogram.n_mels.deeper=1", "spectrogram.n_mels.deeper"),
        ("spectrogram.n_mels=abc", "spectrogram.n_mels"),
        ("spectrogram.nmels=64", "spectrogram.nmels"),
    ],
)
def test_bad_set_names_the_set_key_not_the_file(tmp_path, assignment, key):
    error = config_error(tmp_path, "source: audio\nspectrogram: {n_mels: 128}\n", [assignment])
    assert str(error).startswith(f"--set {key}: "), str(error)
    assert "x.yaml" not in str(error)
    if "=" in assignment[1:]:
        assert error.key == key  # the key stays data, not only text


@pytest.mark.parametrize(
    "assignment, hint",
    [
        ("spectrogram.nmels=64", "did you mean spectrogram.n_mels"),
        ("image.n_mels=64", "did you mean spectrogram.n_mels"),  # right name, wrong section
        ("spectogram.n_mels=64", "did you mean spectrogram"),
        ("windows.hopp=1", "did you mean windows.hop"),
    ],
)
def test_unknown_key_suggests_the_closest_valid_keys(tmp_path, assignment, hint):
    error = config_error(tmp_path, "source: audio\n", [assignment])
    assert "unknown key" in str(error) and hint in str(error), str(error)


def test_unknown_key_in_the_file_names_the_file_and_suggests(tmp_path):
    error = config_error(tmp_path, "source: audio\nspectrogram: {nmels: 64}\n")
    assert str(error).startswith(f"{tmp_path / 'x.yaml'}: spectrogram.nmels: unknown key (did you mean "
                                 "spectrogram.n_mels"), str(error)


def test_set_section_error_names_the_set_and_the_inner_key(tmp_path):
    error = config_error(tmp_path, "source: audio\n", ["spectrogram={n_mels: -1}"])
    assert str(error).startswith("--set spectrogram: spectrogram.n_mels: "), str(error)


# --------------------------------------------------------------------------- hash


def test_hash_follows_output_bytes_only(tmp_path):
    base = "source: audio\n"
    h = load(tmp_path, base).hash()
    assert load(tmp_path, base).hash() == h
    assert load(tmp_path, base, ["spectrogram.n_mels=64"]).hash() != h
    assert load(tmp_path, base, ["windows.hop=1"]).hash() != h
    assert load(tmp_path, base, ["output.path=/somewhere/else"]).hash() == h
    assert load(tmp_path, base, ["publish.hf.repo_id=me/birds"]).hash() == h


# --------------------------------------------------------------------------- parse_size


@pytest.mark.parametrize(
    "text, expected",
    [("500MB", 500_000_000), ("1GiB", 1 << 30), ("10 kb", 10_000), ("2KiB", 2048), ("1.5GB", 1_500_000_000),
     ("12", 12), (" 3 MB ", 3_000_000), ("1TB", 10**12)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["abc", "", "-1MB", "1e3MB", "5 XB", "MB"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


# --------------------------------------------------------------------------- fuzz

SECTIONS = {
    "source": ["path", "labels", "extensions"],
    "audio": ["sample_rate"],
    "windows": ["duration", "hop", "last", "min_last", "min_duration", "skip_silent_below_db"],
    "spectrogram": ["kind", "n_fft", "win_length", "hop_length", "window", "pad_mode", "power", "n_mels",
                    "f_min", "f_max", "mel_scale", "norm", "n_mfcc", "scale", "ref", "amin", "top_db"],
    "image": ["normalize", "size", "resample", "origin", "colormap"],
    "output": ["path", "layout", "max_shard_size", "splits", "include"],
}

# Small numbers only: a huge n_mels would make the geometry check allocate gigabytes.
scalars = (
    st.none() | st.booleans() | st.integers(-10, 5000) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12) | st.sampled_from(["max", "slaney", "htk", "mel", "stft", "pad", "viridis", "1MB"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def config_documents(draw):
    doc = {}
    for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), unique=True)):
        keys = draw(st.lists(st.sampled_from(SECTIONS[section]), unique=True, max_size=4))
        doc[section] = {k: draw(values) for k in keys} if draw(st.booleans()) else draw(values)
    if draw(st.booleans()):
        doc["source"] = "audio"
    return doc


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_loads_or_config_error(folder: Path, text: str) -> None:
    try:
        load(folder, text)
    except ConfigError as error:
        assert "\n" not in str(error) and str(error).startswith(str(folder / "x.yaml"))


@given(doc=config_documents())
@FUZZ
def test_fuzz_nested_values_only_raise_config_error(tmp_path, doc):
    assert_loads_or_config_error(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@given(text=st.text(alphabet=st.sampled_from(list("source: audio\n{}[]-&*!|>'\"#%@`,.?~01.5e\t ")), max_size=80))
@FUZZ
def test_fuzz_malformed_yaml_only_raises_config_error(tmp_path, text):
    assert_loads_or_config_error(tmp_path, text)


# --------------------------------------------------------------------------- events, selection, folds


def _events_cfg(tmp_path, labels, **sections):
    from builder.config.loading import parse_config

    return parse_config({"source": {"path": "audio", "labels": labels}, **sections}, "c.yaml", tmp_path)


def test_event_labels_resolve_and_validate(tmp_path):
    from builder.config.source import EventLabels

    cfg = _events_cfg(tmp_path, {"events": "ann.csv", "background": None}, windows={"select": "events"})
    assert isinstance(cfg.source.labels, EventLabels)
    assert cfg.source.labels.events == tmp_path / "ann.csv" and cfg.source.labels.background is None
    with pytest.raises(ConfigError, match=r"c.yaml: source.labels.csv: unknown key"):
        _events_cfg(tmp_path, {"events": "ann.csv", "csv": "x.csv"})  # never a CsvLabels complaint
    with pytest.raises(ConfigError, match=r"source.labels.segment: Input should be greater than 0"):
        _events_cfg(tmp_path, {"events": "ann.csv", "segment": 0})
    with pytest.raises(ConfigError, match=r"windows.select: events needs time-stamped labels"):
        _events_cfg(tmp_path, "folder", windows={"select": "events"})


def test_selection_and_folds_validate(tmp_path):
    with pytest.raises(ConfigError, match=r"windows.per_recording: select: random needs per_recording"):
        _events_cfg(tmp_path, "folder", windows={"select": "random"})
    with pytest.raises(ConfigError, match=r"windows.per_recording: select: all keeps every window"):
        _events_cfg(tmp_path, "folder", windows={"per_recording": 3})
    with pytest.raises(ConfigError, match=r"output.folds"):
        _events_cfg(tmp_path, "folder", output={"folds": 1})
    assert _events_cfg(tmp_path, "folder", output={"folds": 5}).output.folds == 5


def test_raven_defaults_map_to_ravens_columns():
    from builder.config.source import EventLabels

    spec = EventLabels(events="x").for_raven(["Selection", "Begin Time (s)", "End Time (s)", "Annotation"])
    assert (spec.file_column, spec.start_column, spec.end_column, spec.label_column) == (
        "Begin File", "Begin Time (s)", "End Time (s)", "Annotation")
    kept = EventLabels(events="x", label_column="Call").for_raven(["Begin Time (s)", "End Time (s)", "Call"])
    assert kept.label_column == "Call"


# --------------------------------------------------------------------------- bounds (#13)


def _alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\nsource: audio\n"  # 10**10 values once expanded


def test_an_alias_bomb_is_one_error_line_before_any_copy(tmp_path):
    # Bounded by a node count, not a clock: expanding it would take minutes and gigabytes.
    error = config_error(tmp_path, _alias_bomb())
    assert "alias" in str(error) and str(error).startswith(str(tmp_path / "x.yaml")), str(error)
    flow = ", ".join([f"&a0 [{', '.join(['x'] * 10)}]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]"
                                                          for i in range(1, 10)])
    error = config_error(tmp_path, "source: audio\n", [f"publish.hf.tags=[{flow}]"])
    assert str(error).startswith("--set publish.hf.tags: ") and "alias" in str(error), str(error)


def test_aliases_that_stay_small_still_load(tmp_path):
    cfg = load(tmp_path, "source: audio\npublish: {hf: {tags: &t [a, b]}, kaggle: {keywords: *t}}\n")
    assert cfg.publish.hf.tags == ("a", "b") == cfg.publish.kaggle.keywords


def test_pillow_bomb_limit_is_pillows_default():
    from PIL import Image

    from builder.config.geometry import MAX_IMAGE_PIXELS

    assert MAX_IMAGE_PIXELS == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("size", ["[16384, 16384]", "[16384, 5462]", "[9460, 9460]"])
def test_image_size_past_pillows_bomb_limit_is_refused(tmp_path, size):
    error = config_error(tmp_path, f"source: audio\nimage: {{size: {size}}}\n")
    assert error.key == "image.size" and "decompression-bomb" in str(error), str(error)
    assert load(tmp_path, "source: audio\nimage: {size: [16384, 5461]}\n").image.size == (16384, 5461)


@pytest.mark.parametrize("settings, key", [
    # 60-s windows at hop 1: a 1,920,001 x 128 image
    ("audio: {sample_rate: 32000}\nwindows: {duration: 60}\nspectrogram: {hop_length: 1}\n", "spectrogram.hop_length"),
    # the same with image.size: the image is small, but one window's STFT is 15 GiB
    ("audio: {sample_rate: 32000}\nwindows: {duration: 60}\nspectrogram: {hop_length: 1}\n"
     "image: {size: [256, 128]}\n", "windows.duration"),
    # an hour at 768 kHz: 11 GB of samples alone
    ("audio: {sample_rate: 768000}\nwindows: {duration: 3600}\nimage: {size: [256, 128]}\n", "windows.duration"),
])
def test_windows_too_big_for_an_image_or_a_worker_are_refused(tmp_path, settings, key):
    error = config_error(tmp_path, "source: audio\n" + settings)
    assert error.key == key, str(error)


def test_set_splits_null_builds_one_train_split(tmp_path, capsys):
    """``--set output.splits=null`` was refused ("Input should be a valid dictionary") although the
    docs say a build without output.splits has one split: null now means exactly that."""
    import json

    from builder.cli.main import main

    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "out"
    rc = main(["build", str(repo / "examples" / "demo.yaml"), "-o", str(out), "-j", "1", "--quiet",
               "--set", f"source.path={repo / 'examples' / 'demo-audio' / 'tabla'}", "--set", "source.labels=none",
               "--set", "output.splits=null"])
    assert rc == 0, capsys.readouterr().err
    assert list(json.loads((out / "build.json").read_text())["splits"]) == ["train"]
    assert load(tmp_path, "source: a\noutput: {splits: null}\n").hash() == load(tmp_path, "source: a\n").hash()
