"""How generation cost grows with clip length and resolution: time per sampling step, decode time and peak
resident memory of a whole generation, each measured in a fresh process; plotted to docs/perf-scaling.png.

    python bench/scaling.py [--model DIR] [--steps 4] [--out docs/perf-scaling.png]

Without a trained model it uses the `s` presets with random weights (cost does not depend on the weights).
Sizes the model was not trained at are generated anyway here (``check_inputs`` is bypassed) — this measures
cost, not quality.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time, torch
sys.path.insert(0, "bench")
from common import pipeline
pipe, _ = pipeline(sys.argv[1] or None)
frames, width, height, steps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
pipe.config.sizes = tuple(pipe.config.sizes) + (f"{width}x{height}",)
pipe.config.max_frames = max(pipe.config.max_frames, 33)
pipe("a red ball falls", num_frames=9, height=64, width=64, num_inference_steps=1)  # warm-up
t0 = time.perf_counter()
out = pipe("a red ball falls", num_frames=frames, height=height, width=width, num_inference_steps=steps)
total = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux reports KiB)
print(json.dumps({"sample_per_step": out.timings["sample"] / steps, "decode": out.timings["decode"],
                  "total": total, "peak_mib": peak}))
"""


def measure(model: str, frames: int, width: int, height: int, steps: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, model or "", str(frames), str(width), str(height), str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--out", default="docs/perf-scaling.png")
    args = ap.parse_args()
    lengths = [(f, 64, 64) for f in (17, 33, 65, 129, 257)]
    sizes = [(17, w, h) for w, h in ((64, 64), (112, 64), (128, 128), (192, 192), (256, 256))]
    rows = {}
    print(f"{'frames':>6} {'size':>8} {'tokens':>7} {'ms/step':>8} {'decode s':>9} {'total s':>8} {'peak MiB':>9}")
    for frames, w, h in lengths + sizes:
        if (frames, w, h) in rows:
            continue
        r = measure(args.model, frames, w, h, args.steps)
        tokens = ((frames - 1) // 4 + 1) * (h // 16) * (w // 16)
        rows[(frames, w, h)] = {**r, "tokens": tokens}
        print(
            f"{frames:>6} {f'{w}x{h}':>8} {tokens:>7} {1000 * r['sample_per_step']:>8.1f} {r['decode']:>9.2f} "
            f"{r['total']:>8.2f} {r['peak_mib']:>9.0f}",
            flush=True,
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for label, group in (("longer clips (64x64)", lengths), ("larger frames (17 frames)", sizes)):
        pts = sorted((rows[g]["tokens"], rows[g]) for g in group)
        axes[0].plot([p[0] for p in pts], [1000 * p[1]["sample_per_step"] for p in pts], "o-", label=label)
        axes[1].plot([p[0] for p in pts], [p[1]["peak_mib"] for p in pts], "o-", label=label)
    axes[0].set(
        xlabel="transformer tokens", ylabel="ms per sampling step (CFG)", xscale="log", yscale="log", title="time"
    )
    axes[1].set(xlabel="transformer tokens", ylabel="peak resident memory (MiB)", xscale="log", title="memory")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"plot: {args.out}")


if __name__ == "__main__":
    main()
