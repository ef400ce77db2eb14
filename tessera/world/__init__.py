"""The procedural 2D physics world: Tessera's default training set and its measuring instrument.

Every clip comes with the simulator's exact per-frame state, so physical accuracy is measured, not judged.
This package must not import torch.
"""

from tessera.world.clip import Clip, make_clip, sample_clip
from tessera.world.palette import BACKGROUNDS, COLOURS, MOTIONS, SHAPES, SIZES
from tessera.world.prompt import ObjectAttrs, PromptSpec, parse_prompt
from tessera.world.sampler import HELD_OUT, SPLITS, sample_scene
from tessera.world.simulate import Trajectory, simulate
from tessera.world.spec import ObjectSpec, Occluder, Scene

__all__ = [
    "BACKGROUNDS",
    "COLOURS",
    "HELD_OUT",
    "MOTIONS",
    "SHAPES",
    "SIZES",
    "SPLITS",
    "Clip",
    "ObjectAttrs",
    "ObjectSpec",
    "Occluder",
    "PromptSpec",
    "Scene",
    "Trajectory",
    "make_clip",
    "parse_prompt",
    "sample_clip",
    "sample_scene",
    "simulate",
]
