"""Transformer training: flow matching on autoencoder latents, with random conditioning tasks and text dropout.

Each sample of a batch draws a task: text-to-video, first-frame image-to-video, extend forward (given the
first latent frames), extend backward (given the last ones) or connect (given both ends; a loop is a connect
whose two ends are the same frame). The given frames enter as clean latents under the frame mask and are left
out of the loss. Captions are dropped to "" with probability ``text_dropout``, which is what classifier-free
guidance needs at sampling time.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tessera.diffusion import add_noise, flow_loss, logit_normal, shift_for, time_shift
from tessera.errors import ConfigError
from tessera.files import atomic_write_text
from tessera.models.autoencoder import Autoencoder
from tessera.models.dit import DiT, DiTParams
from tessera.models.pretrained import WEIGHTS_NAME, file_sha256, params_to_dict
from tessera.models.text import TextEncoder, TextEncoderParams
from tessera.train.data import Batch, make_source
from tessera.train.latents import LatentCache
from tessera.train.loop import TrainConfig, Trainer

TASKS = ("t2v", "i2v", "extend", "extend_back", "connect")
DEFAULTS = {
    "vae": None,  # path of a trained autoencoder folder (required)
    "init": None,  # a pipeline folder whose transformer weights start the run (its checkpoints, once written, win)
    "text": "minilm",  # text encoder source
    "text_dropout": 0.1,
    "task_weights": [0.5, 0.2, 0.1, 0.1, 0.1],  # in the order of TASKS
    "pool": 0,  # world clips repeat every `pool` samples (0 = endless); lets latents be cached
    "cache_latents": True,  # only where the data is finite (a pool, shards, a folder): an endless stream never repeats
    # Training times are logit-normal, shifted towards noise by this (0: by the token count, shift_for). Where
    # the noise is near total the model must predict the prompt's average clip, i.e. lay the scene out from the
    # text (where a slide starts); an unshifted logit-normal puts 1.4% of its samples above t = 0.9.
    # A list (e.g. [1, 3]): each clip draws one of its shifts, so low noise, where edges and the background's
    # fine detail are drawn, is not starved (shift 3 alone puts 2.6% of samples below t = 0.3, shift 1 20%).
    "time_shift": 0.0,
    # Extra loss weight on the latent pixels that hold objects (object_map): the world's objects are a few percent
    # of each frame, so a plain mean spends the model on the backdrop while the benchmark reads the objects'
    # shape, colour and count (the autoencoder's motion_weight, in latent space). 0 turns it off. Measured once
    # (session sixteen): 1000 steps at 3 against 1000 plain ones from the shipped transformer, same pool, moved
    # neither the benchmark's shape (circles 1 of 26 both) nor the objects' flow loss beyond 3%, so it stays off.
    "object_weight": 0.0,
    # Adam steps refining each clip's latent against the decoder before it is learned (Autoencoder.refine). The
    # encoder's own latents round the corners of moving shapes, and a transformer learns to draw what it is shown:
    # on latents refined by 20 steps the benchmark's floor reads identity 0.94 and pass-all 0.75 (5 steps: 0.75 and
    # 0.64) where the encoder's read 0.55 and 0.42 (docs/autoencoder.md). Each clip costs that many decodes and
    # backward passes once (the latent cache keeps the result, under its own tag): at 5 steps an 800-clip pool took
    # about 42 min on 2 CPU cores (session twenty-one, whose run on it is the shipped transformer). 0: the encoder's
    # latents.
    "refine": 0,
}
PIPELINE_CONFIG = "pipeline.json"


def condition_mask(task: str, frames: int, rng: np.random.Generator) -> torch.Tensor:
    """(frames,) bool: True on the latent frames given clean for ``task``."""
    mask = torch.zeros(frames, dtype=torch.bool)
    if frames == 1 or task == "t2v":
        return mask
    if task == "i2v":
        mask[0] = True
    elif task == "extend":
        mask[: int(rng.integers(1, frames))] = True
    elif task == "extend_back":
        mask[frames - int(rng.integers(1, frames)) :] = True
    elif task == "connect":
        mask[0] = mask[-1] = True
    else:
        raise ConfigError(f"unknown conditioning task {task!r}; choose from {', '.join(TASKS)}")
    return mask


def object_map(z: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, H, W) in [0, 1]: how far each latent pixel is from its row's median over the width (the backdrop:
    a wall, and a floor strip or horizon, is constant along a row; an object is narrower than half of it), as the
    RMS over channels of the normalised latent, saturating at 1 (about a standard deviation)."""
    z = z.float()
    return (z - z.median(dim=4, keepdim=True).values).pow(2).mean(dim=1, keepdim=True).sqrt().clamp(max=1.0)


