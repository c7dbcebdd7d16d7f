"""builder.sources.audio: decoding real files of every supported format, the nasty corpus, and streaming."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from builder.sources import audio
from builder.errors import DecodeError

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- generated signals


def tone(sr: int, seconds: float, freq: float = 1000.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([x * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", "PCM_24"), ("AIFF", "PCM_16")])
def test_lossless_files_read_back_as_written(tmp_path, fmt, subtype):
    x = tone(16000, 0.5, channels=2)
    path = tmp_path / f"tone.{fmt.lower()}"
    sf.write(path, x, 16000, format=fmt, subtype=subtype)
    y, rate = audio.read(path)
    assert rate == 16000 and y.dtype == np.float32 and y.ndim == 1
    np.testing.assert_allclose(y, x.mean(axis=1), atol=1 / 2**15)


def test_resampling_keeps_length_and_frequency(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(44100, 2.0), 44100)
    y, rate = audio.read(path, 32000)
    assert rate == 32000 and abs(len(y) - 64000) <= 1
    spectrum = np.abs(np.fft.rfft(y[4000:-4000] * np.hanning(len(y) - 8000)))
    assert abs(spectrum.argmax() * 32000 / (len(y) - 8000) - 1000) < 1


def test_probe_reads_the_header_only(tmp_path):
    path = tmp_path / "tone.flac"
    sf.write(path, tone(22050, 1.0, channels=2), 22050)
    info = audio.probe(path)
    assert (info.sample_rate, info.channels, info.frames, info.backend) == (22050, 2, 22050, "soundfile")
    assert info.duration == 1.0


def test_non_finite_float_samples_become_finite(tmp_path):
    x = tone(8000, 0.1)
    x[10:13, 0] = [np.nan, np.inf, -np.inf]
    path = tmp_path / "bad.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    y, _ = audio.read(path)
    assert np.isfinite(y).all() and list(y[10:13]) == [0.0, 1.0, -1.0]


def test_an_empty_file_is_a_decode_error(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(DecodeError) as info:
        audio.read(path)
    assert info.value.path == str(path) and info.value.reason


# --------------------------------------------------------------------------- demo recordings


@pytest.fixture(scope="module")
def demo_dir(request) -> Path:
    """The bundled demo audio, or the corpus copy it is made from."""
    bundled = REPO / "examples" / "demo-audio"
    if (bundled / "MANIFEST.tsv").is_file():
        return bundled
    return request.getfixturevalue("corpus_dir") / "demo-cc0"


def manifest(folder: Path) -> dict[Path, dict]:
    """MANIFEST.tsv rows by file path; its paths read ``corpus/<label>/<file>``."""
    with open(folder / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {folder / row["path"].split("/", 1)[1]: row for row in rows}


def assert_mono_audio(y: np.ndarray, rate: int, seconds: float, slack: float = 0.006) -> None:
    """Mono float32, finite, ``seconds`` long (the manifest rounds to 10 ms)."""
    assert y.dtype == np.float32 and y.ndim == 1
    assert np.isfinite(y).all()
    assert abs(len(y) / rate - seconds) <= slack, (len(y) / rate, seconds)


@pytest.mark.parametrize("ext", ["wav", "aiff", "flac", "ogg", "mp3"])
def test_demo_recordings_decode(demo_dir, ext):
    rows = {p: r for p, r in manifest(demo_dir).items() if p.suffix == f".{ext}"}
    assert rows, f"no .{ext} file in {demo_dir}"
    for path, row in rows.items():
        info = audio.probe(path)
        assert (info.sample_rate, info.channels) == (int(row["sr"]), int(row["ch"])), path.name
        y, rate = audio.read(path)
        assert rate == info.sample_rate
        # ffprobe's MP3 duration counts the encoder delay and padding (~50 ms) that libsndfile drops.
        assert_mono_audio(y, rate, float(row["dur"]), slack=0.06 if ext == "mp3" else 0.006)
        y32, rate32 = audio.read(path, 32000)
        assert rate32 == 32000 and abs(len(y32) - len(y) * 32000 / rate) <= 1, path.name


# --------------------------------------------------------------------------- the nasty corpus


@pytest.fixture(scope="module")
def nasty(nasty_dir) -> Path:
    return nasty_dir


@pytest.mark.parametrize("name", ["zero_length.wav", "not_audio_text.wav", "._appledouble_junk.wav"])
def test_files_that_are_not_audio_raise_decode_error(nasty, name):
    for call in (audio.probe, audio.read):
        with pytest.raises(DecodeError) as info:
            call(nasty / name)
        assert info.value.path == str(nasty / name)
        assert info.value.reason and "\n" not in info.value.reason


def test_truncated_flac_raises_decode_error_with_a_reason(nasty):
    # The header (STREAMINFO) is intact, so probe reports the full 6.86 s; decoding stops where
    # the data ends. Recorded behaviour: the whole file is rejected, not its first half kept.
    assert audio.probe(nasty / "truncated.flac").frames == 302400
    with pytest.raises(DecodeError, match="corrupt or truncated audio"):
        audio.read(nasty / "truncated.flac")


def test_truncated_wav_decodes_the_samples_present(nasty):
    # Its RIFF header claims 73 s; libsndfile trusts the file size and reads the 18.75 s there.
    y, rate = audio.read(nasty / "truncated.wav")
    assert rate == 8000
    assert_mono_audio(y, rate, 18.75)


@pytest.mark.parametrize(
    "name, rate, channels, seconds",
    [
        ("mp3_named_as.wav", 11025, 1, 7.27),
        ("wav_named_as.flac", 48000, 1, 1.41),
        ("flac_named_as.ogg", 44100, 2, 1.75),
        ("opus_in_ogg_container.ogg", 48000, 1, 1.48),
        ("float32_44k.wav", 44100, 2, 10.00),
        ("int32_44k.wav", 44100, 2, 9.97),
        ("pcm24_48k.wav", 48000, 2, 1.57),
        ("mulaw_8k.wav", 8000, 1, 12.15),
        ("very_short_20ms.flac", 44100, 2, 0.02),
        ("Kohlmeise – Gesang Nr. 1 (Großstadt, ñ, 鳥).wav", 22050, 1, 2.48),
        ("café señal 🐦 owl.ogg", 44100, 1, 1.23),
        ("directory_named_like_audio.wav/inside.ogg", 44100, 1, 1.86),
    ],
)
def test_mislabelled_and_unusual_files_decode(nasty, name, rate, channels, seconds):
    info = audio.probe(nasty / name)
    assert (info.sample_rate, info.channels) == (rate, channels)
    y, got_rate = audio.read(nasty / name)
    assert got_rate == rate
    # MPEG headers only estimate the length; the decoded mp3 is ~8 ms shorter than they say.
    assert_mono_audio(y, rate, seconds, slack=0.012)


def test_decomposed_unicode_name_decodes(nasty):
    (path,) = [p for p in nasty.iterdir() if "decomposed NFD" in p.name]  # "cafe" + U+0301
    y, rate = audio.read(path)
    assert_mono_audio(y, rate, 2.81)


def test_scipy_wav_edge_cases_decode_to_finite_samples(nasty):
    paths = sorted((nasty / "scipy_wav_edge_cases").glob("*.wav"))
    assert len(paths) == 6
    for path in paths:
        y, _ = audio.read(path)
        assert len(y) > 0 and np.isfinite(y).all(), path.name


@pytest.mark.parametrize("name, channels", [("six_channel_22k_24bit.wav", 6), ("eight_channel_44k.flac", 8)])
def test_many_channels_mix_to_their_mean(nasty, name, channels):
    assert audio.probe(nasty / name).channels == channels
    y, _ = audio.read(nasty / name)
    expected = sf.read(nasty / name, dtype="float32", always_2d=True)[0].mean(axis=1)
    np.testing.assert_allclose(y, expected, atol=1e-7)


def test_aac_in_mp4_decodes_through_pyav(nasty):
    info = audio.probe(nasty / "video_with_aac_audio.mp4")
    assert (info.backend, info.sample_rate, info.channels) == ("pyav", 48000, 2)
    y, rate = audio.read(nasty / "video_with_aac_audio.mp4")
    # AAC adds priming and padding frames: 64 samples more than the container's duration here.
    assert_mono_audio(y, rate, 30.53)
    y32, _ = audio.read(nasty / "video_with_aac_audio.mp4", 32000)
    assert abs(len(y32) - len(y) * 32000 / 48000) <= 1


def without_soundfile(monkeypatch) -> None:
    """Make every file go through the PyAV fallback."""
    def refuse(*args, **kwargs):
        raise RuntimeError("soundfile disabled by the test")

    monkeypatch.setattr(audio, "_soundfile_blocks", refuse)


def test_pyav_fallback_gives_the_same_samples_as_soundfile(nasty, monkeypatch):
    path = nasty / "int32_44k.wav"
    expected, _ = audio.read(path)
    without_soundfile(monkeypatch)
    assert audio.probe(path).backend == "pyav"
    got, _ = audio.read(path)
    np.testing.assert_array_equal(got, expected)


def test_pyav_fallback_survives_eight_channels(nasty):
    # In a child process: PyAV's planar-float conversion of 7.1 audio crashes the interpreter.
    code = (
        "import numpy as np, soundfile as sf\n"
        "from builder.sources import audio\n"
        "def refuse(*a, **k): raise RuntimeError('off')\n"
        "audio._soundfile_blocks = refuse\n"
        f"p = {str(nasty / 'eight_channel_44k.flac')!r}\n"
        "y, _ = audio.read(p)\n"
        "x = sf.read(p, dtype='float32', always_2d=True)[0].mean(axis=1)\n"
        "assert np.allclose(y, x, atol=1e-7), 'samples differ'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"


# --------------------------------------------------------------------------- streaming


def blocks(path: Path, rate: int | None) -> list[np.ndarray]:
    return list(audio.stream(path, rate)[2])


@pytest.mark.parametrize("name", ["telephone_8k.wav", "int32_44k.wav", "video_with_aac_audio.mp4"])
@pytest.mark.parametrize("rate", [None, 32000])
def test_small_blocks_give_the_same_samples(nasty, monkeypatch, name, rate):
    whole = np.concatenate(blocks(nasty / name, rate))
    # Readers never go below 65536 frames a block, so this means "many blocks", not one frame.
    monkeypatch.setattr(audio, "BLOCK_SECONDS", 0.001)
    parts = blocks(nasty / name, rate)
    assert len(parts) > 2
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_small_blocks_through_pyav_give_the_same_samples(nasty, monkeypatch):
    path = nasty / "telephone_8k.wav"
    whole = np.concatenate(blocks(path, 32000))
    without_soundfile(monkeypatch)
    monkeypatch.setattr(audio, "BLOCK_SECONDS", 0.001)
    parts = blocks(path, 32000)
    assert len(parts) > 2
    np.testing.assert_array_equal(np.concatenate(parts), whole)
