"""Benchmark speed: seconds to score 64 clips (the issue's unit), for ground-truth renders scored in memory
and for a folder of MP4s decoded from disk, and clips/s for the scoring alone.

    python bench/eval_throughput.py [--clips 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from tessera.data import make_world_dataset
from tessera.eval.report import evaluate_folder, evaluate_world_set
from tessera.eval.score import score_clip
from tessera.world import sample_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=64)
    args = ap.parse_args()
    n = args.clips

    clips = [sample_clip(i, "in-dist", 64, 64, 17, 8.0) for i in range(n)]
    t0 = time.perf_counter()
    for c in clips:
        score_clip(c.frames, c.fps, c.caption, c.record, start_fixed=True)
    score = time.perf_counter() - t0

    t0 = time.perf_counter()
    evaluate_world_set("in-dist", n)
    render_score = time.perf_counter() - t0

    t0 = time.perf_counter()
    for c in clips[: max(1, n // 4)]:
        score_clip(c.frames, c.fps, c.caption, None, start_fixed=False)  # text-to-video: re-simulation
    resim = (time.perf_counter() - t0) * n / max(1, n // 4)

    with tempfile.TemporaryDirectory() as d:
        make_world_dataset(d, n, split="in-dist", layout="folder")
        t0 = time.perf_counter()
        evaluate_folder(d)
        folder = time.perf_counter() - t0

    print(f"{n} clips of 64x64x17:")
    print(f"  score only (record known)        {score:6.2f} s   {n / score:6.1f} clips/s")
    print(f"  score with re-simulation (t2v)   {resim:6.2f} s   {n / resim:6.1f} clips/s")
    print(f"  render + score (tessera eval --set)      {render_score:6.2f} s")
    print(f"  decode MP4 folder + score (--videos)     {folder:6.2f} s")


if __name__ == "__main__":
    main()
