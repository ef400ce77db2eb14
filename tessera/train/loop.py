"""The training loop shared by the autoencoder and the transformer.

One process or many under ``torchrun`` (DDP, or FSDP for large presets): gloo on CPU, NCCL on GPU — the
same command either way. AdamW with linear warmup and cosine decay, gradient clipping, an EMA of the
weights, bf16 autocast, atomic checkpoints (safetensors + config + optimizer state) and exact resume.

Why resume is exact: every random draw of a step (its batch, noise, timesteps, conditioning task) comes from
generators seeded by (seed, global sample index), so a resumed run needs only weights, EMA and optimizer
state to continue bit for bit — and N processes draw exactly what one process with the combined batch would.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch import nn

from tessera.data.buckets import Bucket
from tessera.errors import ConfigError, NotFoundError
from tessera.files import atomic_path, atomic_write_text
from tessera.media.frames import parse_size
from tessera.models.precision import autocast_bf16
from tessera.train.data import Batch, BatchSource

log = logging.getLogger("tessera.train")

CHECKPOINTS = "checkpoints"


@dataclass
class TrainConfig:
    out: str
    data: str = "world"
    steps: int = 1000
    batch_size: int = 8  # global: split evenly over processes
    lr: float = 2e-4
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    warmup: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    bf16: bool | None = None  # bf16 autocast; None = where it is fast (tessera.models.precision)
    grad_checkpointing: bool = False
    compile: bool = False  # torch.compile the model's forward (and so its backward)
    fsdp: bool = False
    sizes: tuple[str, ...] = ("64x64",)
    frames: tuple[int, ...] = (17,)
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 500
    keep: int = 2  # checkpoints kept on disk
    tensorboard: bool = False
    extra: dict = field(default_factory=dict)  # stage-specific settings (loss weights, text dropout, ...)

    def __post_init__(self) -> None:
        self.sizes, self.frames = tuple(self.sizes), tuple(self.frames)
        positive = ("steps", "batch_size", "log_every", "ckpt_every", "keep")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.warmup < 0:
            raise ConfigError(f"warmup must be >= 0, got {self.warmup}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError("weight_decay and grad_clip must be >= 0")
        self.buckets()  # validates sizes and frames

    def settings(self, defaults: dict, stage: str, lists: tuple[str, ...] = ()) -> dict:
        """The stage's settings: ``extra`` (``--set KEY=VALUE``) over its ``defaults``. An unknown key, or a value
        of another kind than its default's (``pool=abc``, ``refine=2.5``), is refused naming the setting, before
        anything loads. Keys in ``lists`` may also be lists; paths, lists and None defaults are checked where used.
        """
        unknown = set(self.extra) - set(defaults)
        if unknown:
            raise ConfigError(f"unknown {stage} setting(s) {', '.join(sorted(unknown))}; known: {', '.join(defaults)}")
        for key, value in self.extra.items():
            default, kind = defaults[key], None
            if isinstance(default, bool):
                kind = "true or false" if not isinstance(value, bool) else None
            elif isinstance(default, int):
                kind = "a whole number" if isinstance(value, bool) or not isinstance(value, int) else None
            elif isinstance(default, float) and not (key in lists and isinstance(value, list)):
                number = isinstance(value, int | float) and not isinstance(value, bool)
                kind = "a number" if not number or not math.isfinite(value) else None
            if kind:
                also = " (or a list of them)" if key in lists else ""
                raise ConfigError(f"--set {key} must be {kind}{also}, like its default {default!r}; got {value!r}")
        return {**defaults, **self.extra}

    def buckets(self) -> tuple[Bucket, ...]:
        out = []
        for size in self.sizes:
            try:
                w, h = parse_size(size)
            except ValueError as e:
                raise ConfigError(f"sizes: {e}") from e
            out += [Bucket(t, h, w) for t in self.frames]
        return tuple(out)

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.steps - self.warmup))
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


# ----------------------------------------------------------------------------------------------- processes


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Dist:
    """Join the ``torchrun`` process group if there is one: NCCL when CUDA is present, gloo otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(rank, world_size, local_rank, device)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