class DiTObjective:
    """The loss function: owns the frozen autoencoder, the text encoder and their caches."""

    def __init__(
        self, vae: Autoencoder, text: TextEncoder, extra: dict, seed: int, cache: LatentCache | None = None
    ) -> None:
        self.vae, self.text, self.seed = vae.eval().requires_grad_(False), text, seed
        self.text_dropout = float(extra["text_dropout"])
        if not 0 <= self.text_dropout <= 1:
            raise ConfigError(f"text_dropout must be in [0, 1] (the share of prompts dropped), got {self.text_dropout}")
        self.object_weight = float(extra["object_weight"])
        if self.object_weight < 0:
            raise ConfigError(f"object_weight must be >= 0 (0 turns it off), got {self.object_weight}")
        weights = np.asarray(extra["task_weights"], dtype=float)
        if len(weights) != len(TASKS) or (weights < 0).any() or weights.sum() <= 0:
            raise ConfigError(f"task_weights: give {len(TASKS)} non-negative weights for {', '.join(TASKS)}")
        self.task_p = weights / weights.sum()
        shifts = extra["time_shift"]
        try:
            self.time_shifts = [float(v) for v in (shifts if isinstance(shifts, list) else [shifts])]
        except (TypeError, ValueError):
            self.time_shifts = []  # reported below, with the value given
        if not self.time_shifts or min(self.time_shifts) < 0:
            raise ConfigError(
                f"time_shift must be a number >= 0 (0: by the token count) or a list of them, got {shifts!r}"
            )
        self.refine = extra["refine"]
        if not isinstance(self.refine, int) or self.refine < 0:
            raise ConfigError(
                f"refine must be an integer >= 0 (Adam steps; 0: the encoder's latents), got {self.refine!r}"
            )
        self.cache = cache

    @torch.no_grad()
    def latents(self, batch: Batch) -> torch.Tensor:
        """Normalised latent means of the batch, from the cache when the same clip was encoded before."""
        keys = batch.keys if self.cache is not None and batch.keys else None
        found = [self.cache.get(k) for k in keys] if keys is not None else [None] * len(batch.captions)
        # Only the clips not cached yet are encoded: a pool's first epochs mix cached and new clips in one batch,
        # and encoding (with refinement, seconds a clip) the whole batch again for one new clip costs 1.8x what the
        # refinement of an 800-clip pool needs (its first 400 steps simulated: 181 against 99 minutes at 4.5 s a
        # 17-frame 64x64 clip).
        missing = [i for i, z in enumerate(found) if z is None]
        if missing:
            if batch.video is None:
                raise RuntimeError("a batch without video must have every latent cached")  # a bug, not bad input
            with torch.autocast(batch.device.type, enabled=False):
                video = batch.video[missing].float()
                z = self.vae.normalize(self.vae.refine(video, self.vae.encode(video)[0], self.refine))
            for i, zi in zip(missing, z, strict=True):
                found[i] = zi
                if keys is not None:
                    self.cache.put(keys[i], zi, batch.captions[i])
        return torch.stack([z.to(batch.device) for z in found])

    def known(self, key) -> str | None:
        """For the batch source: the caption of a clip whose latent is cached, so it is not rendered again."""
        return None if self.cache is None else self.cache.caption(key)

    def flush(self) -> None:
        """Write the latents encoded since the last flush (the trainer calls this with every checkpoint)."""
        if self.cache is not None:
            self.cache.flush()

    def __call__(self, model: nn.Module, batch: Batch, step: int):
        z = self.latents(batch)
        b, _, frames = z.shape[:3]
        masks, captions, noise, t, shifts = [], [], [], [], []
        for i in range(b):
            rng, gen = batch.rng(self.seed, i), batch.generator(self.seed, i)
            task = TASKS[int(rng.choice(len(TASKS), p=self.task_p))]
            masks.append(condition_mask(task, frames, rng))
            captions.append("" if rng.random() < self.text_dropout else batch.captions[i])
            noise.append(torch.randn(z.shape[1:], generator=gen, device=z.device))
            t.append(logit_normal(1, gen, device=z.device))
            # One shift: no extra draw, so runs with a single shift keep their random streams (and resume).
            shifts.append(self.time_shifts[0] if len(self.time_shifts) == 1 else float(rng.choice(self.time_shifts)))
        cond_mask, noise = torch.stack(masks).to(z.device), torch.stack(noise)
        text, text_mask = self.text(captions, device=z.device)
        tokens = z[0, 0].numel() // math.prod(model_params(model).patch)
        t = torch.cat([time_shift(ti, s or shift_for(tokens)) for ti, s in zip(t, shifts, strict=True)])
        x_t = add_noise(z, noise, t)
        pred = model(x_t, t, text, text_mask, cond=z, cond_mask=cond_mask)
        weight = 1 + self.object_weight * object_map(z) if self.object_weight else None
        loss = flow_loss(pred, z, noise, cond_mask, weight)
        return loss, {}


