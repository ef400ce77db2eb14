"""Physics and consistency metrics for one clip, computed from parsed tracks (and ground truth if known).

Each metric returns a :class:`Metric` with a score in [0, 1] (1 is perfect), a pass/fail verdict against a
threshold set on ground-truth renders (tests/eval), the measured numbers, and ``None`` as score where the
metric does not apply to the clip (e.g. gravity when nothing is in free flight). Pixel coordinates, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tessera.eval.parse import ParsedClip, Track
from tessera.world.palette import SIZES
from tessera.world.prompt import PromptSpec
from tessera.world.sampler import GRAVITY_RANGE


@dataclass
class Metric:
    name: str
    score: float | None  # None: not applicable to this clip
    passed: bool
    detail: dict = field(default_factory=dict)


@dataclass
class Expectation:
    """What the clip should show: from its prompt, and from the simulator's record when one exists."""

    prompt: PromptSpec
    record: dict | None = None
    start_fixed: bool = False  # the clip starts from the record's state (ground truth, image-to-video)

    @property
    def motion(self) -> str | None:
        return self.record["scene"]["motion"] if self.record else self.prompt.motion


def _na(name: str, why: str) -> Metric:
    return Metric(name, None, True, {"not_applicable": why})


def _on_floor(pc: ParsedClip, tr: Track) -> np.ndarray:
    return tr.present & (tr.bbox[:, 3] + 1 >= pc.floor_px - 1.0)


def _vanish_appear(tr: Track) -> tuple[list[tuple[int, bool]], list[tuple[int, bool]]]:
    """(frame, explained) for each disappearance and appearance; explained = at a frame edge or the pillar."""
    vanish, appear = [], []
    for k in range(1, len(tr.present)):
        if tr.present[k - 1] and not tr.present[k]:
            vanish.append((k, not tr.clear[k - 1]))
        if tr.present[k] and not tr.present[k - 1]:
            appear.append((k, not tr.clear[k]))
    return vanish, appear


def count_conservation(pc: ParsedClip, ex: Expectation) -> Metric:
    """Objects appear or vanish only at a frame edge or behind the pillar, and never split into two."""
    t = len(pc.labels)
    bad = np.zeros(t, bool)
    events = []
    for tr in pc.tracks.values():
        vanish, appear = _vanish_appear(tr)
        for k, ok in vanish + appear:
            if not ok:
                bad[k] = True
                events.append({"colour": tr.colour, "frame": k})
        bad |= tr.components > 1
    # A clip that never shows the objects it should (or shows extra ones) has not conserved them either;
    # without this, an empty or noise video would pass vacuously.
    expected = len(ex.record["objects"]) if ex.record else len(ex.prompt.objects)
    seen = sum(bool(tr.present.any()) for tr in pc.tracks.values())
    wrong_count = bool(expected) and seen != expected
    score = 0.0 if wrong_count else 1 - bad.mean()
    return Metric(
        "count_conservation",
        score,
        not bad.any() and not wrong_count,
        {
            "unexplained": events,
            "duplicate_frames": int(sum((tr.components > 1).sum() for tr in pc.tracks.values())),
            "objects_seen": seen,
            "objects_expected": expected,
        },
    )


def identity_persistence(pc: ParsedClip, ex: Expectation) -> Metric:
    """Each object keeps its shape and size, and no object turns into another colour in place.

    The detail says, per object, which of the two it kept: ``shape_agreement`` (share of its full views read as
    its most common shape) and ``steady_size`` (share within 25% of its median area), so a report shows whether a
    failure is a shape read differently from frame to frame or an object that grows and shrinks.
    """
    scores, switches, objects = [], [], {}
    for tr in pc.tracks.values():
        full = tr.clear & (tr.area >= 0.85 * tr.area[tr.clear].max()) if tr.clear.any() else tr.clear
        shapes = [s for s in tr.shape[full] if s]
        kept = {}
        if shapes:
            mode = max(set(shapes), key=shapes.count)
            kept["shape"], kept["shape_agreement"] = mode, shapes.count(mode) / len(shapes)
            scores.append(kept["shape_agreement"])
        if full.sum() >= 2:
            med = np.median(tr.area[full])
            kept["steady_size"] = float(np.mean(np.abs(tr.area[full] / med - 1) <= 0.25))
            scores.append(kept["steady_size"])
        if kept:
            objects[tr.colour] = kept
    gone = [(tr, k) for tr in pc.tracks.values() for k, ok in _vanish_appear(tr)[0] if not ok]
    born = [(tr, k) for tr in pc.tracks.values() for k, ok in _vanish_appear(tr)[1] if not ok]
    for a, ka in gone:
        for b, kb in born:
            near = (
                math.hypot(a.cx[ka - 1] - b.cx[kb], a.cy[ka - 1] - b.cy[kb])
                <= 2 * math.sqrt(a.area[ka - 1] / math.pi) + 2
            )
            if a is not b and abs(ka - kb) <= 1 and near:
                switches.append({"from": a.colour, "to": b.colour, "frame": kb})
    score = 0.0 if switches else (min(scores) if scores else 1.0)
    return Metric(
        "identity_persistence", score, score >= 0.9 and not switches, {"colour_switches": switches, "objects": objects}
    )