# ---------------------------------------------------------------------------------------------- checkpoints


def _full_state(model: nn.Module, fsdp: bool) -> dict[str, torch.Tensor]:
    if fsdp:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        state = _unwrap(model).state_dict()
    return {k: v.detach().float().contiguous().cpu() for k, v in state.items()}


def checkpoint_dirs(out: str | os.PathLike) -> list[Path]:
    root = Path(out) / CHECKPOINTS
    return sorted(root.glob("step-*"), key=lambda p: int(p.name.split("-")[1])) if root.is_dir() else []


# ------------------------------------------------------------------------------------------------- trainer

# loss_fn(model, batch, step) -> (loss, metrics); per-sample randomness comes from batch.generator / batch.rng.
LossFn = Callable[[nn.Module, Batch, int], tuple[torch.Tensor, dict[str, float]]]


class Trainer:
    """Runs ``cfg.steps`` optimiser steps of ``loss_fn`` over ``source``.

    ``save_fn(state_dict, folder)`` exports the EMA weights as a pretrained model folder; ``describe`` (model kind
    and params) is stored in checkpoints and must match on resume.
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: TrainConfig,
        source: BatchSource,
        loss_fn: LossFn,
        save_fn: Callable[[dict[str, torch.Tensor], Path], None],
        describe: dict,
    ) -> None:
        self.cfg, self.source, self.loss_fn, self.save_fn, self.describe = cfg, source, loss_fn, save_fn, describe
        self.dist = setup_distributed()
        self.out = Path(cfg.out)
        torch.manual_seed(cfg.seed)
        model = model.to(self.dist.device)
        if cfg.grad_checkpointing:
            if not hasattr(model, "gradient_checkpointing"):
                raise ConfigError(f"{type(model).__name__} does not support grad_checkpointing")
            model.gradient_checkpointing = True
        self.ema = copy.deepcopy(model).requires_grad_(False).eval()
        if cfg.compile:
            # In place (Module.compile): parameter names and state dicts stay those of the plain model, so
            # checkpoints are interchangeable between compiled and eager runs. Shapes vary across buckets, so
            # after the second shape dynamo compiles one graph with dynamic sizes instead of one per shape.
            model.compile()
        self.raw = model  # the unwrapped module, whose plain state dict a (non-FSDP) resume loads into
        self.model = self._wrap(model)
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            (no_decay if p.ndim < 2 or name.endswith("bias") else decay).append(p)
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=(0.9, 0.99),
            eps=1e-8,
            # One fused kernel for the whole update instead of a dozen ops per tensor (not for FSDP's DTensors).
            fused=not cfg.fsdp,
        )
        self.step = 0
        self._tb = None

    def _wrap(self, model: nn.Module) -> nn.Module:
        if self.dist.world_size == 1:
            return model
        if self.cfg.fsdp:
            from torch.distributed.fsdp import fully_shard

            # Shard each transformer block / VAE level, then the root: parameters, grads and optimizer state are
            # split across processes, which is what lets the l/xl presets fit.
            for module in getattr(model, "fsdp_units", lambda: [])():
                fully_shard(module)
            fully_shard(model)
            for module in getattr(self.ema, "fsdp_units", lambda: [])():
                fully_shard(module)
            fully_shard(self.ema)
            return model
        ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    # -- state ------------------------------------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step-N`` atomically (a temp folder renamed into place); keep the last ``keep``."""
        # What the loss keeps on disk (the transformer's latent cache, one file per rank) goes out with the
        # checkpoint, so a run stopped and resumed does not encode again the clips it had already encoded.
        if hasattr(self.loss_fn, "flush"):
            self.loss_fn.flush()
        model_state, ema_state = _full_state(self.model, self.cfg.fsdp), _full_state(self.ema, self.cfg.fsdp)
        if self.cfg.fsdp:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

            opt_state = get_optimizer_state_dict(
                self.model, self.opt, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
            )
        else:
            opt_state = self.opt.state_dict()
        if not self.dist.main:
            return None
        root = self.out / CHECKPOINTS
        root.mkdir(parents=True, exist_ok=True)
        final = root / f"step-{self.step:08d}"
        tmp = root / f".tmp-step-{self.step:08d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, weights in (("model", model_state), ("ema", ema_state)):
            with atomic_path(tmp / f"{name}.safetensors") as part:  # the mode a user's file gets, not 0600
                save_file(weights, str(part))
        torch.save(opt_state, tmp / "optimizer.pt")
        state = {"step": self.step, "train": asdict(self.cfg), **self.describe}
        (tmp / "trainer.json").write_text(json.dumps(state, indent=2) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in checkpoint_dirs(self.out)[: -self.cfg.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def resume(self, path: str | os.PathLike | None = None) -> int:
        """Load the latest checkpoint in ``out`` (or ``path``); returns the step it continues from (0 if none)."""
        if path is None:
            found = checkpoint_dirs(self.out)
            if not found:
                return 0
            path = found[-1]
        path = Path(path)
        if not (path / "trainer.json").is_file():
            raise NotFoundError(f"{path}: not a checkpoint (no trainer.json)")
        state = json.loads((path / "trainer.json").read_text())
        for key, value in self.describe.items():
            if state.get(key) != value:
                raise ConfigError(
                    f"{path}: checkpoint was made with {key}={state.get(key)!r}, this run has {value!r}; "
                    "use the same model settings or a new --out"
                )
        model_state = load_file(str(path / "model.safetensors"))
        ema_state = load_file(str(path / "ema.safetensors"))
        opt_state = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False)
        if self.cfg.fsdp and self.dist.world_size > 1:
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_model_state_dict,
                set_optimizer_state_dict,
            )

            full = StateDictOptions(full_state_dict=True)
            set_model_state_dict(self.model, model_state, options=full)
            set_model_state_dict(self.ema, ema_state, options=full)
            set_optimizer_state_dict(self.model, self.opt, opt_state, options=full)
        else:
            self.raw.load_state_dict(model_state)
            self.ema.load_state_dict(ema_state)
            self.opt.load_state_dict(opt_state)
        self.step = int(state["step"])
        if self.dist.main and (changed := self._changed_since(state.get("train", {}))):
            log.warning("resuming with other settings than the checkpoint's: %s", "; ".join(changed))
        return self.step

    # Settings a resumed run may change without changing what it computes (a longer run is how runs go on).
    BOOKKEEPING = ("out", "steps", "log_every", "ckpt_every", "keep", "tensorboard", "compile", "grad_checkpointing")

    def _changed_since(self, before: dict) -> list[str]:
        """The training settings that differ from a checkpoint's: the same command resumes bit for bit, and another
        batch size, data set or learning rate went on from a checkpoint without a word."""
        now = json.loads(json.dumps(asdict(self.cfg)))  # tuples as lists, as the checkpoint has them
        return [
            f"{key} {before[key]!r} -> {value!r}"
            for key, value in now.items()
            if key in before and key not in self.BOOKKEEPING and before[key] != value
        ]

    # -- the loop ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def _update_ema(self) -> None:
        ema = [p for p in self.ema.parameters()]
        live = [p.detach() for p in self.model.parameters()]
        # Warm the average up (as in the DiT/EDM recipes) so early checkpoints are not dominated by init.
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(ema, live, 1 - decay)
        for b_ema, b in zip(self.ema.buffers(), self.model.buffers(), strict=True):
            b_ema.copy_(b)

    def train_step(self) -> dict[str, float]:
        cfg, d = self.cfg, self.dist
        lr = cfg.lr_at(self.step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        known = getattr(self.loss_fn, "known", None)  # objectives with a latent cache skip rendering cached clips
        batch = self.source.batch(self.step, cfg.batch_size, d.rank, d.world_size, known=known).to(d.device)
        self.model.train()
        with autocast_bf16(d.device, cfg.bf16):
            loss, metrics = self.loss_fn(self.model, batch, self.step)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
        self.opt.step()
        self._update_ema()
        self.step += 1
        return {"loss": float(loss.detach()), "grad_norm": float(norm), "lr": lr, **metrics}

    def _mean_over_processes(self, sums: dict[str, float]) -> dict[str, float]:
        """Each process saw its own slice of the batch; the logged numbers are of the whole batch."""
        if self.dist.world_size == 1 or not sums:
            return sums
        values = torch.tensor(list(sums.values()), dtype=torch.float64, device=self.dist.device)
        dist.all_reduce(values)
        return dict(zip(sums, (values / self.dist.world_size).tolist(), strict=True))

    def _log_row(self, row: dict) -> None:
        path = self.out / "log.csv"
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self._tb is not None:
            for key, value in row.items():
                if key != "step":
                    self._tb.add_scalar(key, value, row["step"])

    def _trim_log(self) -> None:
        """Drop log rows past the resumed step, so a crashed run's tail is not logged twice."""
        path = self.out / "log.csv"
        if not path.exists():
            return
        rows = path.read_text().splitlines()
        kept = rows[:1] + [r for r in rows[1:] if int(r.split(",")[0]) <= self.step]
        atomic_write_text(path, "\n".join(kept) + "\n")

    def fit(self, resume: bool = True, until: int | None = None) -> Path | None:
        """Train to ``cfg.steps`` and return the exported EMA model folder (``out/model``).

        With ``until``, stop after that step with a checkpoint and no export (a run split over sessions; the
        learning-rate schedule still follows ``cfg.steps``), returning None.
        """
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        cfg = self.cfg
        if resume:
            start = self.resume()
            if start and self.dist.main:
                log.info("resumed from step %d", start)
                if start >= cfg.steps:
                    log.warning(
                        "the run in %s is already at step %d of the %d asked for: nothing to train (its model is "
                        "exported again); give a larger --steps to train on, or a new --out for a new run",
                        self.out,
                        start,
                        cfg.steps,
                    )
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            self._trim_log()
            if cfg.tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError as e:
                    raise ConfigError("tensorboard logging needs `pip install tensorboard`") from e
                self._tb = SummaryWriter(str(self.out / "tensorboard"))
        columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}")]
        columns += [TextColumn("{task.fields[info]}"), TimeRemainingColumn()]
        interactive = self.dist.main and sys.stderr.isatty()
        window_start, window_samples, sums = time.perf_counter(), 0, {}
        with Progress(*columns, disable=not interactive) as bar:
            task = bar.add_task(self.describe.get("kind", "train"), total=cfg.steps, completed=self.step, info="")
            last = cfg.steps if until is None else min(until, cfg.steps)
            while self.step < last:
                metrics = self.train_step()
                window_samples += cfg.batch_size
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    n = cfg.log_every if self.step % cfg.log_every == 0 else self.step % cfg.log_every
                    sums = self._mean_over_processes(sums)
                    elapsed = time.perf_counter() - window_start
                    row = {"step": self.step, **{k: round(v / n, 6) for k, v in sums.items()}}
                    row["samples_per_s"] = round(window_samples / elapsed, 3)
                    if self.dist.main:
                        self._log_row(row)
                        info = f"loss {row['loss']:.4f}  {row['samples_per_s']:.2f} samples/s"
                        bar.update(task, completed=self.step, info=info)
                        if not interactive:
                            log.info("step %d/%d  %s", self.step, cfg.steps, info)
                    window_start, window_samples, sums = time.perf_counter(), 0, {}
                if self.step % cfg.ckpt_every == 0 and self.step < last:
                    self.save_checkpoint()
        self.save_checkpoint()
        if self.step < cfg.steps:
            self._leave_together()
            return None
        export = self.out / "model"
        ema_state = _full_state(self.ema, self.cfg.fsdp)  # a collective under FSDP: every rank takes part
        if self.dist.main:
            self.save_fn(ema_state, export)
        if self._tb is not None:
            self._tb.close()
        self._leave_together()
        return export

    def _leave_together(self) -> None:
        # No process returns before the checkpoint and export are written: a caller may read them, and a gloo
        # process group torn down while a peer is still busy can abort the process ("terminate called without
        # an active exception").
        if self.dist.world_size > 1:
            dist.barrier()
