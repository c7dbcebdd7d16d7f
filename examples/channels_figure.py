"""Draw docs/channels.png: one window of a demo recording through the birdclef-pcen-rgb preset,
its three channels side by side and the RGB image a build writes.

    python examples/channels_figure.py [docs/channels.png]
"""

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from builder.sources import audio  # noqa: E402
from builder.config.loading import load_config  # noqa: E402
from builder.plan.windows import plan_windows  # noqa: E402
from builder.run.worker import _spectrogrammer, render_batch  # noqa: E402

HERE = Path(__file__).resolve().parent
RECORDING = HERE / "demo-audio" / "drum_loop" / "loop_compus.ogg"

cfg = load_config("birdclef-pcen-rgb", [f"source.path={HERE / 'demo-audio'}"])
rate = cfg.audio.sample_rate
samples = audio.read(str(RECORDING), rate)[0]
window = plan_windows(len(samples), cfg.windows, rate)[0]
x = np.zeros(window.n_samples, dtype=np.float32)
x[: window.valid_samples] = samples[: window.valid_samples]
png = render_batch(cfg, _spectrogrammer(cfg.spectrogram, rate, "cpu"), [window], [x])[0].png
rgb = np.asarray(Image.open(io.BytesIO(png)))

titles = ["R: PCEN (mel magnitudes)", "G: delta (width 9)", "B: delta-delta (width 9)", "the RGB image"]
fig, axes = plt.subplots(1, 4, figsize=(14, 2.6), dpi=80)
for c, ax in enumerate(axes):
    ax.imshow(rgb[..., c] if c < 3 else rgb, cmap="gray" if c < 3 else None, aspect="auto",
              interpolation="nearest", extent=(0, cfg.windows.duration, 0, cfg.spectrogram.n_mels))
    ax.set_title(titles[c], fontsize=10)
    ax.set_xlabel("s")
axes[0].set_ylabel("mel band")
fig.suptitle(f"{RECORDING.name}, first {cfg.windows.duration:g} s: birdclef-pcen-rgb", fontsize=10)
fig.tight_layout()
out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "docs" / "channels.png"
fig.savefig(out)
print(f"wrote {out}")
