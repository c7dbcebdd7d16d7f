"""One measurement per process: ``python -m bench.runners MODE ROOT [ARGS]`` prints one JSON line.

Each mode imports what it needs first and times only the work (the warm time; ``bench/__main__``
times the whole process from outside as well); peak RSS is the process's own (children included for pools).
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time
from pathlib import Path

AUDIO = (".ogg", ".flac", ".wav")


def files(root: str) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.suffix in AUDIO)


def peak_rss_mb() -> float:
    """Peak RSS of this process and its children. Our own peak is VmHWM, not ru_maxrss: Linux's
    ru_maxrss keeps the high-water mark of the process image exec replaced, so a runner started
    by a bench that had just generated a 3-hour file in memory reported that memory as its own."""
    with open("/proc/self/status") as f:
        own = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def floor(root: str) -> dict:
    """The decode floor: soundfile reads every sample as float32, in blocks, nothing else."""
    import soundfile as sf

    t, n = time.perf_counter(), 0
    for f in files(root):
        with sf.SoundFile(str(f)) as s:
            rate = s.samplerate
            while True:
                block = s.read(1 << 19, dtype="float32", always_2d=True)
                if not len(block):
                    break
                n += len(block)
    return {"seconds": time.perf_counter() - t, "audio_seconds": n / rate}


def _warm_imports() -> None:
    """What a build imports once per process (the codecs, the FFT, the PNG encoder): start-up, not
    the work. The floor likewise imports soundfile before its clock starts."""
    import soundfile  # noqa: F401
    import soxr  # noqa: F401

    from builder.dsp import render, spectrogram
    from builder.run import worker  # noqa: F401

    spectrogram.rfft_last_axis()


def worker_rss(jobs: str) -> dict:
    """A pool worker's resident memory once it has imported what a recording needs: a worker of
    the CLI, which forks from a process that capped its math threads first and then imported the
    pipeline and loaded a config (shared pages count in full)."""
    from builder.run import process

    process.configure(fork=process.cap_threads_at_start())
    from builder.run.executors import ProcessExecutor, forks_here
    from builder.config.loading import load_config
    from builder.pipeline import build  # noqa: F401

    load_config("birdclef-mel", [])
    assert forks_here(), "the CLI's workers fork from it"

    pool = ProcessExecutor(int(jobs))
    sizes = list(pool.map_unordered(_settled_rss, range(int(jobs))))
    pool.close()
    return {"worker_mb": max(sizes)}


def _settled_rss(_: int) -> float:
    from builder.run import worker

    worker._settle_process()
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def ours(root: str, preset: str, jobs: str, out: str, *sets: str) -> dict:
    from builder.config.loading import load_config
    from builder.pipeline import build

    cfg = load_config(preset, [f"source.path={root}", f"output.path={out}", *sets])
    _warm_imports()
    if int(jobs) > 1:  # the pool's forkserver and workers start: start-up, not the work
        from builder.run.executors import ProcessExecutor

        pool = ProcessExecutor(int(jobs))
        list(pool.map_unordered(abs, range(int(jobs))))
        pool.close()
    t = time.perf_counter()
    report = build(cfg, workers=int(jobs), progress=False)
    return {"seconds": time.perf_counter() - t, "windows": report.record["windows"], "rss_mb": peak_rss_mb()}


def noop(root: str, out: str) -> dict:
    """Rerun of an unchanged build: discovery and the up-to-date check only."""
    from builder.config.loading import load_config
    from builder.pipeline import build

    cfg = load_config("birdclef-mel", [f"source.path={root}", f"output.path={out}", "audio.sample_rate=8000",
                                       "spectrogram.n_fft=256", "spectrogram.hop_length=128", "spectrogram.n_mels=32",
                                       "spectrogram.f_max=4000", "windows.duration=1.0"])
    build(cfg, workers=2, progress=False)
    t = time.perf_counter()
    report = build(cfg, workers=2, progress=False)
    assert report.up_to_date
    return {"seconds": time.perf_counter() - t, "sources": report.record["sources"]}


def _windows(path: Path, rate: int):
    import soundfile as sf

    info = sf.info(str(path))
    return int(info.frames / info.samplerate // 5), info


def seed000(root: str, limit: str) -> dict:
    """Seed 000 style per window: librosa.load, STFT → dB, specshow figure with colorbar, savefig."""
    import librosa
    import librosa.display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    done, t = 0, time.perf_counter()
    for f in files(root):
        y, sr = librosa.load(str(f), sr=None)
        for i in range(len(y) // (5 * sr)):
            seg = y[i * 5 * sr:(i + 1) * 5 * sr]
            spec = librosa.amplitude_to_db(np.abs(librosa.stft(seg)), ref=np.max)
            plt.figure(figsize=(10, 4))
            librosa.display.specshow(spec, sr=sr, x_axis="time", y_axis="log")
            plt.colorbar(format="%+2.0f dB")
            plt.savefig(io.BytesIO(), format="png")
            plt.close()
            done += 1
            if done >= int(limit):
                return {"seconds": time.perf_counter() - t, "windows": done}
    return {"seconds": time.perf_counter() - t, "windows": done}


def seed002(root: str, limit: str) -> dict:
    """Seed 002 style per window: reload the whole file, Spectrogram → dB, min-max, PIL 512², PNG default."""
    import soundfile as sf
    import torch
    from PIL import Image

    torch.set_num_threads(1)
    window = torch.hann_window(400)
    done, t = 0, time.perf_counter()
    for f in files(root):
        n, _ = _windows(f, 32000)
        for i in range(n):
            wav, sr = sf.read(str(f), dtype="float32")  # the notebook reloads the file per window
            seg = torch.from_numpy(wav[i * 5 * sr:(i + 1) * 5 * sr])
            spec = torch.stft(seg, 400, 200, 400, window, True, "reflect", False, True, return_complex=True).abs().pow(2)
            db = (10 * torch.log10(spec.clamp(min=1e-10))).numpy()
            u8 = ((db - db.min()) / (db.max() - db.min()) * 255).astype("uint8")
            Image.fromarray(u8).resize((512, 512)).save(io.BytesIO(), format="PNG")
            done += 1
            if done >= int(limit):
                return {"seconds": time.perf_counter() - t, "windows": done}
    return {"seconds": time.perf_counter() - t, "windows": done}


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    print(json.dumps(globals()[mode](*args)))
