"""World throughput: clips/s for 64x64x17 clips (the `s` preset's training shape), in one process and in
several, rendered only (what on-the-fly training consumes) and rendered + encoded to MP4 (dataset making).

    python bench/world_throughput.py [--clips 400] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

from tessera.data.shards import _encode_mp4
from tessera.world import sample_clip


def render(seed: int) -> int:
    return sample_clip(seed, "train", 64, 64, 17, 8.0).frames.shape[0]


def render_and_encode(seed: int) -> int:
    clip = sample_clip(seed, "train", 64, 64, 17, 8.0)
    return len(_encode_mp4(clip.frames, clip.fps))


def rate(fn, clips: int, workers: int) -> float:
    seeds = range(10_000, 10_000 + clips)
    t0 = time.perf_counter()
    if workers == 1:
        for s in seeds:
            fn(s)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(fn, seeds, chunksize=32))
    return clips / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=400)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    for s in range(20):  # warm caches and imports
        render(s)
    print(f"world clips 64x64x17 @ 8 fps, {args.clips} clips, {os.cpu_count()} cores")
    one = rate(render, args.clips, 1)
    many = rate(render, args.clips, args.workers)
    enc = rate(render_and_encode, args.clips, args.workers)
    print(f"  render, 1 process:               {one:8.1f} clips/s")
    print(f"  render, {args.workers} processes:              {many:8.1f} clips/s  ({many / one:.2f}x one process)")
    print(f"  render + MP4 encode, {args.workers} processes: {enc:8.1f} clips/s  ({enc / many:.2f}x render only)")


if __name__ == "__main__":
    main()
