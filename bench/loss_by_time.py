"""Where across the noise levels a model is good or bad: the flow loss of one or more pipelines on the same true
world clips (training-split scenes with their captions, the same noise), per noise level t, side by side. Lower is
better. Low t is where edges and the background's fine detail are drawn, high t where the prompt lays the scene
out. The clips are encoded by the first model's autoencoder, so compare models that share its latent space.
A second row per model is the loss on the objects alone (each latent pixel weighted by tessera.train.dit's
object_map): the part of the error the benchmark's shape, colour and count read.

    python bench/loss_by_time.py MODEL [MODEL ...] [--clips 32] [--times 0.05,0.1,0.2,0.3,0.5,0.7,0.9]
"""

from __future__ import annotations

import argparse

import torch
from common import flow_loss_at

from tessera.pipeline import TextToVideoPipeline
from tessera.train.dit import object_map
from tessera.world import sample_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="pipeline folders")
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--times", default="0.05,0.1,0.2,0.3,0.5,0.7,0.9")
    args = ap.parse_args()
    times = [float(v) for v in args.times.split(",")]
    clips = [sample_clip(2000 + i) for i in range(args.clips)]
    captions = [c.caption for c in clips]
    pipes = [TextToVideoPipeline.from_pretrained(m) for m in args.models]
    z = torch.cat([pipes[0].encode(c.frames, 64, 64) for c in clips])
    noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(0))
    objects = object_map(z)
    print(f"flow loss on {args.clips} true 17-frame 64x64 clips, per noise level t:")
    print(f"  {'t':>6s} " + " ".join(f"{t:>7.2f}" for t in times))
    for name, pipe in zip(args.models, pipes, strict=True):
        with torch.no_grad():
            states = pipe.text_encoder(captions)
        for row, weight in (("all", None), ("object", objects)):
            losses = " ".join(f"{flow_loss_at(pipe, z, noise, states, t, weight):7.4f}" for t in times)
            print(f"  {row:>6s} {losses}  {name}")


if __name__ == "__main__":
    main()
