"""Operations on frame arrays: resampling in time and space, fitting to a size, thumbnails, spritesheets."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from tessera.errors import InvalidInputError


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``"WIDTHxHEIGHT"`` (e.g. ``"112x64"``) into (width, height)."""
    parts = str(text).lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise InvalidInputError(f"size must look like WIDTHxHEIGHT, e.g. 64x64 or 112x64; got {text!r}")
    width, height = int(parts[0]), int(parts[1])
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"size must be positive, got {text!r}")
    return width, height


def covering_size(sizes: Sequence[str]) -> tuple[int, int]:
    """The (width, height) that covers every one of ``sizes`` ("WxH"): what a clip read to be fitted to any of
    them needs to keep (``read_video(..., cover=)``)."""
    dims = [parse_size(size) for size in sizes]
    return max(w for w, _ in dims), max(h for _, h in dims)


def nearest_size(width: int, height: int, sizes: Sequence[str]) -> str:
    """Of ``sizes`` ("WxH"), the one closest in aspect ratio to a width x height picture (ties: the first).

    Why: a given image or clip is centre-cropped to the size it is made at, so the nearest aspect ratio keeps
    the most of it (a 112x64 clip extended at 64x64 would lose its sides).
    """

    def distance(size: str) -> float:
        w, h = parse_size(size)
        return abs(math.log((w / h) / (width / height)))

    return min(sizes, key=distance)


def _resize(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    if frames.shape[1:3] == (height, width):
        return frames
    # Pillow's bicubic filter widens its support when shrinking, so downscaling is antialiased.
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.BICUBIC)) for f in frames])


def resample(
    frames: np.ndarray, src_fps: float, fps: float | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Resample ``frames`` to ``fps`` (nearest earlier frame, duration kept) and ``size`` = (width, height)."""
    frames = np.asarray(frames)
    if fps is not None and len(frames) > 1:
        if src_fps <= 0 or fps <= 0:
            raise InvalidInputError(f"frame rates must be positive, got src_fps={src_fps}, fps={fps}")
        # Keep the span of frame timestamps: a 17-frame clip at 8 fps (0..2 s) becomes 9 frames at 4 fps.
        span = (len(frames) - 1) / src_fps
        n = math.floor(span * fps + 1e-6) + 1
        index = np.minimum(np.round(np.arange(n) * src_fps / fps + 1e-6).astype(int), len(frames) - 1)
        frames = frames[index]
    if size is not None:
        width, height = size
        if width <= 0 or height <= 0:
            raise InvalidInputError(f"size must be positive (width, height), got {size}")
        frames = _resize(frames, width, height)
    return frames


def fit(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop ``frames`` to the aspect ratio of (width, height), then resize to it."""
    frames = np.asarray(frames)
    h, w = frames.shape[1:3]
    target = width / height
    if w / h > target:  # too wide: crop the sides
        cw = max(1, round(h * target))
        x0 = (w - cw) // 2
        frames = frames[:, :, x0 : x0 + cw]
    elif w / h < target:  # too tall: crop top and bottom
        ch = max(1, round(w / target))
        y0 = (h - ch) // 2
        frames = frames[:, y0 : y0 + ch]
    return _resize(frames, width, height)


def thumbnail(frames: np.ndarray, index: int | None = None) -> np.ndarray:
    """One representative frame (the middle one unless ``index`` is given) as (H, W, 3)."""
    frames = np.asarray(frames)
    if index is None:
        index = len(frames) // 2
    if not -len(frames) <= index < len(frames):
        raise InvalidInputError(f"frame index {index} is outside a clip of {len(frames)} frames")
    return frames[index]


def spritesheet(frames: np.ndarray, max_frames: int = 16, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """A grid of up to ``max_frames`` evenly spaced frames, separated by ``gap`` black pixels."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or len(frames) == 0:
        raise InvalidInputError(f"frames must be shaped (T, H, W, 3), got {frames.shape}")
    n = min(len(frames), max_frames)
    picked = frames[np.linspace(0, len(frames) - 1, n).round().astype(int)]
    return grid(list(picked), columns=columns, gap=gap)


def grid(images: list[np.ndarray], columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Tile same-sized (H, W, 3) images row by row into one image."""
    if not images:
        raise InvalidInputError("no images to tile")
    n = len(images)
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    h, w = images[0].shape[:2]
    sheet = np.zeros((rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = im
    return sheet


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 frame arrays of the same shape (inf when identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
