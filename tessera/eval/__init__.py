"""The physics and consistency benchmark: parse frames into tracks, score them against the world's physics."""

from tessera.eval.parse import ParsedClip, Track, parse_frames
from tessera.eval.score import aggregate, score_clip

__all__ = ["ParsedClip", "Track", "aggregate", "parse_frames", "score_clip"]
