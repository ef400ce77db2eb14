"""How much of an autoencoder's reconstruction error is its encoder's: each held-out clip's latent is optimised
directly against the frozen decoder (Adam on the pixel MSE, from the encoder's latent), and the PSNR by latent frame
of the encoder's latent and of the fitted one is printed side by side, with how far the fit moved the latent (RMS of
the change over RMS of the latent). A large gain means the decoder can draw the clip better than the encoder asks
it to, so training the encoder (STAGE=encoder) pays; none means the decoder, or the latent's size, is the limit.

    python bench/latent_fit.py --model models/tessera-world-s/autoencoder [--clips 4] [--iters 150]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import by_latent_frame, fmt_db, frame_errors

from tessera.models.autoencoder import Autoencoder, to_frames, to_video
from tessera.world import sample_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--iters", type=int, default=150)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--split", default="held-out")
    args = ap.parse_args()
    torch.manual_seed(0)
    vae = Autoencoder.from_pretrained(args.model).float().eval().requires_grad_(False)
    tf = vae.params.temporal_factor
    enc, fit, moved = [], [], []
    t0 = time.perf_counter()
    for i in range(args.clips):
        clip = sample_clip(50_000 + i, args.split, 64, 64, args.frames, 8.0)  # bench/autoencoder_quality.py's clips
        x = to_video(clip.frames)[None]
        with torch.no_grad():
            z0 = vae.encode(x)[0]
            enc.append(by_latent_frame(frame_errors(to_frames(vae.decode(z0)[0]), clip.frames), tf))
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=args.lr)
        for _ in range(args.iters):
            loss = (vae.decode(z) - x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            fit.append(by_latent_frame(frame_errors(to_frames(vae.decode(z)[0]), clip.frames), tf))
            moved.append(float((z - z0).pow(2).mean().sqrt() / z0.pow(2).mean().sqrt()))
        print(
            f"  clip {i}: encoder {fmt_db(enc[-1])} dB, fitted {fmt_db(fit[-1])} dB, "
            f"latent moved {moved[-1]:.3f} of its RMS",
            flush=True,
        )
    e, f = np.mean(enc, axis=0), np.mean(fit, axis=0)
    print(
        f"{args.model}, {args.clips} {args.split} clips of {args.frames} frames, {args.iters} Adam steps each "
        f"({time.perf_counter() - t0:.0f} s), PSNR by latent frame (mean over clips):"
    )
    print(f"  encoder's latent: {fmt_db(e)} dB")
    gain = " / ".join(f"{v:+.2f}" for v in f - e)
    print(f"  fitted latent:    {fmt_db(f)} dB (gain {gain})")
    print(f"  latent moved {np.mean(moved):.3f} of its RMS")


if __name__ == "__main__":
    main()
