"""Rectified flow / flow matching: the path, the timestep distribution, the time shift and the loss.

Convention: ``x_t = (1 - t) x_0 + t * noise`` with ``t = 0`` data and ``t = 1`` pure noise; the network predicts
the velocity ``v = noise - x_0`` (so ``dx/dt = v`` and sampling integrates from ``t = 1`` down to 0).
"""

from __future__ import annotations

import math

import torch

from tessera.errors import ConfigError


def logit_normal(
    n: int,
    generator: torch.Generator | None = None,
    mean: float = 0.0,
    std: float = 1.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Training times ``sigmoid(N(mean, std))``: most weight on mid times, where the velocity is hardest (SD3)."""
    z = torch.randn(n, generator=generator, device=device) * std + mean
    return torch.sigmoid(z)


def time_shift(t: torch.Tensor, shift: float) -> torch.Tensor:
    """Map t -> shift t / (1 + (shift - 1) t): shift > 1 spends more time at high noise.

    Larger (more tokens) videos keep more signal at a given noise level, so they need more noise to destroy
    their content; shifting the times restores the balance (SD3 section 5.3.2).
    """
    if shift <= 0:
        raise ConfigError(f"time shift must be > 0, got {shift}")
    return shift * t / (1 + (shift - 1) * t)


def shift_for(tokens: int, base_tokens: int = 256, base_shift: float = 1.0, max_shift: float = 6.0) -> float:
    """The resolution/length-dependent shift: ``base_shift * sqrt(tokens / base_tokens)``, within [1, max_shift]."""
    if tokens < 1:
        raise ConfigError(f"tokens must be >= 1, got {tokens}")
    return float(min(max_shift, max(1.0, base_shift * math.sqrt(tokens / base_tokens))))


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t for per-sample times t (B,)."""
    t = t.view(-1, *([1] * (x0.ndim - 1))).to(x0.dtype)
    return (1 - t) * x0 + t * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return noise - x0


def flow_loss(
    pred: torch.Tensor,
    x0: torch.Tensor,
    noise: torch.Tensor,
    cond_mask: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared velocity error over the frames the model must generate (condition frames excluded).

    ``pred``/``x0``/``noise``: (B, C, T, H, W); ``cond_mask``: (B, T), True where a frame was given clean;
    ``weight``: (B, 1, T, H, W) >= 0, each latent pixel's share of its frame's error (None: all equal), a
    weighted mean, so the loss keeps its scale whatever the weights.
    Each sample's error is averaged over its own generated frames, then samples are averaged: so the loss of
    a batch split over processes (DDP averages their gradients) equals the loss of the combined batch.
    """
    err = (pred.float() - velocity_target(x0, noise).float()).pow(2)
    if weight is None:
        err = err.mean(dim=(1, 3, 4))  # (B, T)
    else:
        w = weight.float()
        err = (err.mean(dim=1, keepdim=True) * w).sum(dim=(1, 3, 4)) / w.sum(dim=(1, 3, 4)).clamp(min=1e-8)
    if cond_mask is None:
        return err.mean()
    keep = (~cond_mask).float()
    return ((err * keep).sum(1) / keep.sum(1).clamp(min=1.0)).mean()