def open_cache(cfg: TrainConfig, extra: dict, vae_weights: Path) -> LatentCache | None:
    """The run's latent cache, kept in ``OUT/latents`` across resumes; None where the data never repeats (an
    endless world stream: caching it would only grow memory)."""
    finite = bool(extra["pool"]) or not cfg.data.startswith("world")
    if not (extra["cache_latents"] and finite):
        return None
    # Latents are a function of the autoencoder's weights and of which clip a key names: the data, seed and
    # buckets (pool clip c is rendered at bucket c % len(buckets)). Not of the pool's size, so a run on a larger
    # pool of the same seed reuses the latents of the smaller one (copy its latents/ folder into the new --out).
    buckets = ",".join(f"{b.frames}x{b.height}x{b.width}" for b in cfg.buckets())
    tag = f"{file_sha256(vae_weights)}|{cfg.data}|seed={cfg.seed}|buckets={buckets}"
    # Refined latents are other latents; without refinement the tag is what it was (distillation has no refine).
    if extra.get("refine"):
        tag += f"|refine={extra['refine']}"
    return LatentCache(Path(cfg.out) / "latents", tag, rank=int(os.environ.get("RANK", "0")))


def model_params(model: nn.Module) -> DiTParams:
    return (model.module if hasattr(model, "module") else model).params


def export_transformer(dit_state: dict, params: DiTParams, cfg: TrainConfig, folder: Path) -> None:
    """``folder`` becomes a complete pipeline: transformer/, autoencoder/ (a copy of the one trained on) and
    pipeline.json (the trained shapes and text encoder)."""
    import json

    extra = {**DEFAULTS, **cfg.extra}
    vae_dir, text_source = Path(extra["vae"]), str(extra["text"])

    dit = DiT(params)
    dit.load_state_dict(dit_state)
    dit.save_pretrained(folder / "transformer")
    if (folder / "autoencoder").resolve() != vae_dir.resolve():
        shutil.copytree(vae_dir, folder / "autoencoder", dirs_exist_ok=True)
    config = {
        "sizes": list(cfg.sizes),
        "max_frames": max(cfg.frames),
        "text_encoder": {"source": text_source},
        "transformer": "transformer",
        "autoencoder": "autoencoder",
    }
    if cfg.data.startswith("world"):  # rendered on the fly: the world's vocabulary is all it has seen
        config["domain"], config["recaption"] = "world", True
    atomic_write_text(folder / PIPELINE_CONFIG, json.dumps(config, indent=2) + "\n")


