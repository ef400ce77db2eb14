"""A clip: rendered frames, a caption, and the simulator's exact structured record."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.errors import InvalidInputError
from tessera.world.caption import COLOUR_WORDS, SHAPE_WORDS
from tessera.world.caption import caption as write_caption
from tessera.world.palette import FLOOR_TOP
from tessera.world.prompt import MOTION_WORDS, PromptSpec, parse_prompt, unread_count
from tessera.world.render import render
from tessera.world.sampler import _SPLIT_STREAM, sample_scene
from tessera.world.simulate import simulate
from tessera.world.spec import Scene

RECORD_VERSION = 1
OCCLUSION_THRESHOLD = 0.02  # share of an object's area behind the occluder that counts as occluded


@dataclass
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float
    caption: str
    record: dict


def _intervals(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) frame pairs where mask turns on and off again; end = len(mask) if it never does."""
    out, start = [], None
    for k, on in enumerate(mask):
        if on and start is None:
            start = k
        elif not on and start is not None:
            out.append((start, k))
            start = None
    if start is not None:
        out.append((start, len(mask)))
    return out


def _occlusion_events(occluded: np.ndarray) -> list[dict]:
    events = []
    for i, row in enumerate(occluded):
        for kind, mask in (("occlusion", row > OCCLUSION_THRESHOLD), ("hidden", row > 1 - OCCLUSION_THRESHOLD)):
            for start, end in _intervals(mask):
                events.append({"type": f"{kind}_start", "frame": start, "objects": [i]})
                if end < len(row):
                    events.append({"type": f"{kind}_end", "frame": end, "objects": [i]})
    return events


def _r(a: np.ndarray, nd: int = 4) -> list:
    return np.round(a, nd).tolist()


def make_clip(scene: Scene, caption: str | None = None) -> Clip:
    """Simulate and render ``scene``; write a caption from what happened unless one is given."""
    traj = simulate(scene)
    drawn = render(scene, traj)
    if caption is None:
        caption = write_caption(scene, traj, np.random.default_rng([_SPLIT_STREAM[scene.split], scene.seed, 1]))
    events = sorted(traj.events + _occlusion_events(drawn.occluded), key=lambda e: (e["frame"], e["type"]))
    record = {
        "version": RECORD_VERSION,
        "caption": caption,
        "scene": scene.to_dict(),
        "geometry": {
            "scale": scene.scale,
            "world_width": scene.world_width,
            "world_height": scene.world_height,
            "floor_top": FLOOR_TOP,
            "units": "metres, seconds; y up; pixel = (x*scale, height - y*scale)",
        },
        "objects": [
            {"id": i, "shape": o.shape, "colour": o.colour, "size": o.size, "radius": o.radius}
            for i, o in enumerate(scene.objects)
        ],
        "time": _r(traj.time, 5),
        "position": _r(traj.position),
        "velocity": _r(traj.velocity),
        "angle": _r(traj.angle),
        "spin": _r(traj.spin),
        "visible": _r(drawn.visible, 3),
        "occluded": _r(drawn.occluded, 3),
        "events": events,
    }
    return Clip(drawn.frames, scene.fps, caption, record)


def sample_clip(
    seed: int,
    split: str = "train",
    width: int = 64,
    height: int = 64,
    frames: int = 17,
    fps: float = 8.0,
    prompt: str | None = None,
    motion: str | None = None,
) -> Clip:
    """Sample a scene (optionally constrained by a world-style prompt) and make its clip.

    With a prompt, the clip's caption is the prompt itself, so a user's words stay attached to the clip.
    """
    constraints = {}
    if prompt:
        spec = parse_prompt(prompt)
        if spec == PromptSpec():  # a random scene captioned with words it does not show would be a wrong label
            raise InvalidInputError(
                f"the world recognised nothing in {prompt[:80]!r}: it makes {', '.join(SHAPE_WORDS)} shapes in "
                f"{', '.join(COLOUR_WORDS)} that {', '.join(name for name, _ in MOTION_WORDS)}; say e.g. "
                "'a red ball falls and bounces on the floor', or '' for a random scene"
            )
        if unread := unread_count(prompt):  # else "12 green squares" made one, captioned as twelve
            raise InvalidInputError(
                f"the world cannot show {unread!r}: a scene holds one to three objects, each of its own colour, "
                "e.g. 'two balls fall' or 'a red ball and a blue ball fall'"
            )
        constraints = {
            "motion": spec.motion,
            "objects": spec.objects,
            "direction": spec.direction,
            "background": spec.background,
        }
    if motion is not None:
        constraints["motion"] = motion
    scene = sample_scene(seed, split, width, height, frames, fps, **constraints)
    return make_clip(scene, caption=prompt or None)
