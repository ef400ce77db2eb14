"""Datasets: world clips on the fly, WebDataset-style tar shards, and a user's folder of captioned videos;
bucketing by (frames, height, width) so every batch holds one shape. Nothing here trains anything.

A sample is a dict: ``frames`` (T, H, W, 3) uint8, ``fps``, ``caption``, ``key``, and ``record`` (the world's
ground truth, or None for user videos).
"""

from tessera.data.buckets import DEFAULT_BUCKETS, Bucket, batch_by_bucket, fit_to_bucket, nearest_bucket
from tessera.data.folder import VideoFolder
from tessera.data.shards import ShardReader, make_world_dataset, write_shards
from tessera.data.stream import WorldStream

__all__ = [
    "DEFAULT_BUCKETS",
    "Bucket",
    "ShardReader",
    "VideoFolder",
    "WorldStream",
    "batch_by_bucket",
    "fit_to_bucket",
    "make_world_dataset",
    "nearest_bucket",
    "write_shards",
]