def _px_state(pc: ParsedClip, rec: dict, i: int) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(rec["position"][i])
    vel = np.asarray(rec["velocity"][i])
    xy = np.stack([pos[:, 0] * pc.scale, pc.height - pos[:, 1] * pc.scale], 1)
    v = np.stack([vel[:, 0], -vel[:, 1]], 1) * pc.scale / pc.fps  # pixels per frame
    return xy, v


def trajectory_error(pc: ParsedClip, ex: Expectation) -> Metric:
    """Centroid position and velocity error against the simulator (in pixels and as a share of the frame).

    With a fixed start (ground truth, image-to-video) the record is compared directly; for text-to-video the
    start is free, so the world is re-simulated from the state parsed in the first two frames.
    """
    if ex.record is None or not ex.start_fixed:
        rec = _resimulate(pc, ex)
        if rec is None:
            return _na("trajectory_error", "no simulator state to compare with")
    else:
        rec = ex.record
    pos_err, vel_err = [], []
    for i, obj in enumerate(rec["objects"]):
        tr = pc.tracks.get(obj["colour"])
        if tr is None:
            continue
        xy, _ = _px_state(pc, rec, i)
        vis = np.asarray(rec["visible"][i]) > 0.99
        ok = tr.clear & vis[: len(tr.clear)]
        ks = np.flatnonzero(ok)
        pos_err += list(np.hypot(tr.cx[ks] - xy[ks, 0], tr.cy[ks] - xy[ks, 1]))
        for k in ks:
            if 0 < k < len(ok) - 1 and ok[k - 1] and ok[k + 1]:
                # The same centred difference on both sides: a bounce between frames changes the simulator's
                # instantaneous velocity, which no pair of frames could show.
                d = np.array([tr.cx[k + 1] - tr.cx[k - 1], tr.cy[k + 1] - tr.cy[k - 1]]) / 2
                vel_err.append(float(np.hypot(*(d - (xy[k + 1] - xy[k - 1]) / 2))))
    if not pos_err:
        return _na("trajectory_error", "no object of the record was seen clearly")
    side = min(pc.height, pc.width)
    mean_pos = float(np.mean(pos_err))
    med_vel = float(np.median(vel_err)) if vel_err else 0.0
    limit = 0.02 * side if ex.start_fixed else 0.06 * side
    score = max(0.0, 1 - mean_pos / (5 * limit))
    return Metric(
        "trajectory_error",
        score,
        mean_pos <= limit and med_vel <= limit / 2,
        {
            "position_px": mean_pos,
            "position_share": mean_pos / side,
            "velocity_px_per_frame": med_vel,
            "compared_with": "record" if ex.start_fixed else "re-simulation",
        },
    )


