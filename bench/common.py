"""Shared by the benchmarks: the model to measure, and PSNR by latent frame."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch


def require_diffusers() -> None:
    """The comparisons with diffusers need it, a benchmark-only dependency: say how to get it, not a traceback."""
    try:
        import diffusers  # noqa: F401
    except ModuleNotFoundError:
        raise SystemExit("this benchmark compares with diffusers, not installed here: pip install diffusers") from None


def pipeline_folder(model: str | None) -> tuple[Path, str]:
    """The given pipeline folder, else the shipped model, else the `s` presets with random weights saved to a
    temporary folder (speed and memory do not depend on the weights). Returns (folder, description)."""
    from tessera.cli.generate import default_model
    from tessera.models.autoencoder import Autoencoder
    from tessera.models.dit import DiT
    from tessera.models.text import TextEncoder, TextEncoderParams
    from tessera.pipeline import PipelineConfig, TextToVideoPipeline

    folder = Path(model) if model else default_model()
    if (folder / "pipeline.json").is_file():
        return folder, str(folder)
    torch.manual_seed(0)
    dit = DiT.from_preset("s")
    with torch.no_grad():  # adaLN-Zero starts at the identity; perturb it so the velocity is not zero
        for p in dit.parameters():
            p.add_(0.02 * torch.randn_like(p))
    pipe = TextToVideoPipeline(dit, Autoencoder.from_preset("s"), TextEncoder(TextEncoderParams()), PipelineConfig())
    folder = pipe.save_pretrained(Path(tempfile.mkdtemp()) / "random-s", dtype=torch.float16)
    return folder, "the s presets with random weights (fp16 on disk, like the shipped model)"


def pipeline(model: str | None):
    from tessera.pipeline import TextToVideoPipeline

    folder, name = pipeline_folder(model)
    return TextToVideoPipeline.from_pretrained(folder), name


@torch.no_grad()
def flow_loss_at(
    pipe, z: torch.Tensor, noise: torch.Tensor, states: tuple, t: float, weight: torch.Tensor | None = None
) -> float:
    """The transformer's flow loss on clean latents ``z`` noised with ``noise`` to level ``t``, under the text
    ``states`` (token states and mask): how well it denoises there (the same noise keeps models comparable).
    ``weight``: each latent pixel's share (see tessera.diffusion.flow_loss)."""
    from tessera.diffusion import add_noise, flow_loss

    tt = torch.full((len(z),), t)
    return float(flow_loss(pipe.transformer(add_noise(z, noise, tt), tt, *states), z, noise, weight=weight))


def frame_errors(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Mean squared error of each frame (0-255 frames, (T, H, W, 3))."""
    return ((out.astype(np.float64) - ref) ** 2).mean(axis=(1, 2, 3))


def latent_frame(k: int, tf: int) -> int:
    """The latent frame video frame ``k`` is in: the first frame alone, then ``tf`` frames each."""
    return 0 if k == 0 else 1 + (k - 1) // tf


def decibels(groups: list[list[float]]) -> list[float]:
    """PSNR (dB) of each group of per-frame squared errors (on 0-255 frames), pooled over its frames."""
    return [float(10 * np.log10(255.0**2 / np.mean(e))) for e in groups if len(e)]


def by_latent_frame(err: np.ndarray, tf: int) -> list[float]:
    """PSNR of each latent frame's video frames, from per-frame squared errors."""
    groups = [[] for _ in range(1 + latent_frame(len(err) - 1, tf))]
    for k, e in enumerate(err):
        groups[latent_frame(k, tf)].append(e)
    return decibels(groups)


def fmt_db(values) -> str:
    return " / ".join(f"{v:5.2f}" for v in values)
