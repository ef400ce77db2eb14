"""Endless world clips generated on the fly, sharded across data-loader workers and distributed ranks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tessera.data.buckets import DEFAULT_BUCKETS, Bucket


@dataclass
class WorldStream:
    """Yield world clips from ``split`` at shapes drawn from ``buckets``.

    Clip n of this stream is seeded by ``seed + n * num_shards + shard``, so ranks and loader workers see
    disjoint clips and the whole stream is reproducible. ``fps`` is the world's frame rate.
    """

    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS
    split: str = "train"
    seed: int = 0
    fps: float = 8.0
    shard: int = 0
    num_shards: int = 1

    def __iter__(self) -> Iterator[dict]:
        from tessera.world import sample_clip

        rng = np.random.default_rng([self.seed, self.shard, 7])
        n = 0
        while True:
            bucket = self.buckets[int(rng.integers(len(self.buckets)))]
            index = self.seed + n * self.num_shards + self.shard
            clip = sample_clip(index, self.split, bucket.width, bucket.height, bucket.frames, self.fps)
            yield {
                "key": f"{self.split}-{index:09d}",
                "frames": clip.frames,
                "fps": clip.fps,
                "caption": clip.caption,
                "record": clip.record,
            }
            n += 1
