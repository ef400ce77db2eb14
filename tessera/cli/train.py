"""``tessera train vae|dit``: thin wrappers over :mod:`tessera.train` (run under ``torchrun`` for many processes)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler

train_app = typer.Typer(
    help="Train the autoencoder or the transformer, or distil a few-step model.", no_args_is_help=True
)
console = Console()


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _config(out: Path, **kw):
    from tessera.cli.output import check_output_folder
    from tessera.errors import ConfigError
    from tessera.train.loop import TrainConfig

    check_output_folder(out)  # a file there, or a folder that refuses files, is said before any work
    try:
        frames = tuple(int(f) for f in _csv(kw.pop("frames")))
    except ValueError as e:
        raise ConfigError(f"--frames must be a comma-separated list of integers ({e})") from e
    extra = {}
    for item in kw.pop("set_") or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            extra[key] = json.loads(value)
        except json.JSONDecodeError:
            extra[key] = value
    return TrainConfig(out=str(out), frames=frames, sizes=_csv(kw.pop("sizes")), extra=extra, **kw)


def _main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)])


# Options shared by both stages (Typer needs them spelled out per command).
OUT = typer.Option(..., "--out", help="Run folder: checkpoints/, log.csv, and model/ (the exported EMA weights)")
DATA = typer.Option("world", help="'world' or 'world:SPLIT' (rendered on the fly), or a folder of shards or videos")
STEPS = typer.Option(1000, help="Total optimiser steps (a resumed run continues to this number)")
BATCH = typer.Option(8, "--batch-size", help="Global batch, split evenly over processes")
WARMUP = typer.Option(100, help="Linear warm-up steps")
EMA = typer.Option(0.999, "--ema-decay", help="EMA decay of the exported weights")
BF16 = typer.Option(
    None, "--bf16/--no-bf16", help="bf16 autocast (default: where bf16 is native: a GPU, AVX512-BF16/AMX CPUs)"
)
CKPT = typer.Option(False, "--grad-checkpointing", help="Recompute activations in backward to save memory")
COMPILE = typer.Option(
    False, "--compile", help="torch.compile the transformer: ~1.1x per step after a one-off compile of about a minute"
)
FSDP = typer.Option(False, "--fsdp", help="Shard parameters and optimizer state (large presets, many processes)")
SIZES = typer.Option("64x64,112x64,64x112", help="Comma-separated WIDTHxHEIGHT buckets")
SEED = typer.Option(0, help="Seed of weights, data and noise")
LOG_EVERY = typer.Option(10, "--log-every", help="Steps between log rows")
CKPT_EVERY = typer.Option(500, "--ckpt-every", help="Steps between checkpoints")
RESUME = typer.Option(True, "--resume/--no-resume", help="Continue from the latest checkpoint in --out")
TB = typer.Option(False, "--tensorboard", help="Also write TensorBoard logs (needs the tensorboard package)")
SET = typer.Option(None, "--set", help="Stage setting KEY=VALUE (e.g. kl_weight=1e-6, text_dropout=0.1)")


@train_app.command("vae")
def train_vae_command(
    out: Path = OUT,
    preset: str = typer.Option("s", help="Autoencoder preset: tiny, s, b (with --init: that model's)"),
    init: Path | None = typer.Option(None, "--init", help="Start from this autoencoder folder's weights"),
    decoder_only: bool = typer.Option(
        False, "--decoder-only", help="With --init: train the decoder on the frozen encoder (latents stay valid)"
    ),
    encoder_only: bool = typer.Option(
        False, "--encoder-only", help="With --init: train the encoder on the frozen decoder (latents decode as before)"
    ),
    data: str = DATA,
    steps: int = STEPS,
    batch_size: int = BATCH,
    lr: float = typer.Option(3e-4, help="Peak learning rate"),
    warmup: int = WARMUP,
    ema_decay: float = EMA,
    bf16: bool | None = typer.Option(
        None,
        "--bf16/--no-bf16",
        help="bf16 autocast (default: GPU only; a CPU Conv3d step ran ~20x slower in bf16: bench/vae_step_dtype.py)",
    ),
    grad_checkpointing: bool = CKPT,
    fsdp: bool = FSDP,
    sizes: str = SIZES,
    frames: str = typer.Option("1,9", help="Comma-separated frame counts (4k+1); 1 trains on single images"),
    seed: int = SEED,
    log_every: int = LOG_EVERY,
    ckpt_every: int = CKPT_EVERY,
    resume: bool = RESUME,
    tensorboard: bool = TB,
    set_: list[str] | None = SET,
) -> None:
    """Train the causal video autoencoder."""
    import torch

    from tessera.errors import ConfigError
    from tessera.models.autoencoder import PRESETS
    from tessera.train.vae import train_vae

    if preset not in PRESETS:
        raise ConfigError(f"unknown autoencoder preset {preset!r}; choose one of {', '.join(PRESETS)}")
    _logging()
    cfg = _config(
        out,
        data=data,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        warmup=warmup,
        ema_decay=ema_decay,
        bf16=torch.cuda.is_available() if bf16 is None else bf16,
        grad_checkpointing=grad_checkpointing,
        fsdp=fsdp,
        sizes=sizes,
        frames=frames,
        seed=seed,
        log_every=log_every,
        ckpt_every=ckpt_every,
        tensorboard=tensorboard,
        set_=set_,
    )
    cfg.extra = {
        **cfg.extra,
        "init": str(init) if init else None,
        "decoder_only": decoder_only,
        "encoder_only": encoder_only,
    }
    folder = train_vae(PRESETS[preset], cfg, resume=resume)
    if _main_process():
        console.print(f"autoencoder written to {folder}")


@train_app.command("dit")
def train_dit_command(
    out: Path = OUT,
    vae: Path | None = typer.Option(
        None, "--vae", help="Trained autoencoder folder (the model/ of `tessera train vae`; default: --init's)"
    ),
    init: Path | None = typer.Option(
        None, "--init", help="Start from this pipeline folder's transformer (e.g. continue models/tessera-world-s)"
    ),
    preset: str = typer.Option("s", help="Transformer preset: tiny, xs, s, b, l, xl"),
    depth: int | None = typer.Option(
        None, help="Blocks, instead of the preset's; with --init, a shallower transformer grows identity blocks"
    ),
    text: str = typer.Option("minilm", help="Text encoder: 'minilm' (bundled) or a local Hugging Face folder"),
    data: str = DATA,
    steps: int = STEPS,
    batch_size: int = BATCH,
    lr: float = typer.Option(3e-4, help="Peak learning rate"),
    warmup: int = WARMUP,
    ema_decay: float = EMA,
    bf16: bool | None = BF16,
    grad_checkpointing: bool = CKPT,
    fsdp: bool = FSDP,
    compile_: bool = COMPILE,
    sizes: str = SIZES,
    frames: str = typer.Option("17,25,33", help="Comma-separated frame counts (4k+1)"),
    seed: int = SEED,
    log_every: int = LOG_EVERY,
    ckpt_every: int = CKPT_EVERY,
    resume: bool = RESUME,
    tensorboard: bool = TB,
    set_: list[str] | None = SET,
) -> None:
    """Train the spacetime-patch transformer on autoencoder latents; --out/model becomes a pipeline folder."""
    from dataclasses import replace

    from tessera.errors import ConfigError
    from tessera.models.autoencoder import Autoencoder
    from tessera.models.dit import PRESETS
    from tessera.models.text import TextEncoder, TextEncoderParams
    from tessera.train.dit import train_dit

    if preset not in PRESETS:
        raise ConfigError(f"unknown transformer preset {preset!r}; choose one of {', '.join(PRESETS)}")
    _logging()
    if vae is None:
        if init is None:
            raise ConfigError("transformer training needs --vae DIR (a trained autoencoder) or --init PIPELINE_DIR")
        vae = init / "autoencoder"
    latent = Autoencoder.from_pretrained(vae).params.latent_channels
    text_dim = TextEncoder(TextEncoderParams(source=text)).dim
    params = replace(PRESETS[preset], in_channels=latent, text_dim=text_dim)
    if depth is not None:
        params = replace(params, depth=depth)
    cfg = _config(
        out,
        data=data,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        warmup=warmup,
        ema_decay=ema_decay,
        bf16=bf16,
        grad_checkpointing=grad_checkpointing,
        fsdp=fsdp,
        compile=compile_,
        sizes=sizes,
        frames=frames,
        seed=seed,
        log_every=log_every,
        ckpt_every=ckpt_every,
        tensorboard=tensorboard,
        set_=set_,
    )
    cfg.extra = {**cfg.extra, "vae": str(vae), "text": text, "init": str(init) if init else None}
    folder = train_dit(params, cfg, resume=resume)
    if _main_process():
        console.print(f"pipeline folder written to {folder}")


@train_app.command("distill")
def train_distill_command(
    out: Path = OUT,
    teacher: Path = typer.Option(..., "--teacher", help="The pipeline folder to distil (e.g. models/tessera-world-s)"),
    init: Path | None = typer.Option(
        None, "--init", help="Start the student from this pipeline folder's transformer (default: the teacher's)"
    ),
    student_steps: int = typer.Option(4, help="Sampling steps of the student (guidance is baked in)"),
    teacher_steps: int = typer.Option(24, help="The teacher's steps it learns to match (a multiple of the above)"),
    data: str = DATA,
    steps: int = STEPS,
    batch_size: int = BATCH,
    lr: float = typer.Option(5e-5, help="Peak learning rate (the student starts from the teacher)"),
    warmup: int = WARMUP,
    ema_decay: float = EMA,
    bf16: bool | None = BF16,
    compile_: bool = COMPILE,
    sizes: str = SIZES,
    frames: str = typer.Option("17,25,33", help="Comma-separated frame counts (4k+1)"),
    seed: int = SEED,
    log_every: int = LOG_EVERY,
    ckpt_every: int = CKPT_EVERY,
    resume: bool = RESUME,
    set_: list[str] | None = SET,
) -> None:
    """Distil a pipeline into a few-step student that samples without guidance; --out/model is a pipeline."""
    from tessera.train.distill import train_distill

    _logging()
    cfg = _config(
        out,
        data=data,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        warmup=warmup,
        ema_decay=ema_decay,
        bf16=bf16,
        compile=compile_,
        sizes=sizes,
        frames=frames,
        seed=seed,
        log_every=log_every,
        ckpt_every=ckpt_every,
        set_=set_,
    )
    cfg.extra = {
        **cfg.extra,
        "teacher": str(teacher),
        "init": str(init) if init else None,
        "student_steps": student_steps,
        "teacher_steps": teacher_steps,
    }
    folder = train_distill(cfg, resume=resume)
    if _main_process():
        console.print(f"pipeline folder written to {folder}")


@train_app.command("export")
def export_command(
    run: Path = typer.Argument(..., help="A run folder (the --out of tessera train vae|dit)"),
    out: Path = typer.Option(..., "--out", help="Model folder to write"),
    step: int | None = typer.Option(None, help="Checkpoint step (default: the latest)"),
) -> None:
    """Export a checkpoint's EMA weights as a model folder while the run goes on."""
    from tessera.cli.output import check_output_folder
    from tessera.train.export import export_checkpoint

    check_output_folder(out)
    console.print(f"wrote {export_checkpoint(run, out, step)}")
