"""Parse world-style frames into object tracks, from pixels alone.

Every pixel is matched to its nearest colour of the world palette (objects, backgrounds, floor, pillars);
pixels far from every palette colour (anti-aliased edges, artefacts) are rejected. Objects of one scene have
distinct colours, so a track is one colour over time; connected components (with the pillar bridged, since
an object half behind it shows as two pieces) reveal duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from tessera.world.palette import (
    BACKGROUNDS,
    COLOURS,
    FLOOR_COLOUR,
    FLOOR_TOP,
    OCCLUDER_COLOURS,
    SCENE_SPAN,
    SIZES,
)

OBJECT_NAMES = list(COLOURS)
_SCENE = list(BACKGROUNDS.values()) + [FLOOR_COLOUR] + list(OCCLUDER_COLOURS.values())
_PALETTE = np.array(list(COLOURS.values()) + _SCENE, np.float32)  # objects first
_N_OBJ = len(COLOURS)
_OCC = [len(_PALETTE) - len(OCCLUDER_COLOURS) + i for i in range(len(OCCLUDER_COLOURS))]
_BACKDROP = list(range(_N_OBJ, _N_OBJ + len(BACKGROUNDS) + 1))  # backgrounds and floor
MAX_COLOUR_DISTANCE = 60.0  # RGB distance beyond which a pixel belongs to no palette colour

# Shape from area / (max radius + 0.5)^2, rotation invariant; ideal values circle pi, square 2, triangle 1.30.
# Boundaries measured on ground-truth renders (tests/eval): they separate every shape of equal-area radius
# >= MIN_SHAPE_RADIUS pixels at any rotation. Smaller shapes (a 'small' object in a 64 px frame is ~8 px
# across) are not told apart reliably by their pixels, so their shape is reported as unknown.
CIRCLE_SQUARE, SQUARE_TRIANGLE = 2.40, 1.62
MIN_SHAPE_RADIUS = 4.5


@dataclass
class Track:
    """One object (one palette colour) across frames; pixel coordinates, y down."""

    colour: str
    present: np.ndarray  # (T,) bool
    area: np.ndarray  # (T,) pixels
    cx: np.ndarray  # (T,) centroid, pixels
    cy: np.ndarray
    bbox: np.ndarray  # (T, 4) x0, y0, x1, y1 (inclusive pixel indices), -1 when absent
    radius: np.ndarray  # (T,) max distance from centroid to the mask's pixel centres, + 0.5
    components: np.ndarray  # (T,) connected pieces (pillar bridged)
    shape: np.ndarray  # (T,) object shape guessed per frame ("" when absent)
    clear: np.ndarray = field(default=None)  # (T,) fully in view: away from frame edges and the pillar


@dataclass
class ParsedClip:
    tracks: dict[str, Track]
    height: int
    width: int
    fps: float
    scale: float  # pixels per metre
    floor_px: float  # row of the floor's top edge
    occluder: np.ndarray  # (H, W) bool
    backdrop: np.ndarray  # (T, H, W) bool: pixels of background or floor colour
    labels: np.ndarray  # (T, H, W) int: palette index, -1 rejected

    @property
    def min_area(self) -> float:
        return max(3.0, 0.02 * np.pi * (SIZES["small"] * self.scale) ** 2)


def shape_ratio(area, radius):
    """What shape is read from: area / (max radius + 0.5)^2 (``radius`` already carries the 0.5); arrays too."""
    return area / radius**2


def classify_shape(area: float, radius: float) -> str:
    """'circle', 'square', 'triangle', or '' when the object is too small in pixels to tell."""
    if np.sqrt(area / np.pi) < MIN_SHAPE_RADIUS:
        return ""
    ratio = shape_ratio(area, radius)
    return "circle" if ratio > CIRCLE_SQUARE else "square" if ratio > SQUARE_TRIANGLE else "triangle"


def label_pixels(frames: np.ndarray) -> np.ndarray:
    """Palette index per pixel (T, H, W); -1 where no palette colour is within MAX_COLOUR_DISTANCE."""
    f = frames.astype(np.float32)
    d2 = ((f[..., None, :] - _PALETTE) ** 2).sum(-1)  # (T, H, W, P)
    idx = d2.argmin(-1)
    best = np.take_along_axis(d2, idx[..., None], -1)[..., 0]
    return np.where(best <= MAX_COLOUR_DISTANCE**2, idx, -1)


def parse_frames(frames: np.ndarray, fps: float) -> ParsedClip:
    """Segment and track every palette-coloured object in (T, H, W, 3) uint8 frames."""
    t_frames, h, w, _ = frames.shape
    labels = label_pixels(frames)
    scale = min(h, w) / SCENE_SPAN
    occluder = _pillar(np.isin(labels, _OCC).mean(axis=0) > 0.5, 0.5 * scale, h - FLOOR_TOP * scale)
    # Dilate the pillar by a pixel so the anti-aliased seam on each side still bridges two pieces.
    bridge = ndimage.binary_dilation(occluder, iterations=2) if occluder.any() else occluder
    backdrop = np.isin(labels, _BACKDROP)
    parsed = ParsedClip({}, h, w, fps, scale, h - FLOOR_TOP * scale, occluder, backdrop, labels)
    min_area = parsed.min_area
    ys, xs = np.mgrid[0:h, 0:w]
    for ci, name in enumerate(OBJECT_NAMES):
        masks = labels == ci
        counts = masks.sum(axis=(1, 2))
        if counts.max() < min_area:
            continue
        tr = Track(
            name,
            counts >= min_area,
            counts.astype(float),
            *(np.full(t_frames, np.nan) for _ in range(2)),
            np.full((t_frames, 4), -1),
            np.zeros(t_frames),
            np.zeros(t_frames, int),
            np.array([""] * t_frames, dtype=object),
        )
        for k in np.flatnonzero(tr.present):
            m = masks[k]
            px, py = xs[m] + 0.5, ys[m] + 0.5
            tr.cx[k], tr.cy[k] = px.mean(), py.mean()
            tr.bbox[k] = (xs[m].min(), ys[m].min(), xs[m].max(), ys[m].max())
            tr.radius[k] = np.sqrt(((px - tr.cx[k]) ** 2 + (py - tr.cy[k]) ** 2).max()) + 0.5
            tr.shape[k] = classify_shape(tr.area[k], tr.radius[k])
            lab, n = ndimage.label(m | bridge)
            pieces = np.unique(lab[m])
            sizes = ndimage.sum(m, lab, pieces)
            tr.components[k] = int((sizes >= min_area).sum())
        tr.clear = tr.present & ~_touches(tr.bbox, occluder, h, w)
        parsed.tracks[name] = tr
    return parsed


def _pillar(mask: np.ndarray, min_height: float, floor_px: float) -> np.ndarray:
    """Keep only solid, tall, wide pieces of pillar-coloured pixels that stand on the floor. Blends can take a
    pillar's colour too (the seam where floor meets background, the rim of an object), but they are one or
    two pixels thin: cutting the floor seam off and opening the mask removes them, so they can neither pass
    for a pillar nor join a real pillar into one hollow piece."""
    rows = np.arange(mask.shape[0])[:, None]
    mask = ndimage.binary_opening(mask & (rows < floor_px - 1), structure=np.ones((3, 3)))
    lab, n = ndimage.label(mask)
    keep = np.zeros_like(mask)
    for i, sl in enumerate(ndimage.find_objects(lab), 1):
        piece = lab[sl] == i
        tall = sl[0].stop - sl[0].start >= min_height
        wide = sl[1].stop - sl[1].start >= 0.6 * min_height
        if tall and wide and piece.mean() >= 0.7 and sl[0].stop >= floor_px - 3:
            keep |= lab == i
    return keep


def _touches(bbox: np.ndarray, occluder: np.ndarray, h: int, w: int, margin: int = 1) -> np.ndarray:
    """Per frame: does the box touch a frame edge or come within ``margin`` pixels of the pillar?"""
    out = np.zeros(len(bbox), bool)
    cols = np.flatnonzero(occluder.any(axis=0))
    rows = np.flatnonzero(occluder.any(axis=1))
    for k, (x0, y0, x1, y1) in enumerate(bbox):
        if x0 < 0:
            continue
        edge = x0 <= 0 or y0 <= 0 or x1 >= w - 1 or y1 >= h - 1
        near = len(cols) and x1 >= cols[0] - margin - 1 and x0 <= cols[-1] + margin + 1 and y1 >= rows[0] - margin - 1
        out[k] = bool(edge or near)
    return out
