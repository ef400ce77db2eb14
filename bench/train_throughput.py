"""Transformer training-step throughput: samples/s and achieved GFLOP/s in fp32 and bf16 autocast, next to
this machine's measured matmul GFLOP/s (so the fraction of peak the step reaches), all in one run.

FLOPs are counted by torch's FlopCounterMode on one forward + backward (matmuls and attention), so
"achieved" means useful model FLOPs per second, not an estimate from parameter counts.

    python bench/train_throughput.py [--preset s] [--batch 16] [--shape 5x8x8] [--repeats 5] [--compile]

``--compile`` adds a third row: bf16 with the transformer compiled (``tessera train dit --compile``).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from tessera.diffusion import flow_loss
from tessera.models.dit import DiT
from tessera.models.pretrained import count_params


def matmul_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def step_fn(model, opt, batch, shape, bf16):
    x = torch.randn(batch, model.params.in_channels, *shape)
    noise, t = torch.randn_like(x), torch.rand(batch)
    text, mask = torch.randn(batch, 12, model.params.text_dim), torch.ones(batch, 12, dtype=torch.bool)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pred = model((1 - t.view(-1, 1, 1, 1, 1)) * x + t.view(-1, 1, 1, 1, 1) * noise, t, text, mask)
        loss = flow_loss(pred, x, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="s")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--shape", default="5x8x8", help="latent TxHxW (5x8x8 = 17 frames at 64x64)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also time bf16 with torch.compile")
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.shape.split("x"))
    torch.manual_seed(0)
    model = DiT.from_preset(args.preset)
    for p in model.parameters():  # non-zero weights, so no kernel takes a zero shortcut
        torch.nn.init.normal_(p, std=0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)  # as the trainer does
    print(
        f"preset {args.preset}: {count_params(model) / 1e6:.1f}M parameters, batch {args.batch}, latent {args.shape}, "
        f"{torch.get_num_threads()} threads"
    )
    with FlopCounterMode(display=False) as counter:
        step_fn(model, opt, args.batch, shape, False)()
    flops = counter.get_total_flops()
    print(f"model FLOPs per training step (forward + backward): {flops / 1e9:.1f} GFLOP")
    rows = []
    runs = [("fp32", False, torch.float32), ("bf16", True, torch.bfloat16)]
    for name, bf16, dtype in runs + ([("bf16 compiled", True, torch.bfloat16)] if args.compile else []):
        if name.endswith("compiled"):
            model.compile()  # in place, as the trainer does; the warm-up step below pays the compile
        peak = matmul_gflops(dtype)
        step = step_fn(model, opt, args.batch, shape, bf16)
        step()  # warm-up (twice: a compiled model may compile again for its second call)
        step()
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            step()
        seconds = (time.perf_counter() - t0) / args.repeats
        achieved = flops / seconds / 1e9
        rows.append((name, args.batch / seconds, achieved, peak))
        print(
            f"{name}: {args.batch / seconds:7.2f} samples/s  {achieved:7.1f} GFLOP/s achieved  "
            f"matmul peak {peak:7.1f} GFLOP/s  -> {achieved / peak:5.1%} of peak"
        )
    print(f"bf16 / fp32 training speed: {rows[1][1] / rows[0][1]:.2f}x")
    if args.compile:
        print(f"bf16 compiled / bf16 eager: {rows[2][1] / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()
