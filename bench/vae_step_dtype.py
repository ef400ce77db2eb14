"""The autoencoder's training step in fp32 and under bf16 autocast, side by side in one run.

Why it exists: bf16 autocast speeds the transformer's matmuls up on CPU, but PyTorch's CPU Conv3d in bf16 takes a
far slower path than fp32, so `tessera train vae` leaves bf16 off unless it runs on a GPU. This prints the ratio.

    python bench/vae_step_dtype.py [--preset s] [--batch 2] [--frames 9] [--size 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from tessera.models.autoencoder import Autoencoder


def step_seconds(model: Autoencoder, x: torch.Tensor, bf16: bool, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats + 1):  # the first call warms caches up and is not counted
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            recon = model(x)[0]
        (recon.float() - x).abs().mean().backward()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="s")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = Autoencoder.from_preset(args.preset).train()
    x = torch.rand(args.batch, 3, args.frames, args.size, args.size) * 2 - 1
    shape = f"batch {args.batch} x {args.frames} frames x {args.size}^2"
    print(f"autoencoder {args.preset}, {shape}, {torch.get_num_threads()} threads")
    fp32 = step_seconds(model, x, False, args.repeats)
    bf16 = step_seconds(model, x, True, args.repeats)
    print(f"fp32 step: {fp32:.3f} s   bf16 autocast step: {bf16:.3f} s   bf16 / fp32 time: {bf16 / fp32:.1f}x")


if __name__ == "__main__":
    main()
