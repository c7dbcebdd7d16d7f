"""What users write instead of spectroset, one script per peer: ``python -m bench.peers PEER ROOT OUT JOBS``.

Same geometry as the ``birdclef-mel`` preset: 32 kHz, 5-s windows, 128 mel bands 50–14000 Hz,
power dB (top_db 80), min-max to a 313×128 grey PNG, one file per window. Each is written the
plain way its users write it (``multiprocessing.Pool`` over files, one math thread per worker,
Pillow's default PNG); none uses spectroset's code. The script prints one JSON line with the
warm time (imports done and the pool started before that clock); the caller times the whole
process, start-up included.

- ``librosa``: ``librosa.load`` + ``feature.melspectrogram`` + ``power_to_db``.
- ``torch``: soundfile + ``torch.stft`` + a mel matrix (torchaudio is not usable here).
- ``datasets``: HF ``Dataset.map(num_proc=N)`` over the paths, decoding with soundfile (``datasets``
  5 needs torchcodec for ``audiofolder``), librosa's mel inside the mapped function.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # what a careful user sets: workers, not threads, use the cores

RATE, SECONDS, N_FFT, HOP, N_MELS, F_MIN, F_MAX = 32000, 5, 2048, 512, 128, 50.0, 14000.0
AUDIO = (".ogg", ".flac", ".wav")
OUT = Path(".")


def files(root: str) -> list[str]:
    return sorted(str(p) for p in Path(root).rglob("*") if p.suffix in AUDIO)


def save_png(db, path: str) -> None:
    import numpy as np
    from PIL import Image

    u8 = ((db - db.min()) / (db.max() - db.min()) * 255).astype(np.uint8)
    Image.fromarray(u8[::-1]).save(path)  # low frequencies at the bottom, like origin: lower


def librosa_windows(path: str, y, sr: int) -> int:
    """librosa's mel dB of every whole 5-s window of ``y``, saved as PNGs; how many."""
    import librosa

    n = len(y) // (SECONDS * sr)
    for i in range(n):
        seg = y[i * SECONDS * sr : (i + 1) * SECONDS * sr]
        mel = librosa.feature.melspectrogram(y=seg, sr=sr, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS,
                                             fmin=F_MIN, fmax=F_MAX, htk=True, norm=None)
        save_png(librosa.power_to_db(mel, top_db=80.0), str(OUT / f"{Path(path).stem}_{i}.png"))
    return n


def librosa_file(path: str) -> int:
    import librosa

    return librosa_windows(path, *librosa.load(path, sr=RATE))


_TORCH: dict = {}


def _torch_setup():
    import numpy as np
    import torch

    torch.set_num_threads(1)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731  (HTK, as torchaudio's default)
    pts = 700 * (10 ** (np.linspace(mel(F_MIN), mel(F_MAX), N_MELS + 2) / 2595) - 1)
    freqs = np.linspace(0, RATE / 2, N_FFT // 2 + 1)[:, None]
    fb = np.maximum(0, np.minimum((freqs - pts[:-2]) / (pts[1:-1] - pts[:-2]), (pts[2:] - freqs) / (pts[2:] - pts[1:-1])))
    _TORCH.update(window=torch.hann_window(N_FFT), fb=torch.tensor(fb.T, dtype=torch.float32))


def torch_file(path: str) -> int:
    import soundfile as sf
    import torch

    if not _TORCH:
        _torch_setup()
    y, sr = sf.read(path, dtype="float32")
    n = len(y) // (SECONDS * sr)
    for i in range(n):
        seg = torch.from_numpy(y[i * SECONDS * sr : (i + 1) * SECONDS * sr])
        spec = torch.stft(seg, N_FFT, HOP, window=_TORCH["window"], return_complex=True).abs().pow(2)
        db = 10 * torch.log10((_TORCH["fb"] @ spec).clamp(min=1e-10))
        save_png(torch.maximum(db, db.max() - 80).numpy(), str(OUT / f"{Path(path).stem}_{i}.png"))
    return n


def _datasets_map(batch: dict) -> dict:
    import soundfile as sf

    return {"windows": [librosa_windows(path, *sf.read(path, dtype="float32")) for path in batch["path"]]}


def _warm(_: int) -> int:
    return 0


def _prime(peer: str) -> None:
    """One window's math on silence before the clock: librosa loads its submodules lazily (and
    compiles with numba), which a warm notebook has already paid. Forked workers inherit it."""
    import numpy as np

    y = np.zeros(SECONDS * RATE, np.float32) + 1e-3
    if peer == "torch":
        import torch

        _torch_setup()
        torch.stft(torch.from_numpy(y), N_FFT, HOP, window=_TORCH["window"], return_complex=True)
    else:
        import librosa

        librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=RATE, n_fft=N_FFT, hop_length=HOP,
                                                           n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX, htk=True))


def main() -> None:
    global OUT
    peer, root, out, jobs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    OUT = Path(out)
    OUT.mkdir(parents=True, exist_ok=True)
    paths = files(root)
    if peer == "datasets":
        from datasets import Dataset, disable_progress_bars

        _prime(peer)
        disable_progress_bars()
        ds = Dataset.from_dict({"path": paths})
        t = time.perf_counter()  # datasets starts its pool inside map: part of the warm time here
        done = ds.map(_datasets_map, batched=True, batch_size=1, remove_columns=["path"],
                      num_proc=jobs if jobs > 1 else None, load_from_cache_file=False)
        n = sum(done["windows"])
    else:
        fn = {"librosa": librosa_file, "torch": torch_file}[peer]
        _prime(peer)
        if jobs > 1:
            from multiprocessing import Pool

            with Pool(jobs) as pool:
                pool.map(_warm, range(jobs))
                t = time.perf_counter()
                n = sum(pool.imap_unordered(fn, paths))
        else:
            t = time.perf_counter()
            n = sum(map(fn, paths))
    print(json.dumps({"seconds": time.perf_counter() - t, "windows": n}))


if __name__ == "__main__":
    main()
