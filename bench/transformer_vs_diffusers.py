"""Tessera's transformer vs diffusers' WanTransformer3DModel at the same width, depth, heads, tokens and text
length: forward latency (inference, batch 2 = one CFG step) and training step time (forward + backward +
AdamW), same dtype and threads, interleaved in one run; prints the ratios.

    pip install diffusers        # a benchmark-only dependency
    python bench/transformer_vs_diffusers.py [--preset s] [--frames 17] [--size 64x64] [--dtype fp32|bf16]
                                             [--compile]

With ``--compile`` both models are compiled (torch.compile, in place) before timing: equal configuration
again, and what a server or a training run, which pay the one-off compile once, would use.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import require_diffusers


def build(preset: str):
    from diffusers import WanTransformer3DModel

    from tessera.models.dit import DiT

    ours = DiT.from_preset(preset)
    p = ours.params
    ref = WanTransformer3DModel(
        patch_size=p.patch,
        num_attention_heads=p.heads,
        attention_head_dim=p.dim // p.heads,
        in_channels=p.in_channels,
        out_channels=p.in_channels,
        text_dim=p.text_dim,
        freq_dim=256,
        ffn_dim=int(p.dim * p.mlp_ratio),
        num_layers=p.depth,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
    )
    return ours, ref


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="s")
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--size", default="64x64")
    ap.add_argument("--text-tokens", type=int, default=16)
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="torch.compile both models first")
    args = ap.parse_args()
    require_diffusers()
    torch.manual_seed(0)
    ours, ref = build(args.preset)
    if args.compile:
        ours.compile()
        ref.compile()
    p = ours.params
    width, height = (int(v) for v in args.size.split("x"))
    shape = (p.in_channels, (args.frames - 1) // 4 + 1, height // 8, width // 8)  # the autoencoder's latent
    tokens = shape[1] * (shape[2] // p.patch[1]) * (shape[3] // p.patch[2])
    n_ours = sum(x.numel() for x in ours.parameters())
    n_ref = sum(x.numel() for x in ref.parameters())
    print(
        f"preset {args.preset}: dim {p.dim}, depth {p.depth}, heads {p.heads}, text {args.text_tokens} tokens of "
        f"{p.text_dim}, latent {shape} = {tokens} tokens, {args.dtype}{', compiled' if args.compile else ''}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"parameters: tessera {n_ours / 1e6:.2f}M, diffusers Wan {n_ref / 1e6:.2f}M")
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "bf16")

    def inputs(batch):
        x = torch.randn(batch, *shape)
        t = torch.rand(batch)
        text = torch.randn(batch, args.text_tokens, p.text_dim)
        return x, t, text

    def ours_fwd(x, t, text):
        return ours(x, t, text)

    def ref_fwd(x, t, text):
        return ref(x, t * 1000, text, return_dict=False)[0]

    results = {}
    x, t, text = inputs(2)
    for model in (ours, ref):
        model.eval()
    with torch.inference_mode(), autocast:
        for fwd in (ours_fwd, ref_fwd):
            fwd(x, t, text)  # warm-up
        for _ in range(2):  # interleaved rounds, so drift in machine load hits both alike
            for name, fwd in (("tessera", ours_fwd), ("diffusers", ref_fwd)):
                results.setdefault(("forward", name), []).append(timed(lambda f=fwd: f(x, t, text), args.repeats))

    x, t, text = inputs(args.train_batch)
    target = torch.randn_like(x)
    optims = {
        "tessera": torch.optim.AdamW(ours.parameters(), lr=1e-4),
        "diffusers": torch.optim.AdamW(ref.parameters(), lr=1e-4),
    }
    for model in (ours, ref):
        model.train()

    def step(name, fwd):
        with autocast:
            loss = torch.nn.functional.mse_loss(fwd(x, t, text).float(), target)
        loss.backward()
        optims[name].step()
        optims[name].zero_grad(set_to_none=True)

    for name, fwd in (("tessera", ours_fwd), ("diffusers", ref_fwd)):
        step(name, fwd)
    for _ in range(2):
        for name, fwd in (("tessera", ours_fwd), ("diffusers", ref_fwd)):
            results.setdefault(("train step", name), []).append(
                timed(lambda n=name, f=fwd: step(n, f), max(3, args.repeats // 2))
            )

    for kind, batch in (("forward", 2), ("train step", args.train_batch)):
        a, b = min(results[(kind, "tessera")]), min(results[(kind, "diffusers")])
        print(
            f"{kind:<10} batch {batch:>2}: tessera {1000 * a:8.1f} ms   diffusers {1000 * b:8.1f} ms   "
            f"diffusers/tessera = {b / a:.2f}x"
        )


if __name__ == "__main__":
    main()
