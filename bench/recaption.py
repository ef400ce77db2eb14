"""Re-captioning on short prompts: the benchmark's checks with and without it, side by side.

For each clip of a world split (in-distribution by default) a short prompt is written the way a user writes one
("red ball and blue box colliding", "green wedge sliding to the left": colours, shapes, the motion as an -ing word, a
direction), then
the model makes a clip from that prompt as it is and from its re-captioning (tessera.world.recaption), each
from the same seed. Both are scored against the SHORT prompt, what the user asked for: prompt adherence
(colours, shapes, count, motion, direction), count conservation, identity persistence and passing everything.

    python bench/recaption.py [--model models/tessera-world-s] [--clips 64] [--set in-dist|ood|held-out] [--no-colour]
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from tessera.eval.score import score_clip
from tessera.pipeline import TextToVideoPipeline
from tessera.world import sample_clip

SHAPE_WORDS = {"circle": ("ball", "circle"), "square": ("square", "box"), "triangle": ("triangle", "wedge")}
VERBS = {
    "fall": "falling",
    "slide": "sliding",
    "drift": "drifting",
    "collide": "colliding",
    "rest": "resting",
    "throw": "thrown in an arc",
    "occlude": "passing behind a pillar",
}


def short_prompt(record: dict, rng: np.random.Generator, colour: bool = True) -> str:
    """What a user might type for the clip: no sizes, no background, the motion as a verb (and, with ``colour``
    False, no colours: "ball and box colliding")."""
    objects = record["objects"]
    names = [(f"{o['colour']} " if colour else "") + SHAPE_WORDS[o["shape"]][int(rng.integers(2))] for o in objects]
    scene = record["scene"]
    text = " and ".join(names) + " " + VERBS[scene["motion"]]
    if len(objects) == 1 and scene["motion"] in ("slide", "throw") and scene.get("direction") in ("left", "right"):
        text += f" to the {scene['direction']}"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/tessera-world-s")
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--set", default="in-dist", help="the world split whose clips the prompts describe")
    ap.add_argument("--no-colour", action="store_true", help="short prompts name no colours ('ball falling')")
    args = ap.parse_args()
    pipe = TextToVideoPipeline.from_pretrained(args.model)
    rng = np.random.default_rng(0)
    results: dict[str, list[dict]] = {"as typed": [], "re-captioned": []}
    changed, t0 = 0, time.perf_counter()
    for seed in range(args.clips):
        short = short_prompt(sample_clip(seed, args.set).record, rng, colour=not args.no_colour)
        for name, recaption in (("as typed", False), ("re-captioned", True)):
            out = pipe(short, num_frames=17, height=64, width=64, seed=seed, recaption=recaption)
            changed += recaption and out.prompts[0] != short
            results[name].append(score_clip(out.frames[0], out.fps, short))
    print(
        f"{args.clips} short prompts ({args.set}), {changed} re-captioned, {time.perf_counter() - t0:.0f} s; "
        f"model {args.model}"
    )
    print(f"{'':14}{'pass all':>10}{'adherence':>11}{'count cons.':>13}{'identity':>10}   adherence checks")
    for name, scores in results.items():
        checks = collections.defaultdict(list)
        for s in scores:
            for key, ok in s["metrics"]["prompt_adherence"].get("checks", {}).items():
                checks[key.split(".")[-1]].append(ok)
        passed = {m: sum(s["metrics"][m]["passed"] for s in scores) for m in scores[0]["metrics"]}
        print(
            f"{name:14}{sum(s['passed_all'] for s in scores):>10}{passed['prompt_adherence']:>11}"
            f"{passed['count_conservation']:>13}{passed['identity_persistence']:>10}   "
            + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(checks.items()))
        )


if __name__ == "__main__":
    main()
