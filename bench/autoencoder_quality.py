"""Autoencoder reconstruction quality on world clips the training never saw: PSNR (dB, on 0-255 frames) per
split, for full clips and for single images, plus the compression ratio — and the speed of both halves. Per
split also the video PSNR by a frame's place in its latent frame (the first frame is encoded alone, every later
latent frame packs 4), which tells whether packing, not single-frame detail, is what loses the decibels, and by
the latent frame a frame is in (its index in the clip), which tells whether the autoencoder holds up over a clip's
length or only over the lengths it trained on.

    python bench/autoencoder_quality.py --model runs/vae-s/model [--clips 64] [--frames 17]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import decibels, fmt_db, frame_errors, latent_frame

from tessera.media import psnr
from tessera.models.autoencoder import Autoencoder, to_frames, to_video
from tessera.world import sample_clip


@torch.no_grad()
def reconstruct(vae: Autoencoder, frames: np.ndarray) -> tuple[np.ndarray, float, float]:
    x = to_video(frames)[None]
    t0 = time.perf_counter()
    z = vae.encode(x)[0]
    t1 = time.perf_counter()
    y = vae.decode(z, chunk=3)[0]
    t2 = time.perf_counter()
    return to_frames(y), t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--size", default="64x64")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    vae = Autoencoder.from_pretrained(args.model)
    p = vae.params
    ratio = (3 * args.frames * h * w) / (p.latent_channels * (1 + (args.frames - 1) // 4) * (h // 8) * (w // 8))
    print(f"{args.model}: latent {p.latent_channels} channels, {ratio:.0f}x fewer values than pixels")
    for split in ("in-dist", "held-out", "ood"):
        video, image, enc, dec = [], [], 0.0, 0.0
        tf = vae.params.temporal_factor
        place = [[] for _ in range(1 + tf)]  # squared errors: first frame, then 1..4
        index = [[] for _ in range(1 + latent_frame(args.frames - 1, tf))]  # squared errors by latent frame
        for i in range(args.clips):
            clip = sample_clip(50_000 + i, split, w, h, args.frames, 8.0)
            out, te, td = reconstruct(vae, clip.frames)
            video.append(psnr(out, clip.frames))
            err = frame_errors(out, clip.frames)
            for k, e in enumerate(err):
                place[0 if k == 0 else 1 + (k - 1) % tf].append(e)
                index[latent_frame(k, tf)].append(e)
            enc, dec = enc + te, dec + td
            still, _, _ = reconstruct(vae, clip.frames[args.frames // 2 : args.frames // 2 + 1])
            image.append(psnr(still, clip.frames[args.frames // 2 : args.frames // 2 + 1]))
        print(
            f"  {split:9s} video PSNR {np.mean(video):5.2f} dB (min {np.min(video):5.2f}), "
            f"image PSNR {np.mean(image):5.2f} dB; encode {1000 * enc / args.clips:.0f} ms, "
            f"decode {1000 * dec / args.clips:.0f} ms per clip"
        )
        print(f"    by place in its latent frame (first frame alone, then 1..{tf}): {fmt_db(decibels(place))} dB")
        print(f"    by latent frame (0 = the first frame, alone): {fmt_db(decibels(index))} dB")


if __name__ == "__main__":
    main()
