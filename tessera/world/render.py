"""Anti-aliased rendering of a simulated scene at any size, plus per-frame visibility of every object.

Each shape is drawn from its signed distance d (in pixels) with coverage clip(0.5 - d, 0, 1): a one-pixel
linear ramp across the edge, which integrates to the shape's exact area along straight and smooth edges.
Work is vectorised over frames on a fixed-size window around each object, so cost grows with the
objects' size, not the frame's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tessera.world.palette import (
    BACKGROUNDS,
    COLOURS,
    FLOOR_COLOUR,
    FLOOR_TOP,
    OCCLUDER_COLOURS,
    circumradius,
    polygon,
)
from tessera.world.simulate import Trajectory
from tessera.world.spec import Scene


@dataclass
class Rendered:
    frames: np.ndarray  # (T, H, W, 3) uint8
    visible: np.ndarray  # (N, T): fraction of each object's area inside the frame and not behind the occluder
    occluded: np.ndarray  # (N, T): fraction of each object's area inside the frame but behind the occluder


def _coverage(d: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - d, 0.0, 1.0)


def _polygon_distance(xs: np.ndarray, ys: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Max over edges of the signed distance to each edge's line (convex polygon), shape (T, S, S).

    xs: (T, 1, S) and ys: (T, S, 1) pixel-centre coordinates; verts: (T, K, 2) in pixels.
    """
    centre = verts.mean(axis=1, keepdims=True)
    edge = np.roll(verts, -1, axis=1) - verts
    normal = np.stack([edge[..., 1], -edge[..., 0]], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    # Orient every normal outwards, whatever the winding after the y flip.
    inward = np.sum(normal * (centre - verts), axis=-1, keepdims=True) > 0
    normal = np.where(inward, -normal, normal)
    d = None
    for k in range(verts.shape[1]):
        vx, vy = verts[:, k, 0, None, None], verts[:, k, 1, None, None]
        nx, ny = normal[:, k, 0, None, None], normal[:, k, 1, None, None]
        dk = (xs - vx) * nx + (ys - vy) * ny
        d = dk if d is None else np.maximum(d, dk)
    return d


def render(scene: Scene, traj: Trajectory) -> Rendered:
    """Draw every frame: background, floor, objects in order, then the occluder in front."""
    h, w, s = scene.height, scene.width, scene.scale
    t_frames = scene.frames
    bound = max(circumradius(o.shape, o.radius) for o in scene.objects) * s  # pixels
    win = int(math.ceil(2 * bound)) + 4  # window side
    pad = win
    # Rows and columns of pixel centres in frame coordinates, for the padded canvas.
    rows = np.arange(h + 2 * pad, dtype=np.float32) - pad + 0.5
    cols = np.arange(w + 2 * pad, dtype=np.float32) - pad + 0.5
    # The static backdrop (background + floor) is drawn once and copied to every frame.
    base = np.empty((h + 2 * pad, w + 2 * pad, 3), np.float32)
    base[:] = np.asarray(BACKGROUNDS[scene.background], np.float32)
    floor_cov = _coverage((h - FLOOR_TOP * s) - rows)[:, None, None]
    base += (np.asarray(FLOOR_COLOUR, np.float32) - base) * floor_cov
    canvas = np.repeat(base[None], t_frames, axis=0)

    occ_cov = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    if scene.occluder is not None:
        o = scene.occluder
        x0, x1 = (o.x - o.width / 2) * s, (o.x + o.width / 2) * s
        top = h - (FLOOR_TOP + o.height) * s
        dx = np.maximum(x0 - cols, cols - x1)[None, :]
        dy = np.maximum(top - rows, rows - (h + pad))[:, None]  # extends below the frame
        occ_cov = _coverage(np.maximum(dx, dy)).astype(np.float32)

    in_frame = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    in_frame[pad : pad + h, pad : pad + w] = 1.0
    n = len(scene.objects)
    visible = np.zeros((n, t_frames))
    occluded = np.zeros((n, t_frames))
    local = np.arange(win)
    frame_idx = np.arange(t_frames)[:, None, None]
    for i, spec in enumerate(scene.objects):
        cx = (traj.position[i, :, 0] * s).astype(np.float32)  # (T,)
        cy = (h - traj.position[i, :, 1] * s).astype(np.float32)
        # Window origin in padded-canvas pixels. The pad is a full window wide, so a window that would
        # leave the canvas belongs to an object wholly outside the frame: it is clamped and not drawn.
        ox = np.floor(cx - win / 2).astype(int) + pad
        oy = np.floor(cy - win / 2).astype(int) + pad
        inside = (ox >= 0) & (oy >= 0) & (ox + win <= w + 2 * pad) & (oy + win <= h + 2 * pad)
        ox = np.clip(ox, 0, w + 2 * pad - win)
        oy = np.clip(oy, 0, h + 2 * pad - win)
        xs = (ox - pad + 0.5).astype(np.float32)[:, None, None] + local[None, None, :]  # (T, 1, S) frame coords
        ys = (oy - pad + 0.5).astype(np.float32)[:, None, None] + local[None, :, None]  # (T, S, 1)
        if spec.shape == "circle":
            d = np.sqrt((xs - cx[:, None, None]) ** 2 + (ys - cy[:, None, None]) ** 2) - spec.radius * s
        else:
            verts = np.asarray(polygon(spec.shape, spec.radius))  # (K, 2) metres, y up
            c, sn = np.cos(traj.angle[i]), np.sin(traj.angle[i])
            rx = verts[None, :, 0] * c[:, None] - verts[None, :, 1] * sn[:, None]
            ry = verts[None, :, 0] * sn[:, None] + verts[None, :, 1] * c[:, None]
            vpx = np.stack([cx[:, None] + rx * s, cy[:, None] - ry * s], axis=-1).astype(np.float32)  # y flips
            d = _polygon_distance(xs, ys, vpx)
        cov = _coverage(d).astype(np.float32) * inside[:, None, None]  # (T, S, S)
        rows_i = oy[:, None, None] + local[None, :, None]
        cols_i = ox[:, None, None] + local[None, None, :]
        patch = canvas[frame_idx, rows_i, cols_i]  # (T, S, S, 3)
        patch += (np.asarray(COLOURS[spec.colour], np.float32) - patch) * cov[..., None]
        canvas[frame_idx, rows_i, cols_i] = patch
        total = cov.sum(axis=(1, 2))
        frame_part = cov * in_frame[rows_i, cols_i]
        hidden = (frame_part * occ_cov[rows_i, cols_i]).sum(axis=(1, 2))
        safe = np.maximum(total, 1e-9)
        visible[i] = np.where(total > 0, (frame_part.sum(axis=(1, 2)) - hidden) / safe, 0.0)
        occluded[i] = np.where(total > 0, hidden / safe, 0.0)

    if scene.occluder is not None:  # drawn in front, only over the columns it covers
        c = np.flatnonzero(occ_cov.any(axis=0))
        region = canvas[:, :, c[0] : c[-1] + 1]
        a = occ_cov[:, c[0] : c[-1] + 1, None]
        region += (np.asarray(OCCLUDER_COLOURS[scene.occluder.colour], np.float32) - region) * a
    # Every pixel is a convex mix of 0..255 colours, so rounding alone keeps it in range.
    frames = np.rint(canvas[:, pad : pad + h, pad : pad + w]).astype(np.uint8)
    return Rendered(frames, np.clip(visible, 0, 1), np.clip(occluded, 0, 1))
