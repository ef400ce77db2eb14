"""Causal 3D convolutional VAE: the learned video latent the transformer works in.

Shapes: video ``(B, 3, T, H, W)`` in [-1, 1] with ``T = 4k + 1`` and ``H, W`` multiples of the spatial factor
-> latent ``(B, C, k + 1, H / 8, W / 8)`` (default factors: 4x in time, 8x8 in space).

Why causal: every temporal convolution pads only on the past side (with copies of the first frame), so
frame ``t`` of the output depends on frames ``<= t`` of the input. The first frame is therefore encoded
alone, an image is simply a one-frame video, and decoding can run in temporal chunks with a small cache of
the last frames each convolution saw — the result is identical to decoding at once, while memory stays
constant in the clip's length.

Why a pixel-unshuffle ``patch`` first (as LTX-Video does): the full-resolution layers of a conv VAE cost
most of its FLOPs; folding 2x2 pixels into channels before the first conv cuts that cost 4x with no loss
of information, which is what makes training the ``s`` preset on a CPU practical.

Normalisation is RMS over channels at each position (not GroupNorm, which mixes frames and would break
causality and chunked decoding).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tessera.errors import ConfigError, InvalidInputError
from tessera.models.precision import autocast_bf16
from tessera.models.pretrained import load_weights, params_from_dict, read_config, save_model

KIND = "autoencoder"


def to_video(frames: np.ndarray) -> torch.Tensor:
    """uint8 frames (T, H, W, 3) -> the autoencoder's input, float (3, T, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div(127.5).sub(1.0)


def to_frames(video: torch.Tensor) -> np.ndarray:
    """The autoencoder's output, float (..., 3, T, H, W) in about [-1, 1] -> uint8 frames (..., T, H, W, 3)."""
    x = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.movedim(-4, -1).cpu().numpy()


@dataclass(frozen=True)
class AutoencoderParams:
    latent_channels: int = 16
    channels: tuple[int, ...] = (64, 128, 256)  # width of each level; a 2x spatial downsample between levels
    temporal_down: tuple[bool, ...] = (True, True)  # which of those downsamples also halve time
    blocks: int = 1  # residual blocks per level of the encoder
    decoder_blocks: int | None = None  # residual blocks per level of the decoder; None: blocks + 1
    patch: int = 2  # pixel-unshuffle factor applied before the first convolution
    in_channels: int = 3
    # Statistics of the trained latent; the transformer sees (z - latent_mean) / latent_std.
    latent_mean: float = 0.0
    latent_std: float = 1.0

    def __post_init__(self) -> None:
        if self.latent_channels < 1:
            raise ConfigError(f"latent_channels must be >= 1, got {self.latent_channels}")
        if not self.channels or any(c < 1 for c in self.channels):
            raise ConfigError(f"channels must be a non-empty list of positive widths, got {self.channels}")
        if len(self.temporal_down) != len(self.channels) - 1:
            raise ConfigError(
                f"temporal_down needs one entry per downsample ({len(self.channels) - 1}), got {self.temporal_down}"
            )
        if self.blocks < 1:
            raise ConfigError(f"blocks must be >= 1, got {self.blocks}")
        if self.decoder_blocks is not None and self.decoder_blocks < 1:
            raise ConfigError(f"decoder_blocks must be >= 1 (or null: blocks + 1), got {self.decoder_blocks}")
        if self.patch < 1:
            raise ConfigError(f"patch must be >= 1, got {self.patch}")
        if self.in_channels < 1:
            raise ConfigError(f"in_channels must be >= 1, got {self.in_channels}")
        if self.channels[-1] % self.latent_channels:
            raise ConfigError(
                f"channels[-1] ({self.channels[-1]}) must be a multiple of latent_channels ({self.latent_channels})"
            )
        if not self.latent_std > 0:
            raise ConfigError(f"latent_std must be > 0, got {self.latent_std}")

    @property
    def spatial_factor(self) -> int:
        return self.patch * 2 ** (len(self.channels) - 1)

    @property
    def decoder_depth(self) -> int:
        """Residual blocks per decoder level."""
        return self.blocks + 1 if self.decoder_blocks is None else self.decoder_blocks

    @property
    def temporal_factor(self) -> int:
        return 2 ** sum(self.temporal_down)