def init_transformer(folder: str | Path, params: DiTParams, hint: str) -> DiT:
    """The transformer of pipeline folder ``folder``, to start a run from; one of another shape is refused, but
    one without frame_pos or with fewer blocks grows into ``params`` with unchanged outputs."""
    start = DiT.from_pretrained(Path(folder) / "transformer")
    if start.params == params:
        return start
    old_depth = start.params.depth
    if replace(start.params, frame_pos=True, depth=params.depth) != params or old_depth > params.depth:
        raise ConfigError(f"init: {folder} holds a transformer of other shape ({start.params}); {hint}")
    # A model from before frame_pos grows it: the new projection starts at zero. Added blocks start as the
    # identity (adaLN-Zero gates and the cross-attention output are zero at init), spread evenly between the
    # old ones so each stretch of the network gains capacity; the old blocks keep their order.
    grown = DiT(params)
    place = [j * params.depth // old_depth for j in range(old_depth)]
    state = {}
    for key, value in start.state_dict().items():
        if key.startswith("blocks."):
            _, j, rest = key.split(".", 2)
            key = f"blocks.{place[int(j)]}.{rest}"
        state[key] = value
    missing, unexpected = grown.load_state_dict(state, strict=False)
    new_blocks = tuple(f"blocks.{i}." for i in range(params.depth) if i not in place)
    assert not unexpected and all(k.startswith(("frame_pos.", *new_blocks)) for k in missing), (missing, unexpected)
    return grown


def train_dit(params: DiTParams, cfg: TrainConfig, resume: bool = True, until: int | None = None) -> Path | None:
    """Train (or resume) the transformer; ``cfg.out/model`` becomes a pipeline folder (EMA weights)."""
    extra = cfg.settings(DEFAULTS, "transformer", lists=("time_shift",))
    if not extra["vae"]:
        raise ConfigError("transformer training needs a trained autoencoder: --vae DIR (a `tessera train vae` model)")
    vae_dir = Path(extra["vae"])
    vae = Autoencoder.from_pretrained(vae_dir)
    text = TextEncoder(TextEncoderParams(source=str(extra["text"])))
    if params.in_channels != vae.params.latent_channels or params.text_dim != text.dim:
        raise ConfigError(
            f"transformer in_channels/text_dim ({params.in_channels}/{params.text_dim}) must match the autoencoder's "
            f"latent_channels ({vae.params.latent_channels}) and the text encoder's width ({text.dim})"
        )
    factor = vae.params.spatial_factor
    for bucket in cfg.buckets():
        if bucket.height % (factor * params.patch[1]) or bucket.width % (factor * params.patch[2]):
            raise ConfigError(
                f"sizes: {bucket.size} must be a multiple of {factor * params.patch[1]} (autoencoder x patch)"
            )
    source = make_source(cfg.data, cfg.buckets(), cfg.seed, pool=int(extra["pool"]))
    objective = DiTObjective(vae, text, extra, cfg.seed, open_cache(cfg, extra, vae_dir / WEIGHTS_NAME))

    def save(state: dict, folder: Path) -> None:
        export_transformer(state, params, cfg, folder)

    describe = {"kind": "dit", "params": params_to_dict(params)}
    torch.manual_seed(cfg.seed)  # the initial weights are a function of the seed
    dit = DiT(params)
    if extra["init"]:
        # Training continued on a fresh machine from a model that shipped: its weights, new optimiser state.
        dit.load_state_dict(init_transformer(extra["init"], params, "pass its --preset").state_dict())
    return Trainer(dit, cfg, source, objective, save, describe).fit(resume=resume, until=until)