def _resimulate(pc: ParsedClip, ex: Expectation) -> dict | None:
    """Re-simulate the scene from the objects' state in frames 0 and 1 (mid-range physical constants)."""
    from tessera.world import ObjectSpec, Scene, make_clip

    motion = ex.motion
    if motion is None or pc.labels.shape[0] < 2:  # a still has no second frame to take velocities from
        return None
    g = 0.0 if motion == "drift" else ex.record["scene"]["gravity"] if ex.record else sum(GRAVITY_RANGE) / 2
    objs = []
    for tr in pc.tracks.values():
        if not (tr.clear[0] and tr.clear[1]):
            continue
        dt = 1 / pc.fps
        vx = (tr.cx[1] - tr.cx[0]) / pc.scale / dt
        vy = -(tr.cy[1] - tr.cy[0]) / pc.scale / dt + g * dt / 2  # centred difference, gravity corrected
        shape = _shape(tr) or "circle"
        objs.append(
            ObjectSpec(
                shape, tr.colour, size_class(pc, tr), tr.cx[0] / pc.scale, (pc.height - tr.cy[0]) / pc.scale, vx, vy
            )
        )
    if not 1 <= len(objs) <= 3:
        return None
    base = ex.record["scene"] if ex.record else {}
    scene = Scene(
        motion,
        objs,
        pc.width,
        pc.height,
        len(pc.labels),
        pc.fps,
        gravity=g,
        restitution=base.get("restitution", 0.65),
        friction=base.get("friction", 0.5),
        walls=base.get("walls", True),
    )
    return make_clip(scene, caption="").record


def size_class(pc: ParsedClip, tr: Track) -> str:
    """small/medium/large from the object's area in square metres (hard mask plus half its edge)."""
    full = tr.clear if tr.clear.any() else tr.present
    area = float(np.median(tr.area[full])) + math.pi * math.sqrt(float(np.median(tr.area[full])) / math.pi)
    r = math.sqrt(area / math.pi) / pc.scale
    return min(SIZES, key=lambda s: abs(math.log(SIZES[s] / r)))


def _segments(pc: ParsedClip, tr: Track) -> list[np.ndarray]:
    """Runs of >= 4 frames in free flight: clearly visible, off the floor, no contact inside.

    A contact (floor, wall, another object) is an impulse: the second difference of the centroid departs
    from the steady value gravity gives (the track's median). A bounce between two frames need not reverse
    the sign of motion from one frame to the next, so the sign alone would miss it.
    """
    air = tr.clear & ~_on_floor(pc, tr)
    cut = np.zeros(len(air), bool)
    for c in (tr.cx, tr.cy):
        d2 = c[2:] - 2 * c[1:-1] + c[:-2]  # at frames 1..T-2
        ok = np.isfinite(d2)
        if ok.sum() >= 2:
            cut[1:-1] |= ok & (np.abs(d2 - np.median(d2[ok])) > 0.75)
    runs, cur = [], []
    for k in [*range(len(air)), None]:
        if k is not None and air[k] and not cut[k]:
            cur.append(k)
            continue
        # An object resting on another one is off the floor but not flying: a run must move.
        if len(cur) >= 4 and np.ptp(tr.cy[cur]) >= 1.0:
            runs.append(np.array(cur))
        cur = []
    return runs


