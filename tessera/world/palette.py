"""The world's fixed vocabulary: object colours, shapes, sizes, motions, and the scene colours.

Colours are far apart in RGB so the benchmark's parser can segment frames by nearest palette colour, and
shapes of one size class have equal area so "small/medium/large" means the same for every shape.
"""

from __future__ import annotations

import math

# Object colours (RGB). Every pair is at least ~90 apart, and all are far from the scene colours below.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 35, 35),
    "orange": (250, 140, 20),
    "yellow": (245, 225, 40),
    "green": (40, 185, 60),
    "cyan": (40, 215, 230),
    "blue": (40, 80, 235),
    "purple": (150, 55, 215),
    "pink": (250, 125, 200),
    "white": (245, 245, 245),
}

# Scene colours: backgrounds are dark, the floor and the occluding pillar are neutral or earthy.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (14, 14, 18),
    "charcoal": (50, 52, 58),
    "navy": (16, 24, 58),
    "dark green": (18, 46, 30),
}
FLOOR_COLOUR: tuple[int, int, int] = (118, 112, 104)
OCCLUDER_COLOURS: dict[str, tuple[int, int, int]] = {
    "brown": (112, 70, 40),
    "gray": (150, 150, 156),
}

SHAPES = ("circle", "square", "triangle")
SIZES: dict[str, float] = {"small": 0.30, "medium": 0.45, "large": 0.65}  # equal-area radius, metres
MOTIONS = ("fall", "throw", "slide", "drift", "collide", "occlude", "rest")

# The world is measured in metres with y up. The shorter side of the frame always spans SCENE_SPAN metres,
# so a 64x64 and a 256x256 clip of one scene look the same, and wide/tall frames show more floor/sky.
SCENE_SPAN = 5.0
FLOOR_TOP = 0.6  # metres above the bottom edge


def side_lengths(shape: str, radius: float) -> float:
    """Side length of a square or equilateral triangle with the same area as a circle of ``radius``."""
    area = math.pi * radius**2
    if shape == "square":
        return math.sqrt(area)
    if shape == "triangle":
        return math.sqrt(4 * area / math.sqrt(3))
    raise ValueError(f"shape {shape!r} has no sides")


def polygon(shape: str, radius: float) -> list[tuple[float, float]]:
    """Vertices (counter-clockwise, centred on the centroid) of a square or triangle of equal-area ``radius``."""
    s = side_lengths(shape, radius)
    if shape == "square":
        h = s / 2
        return [(-h, -h), (h, -h), (h, h), (-h, h)]
    # Equilateral triangle, one side flat on the bottom; the centroid sits a third of the height up.
    height = s * math.sqrt(3) / 2
    return [(-s / 2, -height / 3), (s / 2, -height / 3), (0.0, 2 * height / 3)]


def circumradius(shape: str, radius: float) -> float:
    """Distance from the centroid to the farthest point: what a shape can reach at any angle."""
    if shape == "circle":
        return radius
    return max(math.hypot(x, y) for x, y in polygon(shape, radius))


def half_width(shape: str, radius: float) -> float:
    """Half the horizontal extent when resting flat (angle 0)."""
    if shape == "circle":
        return radius
    return max(x for x, _ in polygon(shape, radius))


def half_height(shape: str, radius: float) -> float:
    """Distance from centroid to the lowest point when resting flat (angle 0)."""
    if shape == "circle":
        return radius
    return -min(y for _, y in polygon(shape, radius))
