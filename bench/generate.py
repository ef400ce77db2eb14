"""Generation speed for a 2 s 64x64 clip (17 frames at 8 fps): model load, sampling, decode, total, and the
real-time factor (seconds of video per second of compute; > 1 is faster than real time); then the README's
command itself, `tessera generate`, end to end in a fresh process (model load, safety, MP4, C2PA signing).

    python bench/generate.py [--model models/tessera-world-s] [--steps N] [--repeats 3] [--interval 0.2,0.9]

``--interval LO,HI`` also times sampling with guidance only at times LO < t <= HI (``guidance_interval``) against
the model's own setting, the two alternating clip by clip so that both see the same machine, and prints the ratio.

Without a trained model it measures the `s` presets with random weights (the same cost).
"""

from __future__ import annotations

import argparse
import time

import torch
from common import pipeline_folder

from tessera.errors import ConfigError
from tessera.pipeline import PipelineConfig, TextToVideoPipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--interval", default=None, help="LO,HI: time sampling with guidance only there, too")
    args = ap.parse_args()
    if args.interval:
        try:  # the pipeline's own check, before any timing
            args.interval = PipelineConfig(guidance_interval=args.interval.split(",")).guidance_interval
        except ConfigError as e:
            raise SystemExit(f"--interval: {e}") from None

    folder, name = pipeline_folder(args.model)
    args.model = str(folder)
    t0 = time.perf_counter()
    pipe = TextToVideoPipeline.from_pretrained(folder)
    load = time.perf_counter() - t0
    prompt = "a small red ball falls onto the floor and bounces"
    pipe(prompt, num_frames=17, num_inference_steps=2)  # warm-up: first-call allocations, prompt cache
    rows = []
    for seed in range(args.repeats):
        t0 = time.perf_counter()
        out = pipe(prompt, num_frames=17, height=64, width=64, num_inference_steps=args.steps, seed=seed)
        total = time.perf_counter() - t0
        rows.append((out.timings["sample"], out.timings["decode"], total))
    sample, decode, total = (min(r[i] for r in rows) for i in range(3))
    cfg = pipe.config
    seconds = 16 / cfg.fps  # 17 frames span 16 frame intervals
    steps = args.steps or cfg.steps
    print(f"model {name}: {torch.get_num_threads()} threads, {steps} {cfg.sampler} steps, guidance {cfg.guidance}")
    print(f"  load      {load:6.2f} s")
    print(f"  sample    {sample:6.2f} s   ({steps / sample:.1f} steps/s)")
    print(f"  decode    {decode:6.2f} s")
    print(f"  total     {total:6.2f} s   (per clip, best of {args.repeats})")
    print(
        f"  real-time factor: sampling {seconds / sample:.2f}x, end to end {seconds / total:.2f}x "
        f"({seconds:.0f} s of video)"
    )
    if args.interval:
        compare_interval(pipe, prompt, args)

    import resource
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    cli = []
    for seed in range(args.repeats):
        out = Path(tempfile.mkdtemp()) / "ball.mp4"
        cmd = ["tessera", "generate", prompt, "-o", str(out), "--model", args.model, "--seed", str(seed)]
        if args.steps:
            cmd += ["--steps", str(args.steps)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        cli.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"  tessera generate (fresh process, load + safety + sample + MP4 + C2PA): best {min(cli):.2f} s, "
        f"worst {max(cli):.2f} s; peak resident memory {peak:.0f} MiB"
    )
    sys.exit(0)


def compare_interval(pipe: TextToVideoPipeline, prompt: str, args: argparse.Namespace) -> None:
    """Sampling seconds with the model's guidance interval and with ``args.interval``, alternating clip by clip."""
    import statistics

    own = pipe.config.guidance_interval
    other = args.interval
    seconds = {own: [], other: []}
    for seed in range(2 * args.repeats):
        for interval in seconds:
            pipe.config.guidance_interval = interval
            out = pipe(prompt, num_frames=17, height=64, width=64, num_inference_steps=args.steps, seed=seed)
            seconds[interval].append(out.timings["sample"])
    pipe.config.guidance_interval = own
    med = {k: statistics.median(v) for k, v in seconds.items()}
    for interval, v in seconds.items():
        print(
            f"  guidance at {interval[0]:g} < t <= {interval[1]:g}: "
            f"sample median {med[interval]:.3f} s, best {min(v):.3f} s"
        )
    print(f"  ratio of medians {med[other] / med[own]:.2f} ({len(seconds[own])} clips each, alternating)")


if __name__ == "__main__":
    main()
