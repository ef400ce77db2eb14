"""``TextToVideoPipeline``: the one public way to generate.

One model does every task through the transformer's frame mask: latent frames given clean are conditions,
the rest are generated.

- text-to-video, and text-to-image (``num_frames=1``);
- image-to-video (``image=``: the first frame is given);
- extend forward (``video=``: its last frames open the new clip) or backward (``direction="backward"``: its
  first frames close the new clip); :meth:`TextToVideoPipeline.extend` adds a given number of seconds by
  chaining such calls;
- connect (``video=`` and ``end_video=``: the first clip's last frame opens, the second's first frame closes);
- loop (``loop=True``: the first frame is generated, then the clip is regenerated to return to it; the clip
  has the frames asked for, and its last frame leads back into its first);
- edit (``video=`` + ``strength=``: SDEdit — noise the clip's latent to ``strength``, denoise under the prompt).

Clips longer than the model's longest training clip are generated in chunks, each extending the previous
one with an overlap of latent frames.

Every clip is made at the model's own frame rate (``config.fps``, the rate of its training clips): the model
knows motion at that rate only, so frames made for another rate would move at the wrong speed (8 fps motion
played at 24 fps runs three times fast, and a fall looks nine times the world's gravity). A call at another
``fps`` is made at the model's rate for the same duration and resampled to it (frames repeated or dropped,
timestamps kept), given clips included.

Why conditions are encoded alone: the autoencoder is causal, so a clip's first latent frame is its first
pixel frame encoded by itself, exactly what the transformer saw as the given frame in training.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import numbers
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tessera.diffusion import (
    FRESH_NOISE,
    SAMPLERS,
    autoguided,
    denoise,
    get_schedule,
    guided,
    limited,
    randn,
    shift_for,
)
from tessera.errors import ConfigError, InvalidInputError, NotFoundError
from tessera.files import atomic_write_text, model_name, read_json_object
from tessera.media import Video, fit, image_rgb, read_video, resample
from tessera.models.autoencoder import Autoencoder, to_frames, to_video
from tessera.models.dit import DiT
from tessera.models.precision import autocast_bf16
from tessera.models.pretrained import file_sha256
from tessera.models.text import TextEncoder, TextEncoderParams

log = logging.getLogger("tessera.pipeline")

CONFIG_NAME = "pipeline.json"
DIRECTIONS = ("forward", "backward")
OUTPUT_TYPES = ("np", "pil", "pt", "latent")
CALLBACK_TENSOR_INPUTS = ("latents",)  # what callback_on_step_end can be handed (diffusers' _callback_tensor_inputs)


# Sampling steps one call may take. A flow samples at any count, but 1000 is already 40 times the shipped model's
# default (a 2 s clip: sampling took 27 s on 2 CPU cores against 0.73 s); a million is a typo that runs for hours.
MAX_STEPS = 1000


@dataclass
class PipelineConfig:
    """Defaults and limits stored in ``pipeline.json`` beside the component folders."""

    sizes: tuple[str, ...] = ("64x64", "112x64", "64x112")  # WIDTHxHEIGHT the model was trained at
    max_frames: int = 33  # longest clip generated in one piece; longer clips are chunked
    fps: float = 8.0
    steps: int = 24
    guidance: float = 4.0
    sampler: str = "euler"
    shift: float = 0.0  # time shift; 0 = resolution-dependent (shift_for)
    overlap: int = 2  # latent frames shared by consecutive chunks of a long clip
    decode_chunk: int = 3  # latent frames decoded at a time
    # Adam steps refining the latent of every given image or clip against the decoder before it conditions the
    # transformer (Autoencoder.refine): on the shipped model 5 steps bring given frames back 0.7-1.2 dB closer
    # (image-to-video's first frame, an extension's given part, a connection's start) and smooth the seam after
    # them (docs/autoencoder.md), for 5 decodes and backward passes of the given frames (17 frames on 2 CPU cores:
    # 4.5 s in fp32, about 2 s where bf16 is fast). 0 skips it.
    refine: int = 5
    # The transformer under bf16 autocast: 1.4x faster sampling on a CPU with native bf16, 57 dB from fp32's video;
    # None = where bf16 is fast (an AVX2-only CPU emulates it, >10x slower: tessera.models.precision).
    bf16: bool | None = None
    compile: bool = False  # torch.compile the transformer: ~1.2x per step after a one-off compile (tens of s)
    safety: bool = True  # prompts go through tessera.safety's policy before any compute
    watermark: bool = True  # every output carries the invisible mark (tessera.provenance)
    generator_id: int = 1  # the mark's 8-bit generator field
    text_encoder: dict = field(default_factory=lambda: {"source": "minilm"})
    transformer: str = "transformer"
    autoencoder: str = "autoencoder"
    # Autoguidance: a smaller, shorter-trained transformer of the same data (its folder) that guidance pushes away
    # from, blended into the unconditional side by guide_mix (0 = plain classifier-free guidance, 1 = guidance
    # away from the weak model alone; tessera.diffusion.autoguided). None = no guide model.
    guide: str | None = None
    guide_mix: float = 0.0
    # Guidance (classifier-free or auto) only at times lo < t <= hi (1 = noise); the steps outside sample with the
    # conditional velocity alone, one call on half the batch (tessera.diffusion.limited), which at the shipped
    # model's 64x64 takes about as long on 2 CPU cores (bench/generate.py --interval). (0, 1) guides every step.
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    # What the model was trained on: "world" (the physics world alone: its shapes, colours and motions, so
    # `tessera generate` says when a prompt names none of them) or None (not recorded, or other data).
    domain: str | None = None
    # Text-to-video prompts that leave things out are written out as the world's captions first (Sora's
    # re-captioning, tessera.world.recaption); a model of the world only (domain "world").
    recaption: bool = False

    def __post_init__(self) -> None:
        self.sizes = tuple(self.sizes)
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if self.max_frames < 5 or (self.max_frames - 1) % 4:
            raise ConfigError(f"max_frames must be 4k+1 and >= 5, got {self.max_frames}")
        for name in ("steps", "overlap", "decode_chunk"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.steps > MAX_STEPS:  # else every call of the pipeline would be refused for its default
            raise ConfigError(f"steps must be at most {MAX_STEPS}, got {self.steps}")
        if self.refine < 0:
            raise ConfigError(f"refine must be >= 0 (Adam steps), got {self.refine}")
        if not (0 < self.fps < math.inf and 0 <= self.guidance < math.inf and 0 <= self.shift < math.inf):
            raise ConfigError(
                f"fps must be a number > 0, guidance and shift numbers >= 0; got fps={self.fps}, "
                f"guidance={self.guidance}, shift={self.shift}"
            )
        if self.domain is not None and not isinstance(self.domain, str):
            raise ConfigError(f"domain must be a name such as 'world' (or null), got {self.domain!r}")
        if self.recaption and self.domain != "world":
            raise ConfigError(
                "recaption needs a model of the physics world (domain 'world'): its captions are the world's"
            )
        if not 0 <= self.guide_mix <= 1:
            raise ConfigError(f"guide_mix must be in [0, 1], got {self.guide_mix}")
        bad = ConfigError(
            "guidance_interval must be [lo, hi] with 0 <= lo < hi <= 1 (the times where guidance applies; "
            f"[0, 1] guides every step), got {self.guidance_interval!r}"
        )
        try:
            self.guidance_interval = tuple(float(v) for v in self.guidance_interval)
        except (TypeError, ValueError):
            raise bad from None
        if len(self.guidance_interval) != 2 or not 0 <= self.guidance_interval[0] < self.guidance_interval[1] <= 1:
            raise bad

    @classmethod
    def read(cls, directory: Path) -> PipelineConfig:
        """The ``pipeline.json`` of a pipeline folder, checked: a clear error for a missing file, bad JSON or an
        unknown setting."""
        path = Path(directory) / CONFIG_NAME
        if not path.is_file():
            raise NotFoundError(
                f"{directory}: not a pipeline folder (no {CONFIG_NAME}); give e.g. models/tessera-world-s"
            )
        data = read_json_object(path, "pipeline.json holds a pipeline's settings")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
        return cls(**data)


@dataclass
class VideoPipelineOutput:
    # Per video: uint8 (T, H, W, 3) for "np", a list of PIL images for "pil", a latent for "latent"; for "pt",
    # as in diffusers, one float tensor (B, T, 3, H, W) in [0, 1].
    frames: list | torch.Tensor
    fps: float
    timings: dict[str, float]
    watermarks: list[int | None] = field(default_factory=list)  # the payload marked into each video
    shot_starts: list[int] = field(default_factory=list)  # storyboards: the frame where each shot begins
    prompts: list[str] = field(default_factory=list)  # per video, the prompt the model was given (re-captioned)


def _as_frames(
    value, name: str, rate: float | None = None, fps: float | None = None, cover: tuple[int, int] | None = None
) -> np.ndarray:
    """A path, a Video, a PIL image (or a list of them), an array or a tensor -> uint8 (T, H, W, 3), resampled to
    ``rate`` when given. A clip that knows its frame rate (a file or a Video) is resampled from it; PIL frames,
    arrays and tensors are taken to be at ``fps`` (the call's rate). A file is read no larger than covers
    ``cover`` (the call's size: its frames are fitted to it)."""
    if isinstance(value, str | os.PathLike):
        value = read_video(value, cover=cover)  # an image file comes back as a one-frame Video
    if hasattr(value, "convert"):  # a PIL image
        value = image_rgb(value)
    elif isinstance(value, list | tuple) and value and all(hasattr(v, "convert") for v in value):
        value = np.stack([image_rgb(v) for v in value])  # PIL frames, as diffusers pipelines take (any mode)
    elif isinstance(value, torch.Tensor) or (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
        value = _from_floats(value, name)
    if isinstance(value, Video):
        value = value.frames if rate is None else value.at_fps(rate)
    elif rate is not None and fps is not None and abs(fps - rate) > 1e-6 and np.ndim(value) == 4:
        value = resample(np.asarray(value), fps, rate)
    arr = np.asarray(value)
    given = f"{arr.dtype} {arr.shape}"  # as the caller gave it, before one image becomes a one-frame clip
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or 0 in arr.shape:
        raise InvalidInputError(
            f"{name} must be uint8 RGB frames (T, H, W, 3), one (H, W, 3) image or an image file (or floats in "
            f"[0, 1], as output_type='pt' gives), got {given}"
        )
    return arr


def _from_floats(value, name: str) -> np.ndarray:
    """Frames as diffusers pipelines take them and ``output_type="pt"`` gives them (floats in [0, 1]; a tensor
    channels first, (T, 3, H, W) or (3, H, W), or last) as a channels-last array, uint8 where they were floats.
    Why: handing a result back (to extend or edit it) was refused for not being uint8."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.ndim in (3, 4) and value.shape[-3] == 3 and value.shape[-1] != 3:
            value = value.movedim(-3, -1)
        value = value.float().numpy() if value.is_floating_point() else value.numpy()
    if value.dtype.kind != "f":
        return value
    if value.size and not (np.isfinite(value).all() and value.min() >= 0 and value.max() <= 1):
        seen = f"from {value.min():g} to {value.max():g}" if np.isfinite(value).all() else "NaN or infinity"
        raise InvalidInputError(
            f"{name}: float frames must be finite and in [0, 1] (scale 0..255 values by 1/255, or give uint8), "
            f"got {seen}"
        )
    return np.rint(value * 255).astype(np.uint8)


def _digest(*frames: np.ndarray | None) -> str:
    """A short hash of given frames: part of a content id, so two clips extended alike get different ids."""
    h = hashlib.sha256()
    for f in frames:
        if f is not None:
            h.update(np.ascontiguousarray(f).tobytes())
    return h.hexdigest()[:16]


class Steps:
    """The sampling steps of one public call, however many model calls it takes (a long clip's chunks, a loop's
    two passes, chained extensions, a storyboard's shots), handed to a diffusers-style
    ``callback_on_step_end(pipe, step, timestep, callback_kwargs)``: ``step`` counts from 0 over all of them
    and ``pipe.num_timesteps`` is their number, so ``(step + 1) / pipe.num_timesteps`` runs once from 0 to 1.
    ``timestep`` is the flow time the step started from (1 is noise, 0 clean). As in diffusers, the callback
    returns ``callback_kwargs``, and latents it puts there are the ones sampling goes on from."""

    def __init__(self, pipe: TextToVideoPipeline, total: int, callback=None, tensor_inputs=None) -> None:
        inputs = list(CALLBACK_TENSOR_INPUTS if tensor_inputs is None else tensor_inputs)
        if unknown := [name for name in inputs if name not in CALLBACK_TENSOR_INPUTS]:
            raise InvalidInputError(
                f"callback_on_step_end_tensor_inputs can name {', '.join(CALLBACK_TENSOR_INPUTS)}; got {unknown}"
            )
        if callback is not None and not callable(callback):
            raise InvalidInputError(
                "callback_on_step_end must be a function (pipe, step, timestep, callback_kwargs) -> callback_kwargs"
            )
        self.pipe, self.callback, self.inputs, self.done = pipe, callback, inputs, 0
        pipe._call.num_timesteps = total  # the one place the total is kept: pipe.num_timesteps reads it

    def __call__(self, i: int, t: float, latents: torch.Tensor) -> torch.Tensor | None:
        step, self.done = self.done, self.done + 1
        if self.callback is None:
            return None
        out = self.callback(self.pipe, step, torch.tensor(t), {name: latents for name in self.inputs})
        if out is None:
            return None
        if not isinstance(out, dict):
            raise InvalidInputError(
                f"callback_on_step_end must return its callback_kwargs (a dict) or None, got {type(out).__name__}"
            )
        new = out.get("latents")
        if new is not None and (not isinstance(new, torch.Tensor) or new.shape != latents.shape):
            raise InvalidInputError(
                f"callback_on_step_end returned latents of shape {getattr(new, 'shape', type(new).__name__)}; "
                f"they must keep the shape {tuple(latents.shape)}"
            )
        return new


class TextToVideoPipeline:
    def __init__(
        self,
        transformer: DiT,
        autoencoder: Autoencoder,
        text_encoder: TextEncoder,
        config: PipelineConfig | None = None,
        guide: DiT | None = None,
    ) -> None:
        self.transformer, self.autoencoder, self.text_encoder = transformer.eval(), autoencoder.eval(), text_encoder
        self.guide = None if guide is None else guide.eval()
        self.config = config or PipelineConfig()
        for name, model in (("transformer", transformer), ("guide", guide)):
            if model is None:
                continue
            if model.params.in_channels != autoencoder.params.latent_channels:
                raise ConfigError(f"{name} in_channels must equal the autoencoder's latent_channels")
            if model.params.text_dim != text_encoder.dim:
                raise ConfigError(
                    f"{name} text_dim ({model.params.text_dim}) must equal the text encoder's width "
                    f"({text_encoder.dim})"
                )
        if self.config.guide_mix > 0 and guide is None:
            raise ConfigError("guide_mix > 0 needs a guide model (the config's guide folder); set guide_mix to 0")
        self.load_seconds = 0.0
        self.name, self.weights_sha256 = "unsaved", ""  # set by from_pretrained; recorded in C2PA manifests
        self.guide_sha256 = ""
        self._compiled = None
        self._call = threading.local()  # the call in progress on each thread (num_timesteps)

    # -- folders ----------------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> TextToVideoPipeline:
        t0 = time.perf_counter()
        directory = Path(directory)
        config = PipelineConfig.read(directory)
        text = dict(config.text_encoder)
        source = str(text.pop("source", "minilm"))
        if source not in ("minilm",) and not source.startswith("toy:") and not os.path.isabs(source):
            source = str(directory / source)  # a text encoder folder inside the pipeline folder
        pipe = cls(
            DiT.from_pretrained(directory / config.transformer),
            Autoencoder.from_pretrained(directory / config.autoencoder),
            TextEncoder(TextEncoderParams(source=source, **text)),
            config,
            guide=DiT.from_pretrained(directory / config.guide) if config.guide else None,
        )
        pipe.load_seconds = time.perf_counter() - t0
        pipe.name = model_name(directory)
        pipe.weights_sha256 = file_sha256(directory / config.transformer / "model.safetensors")
        if config.guide:
            pipe.guide_sha256 = file_sha256(directory / config.guide / "model.safetensors")
        return pipe

    def save_pretrained(self, directory: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
        """Write the pipeline folder; ``dtype=torch.float16`` halves the weights on disk (loaded back as fp32)."""
        from dataclasses import asdict

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        modules = [(self.transformer, self.config.transformer), (self.autoencoder, self.config.autoencoder)]
        if self.guide is not None:
            if not self.config.guide:
                raise ConfigError("a pipeline with a guide model needs config.guide (its folder name) to save")
            modules.append((self.guide, self.config.guide))
        for module, sub in modules:
            if dtype is None:
                module.save_pretrained(directory / sub)
            else:
                copy = type(module)(module.params)
                copy.load_state_dict(module.state_dict())
                copy.to(dtype).save_pretrained(directory / sub)
        config = asdict(self.config)
        config["sizes"] = list(config["sizes"])
        atomic_write_text(directory / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
        return directory

    # -- inputs -----------------------------------------------------------------------------------------------
    def check_inputs(
        self, prompt, num_frames, height, width, fps, steps, guidance, strength, direction, output_type, sampler
    ) -> int:
        """Validate arguments; returns the frames the model makes (4k+1, at its own rate) for the call."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt or [])
        if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
            raise InvalidInputError("prompt must be a non-empty string (or a list of them)")
        for p in dict.fromkeys(prompts):  # each prompt once, however many videos it is for
            if unread := self.text_encoder.unread(p):
                log.warning(
                    "the prompt is longer than the text encoder's %d tokens; this end of it is ignored: %r",
                    self.text_encoder.params.max_tokens,
                    unread[:200],
                )
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (height, width)):
            raise InvalidInputError(
                f"height and width must be whole numbers of pixels, got height={height!r}, width={width!r}; "
                f"supported sizes (WIDTHxHEIGHT): {', '.join(self.config.sizes)}"
            )
        size = f"{width}x{height}"
        if size not in self.config.sizes:
            raise InvalidInputError(
                f"size {size} is not supported by this model; supported: {', '.join(self.config.sizes)}"
            )
        if not isinstance(num_frames, numbers.Integral) or num_frames < 1:
            raise InvalidInputError(f"num_frames must be a whole number >= 1, got {num_frames!r}")
        # NaN passes every comparison below, so each number is checked to be finite first.
        if not isinstance(fps, numbers.Real) or not math.isfinite(fps) or fps <= 0:
            raise InvalidInputError(f"fps must be a finite number > 0, got {fps!r}")
        if not isinstance(steps, numbers.Integral) or not 1 <= steps <= MAX_STEPS:
            raise InvalidInputError(f"num_inference_steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
        if not isinstance(guidance, numbers.Real) or not math.isfinite(guidance) or guidance < 0:
            raise InvalidInputError(f"guidance_scale must be a finite number >= 0, got {guidance!r}")
        rounded = self.model_frames(num_frames, fps)
        factor, rate = self.autoencoder.params.temporal_factor, self.config.fps
        if abs(fps - rate) < 1e-6 and rounded != num_frames:
            log.warning("num_frames %d is not %dk+1; using %d", num_frames, factor, rounded)
        elif abs(fps - rate) >= 1e-6 and abs((num_frames - 1) / fps - (rounded - 1) / rate) > 1e-6:
            log.warning(
                "num_frames %d at %g fps lasts %.3g s; the model makes %g fps clips in blocks of %d frames "
                "(%g s), so the clip lasts %.3g s",
                num_frames,
                fps,
                (num_frames - 1) / fps,
                rate,
                factor,
                factor / rate,
                (rounded - 1) / rate,
            )
        need = self._frame_bytes(rounded, fps, height, width) * len(prompts)
        have = _memory_bytes()
        if have and need > have / 2:
            raise InvalidInputError(
                f"{num_frames} frames at {width}x{height} need at least {need / 2**30:.1f} GiB to decode, more than "
                f"half of this machine's {have / 2**30:.0f} GiB; ask for fewer frames (a long video can be made "
                "in parts, each extending the last)"
            )
        if strength is not None and not (isinstance(strength, numbers.Real) and 0 < strength <= 1):
            raise InvalidInputError(f"strength must be in (0, 1], got {strength}")
        if direction not in DIRECTIONS:
            raise InvalidInputError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        if output_type not in OUTPUT_TYPES:
            raise InvalidInputError(f"output_type must be one of {', '.join(OUTPUT_TYPES)}, got {output_type!r}")
        if sampler not in SAMPLERS:
            raise InvalidInputError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        return rounded

    def model_frames(self, num_frames: int, fps: float) -> int:
        """The frames (4k+1) the model makes, at its own rate, for ``num_frames`` at ``fps``: the same duration."""
        factor = self.autoencoder.params.temporal_factor
        made = (num_frames - 1) * self.config.fps / fps
        blocks = round(made / factor)
        # A clip asked for stays a clip: it has at least one block after its first frame.
        return 1 + factor * (max(blocks, 1) if num_frames > 1 else 0)

    def _frame_bytes(self, frames: int, fps: float, height: int, width: int) -> int:
        """A lower bound on the memory decoding takes (its frame buffers only, not the decoder's activations): the
        decoder's float32 pieces, their concatenation and its clamped copy, then uint8 frames and their marked copy
        at the call's rate. Counted from the code, not measured; it is there to refuse the impossible at once."""
        out = (frames - 1) * fps / self.config.fps + 1
        return int(height * width * 3 * (12 * frames + 2 * out))

    def _retime(self, video: np.ndarray, fps: float, loop: bool) -> np.ndarray:
        """Frames made at the model's rate, resampled to ``fps`` with their timestamps kept. A loop is resampled
        over its whole period (its first frame appended, then dropped), so the seam frame lasts as long as any."""
        rate = self.config.fps
        if abs(fps - rate) < 1e-6 or len(video) < 2:
            return video
        if loop:
            return resample(np.concatenate([video, video[:1]]), rate, fps)[:-1]
        return resample(video, rate, fps)

    # -- latents ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, frames: np.ndarray, width: int, height: int) -> torch.Tensor:
        """uint8 frames (4k+1 of them) -> normalised latent (1, C, k+1, h, w) at the pipeline's size."""
        x = to_video(fit(frames, width, height))[None]
        z = self.autoencoder.refine(x, self.autoencoder.encode(x)[0], self.config.refine)
        return self.autoencoder.normalize(z)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised latent (B, C, t, h, w) -> uint8 frames (B, T, H, W, 3), decoded in temporal chunks."""
        return to_frames(self.autoencoder.decode(self.autoencoder.denormalize(latents), chunk=self.config.decode_chunk))

    def _latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        p = self.autoencoder.params
        return (
            p.latent_channels,
            1 + (frames - 1) // p.temporal_factor,
            height // p.spatial_factor,
            width // p.spatial_factor,
        )

    def _clip_frames(self, frames: np.ndarray, count: int, from_end: bool) -> np.ndarray:
        """``count`` (4k+1) frames from the start or end of a clip; a shorter clip gives its longest 4k+1 run."""
        factor = self.autoencoder.params.temporal_factor
        usable = 1 + factor * ((min(count, len(frames)) - 1) // factor)
        return frames[len(frames) - usable :] if from_end else frames[:usable]

    @torch.no_grad()
    def _sample(
        self,
        prompts: list[str],
        negative: str | None,
        shape,
        generator,
        steps,
        guidance,
        sampler,
        cond=None,
        cond_mask=None,
        start_latents=None,
        strength=1.0,
        callback=None,
    ) -> torch.Tensor:
        b = len(prompts)
        text, text_mask = self.text_encoder(prompts)
        noise = randn((b, *shape), generator)
        grid = self.transformer.grid(shape)
        shift = self.config.shift or shift_for(grid[0] * grid[1] * grid[2])
        schedule = get_schedule(steps, shift, start=strength)
        x = noise if start_latents is None else (1 - schedule[0]) * start_latents + schedule[0] * noise
        if cond is not None:
            cond, cond_mask = cond.expand(b, *shape), cond_mask.expand(b, -1)

        # bf16 autocast for the transformer only; guidance and the sampler's updates stay in fp32.
        amp = lambda: autocast_bf16(x.device, self.config.bf16)  # noqa: E731

        forward = self.transformer
        if self.config.compile:  # worth it for a server or a batch of clips, not for one CLI call
            if self._compiled is None:
                self._compiled = torch.compile(self.transformer)
            forward = self._compiled

        def model(xt, t, **kw):
            with amp():
                return forward(xt, t, **kw).float()

        interval = guidance != 1.0 and self.config.guidance_interval != (0.0, 1.0)
        if guidance == 1.0 or interval:  # the prompt alone: at every step, or at the steps outside the interval
            with amp():
                c_context = self.transformer.encode_text(text, text_mask)  # once per prompt, not once per step
            conditional = lambda xt, t: model(xt, t, cond=cond, cond_mask=cond_mask, context=c_context)  # noqa: E731
        if guidance == 1.0:
            fn = conditional
        else:
            u_states, u_mask = self.text_encoder([negative or ""] * b)
            with amp():
                context = self.transformer.encode_text(*_stack_text((text, text_mask), (u_states, u_mask)))
            cond2 = None if cond is None else torch.cat([cond, cond])
            mask2 = None if cond_mask is None else torch.cat([cond_mask, cond_mask])
            strong = lambda xt, t: model(xt, t, cond=cond2, cond_mask=mask2, context=context)  # noqa: E731
            fn = guided(strong, guidance)
            if self._guiding():
                with amp():
                    weak_context = self.guide.encode_text(text, text_mask)

                def weak(xt, t):
                    with amp():
                        return self.guide(xt, t, cond=cond, cond_mask=cond_mask, context=weak_context).float()

                fn = autoguided(strong, weak, guidance, self.config.guide_mix)
            if interval:
                fn = limited(fn, conditional, self.config.guidance_interval)
        return denoise(fn, x, schedule, sampler, cond, cond_mask, callback, generator)

    def _guiding(self) -> bool:
        return self.guide is not None and self.config.guide_mix > 0

    # -- the call ---------------------------------------------------------------------------------------------
    @property
    def num_timesteps(self) -> int:
        """How many sampling steps the call in progress on this thread makes in all (diffusers' name); a
        ``callback_on_step_end`` reads it for a progress bar. 0 before any call."""
        return getattr(self._call, "num_timesteps", 0)

    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | None = None,
        num_frames: int = 17,
        height: int = 64,
        width: int = 64,
        fps: float | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        num_videos_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        seed: int | None = None,
        output_type: str = "np",
        callback_on_step_end: Callable | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        image=None,
        video=None,
        end_video=None,
        direction: str = "forward",
        loop: bool = False,
        strength: float | None = None,
        sampler: str | None = None,
        watermark: bool | None = None,
        recaption: bool | None = None,
        _steps: Steps | None = None,
    ) -> VideoPipelineOutput:
        """Generate; the task follows from the arguments (see the module docstring). ``callback_on_step_end``:
        see :class:`Steps`. ``watermark=False`` leaves this call's frames unmarked (for pieces of a longer clip
        that is marked once); None: the config's. ``recaption``: a text-to-video prompt that leaves things out is
        written out as the world's captions first (:mod:`tessera.world.recaption`; None: the config's; the prompts
        used are ``output.prompts``). ``_steps``: the step count of a call this one is part of."""
        cfg = self.config
        rate = cfg.fps  # every clip is made at the model's rate; another fps is resampled from it (module doc)
        fps = rate if fps is None else fps
        steps = cfg.steps if num_inference_steps is None else num_inference_steps
        guidance = cfg.guidance if guidance_scale is None else guidance_scale
        # A loop has to come back to its first frame. Fresh noise at every step lets the layout wander (the
        # shipped model's seams, 6 seeds, ancestral: 24-40 dB, three under 25; Euler 27-39 dB), so unless a
        # sampler is asked for, a loop samples with Euler.
        sampler = sampler or ("euler" if loop and cfg.sampler in FRESH_NOISE else cfg.sampler)
        n = num_videos_per_prompt
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise InvalidInputError(f"num_videos_per_prompt must be a whole number >= 1, got {n!r}")
        # Each prompt's videos side by side, as diffusers orders them; they differ by their noise.
        prompts = [p for p in ([prompt] if isinstance(prompt, str) else list(prompt or [])) for _ in range(n)]
        # 1. check inputs
        frames = self.check_inputs(
            prompts, num_frames, height, width, fps, steps, guidance, strength, direction, output_type, sampler
        )
        if negative_prompt is not None and not isinstance(negative_prompt, str):
            raise InvalidInputError(f"negative_prompt must be a string, got {type(negative_prompt).__name__}")
        gens = generator if isinstance(generator, list) else [generator]
        if generator is not None and not all(isinstance(g, torch.Generator) for g in gens):
            raise InvalidInputError(
                "generator must be a torch.Generator, or a list of them, one per video (or pass seed=), got "
                f"{type(generator).__name__}"
            )
        if isinstance(generator, list) and len(generator) != len(prompts):
            raise InvalidInputError(
                f"a list of generators gives one per video: this call makes {len(prompts)} "
                f"(prompts x num_videos_per_prompt), and {len(generator)} were given"
            )
        if seed is not None and (
            generator is not None or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64
        ):
            raise InvalidInputError(
                "give seed= (a whole number) or generator=, not both"
                if generator is not None
                else f"seed must be a whole number from 0 to 2**64 - 1 (what a torch generator takes), got {seed!r}"
            )
        if cfg.safety:
            from tessera.safety import check_prompt

            # Before any compute: a blocked prompt costs nothing and produces nothing.
            for text in dict.fromkeys(prompts + ([negative_prompt] if negative_prompt else [])):
                check_prompt(text).raise_if_blocked()
        if strength is not None and video is None:
            raise InvalidInputError("strength (editing) needs video= (the clip to edit)")
        size = (width, height)
        image = None if image is None else _as_frames(image, "image", cover=size)
        # Given clips are read once, at the model's rate, so they keep their speed beside the new frames.
        video = None if video is None else _as_frames(video, "video", rate, fps, size)
        end_video = None if end_video is None else _as_frames(end_video, "end_video", rate, fps, size)
        if end_video is not None and video is None:
            raise InvalidInputError("end_video (connecting two clips) also needs video= (the first clip)")
        given = sum(v is not None for v in (image, video)) + bool(loop)
        if given > 1 or (loop and frames == 1):
            raise InvalidInputError(
                "choose one task: image=, video= (extend/connect/edit) or loop=True (with frames > 1)"
            )
        if frames > cfg.max_frames and strength is None and video is not None:
            # Long clips are made by chained extension, which cannot also honour a given clip (nor close a loop).
            raise InvalidInputError(
                f"extend and connect make at most {cfg.max_frames} frames ({(cfg.max_frames - 1) / rate:g} s) at a "
                "time; ask for fewer frames (TextToVideoPipeline.extend adds any length to a clip in several calls)"
            )
        held = self.autoencoder.params.temporal_factor if loop else 0  # the loop's closing block, dropped at the end
        if loop and frames + held > cfg.max_frames:
            raise InvalidInputError(
                f"a loop is at most {cfg.max_frames - held} frames ({(cfg.max_frames - held - 1) / rate:g} s) at "
                f"{rate:g} fps (the model makes "
                f"{cfg.max_frames} at a time, {held} of them the held first frame that closes the loop); ask for "
                "fewer frames"
            )
        if generator is None:
            generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        # Each video's seed: its own generator's, or the one generator's counted on (re-captioning picks a scene by
        # it, so one prompt's videos get captions of their own). The content id holds the seed(s) the noise starts
        # from (a list: each video's, so reordering changes ids).
        many = isinstance(generator, list)
        seeds = (
            [g.initial_seed() for g in generator]
            if many
            else [generator.initial_seed() + i for i in range(len(prompts))]
        )
        first_seed = "/".join(map(str, seeds)) if many else seeds[0]
        if (cfg.recaption if recaption is None else recaption) and image is None and video is None and not loop:
            if cfg.domain != "world":
                raise InvalidInputError(
                    "recaption needs a model of the physics world (domain 'world' in pipeline.json)"
                )
            from tessera.world.recaption import recaption as world_caption

            # Not for image or clip tasks: a scene sampled afresh could contradict the frames given. Nor for loops:
            # the world's captions tell one-way events, and on the shipped model "a green ball bounces on the floor"
            # looped with them closed worse, seams 28.4 dB against 31.7 over seeds 0-5.
            prompts = [
                world_caption(p, s, width, height, frames, rate) or p for p, s in zip(prompts, seeds, strict=True)
            ]
        t0 = time.perf_counter()
        timings = {"load": self.load_seconds}
        if _steps is None:
            _steps = Steps(
                self,
                steps * self._passes(frames, loop, strength),
                callback_on_step_end,
                callback_on_step_end_tensor_inputs,
            )
        common = dict(
            prompts=prompts,
            negative=negative_prompt,
            generator=generator,
            steps=steps,
            guidance=guidance,
            sampler=sampler,
            callback=_steps,
        )
        # 2. build conditions and sample
        prefix = suffix = None  # pixel frames of the given clips, put back around the generated ones
        if strength is not None:
            clip = self._clip_frames(_as_frames(video, "video"), frames, from_end=False)
            start = self.encode(clip, width, height)
            latents = self._sample(shape=start.shape[1:], start_latents=start, strength=strength, **common)
        elif frames > cfg.max_frames:
            latents = self._long(frames, height, width, image, common)
        else:
            shape = self._latent_shape(frames + held, height, width)
            cond, mask, prefix, suffix = self._conditions(shape, width, height, image, video, end_video, direction)
            latents = self._sample(shape=shape, cond=cond, cond_mask=mask, **common)
            if loop:
                # Second pass: the first pass's first frame opens the clip and, held for one latent block, closes
                # it; that held block is dropped after decoding, so playback wraps back to the first frame.
                first = self.decode(latents[:, :, :1])[:, 0]
                cond, mask = self._loop_conditions(shape, width, height, first)
                latents = self._sample(shape=shape, cond=cond, cond_mask=mask, **common)
        timings["sample"] = time.perf_counter() - t0
        if output_type == "latent":  # latents are at the model's rate
            timings["decode"] = 0.0
            return VideoPipelineOutput(list(latents), rate, timings, prompts=prompts)
        # 3. decode
        t1 = time.perf_counter()
        videos = list(self.decode(latents))
        if loop:
            videos = [v[:-held] for v in videos]
        if prefix is not None or suffix is not None:
            videos = [
                np.concatenate(
                    [
                        p
                        for p in (fit_or_none(prefix, width, height), v, fit_or_none(suffix, width, height))
                        if p is not None
                    ]
                )
                for v in videos
            ]
        videos = [self._retime(v, fps, loop) for v in videos]
        timings["decode"] = time.perf_counter() - t1
        payloads: list[int | None] = [None] * len(videos)
        if cfg.watermark if watermark is None else watermark:
            from tessera.provenance import embed, make_payload

            # The content id hashes everything that determines the video (model, seed, prompt, settings), so the
            # same call gives the same bytes (determinism) and different generations get different ids.
            key = f"{self.weights_sha256}|{first_seed}|{frames}|{height}x{width}|{steps}|{guidance}|{strength}|{loop}"
            if self._guiding():  # the guide shapes the video too (appended only then: unguided ids stay as they were)
                key += f"|{self.guide_sha256}|{cfg.guide_mix}"
            if sampler != "euler":  # so does the sampler (appended likewise: Euler's ids stay as they were)
                key += f"|{sampler}"
            if cfg.guidance_interval != (0.0, 1.0) and guidance != 1.0:  # and where guidance applies (likewise)
                key += f"|{cfg.guidance_interval}"
            if abs(fps - rate) >= 1e-6:  # and the rate it is resampled to (likewise)
                key += f"|{fps:g}fps"
            if image is not None or video is not None:  # and what it was given (likewise)
                key += f"|{_digest(image, video, end_video)}|{direction}"
            if negative_prompt:  # and what it steered away from (likewise)
                key += f"|{negative_prompt}"
            payloads = [make_payload(cfg.generator_id, f"{key}|{i}|{p}") for i, p in enumerate(prompts)]
            videos = [embed(v, p) for v, p in zip(videos, payloads, strict=True)]
        if output_type == "pil":
            from PIL import Image

            videos = [[Image.fromarray(f) for f in v] for v in videos]
        elif output_type == "pt":
            videos = torch.from_numpy(np.stack(videos)).permute(0, 1, 4, 2, 3).float() / 255
        return VideoPipelineOutput(videos, fps, timings, payloads, prompts=prompts)

    def extend(
        self,
        prompt: str,
        video,
        seconds: float,
        direction: str = "forward",
        negative_prompt: str | None = None,
        height: int = 64,
        width: int = 64,
        fps: float | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int = 0,
        sampler: str | None = None,
        callback_on_step_end: Callable | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> VideoPipelineOutput:
        """``video`` with ``seconds`` more made after it (``direction="forward"``) or before it ("backward")
        under ``prompt``, by as many chained extensions as the length takes, each conditioned on the clip so far
        (a call of the model's longest clip is given about half of it from a long clip, so adds the other half).
        The pieces are unmarked and the whole is marked once. ``fps``: the rate of an array ``video`` and of the
        result (default: the model's); a file or :class:`~tessera.media.Video` keeps its own rate, and all of it
        is made at the model's. ``callback_on_step_end`` sees the steps of all the calls (:class:`Steps`)."""
        from tessera.pipeline.storyboard import extend, extension_sizes

        cfg, factor, rate = self.config, self.autoencoder.params.temporal_factor, self.config.fps
        fps = rate if fps is None else fps
        if not isinstance(seconds, numbers.Real) or not math.isfinite(seconds) or seconds <= 0:
            raise InvalidInputError(f"seconds (the length to add) must be a finite number > 0, got {seconds!r}")
        steps = cfg.steps if num_inference_steps is None else num_inference_steps
        guidance = cfg.guidance if guidance_scale is None else guidance_scale
        sampler = sampler or cfg.sampler
        # Every check before the first call's compute: a call's own (prompt, size, fps, direction, numbers; with
        # one frame, as its decode bound is not the chain's) ...
        self.check_inputs(prompt, 1, height, width, fps, steps, guidance, None, direction, "np", sampler)
        clip = _as_frames(video, "video", rate, fps, (width, height))
        add = round(seconds * rate)
        if add < 1:
            raise InvalidInputError(f"{seconds} s is less than one frame at {rate:g} fps; ask for more")
        target = len(clip) + add
        # ... and the result's memory: held as uint8 a few times over (a call's concatenation, the resampled and
        # the marked copy; counted from the code, not measured), each call's decode being one piece's.
        need = 4 * target * max(1.0, fps / rate) * height * width * 3
        have = _memory_bytes()
        if have and need > have / 2:
            raise InvalidInputError(
                f"{seconds:g} s more of a {len(clip)}-frame clip at {width}x{height} needs at least "
                f"{need / 2**30:.1f} GiB, more than half of this machine's {have / 2**30:.0f} GiB; "
                "ask for fewer seconds"
            )
        # Extensions add whole latent blocks: make the next multiple of the block, keep what was asked for.
        sizes = extension_sizes(-(-add // factor) * factor, cfg.max_frames, factor, len(clip))
        timings = {"load": self.load_seconds, "sample": 0.0, "decode": 0.0}
        kwargs = dict(
            negative_prompt=negative_prompt,
            height=height,
            width=width,
            num_inference_steps=steps,
            guidance_scale=guidance,
            direction=direction,
            sampler=sampler,
        )
        total = sum(steps * self._passes(n) for n in sizes)
        progress = Steps(self, total, callback_on_step_end, callback_on_step_end_tensor_inputs)
        out = extend(self, prompt, clip, sizes, seed, progress, timings, **kwargs)
        out = self._retime(out[:target] if direction == "forward" else out[len(out) - target :], fps, False)
        payload = None
        if cfg.watermark:
            from tessera.provenance import embed, make_payload

            # What determines the video, the given clip included.
            key = f"{self.weights_sha256}|extend|{direction}|{seed}|{add}|{height}x{width}|{steps}|{guidance}|{sampler}"
            key += f"|{_digest(clip)}|{fps:g}fps|{negative_prompt}|{prompt}"
            payload = make_payload(cfg.generator_id, key)
            out = embed(out, payload)
        return VideoPipelineOutput([out], fps, timings, [payload], prompts=[prompt])

    def storyboard(
        self,
        board,
        height: int = 64,
        width: int = 64,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        callback_on_step_end: Callable | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> VideoPipelineOutput:
        """A :class:`~tessera.pipeline.storyboard.Storyboard` (or a list of shots) as one continuous video;
        ``callback_on_step_end`` sees the steps of all its calls (:class:`Steps`)."""
        from tessera.pipeline.storyboard import Storyboard, check_shots, render

        if isinstance(board, list):
            board = Storyboard(board)
        cfg = self.config
        board.validate(cfg.fps, self.autoencoder.params.temporal_factor)  # made at the model's rate
        self.check_inputs(
            board.shots[0].prompt,
            1,
            height,
            width,
            cfg.fps,
            num_inference_steps or cfg.steps,
            cfg.guidance if guidance_scale is None else guidance_scale,
            None,
            "forward",
            "np",
            cfg.sampler,
        )
        if cfg.safety:
            check_shots(board.shots)  # every shot, before any compute
        t0 = time.perf_counter()
        video, starts, fps = render(
            self,
            board,
            width,
            height,
            num_inference_steps,
            guidance_scale,
            callback_on_step_end,
            callback_on_step_end_tensor_inputs,
        )
        payload = None  # the pieces are unmarked; the whole is marked once
        if cfg.watermark:
            from tessera.provenance import embed, make_payload

            shots = "|".join(f"{s.prompt}|{s.duration}|{s.transition}" for s in board.shots)
            key = f"{self.weights_sha256}|{board.seed}|{height}x{width}|{shots}"
            if abs(fps - cfg.fps) >= 1e-6:  # the rate it is resampled to (appended only then: ids stay as they were)
                key += f"|{fps:g}fps"
            payload = make_payload(cfg.generator_id, key)
            video = embed(video, payload)
        timings = {"load": self.load_seconds, "total": time.perf_counter() - t0}
        return VideoPipelineOutput([video], fps, timings, [payload], starts)

    def _block_latent(self, frames: np.ndarray, width: int, height: int) -> torch.Tensor:
        """The latent of one 4-frame block as it appears after a clip's first frame (not an image latent).

        Given frames closing a clip sit at non-first latent positions, where training put latents of 4-frame
        blocks encoded in context; encoding ``[f0, f1..f4]`` and keeping latent 1 gives exactly such a block.
        """
        n = self.autoencoder.params.temporal_factor + 1
        frames = np.concatenate([frames, np.repeat(frames[-1:], max(0, n - len(frames)), axis=0)])[:n]
        return self.encode(frames, width, height)[:, :, 1:2]

    def _conditions(self, shape, width, height, image, video, end_video, direction):
        """Clean latents, frame mask, and the given pixel frames that go before/after the generated clip."""
        if image is None and video is None:
            return None, None, None, None
        t = shape[1]
        cond = torch.zeros((1, *shape))
        mask = torch.zeros(1, t, dtype=torch.bool)
        if image is not None:
            cond[:, :, :1] = self.encode(image[:1], width, height)  # frames already (__call__ read it)
            mask[:, 0] = True
            return cond, mask, None, None
        frames = _as_frames(video, "video")
        if end_video is not None:
            # Connect: the first clip's last frame opens the new clip, the second clip's first block closes it.
            end = _as_frames(end_video, "end_video")
            cond[:, :, :1] = self.encode(frames[-1:], width, height)
            cond[:, :, -1:] = self._block_latent(end, width, height)
            mask[:, [0, -1]] = True
            block = self.autoencoder.params.temporal_factor + 1
            return cond, mask, frames[:-1], end[block:]
        # Extend: about half of the new clip is given.
        factor = self.autoencoder.params.temporal_factor
        if direction == "forward":
            given = self._clip_frames(frames, factor * (t // 2) + 1, from_end=True)
            z = self.encode(given, width, height)
            k = z.shape[2]
            cond[:, :, :k], mask[:, :k] = z, True
            return cond, mask, frames[: len(frames) - len(given)], None
        # Backward: the clip's first frames close the new one. Their first latent is an image latent (a clip's
        # opening), which cannot sit at a later position, so the closing blocks start after it.
        given = self._clip_frames(frames, factor * (t // 2) + 1, from_end=False)
        z = self.encode(given, width, height)[:, :, 1:]
        k = z.shape[2]
        if k:
            cond[:, :, t - k :], mask[:, t - k :] = z, True
        else:  # a one-frame "clip": hold it as the closing block
            cond[:, :, -1:], mask[:, -1] = self._block_latent(given, width, height), True
        return cond, mask, None, frames[len(given) :]

    def _loop_conditions(self, shape, width, height, first: np.ndarray):
        cond = torch.zeros((len(first), *shape))
        for i, frame in enumerate(first):
            cond[i : i + 1, :, :1] = self.encode(frame[None], width, height)
            cond[i : i + 1, :, -1:] = self._block_latent(frame[None], width, height)
        mask = torch.zeros(1, shape[1], dtype=torch.bool)
        mask[:, [0, -1]] = True
        return cond, mask

    def _passes(self, frames: int, loop: bool = False, strength: float | None = None) -> int:
        """How many sampling passes a call of ``frames`` makes: a loop two, a long clip (not an edit) its chunks."""
        if loop:
            return 2
        return self._chunks(frames) if frames > self.config.max_frames and strength is None else 1

    def _chunks(self, frames: int) -> int:
        """How many sampling passes ``_long`` makes for ``frames``."""
        cfg = self.config
        chunk = self._latent_shape(cfg.max_frames, 1, 1)[1]
        total = self._latent_shape(frames, 1, 1)[1]
        step = chunk - min(cfg.overlap, chunk - 1)
        return 1 + max(0, -(-(total - chunk) // step))

    def _long(self, frames, height, width, image, common) -> torch.Tensor:
        """Generate ``frames`` > max_frames in chunks: each chunk is conditioned on the previous one's tail."""
        cfg = self.config
        chunk_shape = self._latent_shape(cfg.max_frames, height, width)
        total = self._latent_shape(frames, height, width)[1]
        cond, mask, _, _ = self._conditions(chunk_shape, width, height, image, None, None, "forward")
        latents = self._sample(shape=chunk_shape, cond=cond, cond_mask=mask, **common)
        overlap = min(cfg.overlap, chunk_shape[1] - 1)
        while latents.shape[2] < total:
            cond = torch.zeros((latents.shape[0], *chunk_shape))
            cond[:, :, :overlap] = latents[:, :, -overlap:]
            mask = torch.zeros(1, chunk_shape[1], dtype=torch.bool)
            mask[:, :overlap] = True
            nxt = self._sample(shape=chunk_shape, cond=cond, cond_mask=mask, **common)
            latents = torch.cat([latents, nxt[:, :, overlap:]], dim=2)
        return latents[:, :, :total]


def _stack_text(*parts: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate (states, mask) batches of different token lengths, zero-padded to the longest."""
    length = max(states.shape[1] for states, _ in parts)
    states = [F.pad(s, (0, 0, 0, length - s.shape[1])) for s, _ in parts]
    masks = [F.pad(m, (0, length - m.shape[1])) for _, m in parts]
    return torch.cat(states), torch.cat(masks)


def _memory_bytes() -> int:
    """This machine's physical memory in bytes; 0 where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 0


def fit_or_none(frames: np.ndarray | None, width: int, height: int) -> np.ndarray | None:
    return None if frames is None or len(frames) == 0 else fit(frames, width, height)