def _fit_g(pc: ParsedClip, ks: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    coef = np.polyfit(ks, y, 2)
    resid = y - np.polyval(coef, ks)
    return 2 * coef[0] * pc.fps**2 / pc.scale, float(np.sqrt(np.mean(resid**2)))


def gravity(pc: ParsedClip, ex: Expectation) -> Metric:
    """Fit parabolas to free-flight segments: fitted g (m/s^2, down) against the world's, and fit residual."""
    fits = []
    for tr in pc.tracks.values():
        for ks in _segments(pc, tr):
            fits.append(_fit_g(pc, ks, tr.cy[ks]))
    if not fits:
        return _na("gravity", "no free-flight segment of 4 or more frames")
    g_fit = float(np.median([f[0] for f in fits]))
    resid = float(np.median([f[1] for f in fits]))
    if ex.record is not None:
        g_true = ex.record["scene"]["gravity"]
        ok = abs(g_fit - g_true) <= 0.1 * g_true + 0.75
    elif ex.motion == "drift":
        g_true, ok = 0.0, abs(g_fit) <= 1.0
    else:
        g_true = sum(GRAVITY_RANGE) / 2
        ok = 0.85 * GRAVITY_RANGE[0] <= g_fit <= 1.15 * GRAVITY_RANGE[1]
    ok = ok and resid <= 0.35
    score = max(0.0, 1 - abs(g_fit - g_true) / max(g_true, 2.0))
    return Metric(
        "gravity", score, ok, {"g_fit": g_fit, "g_world": g_true, "residual_px": resid, "segments": len(fits)}
    )


def _near_wall(pc: ParsedClip, trs, k0: int, k1: int) -> bool:
    """Could an object reach a side wall (the frame edge) in the frames around a collision? Within one
    frame's travel of the edge, a wall bounce may hide between two frames."""
    for tr in trs:
        for k in range(k0 - 2, k1 + 3):
            step = abs(tr.cx[min(k + 1, len(tr.cx) - 1)] - tr.cx[k]) + 1.5
            if tr.bbox[k, 0] <= step or tr.bbox[k, 2] >= pc.width - 1 - step:
                return True
    return False


def bounce_and_momentum(pc: ParsedClip, ex: Expectation) -> Metric:
    """Restitution at floor bounces (speed out / speed in from parabolas on each side, <= 1: no energy
    gain) and horizontal momentum (area x velocity) across object collisions."""
    g_m = gravity(pc, ex).detail.get("g_fit")
    es, momenta = [], []
    for tr in pc.tracks.values():
        segs = _segments(pc, tr)
        full = tr.clear & ~_on_floor(pc, tr)
        if g_m is None or g_m < 2.0 or not full.any():
            continue  # restitution at the floor is read off gravity parabolas
        a = g_m * pc.scale / pc.fps**2 / 2
        half = float(np.median(tr.bbox[full, 3] + 1 - tr.cy[full]))
        y_c = pc.floor_px - half
        for s0, s1 in zip(segs, segs[1:], strict=False):
            if s1[0] - s0[-1] > 3:
                continue
            # A floor bounce turns falling into rising; a wall hit between two segments does not.
            if not (tr.cy[s0[-1]] > tr.cy[s0[-2]] and tr.cy[s1[1]] < tr.cy[s1[0]]):
                continue
            speeds = []
            for ks in (s0, s1):
                b, c = np.polyfit(ks, tr.cy[ks] - a * ks**2, 1)
                disc = b * b - 4 * a * (c - y_c)
                speeds.append(math.sqrt(disc) if disc > 0 else None)
            if None not in speeds:
                es.append((speeds[1] / speeds[0], tr.colour))
    tracks = [tr for tr in pc.tracks.values() if _on_floor(pc, tr).mean() > 0.9]
    for i, a_tr in enumerate(tracks):
        for b_tr in tracks[i + 1 :]:
            gap = np.maximum(a_tr.bbox[:, 0], b_tr.bbox[:, 0]) - np.minimum(a_tr.bbox[:, 2], b_tr.bbox[:, 2])
            touch = np.flatnonzero(a_tr.present & b_tr.present & (gap <= 1))
            # Each run of touching frames is one collision; between runs a wall may have turned an object round.
            for run in np.split(touch, np.flatnonzero(np.diff(touch) > 1) + 1) if len(touch) else []:
                k0, k1 = run[0], run[-1]
                if k0 < 2 or k1 > len(gap) - 3:
                    continue
                around = [k0 - 2, k0 - 1, k1 + 1, k1 + 2]
                if not all(t.clear[k] for t in (a_tr, b_tr) for k in around) or _near_wall(pc, (a_tr, b_tr), k0, k1):
                    continue  # a wall or the frame edge is in play: momentum is not conserved there

                def p(k0, k1, trs=(a_tr, b_tr)):
                    return sum(float(np.median(t.area[t.clear])) * (t.cx[k1] - t.cx[k0]) for t in trs)

                before, after = p(k0 - 2, k0 - 1), p(k1 + 1, k1 + 2)
                scale = sum(float(np.median(t.area[t.clear])) * abs(t.cx[k0 - 1] - t.cx[k0 - 2]) for t in (a_tr, b_tr))
                momenta.append(abs(after - before) / max(scale, 1e-6))
    if not es and not momenta:
        return _na("bounce_and_momentum", "no bounce between free-flight segments and no collision on the floor")
    ok = all(e <= 1.08 for e, _ in es) and all(m <= 0.2 for m in momenta)
    detail: dict = {"restitution_fit": [e for e, _ in es], "momentum_change": momenta}
    if ex.record is not None and es and ex.record["scene"]["motion"] in ("fall", "throw"):
        # Only balls bounce with the material's restitution: a square or triangle landing on an edge or a
        # corner turns part of its speed into spin, so for them only "no energy gained" is checked.
        e_true = ex.record["scene"]["restitution"]
        balls = {o["colour"] for o in ex.record["objects"] if o["shape"] == "circle"}
        detail["restitution_world"] = e_true
        ok = ok and all(abs(e - e_true) <= 0.15 for e, colour in es if colour in balls)
    score = 1.0 - min(1.0, max([max(0.0, e - 1) for e, _ in es] + [m for m in momenta] + [0.0]) * 2)
    return Metric("bounce_and_momentum", score if ok else min(score, 0.5), ok, detail)


def non_penetration(pc: ParsedClip, ex: Expectation) -> Metric:
    """No object sinks into the floor, and no two objects overlap."""
    t = len(pc.labels)
    bad = np.zeros(t, bool)
    for tr in pc.tracks.values():
        bad |= tr.present & (tr.bbox[:, 3] + 1 > pc.floor_px + 1.5)
    trs = list(pc.tracks.values())
    for i, a in enumerate(trs):
        for b in trs[i + 1 :]:
            both = a.present & b.present
            ix = np.minimum(a.bbox[:, 2], b.bbox[:, 2]) - np.maximum(a.bbox[:, 0], b.bbox[:, 0]) + 1
            iy = np.minimum(a.bbox[:, 3], b.bbox[:, 3]) - np.maximum(a.bbox[:, 1], b.bbox[:, 1]) + 1
            inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
            small = np.minimum(
                (a.bbox[:, 2] - a.bbox[:, 0] + 1) * (a.bbox[:, 3] - a.bbox[:, 1] + 1),
                (b.bbox[:, 2] - b.bbox[:, 0] + 1) * (b.bbox[:, 3] - b.bbox[:, 1] + 1),
            )
            # Pixels belong to one colour, so interpenetration shows as an object losing area where boxes overlap.
            shrunk = np.zeros_like(both)
            for t_ in (a, b):
                ref = np.median(t_.area[t_.clear]) if t_.clear.any() else np.nan
                shrunk |= t_.area < 0.8 * ref
            bad |= both & (inter > 0.35 * small) & shrunk
    return Metric("non_penetration", 1 - bad.mean(), not bad.any(), {"frames": np.flatnonzero(bad).tolist()})


def object_permanence(pc: ParsedClip, ex: Expectation) -> Metric:
    """An object hidden by the pillar re-emerges on the far side when constant motion says it should."""
    if not pc.occluder.any():
        return _na("object_permanence", "no occluder in view")
    cols = np.flatnonzero(pc.occluder.any(axis=0))
    checks = []
    for tr in pc.tracks.values():
        ks = np.flatnonzero(tr.clear)
        hidden = np.flatnonzero(~tr.present)
        if len(ks) < 2 or not len(hidden) or hidden[0] <= ks[0]:
            continue
        kf = ks[ks < hidden[0]][-1] if (ks < hidden[0]).any() else None
        if kf is None or kf < 1 or not tr.clear[kf - 1]:
            continue
        vx = tr.cx[kf] - tr.cx[kf - 1]
        if abs(vx) < 0.2:
            continue
        hw = (tr.bbox[kf, 2] - tr.bbox[kf, 0] + 1) / 2
        far = cols[-1] + 1.5 if vx > 0 else cols[0] - 0.5
        k_pred = kf + ((far - hw - tr.cx[kf]) / vx if vx > 0 else (far + hw - tr.cx[kf]) / vx)
        back = [k for k in range(hidden[0], len(tr.present)) if tr.present[k]]
        side_ok = bool(back) and (tr.cx[back[0]] - pc.occluder.nonzero()[1].mean()) * vx > 0
        if back:
            # Constant speed is predicted; friction behind the pillar can only make the object later.
            ok = side_ok and -1.5 <= back[0] - k_pred <= 2.5
        else:
            ok = k_pred > len(tr.present) - 1 - 1.0
        checks.append(
            {
                "colour": tr.colour,
                "hidden_at": int(hidden[0]),
                "predicted_return": float(k_pred),
                "returned": back[0] if back else None,
                "ok": bool(ok),
            }
        )
    if not checks:
        return _na("object_permanence", "no object went fully behind the pillar")
    score = float(np.mean([c["ok"] for c in checks]))
    return Metric("object_permanence", score, score == 1.0, {"checks": checks})


def _gap(a: Track, b: Track) -> float:
    """Smallest horizontal gap between two objects' boxes over the frames where both are seen (pixels), less
    the fastest approach per frame: a contact can fall between two frames, as far apart as one frame's travel."""
    both = a.present & b.present
    if not both.any():
        return math.inf
    gap = (np.maximum(a.bbox[:, 0], b.bbox[:, 0]) - np.minimum(a.bbox[:, 2], b.bbox[:, 2])).astype(float)
    gap[~both] = np.nan
    closing = -np.diff(gap)
    step = float(np.nanmax(closing)) if np.isfinite(closing).any() else 0.0
    return float(np.nanmin(gap)) - max(0.0, step)


def classify_motion(pc: ParsedClip) -> str | None:
    """Which world motion the tracks show (from pixels alone)."""
    trs = [tr for tr in pc.tracks.values() if tr.present.sum() >= 3]
    if not trs:
        return None
    if pc.occluder.any():
        return "occlude"
    disp = [np.nanmax(np.hypot(tr.cx - tr.cx[tr.present][0], tr.cy - tr.cy[tr.present][0])) for tr in trs]
    if max(disp) < 0.15 * pc.scale:
        return "rest"
    moving = [tr for tr, d in zip(trs, disp, strict=True) if d >= 0.15 * pc.scale]
    # Objects that start on the floor slide or collide (a collision may knock a light one into the air).
    if all(_on_floor(pc, tr)[np.flatnonzero(tr.present)[:2]].all() for tr in trs):
        # Objects on the floor: two that come within 0.3 m collide (a contact may fall between frames, so
        # approach distance, not a frame showing contact, decides); one that stays down slides.
        if len(trs) >= 2 and min(_gap(a, b) for i, a in enumerate(trs) for b in trs[i + 1 :]) <= 0.3 * pc.scale:
            return "collide"
        if all(_on_floor(pc, tr)[tr.present].mean() > 0.6 for tr in trs):
            return "slide"
    g = [_fit_g(pc, ks, tr.cy[ks])[0] for tr in moving for ks in _segments(pc, tr)]
    if g and abs(float(np.median(g))) < 2.0:
        return "drift"
    tr = moving[0]
    k = np.flatnonzero(tr.present)
    vy0 = (tr.cy[k[1]] - tr.cy[k[0]]) * pc.fps / pc.scale if len(k) > 1 else 0.0
    vx0 = (tr.cx[k[1]] - tr.cx[k[0]]) * pc.fps / pc.scale if len(k) > 1 else 0.0
    return "throw" if vy0 < -1.0 or (abs(vx0) > 1.2 and len(moving) == 1) else "fall"


def _first_run(tr: Track, k: np.ndarray, longest: int = 5) -> np.ndarray:
    """The first frames (up to ``longest``) before any change of velocity (a wall bounce)."""
    run = k[:2]
    for n in range(3, min(longest, len(k)) + 1):
        ks = k[:n]
        d2 = np.abs(np.diff(tr.cx[ks], 2)) + np.abs(np.diff(tr.cy[ks], 2))
        if (d2 > 0.75).any():
            break
        run = ks
    return run


def _direction(pc: ParsedClip, motion: str | None) -> str | None:
    movers = [tr for tr in pc.tracks.values() if tr.present.sum() >= 3]
    best = None
    for tr in movers:
        k = np.flatnonzero(tr.present)
        # Drifting objects bounce off walls: their direction is the one they set off in.
        half = _first_run(tr, k) if motion == "drift" else k[: max(2, len(k) // 2)]
        dx, dy = tr.cx[half[-1]] - tr.cx[half[0]], tr.cy[half[-1]] - tr.cy[half[0]]
        if best is None or math.hypot(dx, dy) > math.hypot(*best):
            best = (dx, dy)
    if best is None or math.hypot(*best) < 1.0:
        return None
    dx, dy = best
    if motion in ("throw", "slide", "occlude", "collide"):
        return "right" if dx > 0 else "left"
    names = ["right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right"]
    return names[int(round(math.atan2(-dy, dx) / (math.pi / 4))) % 8]


def _shape(tr) -> str | None:
    """The shape a track is read as most often while clearly seen (None if never)."""
    shapes = [s for s in tr.shape[tr.clear] if s]
    return max(set(shapes), key=shapes.count) if shapes else None


def prompt_adherence(pc: ParsedClip, ex: Expectation) -> Metric:
    """Colours, shapes, sizes, count, motion type and direction match what the prompt asked for."""
    want = ex.prompt
    seen = {c: tr for c, tr in pc.tracks.items() if tr.present.sum() >= 3}
    checks: dict[str, bool] = {}
    if want.objects:
        checks["count"] = len(seen) == len(want.objects)
        coloured = {o.colour for o in want.objects if o.colour}
        if coloured:  # objects asked for without a colour ("a red ball and a box") may have any of the others
            colourless = len(coloured) < len(want.objects)
            checks["colours"] = coloured <= set(seen) if colourless else coloured == set(seen)

        shape_of = {c: _shape(tr) for c, tr in seen.items()}  # each track's most-read shape, read once

        def check(name: str, o, colour: str) -> None:
            if o.shape and shape_of[colour]:
                checks[f"{name}.shape"] = shape_of[colour] == o.shape
            if o.size:
                checks[f"{name}.size"] = size_class(pc, seen[colour]) == o.size

        for o in want.objects:
            if o.colour in seen:
                check(o.colour, o, o.colour)
        # Each object without a colour takes an object no named colour claims, of its shape where one is left.
        free = [c for c in seen if c not in coloured]
        for i, o in enumerate(o for o in want.objects if not o.colour):
            if not free:
                break  # fewer objects than asked: the count check says so
            colour = next((c for c in free if shape_of[c] == o.shape), free[0])
            free.remove(colour)
            check(f"object{i + 1}", o, colour)
    motion = classify_motion(pc)
    if want.motion:
        checks["motion"] = motion == want.motion
    if want.direction and want.motion != "drift" or (want.direction and len(want.objects) <= 1):
        checks["direction"] = _direction(pc, want.motion or motion) == want.direction
    if not checks:
        return _na("prompt_adherence", "the prompt names nothing the parser can check")
    score = float(np.mean(list(checks.values())))
    return Metric(
        "prompt_adherence",
        score,
        all(checks.values()),
        {"checks": checks, "motion_seen": motion, "direction_seen": _direction(pc, motion)},
    )


def flicker_and_jitter(pc: ParsedClip, ex: Expectation, frames: np.ndarray) -> Metric:
    """Background flicker (mean change of backdrop pixels between frames, 0..255) and centroid jitter
    (median |third difference| of centroids, pixels: zero for any motion of constant acceleration)."""
    f = frames.astype(np.float32)
    stable = pc.backdrop[1:] & pc.backdrop[:-1]
    diff = np.abs(f[1:] - f[:-1]).mean(-1)
    flicker = float(diff[stable].mean()) if stable.any() else 0.0
    jerks = []
    for tr in pc.tracks.values():
        for ks in _segments(pc, tr):
            for c in (tr.cx[ks], tr.cy[ks]):
                jerks += list(np.abs(np.diff(c, 3)))
    jitter = float(np.median(jerks)) if jerks else 0.0
    # Anti-aliased centroids of the smallest objects wobble by a few tenths of a pixel on their own.
    ok = flicker <= 1.5 and jitter <= 1.0
    return Metric(
        "flicker_jitter",
        max(0.0, 1 - flicker / 15 - jitter / 3),
        ok,
        {"background_flicker": flicker, "centroid_jitter_px": jitter},
    )


def dynamic_degree(pc: ParsedClip, ex: Expectation) -> Metric:
    """It moves when it should and stays still when it should (max displacement vs 0.15 m)."""
    if ex.motion is None:
        return _na("dynamic_degree", "the prompt names no motion")
    disp = [
        np.nanmax(np.hypot(tr.cx - tr.cx[tr.present][0], tr.cy - tr.cy[tr.present][0]))
        for tr in pc.tracks.values()
        if tr.present.sum() >= 2
    ]
    moved = bool(disp) and max(disp) >= 0.15 * pc.scale
    should = ex.motion != "rest"
    return Metric(
        "dynamic_degree",
        float(moved == should),
        moved == should,
        {"max_displacement_m": (max(disp) / pc.scale) if disp else 0.0, "should_move": should},
    )


METRICS = (
    count_conservation,
    identity_persistence,
    trajectory_error,
    gravity,
    bounce_and_momentum,
    non_penetration,
    object_permanence,
    prompt_adherence,
    dynamic_degree,
)
METRIC_NAMES = tuple(m.__name__ for m in METRICS) + ("flicker_jitter",)