PRESETS: dict[str, AutoencoderParams] = {
    "tiny": AutoencoderParams(latent_channels=4, channels=(8, 16, 16)),
    # 32 latent channels for s: with 16, blocks of 4 frames lost small moving shapes (held-out clips 29 dB against
    # 35.5 dB for single images, and a benchmark floor of 0.29 passed_all on the reconstructions).
    "s": AutoencoderParams(latent_channels=32, channels=(48, 96, 192)),
    "b": AutoencoderParams(latent_channels=16, channels=(128, 256, 512), blocks=2),
}


class _Cache:
    """Per-module memory of the previous chunk when decoding in temporal chunks."""

    def __init__(self) -> None:
        self.frames: dict[int, torch.Tensor] = {}
        self.first = True  # does the current chunk hold the clip's first latent frame?


class CausalConv3d(nn.Module):
    """3D convolution padded in time only on the past side (replicating the first frame)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: tuple[int, int, int] = (1, 1, 1)) -> None:
        super().__init__()
        self.time_pad = kernel - 1
        self.conv = nn.Conv3d(cin, cout, kernel, stride=stride, padding=(0, kernel // 2, kernel // 2))

    def forward(self, x: torch.Tensor, cache: _Cache | None = None) -> torch.Tensor:
        if self.time_pad:
            key = id(self)
            if cache is not None and key in cache.frames:
                past = cache.frames[key]
            else:
                past = x[:, :, :1].expand(-1, -1, self.time_pad, -1, -1)
            x = torch.cat([past, x], dim=2)
            if cache is not None:
                cache.frames[key] = x[:, :, -self.time_pad :].detach()
        return self.conv(x)


class RMSNorm(nn.Module):
    """RMS over channels at each (t, h, w): position-wise, so it keeps causality."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) * (x.shape[1] ** 0.5) * self.scale


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = RMSNorm(cin), CausalConv3d(cin, cout)
        self.norm2, self.conv2 = RMSNorm(cout), CausalConv3d(cout, cout)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, cache: _Cache | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)), cache)
        h = self.conv2(F.silu(self.norm2(h)), cache)
        return self.skip(x) + h


