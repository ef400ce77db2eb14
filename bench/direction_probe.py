"""Does the model follow a direction word? One caption with "left" and with "right", the same seeds for both:
the direction the benchmark reads (prompt adherence's ``direction_seen``), per word and guidance scale; how far
apart the two words' clips and their text-encoder states are, next to a colour word swapped (a word the model is
known to follow).

    python bench/direction_probe.py [--model models/tessera-world-s] [--seeds 12] [--guidance 2,5]
"""

from __future__ import annotations

import argparse
import collections
import functools

import numpy as np
import torch
from common import pipeline

from tessera.eval.metrics import Expectation, prompt_adherence
from tessera.eval.parse import parse_frames
from tessera.world.prompt import parse_prompt

CAPTION = "a big {colour} ball slides to the {word} along the floor"


def direction_seen(frames: np.ndarray, caption: str, fps: float) -> str:
    """The direction the benchmark's prompt-adherence check reads in the clip ('none' when nothing moves)."""
    metric = prompt_adherence(parse_frames(frames, fps), Expectation(parse_prompt(caption)))
    return metric.detail.get("direction_seen") or "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--guidance", default="2,5")
    args = ap.parse_args()
    pipe, name = pipeline(args.model)
    print(f"{name}: '{CAPTION}'")

    @functools.cache  # seed 0 at the model's guidance is asked for twice
    def clip(colour: str, word: str, seed: int, guidance: float) -> np.ndarray:
        out = pipe(CAPTION.format(colour=colour, word=word), num_frames=17, height=64, width=64, fps=8.0,
                   seed=seed, guidance_scale=guidance, output_type="np")  # fmt: skip
        return np.asarray(out.frames[0])

    for g in (float(v) for v in args.guidance.split(",")):
        for word in ("left", "right"):
            caption = CAPTION.format(colour="red", word=word)
            seen = collections.Counter(direction_seen(clip("red", word, s, g), caption, 8.0) for s in range(args.seeds))
            counts = ", ".join(f"{k} {n}" for k, n in seen.most_common())
            print(f"  guidance {g:g}, '{word}': direction seen {counts} (of {args.seeds})")

    left, right, blue = (clip(c, w, 0, float(pipe.config.guidance)).astype(float) for c, w in
                         (("red", "left"), ("red", "right"), ("blue", "left")))  # fmt: skip
    print(f"  seed 0 at the model's guidance, mean |pixel difference| of 255: 'left' vs 'right' "
          f"{np.abs(left - right).mean():.1f}, 'red' vs 'blue' {np.abs(left - blue).mean():.1f}")  # fmt: skip

    with torch.no_grad():
        states, mask = pipe.text_encoder([CAPTION.format(colour=c, word=w) for c, w in
                                          (("red", "left"), ("red", "right"), ("blue", "left"))])  # fmt: skip
    a, b, c = (s[m] for s, m in zip(states, mask, strict=True))

    def rel(x: torch.Tensor, y: torch.Tensor) -> list[float]:
        return [round(float((x[i] - y[i]).norm() / x[i].norm()), 2) for i in range(min(len(x), len(y)))]

    print(f"  text states, per token, |difference| / |state|: 'left' vs 'right' {rel(a, b)}")
    print(f"                                                 'red' vs 'blue'   {rel(a, c)}")


if __name__ == "__main__":
    main()
