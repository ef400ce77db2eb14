"""Choose a model's default guidance scale, then its sampling time shift, by measuring prompt adherence.

    python scripts/guidance_sweep.py models/tessera-world-s --scales 2,3,4 [--shifts 1,3] --clips 64 \
        --seed 5000 --out docs/eval/guidance.md [--set-default]

The clips start at ``--seed``, away from the seed-0 clips the model card reports, so the scale is not chosen on
the clips it is then scored on. Every setting sees the same captions and noise. The scales are measured at the
model's shift; the shifts (0 = by token count) at the best scale, one at a time rather than as a grid, to halve
the cost. ``--set-default`` writes the scale and the shift with the highest mean prompt adherence into the
model's pipeline.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from model_card import adherence

from tessera.eval.report import evaluate_world_set, model_source
from tessera.files import atomic_write_text
from tessera.pipeline import TextToVideoPipeline
from tessera.pipeline.pipeline import CONFIG_NAME


def measure(pipe, scale: float, clips: int, seed: int, label: str) -> dict[str, float]:
    """Mean prompt adherence and its colour, shape and direction rates at one setting; printed under label."""
    t0 = time.perf_counter()
    scores, _ = evaluate_world_set("in-dist", clips, seed=seed, source=model_source(pipe, guidance=scale))
    out = {"adherence": float(np.mean([s["metrics"]["prompt_adherence"]["score"] for s in scores]))}
    out |= adherence(scores)
    print(f"{label}: " + ", ".join(f"{k} {v:.3f}" for k, v in out.items()), f"({time.perf_counter() - t0:.0f} s)",
          flush=True)  # fmt: skip
    return out


def table(setting: str, rows: dict[float, dict[str, float]]) -> list[str]:
    """Markdown rows of the measured settings."""
    return [
        f"| {setting} | adherence (mean) | colour | shape | direction |",
        "|---|---|---|---|---|",
        *(
            f"| {s:g} | {r['adherence']:.3f} | {r['colour']:.3f} | {r['shape']:.3f} | {r['direction']:.3f} |"
            for s, r in rows.items()
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--scales", default="2,3,4", help="comma-separated guidance scales")
    ap.add_argument("--shifts", default="", help="comma-separated sampling time shifts, tried at the best scale")
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--seed", type=int, default=5000, help="first clip; keep it away from the reported clips")
    ap.add_argument("--out", type=Path, help="write the table here (Markdown)")
    ap.add_argument("--set-default", action="store_true", help="store the best scale and shift in pipeline.json")
    args = ap.parse_args()

    scales = [float(s) for s in args.scales.split(",")]
    pipe = TextToVideoPipeline.from_pretrained(args.model)
    before = pipe.config.guidance
    rows = {scale: measure(pipe, scale, args.clips, args.seed, f"guidance {scale:g}") for scale in scales}
    best = max(scales, key=lambda s: rows[s]["adherence"])  # a tie goes to the scale listed first
    # The model's own shift is the scale sweep's row at the best scale; a shift's rows are measured beside it.
    shift_before = pipe.config.shift
    shift_rows = {shift_before: rows[best]}
    for shift in (float(s) for s in args.shifts.split(",") if s):
        if shift in shift_rows:
            continue
        pipe.config = dataclasses.replace(pipe.config, shift=shift)
        shift_rows[shift] = measure(pipe, best, args.clips, args.seed, f"guidance {best:g}, shift {shift:g}")
    best_shift = max(shift_rows, key=lambda s: shift_rows[s]["adherence"])  # a tie keeps the model's own
    lines = [
        f"# Guidance scale of {args.model.name}",
        "",
        f"In-distribution prompt adherence of text-to-video clips, {args.clips} clips from seed {args.seed} "
        f"(not the clips the model card reports), {pipe.config.steps} {pipe.config.sampler} steps, the same captions "
        "and noise at every scale:",
        "",
        f"    python scripts/guidance_sweep.py {args.model} --scales {args.scales} --clips {args.clips} "
        f"--seed {args.seed}" + (f" --shifts {args.shifts}" if args.shifts else ""),
        "",
        *table("guidance", rows),
        "",
        f"Highest mean adherence: guidance {best:g} (the model's default was {before:g}).",
    ]
    if len(shift_rows) > 1:
        lines += [
            "",
            f"Sampling time shift at guidance {best:g} (0: by token count, 1 for these sizes):",
            "",
            *table("shift", shift_rows),
            "",
            f"Highest mean adherence: shift {best_shift:g} (the model's default was {shift_before:g}).",
        ]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
    if args.set_default:
        # Only these two fields change, and atomically: the weights beside them are not rewritten.
        path = args.model / CONFIG_NAME
        config = json.loads(path.read_text())
        config["guidance"], config["shift"] = best, best_shift
        atomic_write_text(path, json.dumps(config, indent=2) + "\n")
        print(f"{path}: guidance {before:g} -> {best:g}, shift {shift_before:g} -> {best_shift:g}")


if __name__ == "__main__":
    main()
