"""Rigid-body simulation of a :class:`Scene` with pymunk, sampled at the clip's frame times.

The simulator steps at >= 240 Hz whatever the frame rate, so trajectories (and bounce counts) do not
depend on fps. Contacts are recorded as events with their time and impact speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pymunk

from tessera.world.palette import FLOOR_TOP, polygon
from tessera.world.spec import Scene

PHYSICS_HZ = 240
MIN_EVENT_SPEED = 0.2  # m/s: slower contacts are resting contact, not events
_OBJECT, _FLOOR, _WALL = 1, 2, 3


@dataclass
class Trajectory:
    """Per-frame state of every object: arrays shaped (objects, frames[, 2]), SI units, y up."""

    time: np.ndarray  # (T,)
    position: np.ndarray  # (N, T, 2)
    velocity: np.ndarray  # (N, T, 2)
    angle: np.ndarray  # (N, T)
    spin: np.ndarray  # (N, T)
    events: list[dict] = field(default_factory=list)


def _static_box(space: pymunk.Space, x0: float, y0: float, x1: float, y1: float, kind: int) -> None:
    shape = pymunk.Poly(space.static_body, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    shape.elasticity = 1.0
    shape.friction = 1.0 if kind == _FLOOR else 0.0
    shape.collision_type = kind
    space.add(shape)


def _build(scene: Scene) -> tuple[pymunk.Space, list[pymunk.Body]]:
    space = pymunk.Space()
    space.gravity = (0.0, -scene.gravity)
    space.iterations = 30
    space.collision_slop = 0.002  # metres; pymunk's default of 0.1 would let objects sink visibly
    w, h = scene.world_width, scene.world_height
    thick = 5.0  # thick static boxes so fast objects cannot tunnel through
    _static_box(space, -thick, FLOOR_TOP - thick, w + thick, FLOOR_TOP, _FLOOR)
    if scene.walls:
        _static_box(space, -thick, FLOOR_TOP - thick, 0.0, h + 50.0, _WALL)
        _static_box(space, w, FLOOR_TOP - thick, w + thick, h + 50.0, _WALL)
        if scene.gravity == 0:
            _static_box(space, -thick, h, w + thick, h + thick, _WALL)

    # Sliding scenes use bodies that cannot rotate, so a ball slides and friction stops it (rolling
    # would never stop without rolling resistance, which pymunk does not model).
    no_rotation = scene.motion in ("slide", "collide", "occlude")
    bodies = []
    for spec in scene.objects:
        r = spec.radius
        mass = math.pi * r * r  # unit density
        if spec.shape == "circle":
            moment = pymunk.moment_for_circle(mass, 0, r)
        else:
            verts = polygon(spec.shape, r)
            moment = pymunk.moment_for_poly(mass, verts)
        body = pymunk.Body(mass, math.inf if no_rotation else moment)
        body.position = (spec.x, spec.y)
        body.velocity = (spec.vx, spec.vy)
        body.angle = spec.angle
        body.angular_velocity = 0.0 if no_rotation else spec.spin
        shape = pymunk.Circle(body, r) if spec.shape == "circle" else pymunk.Poly(body, polygon(spec.shape, r))
        shape.elasticity = scene.restitution
        shape.friction = scene.friction
        shape.collision_type = _OBJECT
        space.add(body, shape)
        bodies.append(body)
    return space, bodies


def simulate(scene: Scene) -> Trajectory:
    """Run the scene for ``scene.frames`` frames at ``scene.fps`` and return the sampled trajectory."""
    space, bodies = _build(scene)
    index = {id(b): i for i, b in enumerate(bodies)}
    substeps = max(1, math.ceil(PHYSICS_HZ / scene.fps))
    dt = 1.0 / (scene.fps * substeps)
    clock = {"t": 0.0}
    events: list[dict] = []

    def on_begin(arbiter: pymunk.Arbiter, _space: pymunk.Space, kind: str) -> None:
        a, b = arbiter.shapes
        n = arbiter.normal
        rel = b.body.velocity - a.body.velocity
        speed = abs(rel.dot(n))
        if speed < MIN_EVENT_SPEED:
            return
        ids = sorted(index[id(s.body)] for s in (a, b) if id(s.body) in index)
        t = clock["t"]
        events.append(
            {
                "type": kind,
                "time": round(t, 5),
                "frame": int(round(t * scene.fps)),
                "objects": ids,
                "speed": round(speed, 4),
            }
        )

    space.on_collision(_OBJECT, _FLOOR, begin=on_begin, data="bounce")
    space.on_collision(_OBJECT, _WALL, begin=on_begin, data="wall")
    space.on_collision(_OBJECT, _OBJECT, begin=on_begin, data="collision")

    n, t_frames = len(bodies), scene.frames
    pos = np.zeros((n, t_frames, 2))
    vel = np.zeros((n, t_frames, 2))
    ang = np.zeros((n, t_frames))
    spin = np.zeros((n, t_frames))
    for k in range(t_frames):
        for i, body in enumerate(bodies):
            pos[i, k] = body.position
            vel[i, k] = body.velocity
            ang[i, k] = body.angle
            spin[i, k] = body.angular_velocity
        if k == t_frames - 1:
            break
        for _ in range(substeps):
            space.step(dt)
            clock["t"] += dt
    events = [e for e in events if e["frame"] < t_frames]
    return Trajectory(np.arange(t_frames) / scene.fps, pos, vel, ang, spin, events)
