"""Resolution / duration / aspect buckets, so one model trains on many shapes with one shape per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from tessera.errors import ConfigError, InvalidInputError
from tessera.media.frames import fit


@dataclass(frozen=True, order=True)
class Bucket:
    """One training shape: frames (4k+1, so the causal VAE maps it to k+1 latent frames), height, width."""

    frames: int
    height: int
    width: int

    def __post_init__(self) -> None:
        if self.frames < 1 or (self.frames - 1) % 4:
            raise ConfigError(f"bucket frames must be 4k+1 (1, 5, 9, 17, 33, ...), got {self.frames}")
        if self.height % 8 or self.width % 8 or self.height <= 0 or self.width <= 0:
            raise ConfigError(
                # WIDTHxHEIGHT, as --sizes takes it (this said 64x63 for 63x64)
                f"bucket width and height must be positive multiples of 8, got {self.width}x{self.height}"
            )

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


# The shipped model's buckets: square, wide and tall at 64 px, two to four seconds at 8 fps.
DEFAULT_BUCKETS: tuple[Bucket, ...] = tuple(
    Bucket(t, h, w) for t in (17, 25, 33) for (w, h) in ((64, 64), (112, 64), (64, 112))
)


def nearest_bucket(frames: int, height: int, width: int, buckets: Iterable[Bucket] = DEFAULT_BUCKETS) -> Bucket:
    """The bucket closest in aspect ratio (log scale), then the longest that fits the clip's frames."""
    buckets = list(buckets)
    if not buckets:
        raise ConfigError("no buckets given")
    aspect = np.log(width / height)
    best = min(abs(np.log(b.aspect) - aspect) for b in buckets)
    same = [b for b in buckets if abs(abs(np.log(b.aspect) - aspect) - best) < 1e-9]
    fitting = [b for b in same if b.frames <= frames]
    if not fitting:
        shortest = min(b.frames for b in same)
        raise InvalidInputError(f"a clip of {frames} frames is shorter than the shortest bucket ({shortest} frames)")
    return max(fitting, key=lambda b: (b.frames, b.height * b.width))


def fit_to_bucket(frames: np.ndarray, bucket: Bucket, start: int = 0) -> np.ndarray:
    """Take ``bucket.frames`` consecutive frames from ``start`` and centre-crop/resize them to the bucket."""
    if len(frames) < start + bucket.frames:
        raise InvalidInputError(f"need {bucket.frames} frames from {start}, the clip has {len(frames)}")
    return fit(frames[start : start + bucket.frames], bucket.width, bucket.height)


def batch_by_bucket(samples: Iterable[dict], batch_size: int) -> Iterator[list[dict]]:
    """Group samples by frame-array shape and yield full batches of one shape (leftovers at the end)."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    pending: dict[tuple, list[dict]] = defaultdict(list)
    for sample in samples:
        key = sample["frames"].shape
        pending[key].append(sample)
        if len(pending[key]) == batch_size:
            yield pending.pop(key)
    for group in pending.values():
        if group:
            yield group
