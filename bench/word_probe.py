"""Does the model follow a word of the caption? One caption with each of two words (the direction "left" /
"right", or the shape "ball" / "square"), the same seeds for both: what the benchmark reads (prompt adherence's
direction, or the red object's most frequent shape) per word and guidance scale; how far apart the two words'
clips and their text-encoder states are, next to a colour word swapped (a word the model is known to follow).

Then why: on true world clips of the caption, the flow loss with the word swapped against the true caption, per
noise level (a model that uses the word does worse with the wrong one). For direction also the model's clean-clip
guess from pure noise (t = 1), where the ideal guess is the caption's average clip, the same for any noise: for
"left" the ball starts at the right wall. Where its first frame's ball sits, per noise draw and word, tells which
decides. For shape also where it is lost: true clips of "ball" edited (video-to-video, the same caption) from
noise levels up to pure noise: up to the level where the edit still reads circles, the model keeps a round ball it
is given; above it, it has to draw one. Level 0 is the autoencoder's reconstruction alone: the roundest ball the
model's latent space lets any transformer draw.

    python bench/word_probe.py [--word direction|shape] [--model DIR] [--seeds 12] [--guidance 2,5]
"""

from __future__ import annotations

import argparse
import collections
import functools

import numpy as np
import torch
from common import flow_loss_at, pipeline

from tessera.eval.metrics import Expectation, prompt_adherence
from tessera.eval.parse import CIRCLE_SQUARE, SQUARE_TRIANGLE, ParsedClip, parse_frames, shape_ratio
from tessera.world import sample_clip
from tessera.world.prompt import parse_prompt

# caption with {colour} and {word}, the two words, the swapped-loss noise levels (shape: down to low noise)
PROBES = {
    "direction": ("a big {colour} ball slides to the {word} along the floor", ("left", "right"),
                  (0.3, 0.5, 0.7, 0.85, 0.95, 1.0)),
    "shape": ("a big {colour} {word} slides to the left along the floor", ("ball", "square"),
              (0.1, 0.2, 0.3, 0.5, 0.7, 0.85)),
}  # fmt: skip


def roundness(pc: ParsedClip) -> float:
    """The red object's median shape ratio (the parser's area / (max radius + 0.5)^2) over the frames where it is
    fully in view: what shape is read from, finer than the shape name; nan if unseen."""
    tr = pc.tracks.get("red")
    if tr is None or not tr.clear.any():
        return float("nan")
    return float(np.median(shape_ratio(tr.area[tr.clear], tr.radius[tr.clear])))


def word_seen(pc: ParsedClip, caption: str, probe: str) -> str:
    """What the benchmark reads in the clip: prompt adherence's direction ('none' when nothing moves), or the red
    object's most frequent shape over the frames where it is fully in view ('none' when too small or absent)."""
    if probe == "direction":
        metric = prompt_adherence(pc, Expectation(parse_prompt(caption)))
        return metric.detail.get("direction_seen") or "none"
    tr = pc.tracks.get("red")
    shapes = [s for s in tr.shape[tr.clear] if s] if tr is not None else []
    return max(set(shapes), key=shapes.count) if shapes else "none"


@torch.no_grad()
def swapped_word_loss(pipe, probe: str, clips: int) -> list[tuple[float, float, float]]:
    """(t, loss with the probed word swapped / true, with the colour swapped / true) on true world clips."""
    caption, (a, b), times = PROBES[probe]
    words = [a if i % 2 else b for i in range(clips)]
    captions = [caption.format(colour="red", word=w) for w in words]
    z = torch.cat([pipe.encode(sample_clip(1000 + i, prompt=c).frames, 64, 64) for i, c in enumerate(captions)])
    other = {a: b, b: a}
    variants = [captions, [caption.format(colour="red", word=other[w]) for w in words],
                [caption.format(colour="blue", word=w) for w in words]]  # fmt: skip
    states = [pipe.text_encoder(v) for v in variants]
    noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(0))
    rows = []
    for t in times:
        loss = [flow_loss_at(pipe, z, noise, st, t) for st in states]
        rows.append((t, loss[1] / loss[0], loss[2] / loss[0]))
    return rows


@torch.no_grad()
def guess_from_noise(pipe, draws: int) -> dict[str, list[float]]:
    """Per direction word: the x-centre (pixels) of the red in the first frame of the model's clean-clip guess at
    t = 1, one per noise draw (the same draws for both words)."""
    caption = PROBES["direction"][0]
    shape = pipe.encode(sample_clip(0, prompt=caption.format(colour="red", word="left")).frames, 64, 64).shape[1:]
    noise = torch.randn(draws, *shape, generator=torch.Generator().manual_seed(0))
    t, out = torch.ones(draws), {}
    for word in ("left", "right"):
        states = pipe.text_encoder([caption.format(colour="red", word=word)] * draws)
        frames = pipe.decode(noise - pipe.transformer(noise, t, *states))[:, 0].astype(float)  # x0 = x1 - v
        red = np.clip(frames[..., 0] - frames[..., 1:].mean(-1), 0, None).sum(1)  # (draws, width)
        out[word] = [round(float(x), 1) for x in (red * np.arange(red.shape[1])).sum(1) / red.sum(1)]
    return out


