"""Scene specifications: what to simulate. Each dataclass validates itself and round-trips through JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tessera.errors import ConfigError
from tessera.world.palette import BACKGROUNDS, COLOURS, MOTIONS, OCCLUDER_COLOURS, SCENE_SPAN, SHAPES, SIZES


def _one_of(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def check_format(width: int, height: int, frames: int, fps: float) -> None:
    """Validate a clip's size, length and frame rate (raises :class:`ConfigError` naming the field)."""
    if width < 16 or height < 16 or width > 2048 or height > 2048:
        raise ConfigError(f"width and height must be 16..2048 pixels, got {width}x{height}")
    if frames < 1 or frames > 2000:
        raise ConfigError(f"frames must be 1..2000, got {frames}")
    if not 0 < fps <= 120:
        raise ConfigError(f"fps must be in (0, 120], got {fps}")


@dataclass
class ObjectSpec:
    """One rigid object and its initial state (metres, metres/second, radians, y up)."""

    shape: str
    colour: str
    size: str
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    angle: float = 0.0
    spin: float = 0.0  # angular velocity, rad/s

    def __post_init__(self) -> None:
        _one_of("shape", self.shape, SHAPES)
        _one_of("colour", self.colour, COLOURS)
        _one_of("size", self.size, SIZES)

    @property
    def radius(self) -> float:
        return SIZES[self.size]


@dataclass
class Occluder:
    """A pillar standing on the floor, drawn in front of the objects."""

    x: float  # centre, metres
    width: float
    height: float
    colour: str = "brown"

    def __post_init__(self) -> None:
        _one_of("occluder.colour", self.colour, OCCLUDER_COLOURS)
        if self.width <= 0 or self.height <= 0:
            raise ConfigError(f"occluder width and height must be positive, got {self.width}, {self.height}")


@dataclass
class Scene:
    """Everything needed to simulate and render one clip deterministically."""

    motion: str
    objects: list[ObjectSpec]
    width: int = 64  # pixels
    height: int = 64
    frames: int = 17
    fps: float = 8.0
    gravity: float = 9.81  # m/s^2, downwards; 0 for drifting scenes
    restitution: float = 0.6  # objects' elasticity; floor and walls are 1, so this is the floor bounce
    friction: float = 0.5  # objects' friction coefficient; the floor's is 1
    background: str = "black"
    occluder: Occluder | None = None
    walls: bool = True  # invisible walls at the frame's sides (and a ceiling when gravity is 0)
    direction: str | None = None  # for captions: left, right, up, down, up-left, ...
    seed: int = 0
    split: str = "custom"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _one_of("motion", self.motion, MOTIONS)
        _one_of("background", self.background, BACKGROUNDS)
        if not 1 <= len(self.objects) <= 3:
            raise ConfigError(f"a scene holds 1 to 3 objects, got {len(self.objects)}")
        check_format(self.width, self.height, self.frames, self.fps)
        if not 0 <= self.restitution <= 1:
            raise ConfigError(f"restitution must be in [0, 1], got {self.restitution}")
        if self.friction < 0:
            raise ConfigError(f"friction must be >= 0, got {self.friction}")
        if self.gravity < 0:
            raise ConfigError(f"gravity must be >= 0 (it points down), got {self.gravity}")

    # Geometry: the shorter side spans SCENE_SPAN metres.
    @property
    def scale(self) -> float:
        """Pixels per metre."""
        return min(self.width, self.height) / SCENE_SPAN

    @property
    def world_width(self) -> float:
        return self.width / self.scale

    @property
    def world_height(self) -> float:
        return self.height / self.scale

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Scene:
        d = dict(d)
        d["objects"] = [ObjectSpec(**o) for o in d["objects"]]
        if d.get("occluder") is not None:
            d["occluder"] = Occluder(**d["occluder"])
        return cls(**d)
