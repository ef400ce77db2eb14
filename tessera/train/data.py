"""Training batches: one bucket shape per step, drawn deterministically from (seed, step).

Why deterministic per step instead of a stateful iterator: batch ``step`` is a pure function of the seed, so
resuming from a checkpoint needs no data-loader state and continues bit for bit, and rank ``r`` of ``n``
takes exactly its slice of the global batch, so DDP on ``n`` processes sees the same samples as one
process with the combined batch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from tessera.data.buckets import Bucket, fit_to_bucket
from tessera.errors import ConfigError, InvalidInputError
from tessera.models.autoencoder import to_video

log = logging.getLogger(__name__)


@dataclass
class Batch:
    video: torch.Tensor | None  # (B, 3, T, H, W) float in [-1, 1]; None when every clip's latent is cached
    captions: list[str]
    keys: list[tuple] | None = None  # identifies each clip (for caching its latent); None if not cacheable
    indices: list[int] | None = None  # global sample indices: per-sample randomness is seeded from them
    device: torch.device = torch.device("cpu")  # where the batch's tensors (and its latents) go

    def to(self, device: torch.device | str) -> Batch:
        self.device = torch.device(device)
        if self.video is not None:
            self.video = self.video.to(self.device)
        return self

    def generator(self, seed: int, i: int) -> torch.Generator:
        """Generator of sample ``i``'s noise: a function of (seed, global index), so the draws do not depend
        on how the global batch is split over processes."""
        return torch.Generator(self.device).manual_seed(seed * 1_000_003 + self.indices[i] * 7919 + 17)

    def rng(self, seed: int, i: int) -> np.random.Generator:
        return np.random.default_rng([seed, self.indices[i], 4])


class BatchSource:
    """Base: ``batch(step, batch_size, rank, world_size)`` returns this rank's slice of the global batch."""

    def __init__(self, buckets: tuple[Bucket, ...], seed: int = 0, window: bool = False) -> None:
        if not buckets:
            raise ConfigError("buckets: give at least one training shape")
        self.buckets, self.seed, self.window = tuple(buckets), seed, window

    def bucket(self, step: int, indices: range) -> Bucket:
        """The step's shape, drawn among the buckets every sample of the global batch can fill."""
        fitting = self.fitting(indices)
        return fitting[int(np.random.default_rng([self.seed, step, 1]).integers(len(fitting)))]

    def fitting(self, indices: range) -> tuple[Bucket, ...]:
        return self.buckets

    def sample(self, index: int, bucket: Bucket, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """Frames and caption of global sample ``index`` at ``bucket``."""
        raise NotImplementedError

    def key(self, index: int, bucket: Bucket):
        """Which clip sample ``index`` shows: equal exactly when the clips are equal (with the bucket, the key of
        its latent in a cache), known without rendering the clip."""
        raise NotImplementedError

    def batch(
        self,
        step: int,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        known: Callable[[tuple], str | None] | None = None,
    ) -> Batch:
        """This rank's slice of batch ``step``. ``known(key)`` gives the caption of a clip whose latent is cached
        (None otherwise): when every clip of the slice is known, the batch carries no video, since rendering
        clips only to find their latents in the cache is wasted work (it does not shrink on a GPU; the step does)."""
        if batch_size % world_size:
            raise ConfigError(f"batch_size ({batch_size}) must be divisible by the number of processes ({world_size})")
        bucket = self.bucket(step, range(step * batch_size, (step + 1) * batch_size))
        local = batch_size // world_size
        own = list(range(step * batch_size + rank * local, step * batch_size + (rank + 1) * local))
        keys = None if self.window else [(self.key(index, bucket), bucket) for index in own]
        if known is not None and keys is not None:
            captions = [known(k) for k in keys]
            if all(c is not None for c in captions):
                return Batch(None, captions, keys, own)
        videos, captions = [], []
        for index in own:
            frames, caption = self.sample(index, bucket, np.random.default_rng([self.seed, index, 2]))
            videos.append(to_video(frames))
            captions.append(caption)
        return Batch(torch.stack(videos), captions, keys, own)

    def _take(self, frames: np.ndarray, bucket: Bucket, rng: np.random.Generator) -> np.ndarray:
        """A bucket-sized window: random start when ``window`` (autoencoder training), else the first frames."""
        start = int(rng.integers(len(frames) - bucket.frames + 1)) if self.window else 0
        return fit_to_bucket(frames, bucket, start)


WINDOW_LENGTHS = (17, 25, 33)  # frames of the clips autoencoder windows are cut from (2, 3, 4 s at 8 fps)


class WorldSource(BatchSource):
    """World clips rendered on the fly (about 3 ms each) at the bucket's size.

    With ``pool``, the data set is ``pool`` clips, each rendered at one bucket only (clip ``c`` belongs to bucket
    ``c % len(buckets)``), so that caching their latents costs ``pool`` encodings, not ``pool`` x buckets: the
    autoencoder's encoder, not the transformer, is the dearer part of a CPU step on a clip seen once.
    """

    def __init__(
        self, buckets, seed: int = 0, window: bool = False, split: str = "train", fps: float = 8.0, pool: int = 0
    ) -> None:
        super().__init__(buckets, seed, window)
        if pool < 0:
            raise ConfigError(f"pool must be >= 0 (0 = endless), got {pool}")
        self.split, self.fps, self.pool = split, fps, pool

    def sample(self, index, bucket, rng):
        from tessera.world import sample_clip

        index = self.key(index, bucket)
        # With windows, render a longer clip so windows cover every phase of a motion, not only its start; its
        # length is one the pipeline generates (2-4 s), since a scene's motion spans the clip's duration: windows
        # of 4 s clips alone would never show the per-frame speeds of the 2 s clips the model is asked for.
        frames = max(bucket.frames, int(rng.choice(WINDOW_LENGTHS))) if self.window else bucket.frames
        clip = sample_clip(self.seed * 1_000_003 + index, self.split, bucket.width, bucket.height, frames, self.fps)
        return self._take(clip.frames, bucket, rng), clip.caption

    def key(self, index, bucket):
        return self.pool_clip(index, bucket) if self.pool else index

    def pool_clip(self, index: int, bucket: Bucket) -> int:
        """The pool clip that global sample ``index`` shows when its step draws ``bucket``."""
        n, b = len(self.buckets), self.buckets.index(bucket)
        own = max(1, -(-(self.pool - b) // n))  # clips b, b + n, b + 2n, ... below pool (at least one)
        return (index % own) * n + b


class SampleListSource(BatchSource):
    """Samples held in memory (from shards or a video folder); a seeded permutation per epoch."""

    def __init__(self, samples: list[dict], buckets, seed: int = 0, window: bool = False, name: str = "") -> None:
        super().__init__(buckets, seed, window)
        shortest = min(b.frames for b in self.buckets)
        self.samples = [s for s in samples if len(s["frames"]) >= shortest]
        if not self.samples:
            raise InvalidInputError(f"{name}: no video has {shortest} frames or more; add longer videos")
        if short := [s.get("key", "?") for s in samples if len(s["frames"]) < shortest]:  # not left out unsaid
            log.warning(
                "%s: %d of %d clips are shorter than the shortest bucket (%d frames at the model's rate) and are "
                "left out: %s",
                name,
                len(short),
                len(samples),
                shortest,
                ", ".join(map(str, short[:5])) + (" ..." if len(short) > 5 else ""),
            )
        self._orders: dict[int, np.ndarray] = {}

    def _position(self, index: int) -> int:
        n = len(self.samples)
        epoch = index // n
        if epoch not in self._orders:
            self._orders = {epoch: np.random.default_rng([self.seed, epoch, 3]).permutation(n)}
        return int(self._orders[epoch][index % n])

    def fitting(self, indices):
        shortest = min(len(self.samples[self._position(i)]["frames"]) for i in indices)
        return tuple(b for b in self.buckets if b.frames <= shortest)

    def sample(self, index, bucket, rng):
        s = self.samples[self._position(index)]
        return self._take(s["frames"], bucket, rng), s["caption"]

    def key(self, index, bucket):
        return self._position(index)


def make_source(
    data: str,
    buckets: tuple[Bucket, ...],
    seed: int = 0,
    window: bool = False,
    fps: float = 8.0,
    pool: int = 0,
    captioned: bool = True,
) -> BatchSource:
    """``world`` / ``world:SPLIT`` for clips rendered on the fly, a folder of shards, or a folder of videos (with
    ``captioned=False``, its videos without captions too)."""
    if data == "world" or data.startswith("world:"):
        split = data.partition(":")[2] or "train"
        return WorldSource(buckets, seed, window, split=split, fps=fps, pool=pool)
    if not os.path.isdir(data):
        raise ConfigError(f"data: {data!r} is neither 'world', 'world:SPLIT', nor a folder of shards or videos")
    from pathlib import Path

    from tessera.data.folder import VideoFolder
    from tessera.data.shards import ShardReader
    from tessera.media import Video, covering_size

    # Held in memory, so decoded no larger than the buckets need: three 10 s 1080p clips took 7.8 GB.
    cover = covering_size([b.size for b in buckets])
    if any(Path(data).glob("*.tar")):
        samples = list(ShardReader(data, cover=cover))
    else:
        samples = list(VideoFolder(data, captioned, cover))
    # One frame rate for training: a 24 fps video taken as 8 fps would teach motion three times too slow.
    samples = [{**s, "frames": Video(s["frames"], s.get("fps") or 0.0).at_fps(fps)} for s in samples]
    return SampleListSource(samples, buckets, seed, window, name=data)
