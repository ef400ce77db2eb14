"""Natural captions for simulated clips, written from what actually happened (bounces, stops, collisions).

Word choices are drawn from synonym tables with a seeded generator, so the text encoder sees real, varied
sentences while every caption stays parseable by :mod:`tessera.world.prompt` (which reads the same tables).
"""

from __future__ import annotations

import numpy as np

from tessera.world.simulate import Trajectory
from tessera.world.spec import Scene

SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("ball", "circle", "disc", "round ball"),
    "square": ("square", "box", "block", "cube"),
    "triangle": ("triangle", "triangular block", "wedge", "pyramid"),
}
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little", "tiny"),
    "medium": ("medium", "medium-sized", "mid-sized"),
    "large": ("large", "big", "huge"),
}
COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("red",),
    "orange": ("orange",),
    "yellow": ("yellow",),
    "green": ("green",),
    "cyan": ("cyan",),
    "blue": ("blue",),
    "purple": ("purple", "violet"),
    "pink": ("pink",),
    "white": ("white",),
}
BACKGROUND_WORDS: dict[str, tuple[str, ...]] = {
    "black": ("on a black background", "in a dark room", "against black"),
    "charcoal": ("on a charcoal background", "against a dark gray wall"),
    "navy": ("on a navy background", "against a dark blue sky"),
    "dark green": ("on a dark green background", "against a dark green wall"),
}
DIRECTION_WORDS: dict[str, tuple[str, ...]] = {
    "left": ("to the left", "leftwards"),
    "right": ("to the right", "rightwards"),
    "up": ("upwards",),
    "down": ("downwards",),
    "up-left": ("up and to the left",),
    "up-right": ("up and to the right",),
    "down-left": ("down and to the left",),
    "down-right": ("down and to the right",),
}
COUNT_WORDS = {1: "once", 2: "twice", 3: "three times"}
CAPTION_BOUNCE_SPEED = 1.0  # m/s: a floor contact this hard reads as a bounce to a viewer


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def object_phrase(rng: np.random.Generator, shape: str, colour: str, size: str, article: str = "a") -> str:
    size_w = _pick(rng, SIZE_WORDS[size])
    words = [size_w, _pick(rng, COLOUR_WORDS[colour]), _pick(rng, SHAPE_WORDS[shape])]
    if article == "a" and words[0][0] in "aeiou":
        article = "an"
    return f"{article} {' '.join(words)}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _floor_bounces(traj: Trajectory, i: int) -> int:
    return sum(
        1 for e in traj.events if e["type"] == "bounce" and e["objects"] == [i] and e["speed"] >= CAPTION_BOUNCE_SPEED
    )


def _stopped(traj: Trajectory, i: int) -> bool:
    return bool(np.linalg.norm(traj.velocity[i, -1]) < 0.05)


def caption(scene: Scene, traj: Trajectory, rng: np.random.Generator) -> str:
    """One sentence describing the clip, consistent with the simulated trajectory."""
    objs = scene.objects
    phrases = [object_phrase(rng, o.shape, o.colour, o.size) for o in objs]
    subject = _join(phrases)
    plural = len(objs) > 1
    v = lambda one, many: many if plural else one  # noqa: E731 - verb agreement
    direction = DIRECTION_WORDS.get(scene.direction or "", ("",))
    m = scene.motion
    if m == "fall":
        b = max(_floor_bounces(traj, i) for i in range(len(objs)))
        verb = _pick(rng, [v("falls", "fall"), v("drops", "drop"), v("is dropped and falls", "are dropped and fall")])
        if b == 0:
            rest = _pick(rng, [" onto the floor", " to the ground and lands"])
        else:
            times = COUNT_WORDS.get(b, "several times")
            rest = _pick(
                rng, [f" onto the floor and {v('bounces', 'bounce')} {times}", f" to the ground, bouncing {times}"]
            )
        sentence = f"{subject} {verb}{rest}"
    elif m == "throw":
        verb = _pick(rng, ["is thrown", "is tossed", "is launched"])
        arc = _pick(rng, [" in an arc", " through the air", ""])
        land = " and lands on the floor" if _floor_bounces(traj, 0) > 0 or traj.events else ""
        sentence = f"{subject} {verb} {_pick(rng, direction)}{arc}{land}"
    elif m == "slide":
        verb = _pick(rng, ["slides", "skids", "glides"])
        stop = (
            _pick(rng, [" and stops", " and comes to a stop", " until friction stops it"]) if _stopped(traj, 0) else ""
        )
        sentence = f"{subject} {verb} {_pick(rng, direction)} along the floor{stop}"
    elif m == "drift":
        verb = _pick(rng, [v("drifts", "drift"), v("floats", "float"), v("glides", "glide")])
        walls = any(e["type"] == "wall" or e["type"] == "bounce" for e in traj.events)
        if plural:
            sentence = f"{subject} {verb} in different directions at a steady speed"
        else:
            sentence = f"{subject} {verb} {_pick(rng, direction)} at a steady speed"
        if walls:
            sentence += _pick(rng, [", bouncing off the walls", f" and {v('bounces', 'bounce')} off the walls"])
    elif m == "collide":
        moving = [i for i in range(2) if abs(scene.objects[i].vx) > 0.1]
        if len(moving) == 2:
            sentence = f"{subject} {_pick(rng, ['slide toward each other and collide', 'move together and crash'])}"
        else:
            mover, other = (0, 1) if moving == [0] else (1, 0)
            sentence = (
                f"{phrases[mover]} {_pick(rng, ['slides', 'moves'])} {_pick(rng, direction)} and "
                f"{_pick(rng, ['hits', 'crashes into', 'collides with'])} "
                f"{object_phrase(rng, objs[other].shape, objs[other].colour, objs[other].size)}"
            )
    elif m == "occlude":
        pillar = f"{scene.occluder.colour} {_pick(rng, ['pillar', 'wall', 'post'])}" if scene.occluder else "pillar"
        verb = _pick(rng, ["moves", "slides", "travels"])
        sentence = (
            f"{subject} {verb} {_pick(rng, direction)} behind a {pillar} and "
            f"{_pick(rng, ['comes out the other side', 'reappears on the other side', 'emerges again'])}"
        )
    else:  # rest
        verb = _pick(rng, [v("rests", "rest"), v("sits", "sit"), v("stays", "stay")])
        sentence = f"{subject} {verb} still on the floor"
    if rng.random() < 0.4:
        sentence += " " + _pick(rng, BACKGROUND_WORDS[scene.background])
    return sentence
