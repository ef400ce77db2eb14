"""Storyboards: timed multi-shot prompts become one continuous video.

A storyboard file (YAML or JSON) lists shots on one timeline::

    size: 64x64            # optional; the model's sizes
    seed: 0                # optional
    shots:
      - {at: 0, duration: 2, prompt: "a red ball rolls in from the left"}
      - {at: 2, duration: 2, prompt: "it hits a blue square", transition: continuous}
      - {at: 4, duration: 2, prompt: "a green triangle falls", transition: cut, image: start.png}

A continuous shot extends the previous one under its own prompt: its first frames are conditioned on the
previous shot's last frames (the pipeline's forward extension), so objects carry across the boundary. A cut
starts fresh (text-to-video, or image-to-video from ``image``). Every shot's prompt is checked by the safety
policy before anything is computed, and the finished video carries one watermark.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tessera.errors import BlockedPromptError, InvalidInputError, TesseraError
from tessera.files import read_text
from tessera.media import resample

TRANSITIONS = ("continuous", "cut")


@dataclass
class Shot:
    prompt: str
    duration: float  # seconds
    at: float | None = None  # start on the timeline (seconds); None = right after the previous shot
    transition: str = "continuous"  # how this shot joins the previous one; ignored for the first shot
    image: str | np.ndarray | None = None  # a reference frame the shot starts from (cuts only)

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InvalidInputError("every shot needs a prompt (a non-empty string)")
        if self.transition not in TRANSITIONS:
            raise InvalidInputError(f"transition must be one of {', '.join(TRANSITIONS)}, got {self.transition!r}")
        # NaN passes every comparison of the timeline's checks, so each time is checked to be a finite number.
        for name, value in (("duration", self.duration), ("at", self.at)):
            if value is None and name == "at":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InvalidInputError(f"{name} must be a finite number of seconds, got {value!r}")


@dataclass
class Storyboard:
    shots: list[Shot]
    size: str | None = None
    seed: int = 0
    fps: float | None = None  # the output's frame rate (made at the model's, then resampled); None = the model's
    _bounds: list[tuple[float, float]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        # Each shot and extension samples with a seed derived by adding to this one, so it stays under 2**63,
        # as the API's seeds do, which keeps every derived seed within what a torch generator takes (2**64).
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2**63:
            raise InvalidInputError(
                f"a storyboard's seed must be a whole number from 0 to 2**63 - 1, got {self.seed!r}"
            )
        if self.fps is not None and not (
            isinstance(self.fps, int | float) and not isinstance(self.fps, bool) and 0 < self.fps < math.inf
        ):
            raise InvalidInputError(f"a storyboard's fps must be a number > 0 (or left out), got {self.fps!r}")

    def validate(self, fps: float, temporal_factor: int = 4, max_seconds: float | None = None) -> list[int]:
        """Check the timeline; returns each shot's frame count. Errors name the shot and say what to change."""
        if not self.shots:
            raise InvalidInputError("a storyboard needs at least one shot")
        step = temporal_factor / fps  # the model makes clips in blocks of this many seconds
        t = 0.0
        counts = []
        for i, shot in enumerate(self.shots, 1):
            start = t if shot.at is None else float(shot.at)
            if start < t - 1e-6:
                raise InvalidInputError(
                    f"shot {i} starts at {start:g} s but shot {i - 1} runs until {t:g} s "
                    f"(shots overlap); move it to start at {t:g} s"
                )
            if start > t + 1e-6:
                raise InvalidInputError(
                    f"shot {i} starts at {start:g} s but the previous shot ends at {t:g} s: "
                    f"a gap of {start - t:g} s; start it at {t:g} s or lengthen the shot before"
                )
            frames = shot.duration * fps
            if not math.isfinite(frames):  # 1e308 s is finite, its frame count is not
                raise InvalidInputError(f"shot {i} lasts {shot.duration:g} s; give it a few seconds")
            if shot.duration <= 0 or abs(frames / temporal_factor - round(frames / temporal_factor)) > 1e-6:
                raise InvalidInputError(
                    f"shot {i} lasts {shot.duration:g} s; at {fps:g} fps durations must be "
                    f"positive multiples of {step:g} s"
                )
            counts.append(round(frames))
            t = start + shot.duration
            if i > 1 and shot.image is not None and shot.transition == "continuous":
                raise InvalidInputError(f"shot {i} gives an image but continues the previous shot; make it a cut")
        if max_seconds is not None and t > max_seconds + 1e-6:
            raise InvalidInputError(f"the storyboard lasts {t:g} s; the limit is {max_seconds:g} s")
        return counts

    def timeline(self) -> list[dict]:
        """Each shot's place in seconds and its transition (what C2PA manifests list; no prompt text)."""
        out, t = [], 0.0
        for shot in self.shots:
            out.append({"start": t, "end": t + shot.duration, "transition": shot.transition})
            t += shot.duration
        return out

    @classmethod
    def from_dict(cls, data: dict, base: Path | None = None) -> Storyboard:
        if not isinstance(data, dict) or not isinstance(data.get("shots"), list):
            raise InvalidInputError("a storyboard is a mapping with a 'shots' list")
        shots = []
        known = {"prompt", "duration", "at", "transition", "image"}
        for i, raw in enumerate(data["shots"], 1):
            if not isinstance(raw, dict):
                raise InvalidInputError(f"shot {i} must be a mapping with prompt and duration")
            unknown = sorted(set(raw) - known)
            if unknown:
                raise InvalidInputError(
                    f"shot {i}: unknown field(s) {', '.join(unknown)}; use {', '.join(sorted(known))}"
                )
            if "duration" not in raw:
                raise InvalidInputError(f"shot {i} needs a duration (seconds)")
            try:
                duration = float(raw["duration"])
                at = None if raw.get("at") is None else float(raw["at"])
            except (TypeError, ValueError):
                raise InvalidInputError(f"shot {i}: duration and at must be numbers (seconds)") from None
            image = raw.get("image")
            if image is not None and base is not None and not os.path.isabs(str(image)):
                image = str(base / str(image))
            try:
                shots.append(
                    Shot(
                        raw.get("prompt", ""),
                        duration,
                        at,
                        raw.get("transition") or ("cut" if i == 1 else "continuous"),
                        image,
                    )
                )
            except InvalidInputError as e:
                raise InvalidInputError(f"shot {i}: {e}") from None
        unknown = sorted(set(data) - {"shots", "size", "seed", "fps"})
        if unknown:
            raise InvalidInputError(f"unknown storyboard field(s) {', '.join(unknown)}; use shots, size, seed, fps")
        return cls(shots, data.get("size"), data.get("seed", 0), data.get("fps"))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Storyboard:
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such storyboard file")
        text = read_text(path, "a storyboard is YAML or JSON (see tessera storyboard --help)")
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"{path}: not valid JSON ({e})") from None
        else:
            import yaml

            try:
                data = yaml.safe_load(text)
            except (yaml.YAMLError, ValueError, TypeError) as e:  # a bad date ("2001-13-45") raises ValueError
                mark = getattr(e, "problem_mark", None)  # where the parser stopped, when it knows
                where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                raise InvalidInputError(f"{path}: not valid YAML{where} ({getattr(e, 'problem', None) or e})") from None
        return cls.from_dict(data, base=path.parent)


