"""Contact sheets: a strip of frames from each of several clips, captioned (matplotlib)."""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tessera.errors import ConfigError  # noqa: E402
from tessera.media.frames import grid  # noqa: E402
from tessera.world.clip import sample_clip  # noqa: E402

MAX_CLIPS = 64  # two columns of 32 strips: a sheet still readable on a screen, and within matplotlib's image size


def contact_sheet(
    output: str | os.PathLike,
    clips: int = 16,
    width: int = 64,
    height: int = 64,
    frames: int = 17,
    fps: float = 8.0,
    split: str = "train",
    seed: int = 0,
    strip: int = 5,
) -> Path:
    """Render ``clips`` clips and save a PNG: each shows ``strip`` evenly spaced frames and its caption."""
    if isinstance(clips, bool) or not isinstance(clips, int) or not 1 <= clips <= MAX_CLIPS:
        raise ConfigError(
            f"a contact sheet shows 1 to {MAX_CLIPS} clips, got {clips!r}; for more, write a data set "
            "(tessera world make-dataset) or several sheets (--seed moves on)"
        )
    output = Path(output)
    columns = 2 if clips > 1 else 1
    rows = math.ceil(clips / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(clips):
        clip = sample_clip(seed + i, split, width, height, frames, fps)
        picks = np.linspace(0, len(clip.frames) - 1, strip).round().astype(int)
        ax = axes.flat[i]
        ax.imshow(grid([clip.frames[k] for k in picks], columns=strip, gap=2), interpolation="nearest")
        title = f"[{clip.record['scene']['motion']}] {clip.caption}"
        ax.set_title("\n".join(textwrap.wrap(title, 70)), fontsize=7.5, loc="left")
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output
