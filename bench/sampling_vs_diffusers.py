"""Sampling, side by side in one run, on the same model, prompt and noise:

1. Tessera's Euler sampler vs diffusers' FlowMatchEulerDiscreteScheduler: same result within tolerance, and
   time per step;
2. Tessera's sampling loop (text keys/values computed once, CFG in one batched call) vs a diffusers-style
   loop over the same components (the scheduler, text passed to the model at every step, the conditional and
   unconditional passes as two calls, as diffusers' Wan pipeline does);
3. the same in bf16 autocast: time, and how far the decoded video moves from fp32 (PSNR).

    pip install diffusers        # a benchmark-only dependency
    python bench/sampling_vs_diffusers.py [--model models/tessera-world-s] [--steps 24] [--repeats 3]

Without a trained model it builds the `s` presets with random weights: speed is the same.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import pipeline, require_diffusers


def best(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    require_diffusers()
    from diffusers import FlowMatchEulerDiscreteScheduler

    from tessera.diffusion import denoise, get_schedule, guided, shift_for
    from tessera.media import psnr

    pipe, name = pipeline(args.model)
    model = pipe.transformer
    shape = pipe._latent_shape(17, 64, 64)
    grid = model.grid(shape)
    schedule = get_schedule(args.steps, shift_for(grid[0] * grid[1] * grid[2]))
    text, mask = pipe.text_encoder(["a small red ball falls onto the floor and bounces"])
    u_text, u_mask = pipe.text_encoder([""])
    noise = torch.randn((1, *shape), generator=torch.Generator().manual_seed(0))
    print(
        f"model: {name}; latent {tuple(shape)}, {args.steps} steps, guidance {args.guidance}, "
        f"{torch.get_num_threads()} threads"
    )

    from tessera.pipeline.pipeline import _stack_text

    context = model.encode_text(*_stack_text((text, mask), (u_text, u_mask)))
    ours_velocity = guided(lambda x, t: model(x, t, context=context), args.guidance)

    def naive_velocity(x, t):  # the diffusers-style model calls: text every step, two passes
        v_c = model(x, t, text, mask)
        v_u = model(x, t, u_text, u_mask)
        return v_u + args.guidance * (v_c - v_u)

    def ours_loop(velocity=ours_velocity):
        return denoise(velocity, noise.clone(), schedule, "euler")

    @torch.no_grad()
    def diffusers_loop(velocity):
        scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0)
        scheduler.set_timesteps(sigmas=schedule[:-1].tolist())
        x = noise.clone()
        for t in scheduler.timesteps:
            sigma = torch.full((1,), float(t) / scheduler.config.num_train_timesteps)
            x = scheduler.step(velocity(x, sigma), t, x, return_dict=False)[0]
        return x

    with torch.inference_mode():
        ours_loop()  # warm-up
        t_sched_ours, a = best(lambda: ours_loop(ours_velocity), args.repeats)
        t_sched_diff, b = best(lambda: diffusers_loop(ours_velocity), args.repeats)
        diff = (a - b).abs().max().item()
        print("\n1. sampler (same model calls):")
        print(f"   tessera euler   {1000 * t_sched_ours / args.steps:7.1f} ms/step")
        print(
            f"   diffusers       {1000 * t_sched_diff / args.steps:7.1f} ms/step   "
            f"max |difference| of final latents {diff:.2e} (latent std {a.std():.2f})"
        )

        t_naive, c = best(lambda: diffusers_loop(naive_velocity), args.repeats)
        print("\n2. sampling loop, same components:")
        print(f"   tessera (text K/V once, batched CFG)    {t_sched_ours:6.2f} s")
        print(
            f"   diffusers-style (text each step, 2 calls) {t_naive:6.2f} s   ratio {t_naive / t_sched_ours:.2f}x, "
            f"max |difference| {(a - c).abs().max().item():.2e}"
        )

        with torch.autocast("cpu", dtype=torch.bfloat16):
            ctx16 = model.encode_text(*_stack_text((text, mask), (u_text, u_mask)))
            v16 = guided(lambda x, t: model(x, t, context=ctx16), args.guidance)
            ours_loop(v16)
            t_bf16, d = best(lambda: ours_loop(v16), args.repeats)
        frames32, frames16 = pipe.decode(a), pipe.decode(d.float())
        print("\n3. bf16 autocast:")
        print(
            f"   fp32 {t_sched_ours:6.2f} s   bf16 {t_bf16:6.2f} s   speed-up {t_sched_ours / t_bf16:.2f}x   "
            f"decoded video PSNR bf16 vs fp32 {psnr(np.asarray(frames32), np.asarray(frames16)):.1f} dB"
        )


if __name__ == "__main__":
    main()