def causal_pool(x: torch.Tensor, temporal: bool) -> torch.Tensor:
    """Average 2x2 pixels (and, in time, frame pairs ``(2j-1, 2j)`` with frame 0 alone): ``1 + 2m -> 1 + m``."""
    b, c, t, h, w = x.shape
    x = F.avg_pool3d(x, (1, 2, 2))
    if temporal and t > 1:
        rest = x[:, :, 1:].reshape(b, c, (t - 1) // 2, 2, h // 2, w // 2).mean(3)
        x = torch.cat([x[:, :, :1], rest], dim=2)
    return x


class Downsample(nn.Module):
    """Strided causal conv: 2x in space, and in time ``1 + 2m -> 1 + m`` (output frame 0 sees input frame 0).

    Plus a parameter-free shortcut, the average-pooled input (DC-AE's space-to-channel shortcut with the
    channels averaged): the conv only learns a residual, which is what lets a deep, highly compressing
    autoencoder leave the "predict the mean colour" plateau quickly.
    """

    def __init__(self, channels: int, temporal: bool) -> None:
        super().__init__()
        self.temporal = temporal
        self.conv = CausalConv3d(channels, channels, stride=(2 if temporal else 1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + causal_pool(x, self.temporal)


class Upsample(nn.Module):
    """Nearest 2x in space, and in time ``1 + m -> 1 + 2m`` (the first frame is not doubled), then a conv
    added to the upsampled input (the duplicate shortcut that mirrors :class:`Downsample`'s)."""

    def __init__(self, channels: int, temporal: bool) -> None:
        super().__init__()
        self.temporal = temporal
        self.conv = CausalConv3d(channels, channels)

    def forward(self, x: torch.Tensor, cache: _Cache | None = None) -> torch.Tensor:
        b, c, t, h, w = x.shape
        x = F.interpolate(x.transpose(1, 2).reshape(b * t, c, h, w), scale_factor=2, mode="nearest")
        x = x.reshape(b, t, c, 2 * h, 2 * w).transpose(1, 2)
        if self.temporal:
            first = cache is None or cache.first
            doubled = x[:, :, 1:] if first else x
            doubled = doubled.repeat_interleave(2, dim=2)
            x = torch.cat([x[:, :, :1], doubled], dim=2) if first else doubled
        return x + self.conv(x, cache)


class Encoder(nn.Module):
    def __init__(self, p: AutoencoderParams) -> None:
        super().__init__()
        self.patch = p.patch
        self.conv_in = CausalConv3d(p.in_channels * p.patch**2, p.channels[0])
        self.levels = nn.ModuleList()
        cin = p.channels[0]
        for i, width in enumerate(p.channels):
            level = nn.Module()
            level.blocks = nn.ModuleList(ResBlock(cin if j == 0 else width, width) for j in range(p.blocks))
            level.down = Downsample(width, p.temporal_down[i]) if i < len(p.channels) - 1 else None
            self.levels.append(level)
            cin = width
        self.mid = ResBlock(cin, cin)
        self.norm_out = RMSNorm(cin)
        self.conv_out = CausalConv3d(cin, 2 * p.latent_channels)
        self.latent_channels = p.latent_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        p = self.patch
        # (B, C, T, H, W) -> (B, C*p*p, T, H/p, W/p)
        x = (
            x.reshape(b, c, t, h // p, p, w // p, p)
            .permute(0, 1, 4, 6, 2, 3, 5)
            .reshape(b, c * p * p, t, h // p, w // p)
        )
        x = self.conv_in(x)
        for level in self.levels:
            for block in level.blocks:
                x = block(x)
            if level.down is not None:
                x = level.down(x)
        x = self.mid(x)
        out = self.conv_out(F.silu(self.norm_out(x)))
        # Shortcut to the latent mean: the features averaged in groups down to the latent channels.
        b, c, t, h, w = x.shape
        shortcut = x.reshape(b, self.latent_channels, c // self.latent_channels, t, h, w).mean(2)
        return out + torch.cat([shortcut, torch.zeros_like(shortcut)], dim=1)


class Decoder(nn.Module):
    def __init__(self, p: AutoencoderParams) -> None:
        super().__init__()
        self.patch, self.out_channels = p.patch, p.in_channels
        self.top = top = p.channels[-1]
        self.conv_in = CausalConv3d(p.latent_channels, top)
        self.mid = ResBlock(top, top)
        self.levels = nn.ModuleList()
        cin = top
        for i in reversed(range(len(p.channels))):
            width = p.channels[i]
            level = nn.Module()
            level.blocks = nn.ModuleList(ResBlock(cin if j == 0 else width, width) for j in range(p.decoder_depth))
            level.up = Upsample(width, p.temporal_down[i - 1]) if i > 0 else None
            self.levels.append(level)
            cin = width
        self.norm_out = RMSNorm(cin)
        self.conv_out = CausalConv3d(cin, p.in_channels * p.patch**2)

    def forward(self, z: torch.Tensor, cache: _Cache | None = None) -> torch.Tensor:
        # Shortcut from the latent: its channels repeated up to the top width (mirrors the encoder's average).
        x = self.conv_in(z, cache) + z.repeat_interleave(self.top // z.shape[1], dim=1)
        x = self.mid(x, cache)
        for level in self.levels:
            for block in level.blocks:
                x = block(x, cache)
            if level.up is not None:
                x = level.up(x, cache)
        x = self.conv_out(F.silu(self.norm_out(x)), cache)
        b, _, t, h, w = x.shape
        p, c = self.patch, self.out_channels
        # (B, C*p*p, T, h, w) -> (B, C, T, h*p, w*p)
        return x.reshape(b, c, p, p, t, h, w).permute(0, 1, 4, 5, 2, 6, 3).reshape(b, c, t, h * p, w * p)


class Autoencoder(nn.Module):
    """Encoder + decoder; ``encode`` returns the Gaussian's (mean, logvar), the training loop owns the losses."""

    def __init__(self, params: AutoencoderParams) -> None:
        super().__init__()
        self.params = params
        self.encoder = Encoder(params)
        self.decoder = Decoder(params)

    def check_video(self, x: torch.Tensor) -> None:
        p = self.params
        if x.ndim != 5 or x.shape[1] != p.in_channels:
            raise InvalidInputError(f"expected video of shape (B, {p.in_channels}, T, H, W), got {tuple(x.shape)}")
        t, h, w = x.shape[2:]
        if (t - 1) % p.temporal_factor:
            raise InvalidInputError(
                f"frame count must be {p.temporal_factor}k+1 (1, {p.temporal_factor + 1}, "
                f"{2 * p.temporal_factor + 1}, ...), got {t}"
            )
        f = p.spatial_factor
        if h % f or w % f:
            raise InvalidInputError(f"height and width must be multiples of {f}, got {h}x{w}")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Video in [-1, 1] -> (mean, logvar) of the latent, each (B, C, 1 + (T-1)/4, H/8, W/8)."""
        self.check_video(x)
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Latent -> video in about [-1, 1]. With ``chunk``, decode that many latent frames at a time."""
        if z.ndim != 5 or z.shape[1] != self.params.latent_channels:
            raise InvalidInputError(
                f"expected latent of shape (B, {self.params.latent_channels}, t, h, w), got {tuple(z.shape)}"
            )
        if chunk is None or chunk >= z.shape[2]:
            return self.decoder(z)
        if chunk < 1:
            raise InvalidInputError(f"chunk must be >= 1 latent frame, got {chunk}")
        cache, parts = _Cache(), []
        for start in range(0, z.shape[2], chunk):
            parts.append(self.decoder(z[:, :, start : start + chunk], cache))
            cache.first = False
        return torch.cat(parts, dim=2)

    def refine(self, x: torch.Tensor, z: torch.Tensor, steps: int, lr: float = 0.1) -> torch.Tensor:
        """The latent ``z`` of video ``x`` (its encoder mean), improved by ``steps`` Adam steps on the squared error
        of its decoding, the weights untouched.

        Why: the encoder is amortised, one guess for every clip, and misses what the decoder could draw. On the
        shipped model 20 steps lift held-out clips from 34.2 to 37.2 dB, and the corners of moving shapes the
        encoder's latent rounds off come back (docs/autoencoder.md). Neural image codecs refine their latents at
        encode time for the same reason. It costs ``steps`` decodes and backward passes of the whole clip (no
        chunking). The decoder runs under bf16 autocast where bf16 is fast: 2.4x faster on an AVX512-BF16 CPU (4
        clips of 17 frames, 5 steps: 4.07 to 1.70 s a clip) and the same PSNR to 0.01 dB (Adam's steps follow the
        gradient's sign more than its last bits); the latent and the error stay fp32.
        """
        if steps < 0:
            raise InvalidInputError(f"refine steps must be >= 0, got {steps}")
        self.check_video(x)
        z = z.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                with autocast_bf16(x.device):
                    y = self.decoder(z)
                loss = (y.float() - x).pow(2).mean()
                # Gradients for the latent only: the weights' are not computed, nor left behind on them.
                (z.grad,) = torch.autograd.grad(loss, z)
                opt.step()
        return z.detach()

    def forward(
        self, x: torch.Tensor, seeds: list[torch.Generator] | None = None, latent_noise: float = 0.0
    ) -> tuple[torch.Tensor, ...]:
        """Encode, draw a latent sample (one generator per sample when given), decode: (recon, mean, logvar).

        ``latent_noise`` > 0 adds Gaussian noise to each sample's latent, of a spread drawn uniformly from 0 to
        that many latent standard deviations: the decoder then learns to draw the clean clip from a latent that is
        off by as much as a transformer's, not only from the encoder's own.
        """
        mean, logvar = self.encode(x)
        b, shape = mean.shape[0], mean.shape[1:]
        gens = seeds if seeds is not None else [None] * b
        noise = torch.stack([torch.randn(shape, generator=g, device=mean.device) for g in gens]).to(mean.dtype)
        z = mean + (0.5 * logvar).exp() * noise
        if latent_noise:
            spread = torch.cat([torch.rand(1, generator=g, device=mean.device) for g in gens])
            extra = torch.stack([torch.randn(shape, generator=g, device=mean.device) for g in gens])
            z = z + (latent_noise * self.params.latent_std * spread).view(b, 1, 1, 1, 1).to(z.dtype) * extra.to(z.dtype)
        return self.decoder(z), mean, logvar

    def fsdp_units(self) -> list[nn.Module]:
        """Modules sharded as one unit each under FSDP."""
        return [*self.encoder.levels, *self.decoder.levels]

    # Latent normalisation for the transformer, from statistics measured after training.
    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.params.latent_mean) / self.params.latent_std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.params.latent_std + self.params.latent_mean

    def with_latent_stats(self, mean: float, std: float) -> Autoencoder:
        self.params = replace(self.params, latent_mean=float(mean), latent_std=float(std))
        return self

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        save_model(self, self.params, KIND, directory)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> Autoencoder:
        config = read_config(directory, KIND)
        model = cls(params_from_dict(AutoencoderParams, config["params"]))
        return load_weights(model, directory).eval()

    @classmethod
    def from_preset(cls, name: str, **overrides) -> Autoencoder:
        if name not in PRESETS:
            raise ConfigError(f"unknown autoencoder preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(replace(PRESETS[name], **overrides))
