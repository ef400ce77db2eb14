"""Procedural scene sampling and the split scheme for generalisation tests.

Splits:
- ``train`` and ``in-dist``: the training distribution (separate random streams, so test clips are unseen);
- ``ood``: gravity or horizontal speeds outside the training ranges;
- ``held-out``: colour x shape x motion combinations that ``train`` never contains;
- ``custom``: anything a user asks for (no exclusions).
Every scene is a pure function of (split, seed, size, frames, fps, constraints).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from tessera.errors import ConfigError
from tessera.world.palette import (
    BACKGROUNDS,
    COLOURS,
    FLOOR_TOP,
    MOTIONS,
    OCCLUDER_COLOURS,
    SCENE_SPAN,
    SHAPES,
    SIZES,
    circumradius,
    half_height,
    half_width,
)
from tessera.world.prompt import ObjectAttrs
from tessera.world.spec import ObjectSpec, Occluder, Scene, check_format

SPLITS = ("train", "in-dist", "ood", "held-out", "custom")
_SPLIT_STREAM = {name: i for i, name in enumerate(SPLITS)}

# (colour, shape, motion) never seen in training; the held-out split is built from exactly these.
HELD_OUT: tuple[tuple[str, str, str], ...] = (
    ("green", "triangle", "fall"),
    ("cyan", "circle", "fall"),
    ("blue", "circle", "throw"),
    ("pink", "triangle", "throw"),
    ("yellow", "square", "slide"),
    ("purple", "triangle", "drift"),
    ("red", "square", "collide"),
    ("orange", "circle", "occlude"),
)
GRAVITY_RANGE = (8.0, 12.0)  # m/s^2 in training
GRAVITY_OOD = ((3.0, 5.5), (15.0, 20.0))
SPEED_OOD = (1.6, 2.0)  # factor on horizontal speeds
MOTION_WEIGHTS = {
    "fall": 0.22,
    "throw": 0.15,
    "slide": 0.14,
    "drift": 0.14,
    "collide": 0.13,
    "occlude": 0.12,
    "rest": 0.10,
}
OBJECT_COUNTS = {
    "fall": (1, 3),
    "drift": (1, 3),
    "rest": (1, 3),
    "collide": (2, 2),
    "throw": (1, 1),
    "slide": (1, 1),
    "occlude": (1, 1),
}
_HELD = {(c, s, m) for c, s, m in HELD_OUT}


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _direction_of(vx: float, vy: float) -> str:
    """8-way compass word for a velocity (y up)."""
    names = ["right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right"]
    return names[int(round(math.atan2(vy, vx) / (math.pi / 4))) % 8]


def _pick_objects(rng, n, motion, split, wanted: list[ObjectAttrs], forced: tuple | None) -> list[tuple]:
    """Choose (shape, colour, size) for n objects: distinct colours, held-out combos only where allowed."""
    chosen: list[tuple[str, str, str]] = []
    for i in range(n):
        want = wanted[i] if i < len(wanted) else ObjectAttrs()
        if i == 0 and forced is not None:
            want = ObjectAttrs(forced[0], forced[1], want.size)
        for _ in range(200):
            colour = want.colour or str(rng.choice(list(COLOURS)))
            shape = want.shape or str(rng.choice(SHAPES))
            sizes = ["small", "medium"] if motion == "occlude" else list(SIZES)  # large ones would start behind it
            size = want.size or str(rng.choice(sizes))
            if any(colour == c for _, c, _ in chosen):
                if want.colour:
                    raise ConfigError(
                        f"more than one object is {colour}; give each object its own colour (the benchmark tells "
                        "objects apart by colour)"
                    )
                continue
            held = (colour, shape, motion) in _HELD
            if held and split != "custom" and not (split == "held-out" and i == 0):
                if want.colour and want.shape:
                    raise ConfigError(f"{colour} {shape} with motion {motion} is held out of split {split!r}")
                continue
            chosen.append((shape, colour, size))
            break
        else:  # pragma: no cover - 200 draws from 9 colours always succeed
            raise ConfigError("could not choose objects for the scene")
    return chosen


def sample_scene(
    seed: int,
    split: str = "train",
    width: int = 64,
    height: int = 64,
    frames: int = 17,
    fps: float = 8.0,
    motion: str | None = None,
    objects: list[ObjectAttrs] | None = None,
    direction: str | None = None,
    background: str | None = None,
) -> Scene:
    """Sample one scene. Constraints (motion, objects' attributes, direction, background) are honoured."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if motion is not None and motion not in MOTIONS:
        raise ConfigError(f"motion must be one of {', '.join(MOTIONS)}; got {motion!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}")
    check_format(width, height, frames, fps)
    rng = np.random.default_rng([_SPLIT_STREAM[split], int(seed)])
    wanted = list(objects or [])

    forced = None
    if split == "held-out":
        options = [h for h in HELD_OUT if motion in (None, h[2])]
        if not options:
            raise ConfigError(f"no held-out combination uses motion {motion!r}")
        forced = options[int(rng.integers(len(options)))]
        motion = forced[2]
    if motion is None:
        names = list(MOTION_WEIGHTS)
        motion = names[int(rng.choice(len(names), p=np.array(list(MOTION_WEIGHTS.values()))))]

    lo, hi = OBJECT_COUNTS[motion]
    if len(wanted) > hi:
        raise ConfigError(f"a {motion} scene holds at most {hi} object(s); the request names {len(wanted)}")
    n = max(len(wanted), int(rng.integers(lo, hi + 1)))
    if wanted and motion not in ("collide",):
        n = len(wanted)
    picks = _pick_objects(rng, n, motion, split, wanted, forced)

    g = _u(rng, *GRAVITY_RANGE)
    speed = 1.0
    meta: dict = {"ood": None, "held_out": list(forced) if forced else None}
    if split == "ood":
        if motion in ("fall", "throw", "rest") or (motion not in ("drift",) and rng.random() < 0.5):
            low, high = GRAVITY_OOD
            rng_range = low if rng.random() < 0.5 else high
            g = _u(rng, *rng_range)
            meta["ood"] = "gravity-low" if rng_range is low else "gravity-high"
        else:
            speed = _u(rng, *SPEED_OOD)
            meta["ood"] = "speed"

    scale = min(width, height) / SCENE_SPAN
    ww, wh = width / scale, height / scale
    duration = max(frames - 1, 1) / fps
    bg = background or str(rng.choice(list(BACKGROUNDS)))
    args = dict(
        width=width, height=height, frames=frames, fps=fps, background=bg, seed=int(seed), split=split, meta=meta
    )
    place = _PLACERS[motion]
    for attempt in range(20):
        try:
            return place(rng, picks, ww, wh, duration, g, speed, direction, args)
        except ConfigError:
            # Objects a prompt asked for must fit as asked; a random draw that is too crowded is drawn again
            # (from the same generator, so every seed still gives one fixed scene).
            if wanted or attempt == 19:
                raise
            picks = _pick_objects(rng, n, motion, split, wanted, forced)


# --------------------------------------------------------------------------------------- placement


def _bound(size: str) -> float:
    return circumradius("triangle", SIZES[size])  # the farthest-reaching shape of this size, at any angle


def _on_floor(shape: str, size: str) -> float:
    return FLOOR_TOP + half_height(shape, SIZES[size]) + 1e-4


def _slots(rng, picks, ww) -> list[float]:
    """Spread objects across the width, one random x per equal slot."""
    n = len(picks)
    xs = []
    for i, (_, _, size) in enumerate(picks):
        lo, hi = ww * i / n + _bound(size) + 0.1, ww * (i + 1) / n - _bound(size) - 0.1
        xs.append(_u(rng, lo, hi) if hi > lo else (lo + hi) / 2)
    return xs


def _lr(rng, direction: str | None) -> int:
    if direction in ("left", "right"):
        return 1 if direction == "right" else -1
    return 1 if rng.random() < 0.5 else -1


def _place_fall(rng, picks, ww, wh, duration, g, speed, direction, args) -> Scene:
    objs = []
    for (shape, colour, size), x in zip(picks, _slots(rng, picks, ww), strict=True):
        r = _bound(size)
        y = _u(rng, FLOOR_TOP + 0.5 * (wh - FLOOR_TOP), wh - r - 0.1)
        vx = _u(rng, 0.3, 1.0) * speed * (1 if rng.random() < 0.5 else -1) if rng.random() < 0.3 else 0.0
        angle = _u(rng, 0, 2 * math.pi) if shape != "circle" and rng.random() < 0.4 else 0.0
        objs.append(ObjectSpec(shape, colour, size, x, y, vx, 0.0, angle))
    return Scene("fall", objs, gravity=g, restitution=_u(rng, 0.45, 0.85), friction=0.5, direction="down", **args)


def _place_throw(rng, picks, ww, wh, duration, g, speed, direction, args) -> Scene:
    ((shape, colour, size),) = picks
    r, sgn = _bound(size), _lr(rng, direction)
    x = r + 0.15 if sgn > 0 else ww - r - 0.15
    y = _u(rng, FLOOR_TOP + r + 0.3, FLOOR_TOP + 1.5)
    vx = sgn * _u(rng, 1.6, 3.0) * math.sqrt(ww / SCENE_SPAN) * speed * 2.0 / max(duration, 1.0) ** 0.5
    vy = _u(rng, 3.0, 5.5)
    vy = min(vy, math.sqrt(max(2 * g * (wh - 0.1 - r - y), 0.25)))  # keep the apex inside the frame
    spin = _u(rng, -3, 3) if shape != "circle" else 0.0
    obj = ObjectSpec(shape, colour, size, x, y, vx, vy, 0.0, spin)
    return Scene(
        "throw",
        [obj],
        gravity=g,
        restitution=_u(rng, 0.3, 0.7),
        friction=0.5,
        direction="right" if sgn > 0 else "left",
        **args,
    )


def _place_slide(rng, picks, ww, wh, duration, g, speed, direction, args) -> Scene:
    ((shape, colour, size),) = picks
    r, sgn = _bound(size), _lr(rng, direction)
    x = r + 0.15 if sgn > 0 else ww - r - 0.15
    room = ww - 2 * r - 0.3
    t_stop = _u(rng, 0.35, 0.7) * duration / speed
    v = _u(rng, 2.0, 4.0) * speed
    v = min(v, 2 * 0.85 * room / t_stop)  # stop before the far wall
    mu = v / (g * t_stop)  # Coulomb friction decelerates at mu * g
    obj = ObjectSpec(shape, colour, size, x, _on_floor(shape, size), sgn * v, 0.0)
    return Scene(
        "slide", [obj], gravity=g, restitution=0.2, friction=mu, direction="right" if sgn > 0 else "left", **args
    )


def _scatter(rng, picks, ww, wh) -> list[tuple[float, float]]:
    """Non-overlapping positions in the air for all objects, drawn jointly (a bad first pick is redrawn)."""
    radii = [circumradius(shape, SIZES[size]) for shape, _, size in picks]
    for _ in range(500):
        pts = [(_u(rng, r + 0.1, ww - r - 0.1), _u(rng, FLOOR_TOP + r + 0.1, wh - r - 0.1)) for r in radii]
        if all(math.dist(pts[i], pts[j]) > radii[i] + radii[j] + 0.1 for i in range(len(pts)) for j in range(i)):
            return pts
    raise ConfigError(f"could not fit {len(picks)} objects of these sizes into a {ww:.1f}x{wh:.1f} m scene")


def _place_drift(rng, picks, ww, wh, duration, g, speed, direction, args) -> Scene:
    objs: list[ObjectSpec] = []
    for (shape, colour, size), (x, y) in zip(picks, _scatter(rng, picks, ww, wh), strict=True):
        v = _u(rng, 1.0, 2.5) * speed
        if direction and len(picks) == 1 and direction in _ANGLES:
            theta = _ANGLES[direction] + _u(rng, -0.25, 0.25)
        else:
            theta = _u(rng, 0, 2 * math.pi)
        angle = _u(rng, 0, 2 * math.pi) if shape != "circle" else 0.0
        objs.append(ObjectSpec(shape, colour, size, x, y, v * math.cos(theta), v * math.sin(theta), angle))
    d = _direction_of(objs[0].vx, objs[0].vy) if len(objs) == 1 else None
    return Scene("drift", objs, gravity=0.0, restitution=1.0, friction=0.0, direction=d, **args)


_ANGLES = {
    "right": 0.0,
    "up-right": math.pi / 4,
    "up": math.pi / 2,
    "up-left": 3 * math.pi / 4,
    "left": math.pi,
    "down-left": 5 * math.pi / 4,
    "down": 3 * math.pi / 2,
    "down-right": 7 * math.pi / 4,
}


def _place_collide(rng, picks, ww, wh, duration, g, speed, direction, args) -> Scene:
    (s0, c0, z0), (s1, c1, z1) = picks
    x0 = _u(rng, _bound(z0) + 0.2, 0.3 * ww)
    x1 = _u(rng, 0.7 * ww, ww - _bound(z1) - 0.2)
    mode = int(rng.integers(3)) if direction not in ("left", "right") else (1 if direction == "right" else 2)
    v0 = _u(rng, 1.0, 2.5) * speed if mode in (0, 1) else 0.0  # 0: both move, 1: left one, 2: right one
    v1 = -_u(rng, 1.0, 2.5) * speed if mode in (0, 2) else 0.0
    gap = (x1 - x0) - _bound(z0) - _bound(z1)
    closing = v0 - v1
    if gap / closing > 0.6 * duration:  # make sure they meet well inside the clip
        k = gap / (closing * 0.6 * duration)
        v0, v1 = v0 * k, v1 * k
    pair_e = _u(rng, 0.5, 1.0)
    objs = [ObjectSpec(s0, c0, z0, x0, _on_floor(s0, z0), v0), ObjectSpec(s1, c1, z1, x1, _on_floor(s1, z1), v1)]
    d = {0: None, 1: "right", 2: "left"}[mode]
    # Both objects carry sqrt(e) so their pair restitution (pymunk multiplies) is e.
    return Scene("collide", objs, gravity=g, restitution=math.sqrt(pair_e), friction=0.0, direction=d, **args)


def _place_occlude(rng, picks, ww, wh, duration, g, speed, direction, args) -> Scene:
    ((shape, colour, size),) = picks
    hw, sgn = half_width(shape, SIZES[size]), _lr(rng, direction)
    occ_w = 2 * hw + _u(rng, 0.2, 0.4)  # wide enough to hide the object completely
    occ = Occluder(ww / 2 + _u(rng, -0.15, 0.15), occ_w, _u(rng, 1.8, 3.0), str(rng.choice(list(OCCLUDER_COLOURS))))
    # Start in full view on one side, end in full view on the other: it must re-emerge inside the clip.
    x0 = hw + 0.1 if sgn > 0 else ww - hw - 0.1
    exit_x = occ.x + sgn * (occ_w / 2 + hw + 0.05)
    far = ww - hw - 0.1 if sgn > 0 else hw + 0.1
    x_end = exit_x + _u(rng, 0.0, 1.0) * max(0.0, (far - exit_x) * sgn) * sgn
    v = abs(x_end - x0) / duration * speed
    obj = ObjectSpec(shape, colour, size, x0, _on_floor(shape, size), sgn * v)
    # No walls: a fast (out-of-range) object leaves the frame rather than passing behind the pillar twice.
    return Scene(
        "occlude",
        [obj],
        gravity=g,
        restitution=1.0,
        friction=0.0,
        occluder=occ,
        walls=False,
        direction="right" if sgn > 0 else "left",
        **args,
    )


def _place_rest(rng, picks, ww, wh, duration, g, speed, direction, args) -> Scene:
    objs = [ObjectSpec(s, c, z, x, _on_floor(s, z)) for (s, c, z), x in zip(picks, _slots(rng, picks, ww), strict=True)]
    return Scene("rest", objs, gravity=g, restitution=0.3, friction=0.8, **args)


_PLACERS = {
    "fall": _place_fall,
    "throw": _place_throw,
    "slide": _place_slide,
    "drift": _place_drift,
    "collide": _place_collide,
    "occlude": _place_occlude,
    "rest": _place_rest,
}