def shape_kept(
    pipe, caption: str, clips: list, strengths=(0.0, 0.3, 0.5, 0.7, 0.9, 1.0)
) -> list[tuple[float, float, int]]:
    """(strength, median shape ratio, clips read as circles) of the true clips (frames) of ``caption`` edited at
    each strength (the noise level the edit starts from) under that caption, one seed per clip. Strength 0 (which
    the pipeline refuses as an edit) is the autoencoder's reconstruction alone."""
    rows = []
    for strength in strengths:
        if strength == 0:
            frames = [pipe.decode(pipe.encode(c, 64, 64))[0] for c in clips]
        else:
            frames = [
                np.asarray(pipe(caption, video=c, strength=strength, seed=i).frames[0]) for i, c in enumerate(clips)
            ]
        parsed = [parse_frames(f, 8.0) for f in frames]
        circles = sum(word_seen(pc, caption, "shape") == "circle" for pc in parsed)
        rows.append((strength, float(np.nanmedian([roundness(pc) for pc in parsed])), circles))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--word", choices=sorted(PROBES), default="direction")
    ap.add_argument("--model", default=None)
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--guidance", default="2,5")
    args = ap.parse_args()
    caption, words, _ = PROBES[args.word]
    pipe, name = pipeline(args.model)
    print(f"{name}: '{caption}'")

    @functools.cache  # seed 0 at the model's guidance is asked for twice
    def clip(colour: str, word: str, seed: int, guidance: float) -> np.ndarray:
        out = pipe(caption.format(colour=colour, word=word), num_frames=17, height=64, width=64, fps=8.0,
                   seed=seed, guidance_scale=guidance, output_type="np")  # fmt: skip
        return np.asarray(out.frames[0])

    if args.word == "shape":  # the true clips and their ratio, once per word: they do not depend on guidance
        true_clips = {w: [sample_clip(1000 + s, prompt=caption.format(colour="red", word=w)).frames
                          for s in range(args.seeds)] for w in words}  # fmt: skip
        true = {w: np.nanmedian([roundness(parse_frames(f, 8.0)) for f in true_clips[w]]) for w in words}
        print(f"  shape ratio boundaries: circle above {CIRCLE_SQUARE}, square above {SQUARE_TRIANGLE}")
    for g in (float(v) for v in args.guidance.split(",")):
        for word in words:
            text = caption.format(colour="red", word=word)
            parsed = [parse_frames(clip("red", word, s, g), 8.0) for s in range(args.seeds)]
            seen = collections.Counter(word_seen(pc, text, args.word) for pc in parsed)
            counts = ", ".join(f"{k} {n}" for k, n in seen.most_common())
            print(f"  guidance {g:g}, '{word}': {args.word} seen {counts} (of {args.seeds})")
            if args.word == "shape":
                ratio = np.nanmedian([roundness(pc) for pc in parsed])
                print(f"    shape ratio, median of clips: {ratio:.2f} (true clips of the caption {true[word]:.2f})")

    pairs = (("red", words[0]), ("red", words[1]), ("blue", words[0]))
    first, second, blue = (clip(c, w, 0, float(pipe.config.guidance)).astype(float) for c, w in pairs)
    print(f"  seed 0 at the model's guidance, mean |pixel difference| of 255: '{words[0]}' vs '{words[1]}' "
          f"{np.abs(first - second).mean():.1f}, 'red' vs 'blue' {np.abs(first - blue).mean():.1f}")  # fmt: skip

    with torch.no_grad():
        states, mask = pipe.text_encoder([caption.format(colour=c, word=w) for c, w in pairs])
    a, b, c = (s[m] for s, m in zip(states, mask, strict=True))

    def rel(x: torch.Tensor, y: torch.Tensor) -> list[float]:
        return [round(float((x[i] - y[i]).norm() / x[i].norm()), 2) for i in range(min(len(x), len(y)))]

    print(f"  text states, per token, |difference| / |state|: '{words[0]}' vs '{words[1]}' {rel(a, b)}")
    print(f"                                                 'red' vs 'blue' {rel(a, c)}")

    print(f"  flow loss on 24 true clips, wrong word / true caption ({args.word}):")
    for t, swapped, colour in swapped_word_loss(pipe, args.word, 24):
        print(f"    t = {t:.2f}: {args.word} word swapped {swapped:.3f}, colour word swapped {colour:.3f}")
    if args.word == "shape":
        print(f"  true '{words[0]}' clips edited from noise level (strength), {args.seeds} clips:")
        ball = caption.format(colour="red", word=words[0])
        for strength, ratio, circles in shape_kept(pipe, ball, true_clips[words[0]]):
            alone = " (autoencoder alone)" if strength == 0 else ""
            print(f"    {strength:.1f}: shape ratio {ratio:.2f}, read as a circle in {circles}{alone}")
    if args.word == "direction":
        guess = guess_from_noise(pipe, 6)
        print("  clean-clip guess from pure noise, first frame, x of the red (of 64; 'left' should start right):")
        for word, xs in guess.items():
            print(f"    '{word}': {xs}")


if __name__ == "__main__":
    main()
