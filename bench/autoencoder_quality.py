"""Autoencoder reconstruction quality on world clips the training never saw: PSNR (dB, on 0-255 frames) per
split, for full clips and for single images, plus the compression ratio — and the speed of both halves. Per
split also the video PSNR by a frame's place in its latent frame (the first frame is encoded alone, every later
latent frame packs 4), which tells whether packing, not single-frame detail, is what loses the decibels, and by
the latent frame a frame is in (its index in the clip), which tells whether the autoencoder holds up over a clip's
length or only over the lengths it trained on. With ``--refine N`` each clip's latent is also refined by N Adam
steps against the frozen decoder (``Autoencoder.refine``) and the refined reconstruction's PSNR is printed beside
the encoder's, with how far the latent moved (RMS of the change over RMS of the latent): what the decoder can draw
when it is asked well, and how much of the error is the amortised encoder's.

    python bench/autoencoder_quality.py --model runs/vae-s/model [--clips 64] [--frames 17] [--refine 40]
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
def reconstruct(vae: Autoencoder, frames: np.ndarray, refine: int = 0) -> tuple[np.ndarray, float, float, float]:
    """(reconstruction, encode seconds (refinement included), decode seconds, how far refinement moved the latent)."""
    x = to_video(frames)[None]
    t0 = time.perf_counter()
    z0 = vae.encode(x)[0]
    z = vae.refine(x, z0, refine) if refine else z0
    t1 = time.perf_counter()
    y = vae.decode(z, chunk=3)[0]
    t2 = time.perf_counter()
    moved = float((z - z0).pow(2).mean().sqrt() / z0.pow(2).mean().sqrt())
    return to_frames(y), t1 - t0, t2 - t1, moved


class Tally:
    """PSNR of full clips, and squared errors by place in a latent frame and by latent frame, over clips."""

    def __init__(self, tf: int, frames: int):
        self.tf, self.video, self.moved = tf, [], []
        self.place = [[] for _ in range(1 + tf)]  # first frame, then 1..tf
        self.index = [[] for _ in range(1 + latent_frame(frames - 1, tf))]

    def add(self, out: np.ndarray, ref: np.ndarray, moved: float) -> None:
        self.video.append(psnr(out, ref))
        self.moved.append(moved)
        for k, e in enumerate(frame_errors(out, ref)):
            self.place[0 if k == 0 else 1 + (k - 1) % self.tf].append(e)
            self.index[latent_frame(k, self.tf)].append(e)

    def lines(self, indent: str) -> list[str]:
        return [
            f"{indent}by place in its latent frame (first frame alone, then 1..{self.tf}): "
            f"{fmt_db(decibels(self.place))} dB",
            f"{indent}by latent frame (0 = the first frame, alone): {fmt_db(decibels(self.index))} dB",
        ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--size", default="64x64")
    ap.add_argument("--splits", default="in-dist,held-out,ood", help="comma-separated world splits")
    ap.add_argument("--refine", type=int, default=0, help="also refine each latent by this many Adam steps")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    vae = Autoencoder.from_pretrained(args.model)
    p = vae.params
    tf = p.temporal_factor
    ratio = (3 * args.frames * h * w) / (p.latent_channels * (1 + (args.frames - 1) // tf) * (h // 8) * (w // 8))
    print(f"{args.model}: latent {p.latent_channels} channels, {ratio:.0f}x fewer values than pixels")
    for split in args.splits.split(","):
        plain, refined = Tally(tf, args.frames), Tally(tf, args.frames)
        image, enc, dec, ref_s = [], 0.0, 0.0, 0.0
        for i in range(args.clips):
            clip = sample_clip(50_000 + i, split, w, h, args.frames, 8.0)
            out, te, td, _ = reconstruct(vae, clip.frames)
            plain.add(out, clip.frames, 0.0)
            enc, dec = enc + te, dec + td
            if args.refine:
                out, te, _, moved = reconstruct(vae, clip.frames, args.refine)
                refined.add(out, clip.frames, moved)
                ref_s += te
            mid = slice(args.frames // 2, args.frames // 2 + 1)
            still = reconstruct(vae, clip.frames[mid])[0]
            image.append(psnr(still, clip.frames[mid]))
        print(
            f"  {split:9s} video PSNR {np.mean(plain.video):5.2f} dB (min {np.min(plain.video):5.2f}), "
            f"image PSNR {np.mean(image):5.2f} dB; encode {1000 * enc / args.clips:.0f} ms, "
            f"decode {1000 * dec / args.clips:.0f} ms per clip"
        )
        print("\n".join(plain.lines("    ")))
        if args.refine:
            print(
                f"    refined by {args.refine} Adam steps: video PSNR {np.mean(refined.video):5.2f} dB "
                f"(min {np.min(refined.video):5.2f}), latent moved {np.mean(refined.moved):.3f} of its RMS; "
                f"encode and refine {ref_s / args.clips:.1f} s per clip"
            )
            print("\n".join(refined.lines("      ")))


if __name__ == "__main__":
    main()