def check_shots(shots: list[Shot], policy=None) -> None:
    """Refuse the whole storyboard, naming the shot, if any prompt is blocked (before any compute)."""
    from tessera.safety import default_policy

    decisions = (policy or default_policy()).check_many([s.prompt for s in shots])
    for i, decision in enumerate(decisions, 1):
        try:
            decision.raise_if_blocked()
        except BlockedPromptError as e:
            raise BlockedPromptError(f"shot {i}: {e}; nothing was generated") from None


def frames_added(max_frames: int, factor: int, length: int) -> dict[int, int]:
    """Frames an extension of ``n`` frames adds to a clip of ``length`` frames, for every valid n.

    A call of n frames (t latent frames) is given ``factor * (t // 2) + 1`` frames of the clip's end (its start,
    backward), or its longest 4k+1 run when the clip is shorter, and makes the rest: a short clip is given less,
    so more is added.
    """
    out = {}
    for n in range(factor + 1, max_frames + 1, factor):
        t = (n - 1) // factor + 1
        given = 1 + factor * ((min(factor * (t // 2) + 1, length) - 1) // factor)
        out[n] = n - given
    return out


def extension_sizes(add: int, max_frames: int, factor: int, length: int) -> list[int]:
    """Frame counts of the chained extensions that add exactly ``add`` frames (a multiple of ``factor``) to a
    clip of ``length`` frames, fewest calls first: each call is the largest that does not overshoot."""
    if add < 0 or add % factor:
        raise InvalidInputError(f"an extension adds a multiple of {factor} frames, not {add}")
    sizes = []
    while add > 0:
        adds = {n: a for n, a in frames_added(max_frames, factor, length).items() if a > 0}
        n = max((n for n, a in adds.items() if a <= add), key=lambda n: adds[n])
        sizes.append(n)
        add -= adds[n]
        length += adds[n]
    return sizes


def extend(
    pipe, prompt: str, video: np.ndarray, sizes: list[int], seed: int, steps, timings=None, **kwargs
) -> np.ndarray:
    """``video`` with the frames of chained extensions of ``sizes`` (see :func:`extension_sizes`) after it (or
    before it, with ``direction="backward"``), each conditioned on the clip so far. The pieces are unmarked:
    whoever holds the whole clip marks it once, so no frame carries two payloads. ``timings``, a dict, gets
    each call's sampling and decoding seconds added up; ``steps`` (:class:`~tessera.pipeline.pipeline.Steps`)
    counts the sampling steps of all of them."""
    for n in sizes:
        before = len(video)
        out = pipe(prompt, num_frames=n, seed=seed, video=video, watermark=False, _steps=steps, **kwargs)
        video = out.frames[0]
        if timings is not None:
            for name in ("sample", "decode"):
                timings[name] = timings.get(name, 0.0) + out.timings[name]
        if len(video) <= before:
            raise TesseraError("the model cannot extend this clip further; ask for fewer seconds")
        seed += 1
    return video


def plan(board: Storyboard, fps: float, factor: int, max_frames: int) -> list[list[int]]:
    """Per shot, the frame counts of the pipeline calls that make it (cuts: one call; continuous: extensions)."""
    counts = board.validate(fps, factor)
    calls, length = [], 1  # the clip so far: a cut's opening frame goes, so every shot adds its count
    for i, (shot, count) in enumerate(zip(board.shots, counts, strict=True)):
        cut = i == 0 or shot.transition == "cut"
        calls.append([count + 1] if cut else extension_sizes(count, max_frames, factor, length))
        length += count
    return calls


def render(
    pipe, board: Storyboard, width: int, height: int, steps=None, guidance=None, callback=None, tensor_inputs=None
):
    """(frames, each shot's first frame, fps): the storyboard as one unmarked clip. It is made at the model's
    frame rate (the only one whose motion it knows) and resampled to the board's, if that differs.
    ``callback``: a diffusers-style ``callback_on_step_end`` over all the calls (see ``Steps``)."""
    from tessera.pipeline.pipeline import Steps

    rate = pipe.config.fps
    calls = plan(board, rate, pipe.autoencoder.params.temporal_factor, pipe.config.max_frames)
    per_pass = steps or pipe.config.steps
    progress = Steps(pipe, sum(per_pass * pipe._passes(n) for c in calls for n in c), callback, tensor_inputs)
    common = dict(height=height, width=width, fps=rate, num_inference_steps=steps, guidance_scale=guidance)
    video: np.ndarray | None = None
    starts = []
    for i, (shot, sizes) in enumerate(zip(board.shots, calls, strict=True)):
        seed = board.seed + 1000 * i
        starts.append(0 if video is None else len(video))
        if video is None or shot.transition == "cut":
            out = pipe(
                shot.prompt,
                num_frames=sizes[0],
                seed=seed,
                image=shot.image,
                watermark=False,
                _steps=progress,
                recaption=False,  # a shot is written against its neighbours: a caption written afresh could break that
                **common,
            ).frames[0]
            # After the first shot, a shot of d seconds adds d * fps frames: the fresh clip's opening frame goes.
            video = out if video is None else np.concatenate([video, out[1:]])
        else:
            video = extend(pipe, shot.prompt, video, sizes, seed, progress, **common)
    fps = board.fps or rate
    if abs(fps - rate) > 1e-6:
        video = resample(video, rate, fps)
        starts = [round(s * fps / rate) for s in starts]
    return video, starts, fps
