"""The spacetime-patch diffusion transformer.

A noisy video latent ``(B, C, T, H, W)`` is cut into ``pt x ph x pw`` spacetime patches, each embedded as one
token; the tokens attend to each other (3D RoPE over their (t, h, w) patch coordinates, so any duration,
resolution and aspect ratio works in one model) and to the text encoder's token states (cross-attention);
the flow-matching time enters through adaLN-Zero modulation. The network predicts the velocity.

RoPE is relative: alone, it tells a token how far it is from another; where in the frame it is, a token can
only infer from the frame's edges. A prompt often says where things start ("slides to the left" starts at the
right wall), so each token also gets its place in the frame, as a fraction of the width and height (the same
walls at every aspect ratio), through a zero-initialised projection (``frame_pos``) that a model trained
without it can grow.

Conditioning on given frames (image-to-video, extend, connect, loop) uses one mechanism: a per-latent-frame
mask. Masked frames are replaced by their clean latents in the input, and the mask itself is an extra input
channel, so the model knows which frames are given and which it must generate.

Structure follows facebookresearch/DiT's ``models.py``: ``modulate``, embedders, the block, the final layer,
one ``initialize_weights``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from tessera.errors import ConfigError, InvalidInputError
from tessera.models.pretrained import load_weights, params_from_dict, read_config, save_model

KIND = "dit"


@dataclass(frozen=True)
class DiTParams:
    in_channels: int = 16  # latent channels of the autoencoder
    patch: tuple[int, int, int] = (1, 2, 2)  # (t, h, w) latent cells per token
    dim: int = 384
    depth: int = 8
    heads: int = 6
    mlp_ratio: float = 4.0
    text_dim: int = 384  # width of the text encoder's token states
    qk_norm: bool = True
    rope_theta: float = 10000.0
    rope_split: tuple[int, int, int] = field(default=())  # head-dim channels for (t, h, w); () = automatic
    frame_pos: bool = True  # add each token's place in the frame (see the module docstring)

    def __post_init__(self) -> None:
        for name in ("in_channels", "dim", "depth", "heads", "text_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if len(self.patch) != 3 or any(p < 1 for p in self.patch):
            raise ConfigError(f"patch must be three positive sizes (t, h, w), got {self.patch}")
        if self.dim % self.heads:
            raise ConfigError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.head_dim % 2:
            raise ConfigError(f"dim / heads must be even for RoPE, got {self.head_dim}")
        if self.mlp_ratio <= 0:
            raise ConfigError(f"mlp_ratio must be > 0, got {self.mlp_ratio}")
        split = self.rope_dims
        if len(split) != 3 or sum(split) != self.head_dim or any(s % 2 for s in split):
            raise ConfigError(
                f"rope_split must be three even numbers summing to dim / heads ({self.head_dim}), got {split}"
            )

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def rope_dims(self) -> tuple[int, int, int]:
        if self.rope_split:
            return tuple(self.rope_split)
        # A quarter of the rotary pairs for time, the rest shared by height and width (as in Wan / HunyuanVideo).
        pairs = self.head_dim // 2
        t = pairs // 4
        h = (pairs - t) // 2
        return (2 * t, 2 * h, 2 * (pairs - t - h))


PRESETS: dict[str, DiTParams] = {
    "tiny": DiTParams(in_channels=4, dim=32, depth=2, heads=2, text_dim=32),
    "xs": DiTParams(in_channels=32, dim=128, depth=4, heads=2),  # half s's width and depth: guide models
    "s": DiTParams(in_channels=32, dim=256, depth=8, heads=4),  # the s autoencoder's latent channels
    "b": DiTParams(dim=768, depth=12, heads=12),
    "l": DiTParams(dim=1024, depth=24, heads=16, text_dim=1024),
    "xl": DiTParams(dim=2048, depth=28, heads=16, text_dim=4096),
}


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    # addcmul: one fused kernel for shift + x * (1 + scale)
    return torch.addcmul(shift.unsqueeze(1), x, 1 + scale.unsqueeze(1))


class TimestepEmbedder(nn.Module):
    """Flow time t in [0, 1] -> sinusoidal features (of 1000 t, the DiT range) -> MLP."""

    def __init__(self, dim: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = 1000.0 * t.float()[:, None] * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


def rope_tables(grid: tuple[int, int, int], p: DiTParams, device: torch.device) -> torch.Tensor:
    """Rotations as unit complex numbers, (tokens, head_dim / 2), for a (t, h, w) patch grid, t-major order
    (under torch.compile: their cosines and sines, (2, tokens, head_dim / 2))."""
    angles = []
    for size, dims in zip(grid, p.rope_dims, strict=True):
        inv = 1.0 / p.rope_theta ** (torch.arange(0, dims, 2, device=device, dtype=torch.float32) / dims)
        angles.append(torch.arange(size, device=device, dtype=torch.float32)[:, None] * inv[None])
    t, h, w = grid
    full = torch.cat(
        [
            angles[0][:, None, None].expand(t, h, w, -1),
            angles[1][None, :, None].expand(t, h, w, -1),
            angles[2][None, None, :].expand(t, h, w, -1),
        ],
        dim=-1,
    ).reshape(t * h * w, -1)
    if torch.compiler.is_compiling():  # real arithmetic for Inductor (see apply_rope)
        return torch.stack([full.cos(), full.sin()])
    return torch.polar(torch.ones_like(full), full)


def apply_rope(x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (x[2i], x[2i+1]) of fp32 (B, N, heads, head_dim) by the token's angles.

    One complex multiply instead of splitting, rotating and re-stacking halves: fewer temporaries, which is
    most of the cost of RoPE at these sizes.
    """
    if torch.compiler.is_compiling():
        # Inductor generates no code for complex numbers (it would fall back to eager here and split the
        # graph); written out in real arithmetic, the rotation fuses with the norms around it.
        x0, x1 = x.unflatten(-1, (-1, 2)).unbind(-1)
        cos, sin = rope[0][:, None], rope[1][:, None]
        return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)
    pairs = torch.view_as_complex(x.unflatten(-1, (-1, 2)).contiguous())
    return torch.view_as_real(pairs * rope[:, None]).flatten(-2)


FRAME_POS_FREQS = 8  # sines and cosines of pi * k * (place in the frame), k = 1..8: down to 1/16 of a frame


def frame_pos_features(grid: tuple[int, int, int], device: torch.device) -> torch.Tensor:
    """(tokens, 4 * FRAME_POS_FREQS) features of each token's centre as a fraction of the frame's height and
    width, t-major order like the tokens."""
    t, h, w = grid
    k = torch.arange(1, FRAME_POS_FREQS + 1, device=device, dtype=torch.float32) * math.pi
    ys, xs = ((torch.arange(n, device=device, dtype=torch.float32) + 0.5) / n for n in (h, w))
    fy, fx = ys[:, None] * k, xs[:, None] * k
    per_cell = torch.cat(
        [
            torch.cat([fy.sin(), fy.cos()], -1)[:, None].expand(h, w, -1),
            torch.cat([fx.sin(), fx.cos()], -1)[None].expand(h, w, -1),
        ],
        dim=-1,
    )
    return per_cell.reshape(1, h * w, -1).expand(t, -1, -1).reshape(t * h * w, -1)


class Attention(nn.Module):
    """Multi-head attention (self when ``context`` is None) with QK RMS-norm, optional RoPE, and SDPA."""

    def __init__(self, dim: int, heads: int, qk_norm: bool, context_dim: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        head_dim = dim // heads
        # QK-norm keeps attention logits bounded, which is what makes bf16 and larger learning rates stable.
        self.q_norm = nn.RMSNorm(head_dim, eps=1e-6) if qk_norm else nn.Identity()
        self.k_norm = nn.RMSNorm(head_dim, eps=1e-6) if qk_norm else nn.Identity()

    def keys_values(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normed keys (fp32) and values, (B, heads, L, head_dim) each."""
        k, v = self.kv(src).view(src.shape[0], src.shape[1], 2, self.heads, -1).unbind(2)
        return self.k_norm(k.float()).transpose(1, 2), v.transpose(1, 2)

    def forward(self, x, context=None, rope=None, mask=None, kv=None) -> torch.Tensor:
        """``kv``: keys and values computed beforehand (the text's, reused across sampling steps)."""
        b, n, d = x.shape
        # Norms and rotation work on (B, N, heads, head_dim), the layout the projection produces, and in fp32
        # (cheap, per head); only SDPA needs heads first, which a transpose gives without copying.
        if kv is None and context is None:
            # Self-attention: queries, keys and values from one matrix multiply (one bigger GEMM is faster).
            weight = torch.cat([self.q.weight, self.kv.weight])
            bias = torch.cat([self.q.bias, self.kv.bias])
            q, k, v = F.linear(x, weight, bias).view(b, n, 3, self.heads, -1).unbind(2)
            q, k = self.q_norm(q.float()), self.k_norm(k.float())
            if rope is not None:
                q, k = apply_rope(q, rope), apply_rope(k, rope)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        else:
            q = self.q_norm(self.q(x).view(b, n, self.heads, -1).float()).transpose(1, 2)
            k, v = kv if kv is not None else self.keys_values(context)
        out = F.scaled_dot_product_attention(q.to(v.dtype), k.to(v.dtype), v, attn_mask=mask)
        return self.out(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """adaLN-Zero block: self-attention, cross-attention to text, MLP; gates start at zero (identity block)."""

    def __init__(self, p: DiTParams) -> None:
        super().__init__()
        d = p.dim
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(d, p.heads, p.qk_norm)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=True, eps=1e-6)
        self.cross = Attention(d, p.heads, p.qk_norm, context_dim=p.text_dim)
        self.norm3 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * p.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))

    def forward(self, x, c, text, text_mask, rope, text_kv=None) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)
        x = torch.addcmul(x, gate1.unsqueeze(1), self.attn(modulate(self.norm1(x), shift1, scale1), rope=rope))
        x = x + self.cross(self.norm2(x), context=text, mask=text_mask, kv=text_kv)
        return torch.addcmul(x, gate2.unsqueeze(1), self.mlp(modulate(self.norm3(x), shift2, scale2)))


@dataclass
class TextContext:
    """What a prompt contributes to every step: the pooled-text vector and each block's cross-attention keys and
    values. Sampling computes it once per prompt instead of once per step (``DiT.encode_text``)."""

    pooled: torch.Tensor  # (B, dim)
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per block, (B, heads, L, head_dim) keys and values
    mask: torch.Tensor  # (B, 1, 1, L), True = attend

    def __len__(self) -> int:
        return self.pooled.shape[0]


class FinalLayer(nn.Module):
    def __init__(self, p: DiTParams) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(p.dim, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(p.dim, 2 * p.dim))
        self.linear = nn.Linear(p.dim, p.in_channels * math.prod(p.patch))

    def forward(self, x, c) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class DiT(nn.Module):
    def __init__(self, params: DiTParams) -> None:
        super().__init__()
        self.params = p = params
        self.gradient_checkpointing = False
        # +1 input channel: the condition mask (1 on latent frames given clean).
        self.patch_embed = nn.Linear((p.in_channels + 1) * math.prod(p.patch), p.dim)
        self.t_embed = TimestepEmbedder(p.dim)
        self.text_proj = nn.Sequential(nn.Linear(p.text_dim, p.dim), nn.SiLU(), nn.Linear(p.dim, p.dim))
        self.frame_pos = nn.Linear(4 * FRAME_POS_FREQS, p.dim) if p.frame_pos else None
        self.blocks = nn.ModuleList(Block(p) for _ in range(p.depth))
        self.final = FinalLayer(p)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        def basic(m: nn.Module) -> None:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

        self.apply(basic)
        nn.init.normal_(self.t_embed.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embed.mlp[2].weight, std=0.02)
        for block in self.blocks:  # adaLN-Zero: every residual branch starts switched off
            nn.init.zeros_(block.ada[-1].weight)
            nn.init.zeros_(block.ada[-1].bias)
            nn.init.zeros_(block.cross.out.weight)
        nn.init.zeros_(self.final.ada[-1].weight)
        nn.init.zeros_(self.final.ada[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)
        if self.frame_pos is not None:  # starts adding nothing: a model grown from one without it is unchanged
            nn.init.zeros_(self.frame_pos.weight)
            nn.init.zeros_(self.frame_pos.bias)

    def fsdp_units(self) -> list[nn.Module]:
        return list(self.blocks)

    def grid(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        t, h, w = shape[-3:]
        pt, ph, pw = self.params.patch
        if t % pt or h % ph or w % pw:
            raise InvalidInputError(
                f"latent (t, h, w) = {(t, h, w)} must be divisible by the patch {self.params.patch}"
            )
        return t // pt, h // ph, w // pw

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B, tokens, C * pt * ph * pw), tokens ordered (t, h, w)."""
        b, c = x.shape[:2]
        (gt, gh, gw), (pt, ph, pw) = self.grid(x.shape), self.params.patch
        x = x.reshape(b, c, gt, pt, gh, ph, gw, pw).permute(0, 2, 4, 6, 1, 3, 5, 7)
        return x.reshape(b, gt * gh * gw, c * pt * ph * pw)

    def unpatchify(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        b = x.shape[0]
        (gt, gh, gw), (pt, ph, pw), c = grid, self.params.patch, self.params.in_channels
        x = x.reshape(b, gt, gh, gw, c, pt, ph, pw).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return x.reshape(b, c, gt * pt, gh * ph, gw * pw)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        text: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
        cond_mask: torch.Tensor | None = None,
        context: TextContext | None = None,
    ) -> torch.Tensor:
        """Velocity for noisy latent ``x`` (B, C, T, H, W) at times ``t`` (B,) given text (B, L, text_dim).

        ``text_mask`` (B, L) is True on real tokens. ``cond`` (B, C, T, H, W) holds clean latents for the frames
        where ``cond_mask`` (B, T) is True; those frames' outputs are meaningless and ignored by losses/samplers.
        ``context`` (from ``encode_text``) replaces ``text``/``text_mask`` when the same prompt is used again.
        """
        p = self.params
        if x.ndim != 5 or x.shape[1] != p.in_channels:
            raise InvalidInputError(f"expected latent (B, {p.in_channels}, T, H, W), got {tuple(x.shape)}")
        b, _, frames = x.shape[:3]
        if cond_mask is None:
            cond_mask = torch.zeros(b, frames, dtype=torch.bool, device=x.device)
        if cond is not None:
            x = torch.where(cond_mask[:, None, :, None, None], cond.to(x.dtype), x)
        m = cond_mask[:, None, :, None, None].to(x.dtype).expand(b, 1, *x.shape[2:])
        grid = self.grid(x.shape)
        tokens = self.patch_embed(self.patchify(torch.cat([x, m], dim=1)))  # (B, N, dim)
        if self.frame_pos is not None:
            tokens = tokens + self.frame_pos(frame_pos_features(grid, x.device)).to(tokens.dtype)
        rope = rope_tables(grid, p, x.device)
        if context is None:
            if text_mask is None:
                text_mask = torch.ones(text.shape[:2], dtype=torch.bool, device=text.device)
            pooled, attn_mask, kvs = self._pooled(text, text_mask), text_mask[:, None, None, :], [None] * p.depth
        else:
            pooled, attn_mask, kvs = context.pooled, context.mask, context.kv
        c = self.t_embed(t) + pooled
        for block, kv in zip(self.blocks, kvs, strict=True):
            if self.gradient_checkpointing and self.training:
                tokens = checkpoint(block, tokens, c, text, attn_mask, rope, kv, use_reentrant=False)
            else:
                tokens = block(tokens, c, text, attn_mask, rope, kv)
        return self.unpatchify(self.final(tokens, c), grid)

    def _pooled(self, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        # Pooled text joins the time embedding, so the global conditioning vector also carries the prompt.
        weights = text_mask.unsqueeze(-1).to(text.dtype)
        return self.text_proj((text * weights).sum(1) / weights.sum(1).clamp(min=1))

    def encode_text(self, text: torch.Tensor, text_mask: torch.Tensor | None = None) -> TextContext:
        """The prompt's share of the computation, to pass as ``context=`` at every sampling step."""
        if text_mask is None:
            text_mask = torch.ones(text.shape[:2], dtype=torch.bool, device=text.device)
        kv = [block.cross.keys_values(text) for block in self.blocks]
        return TextContext(self._pooled(text, text_mask), kv, text_mask[:, None, None, :])

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        save_model(self, self.params, KIND, directory)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> DiT:
        config = read_config(directory, KIND)
        # Folders written before frame_pos existed hold models without it.
        params = params_from_dict(DiTParams, {"frame_pos": False, **config["params"]})
        return load_weights(cls(params), directory).eval()

    @classmethod
    def from_preset(cls, name: str, **overrides) -> DiT:
        if name not in PRESETS:
            raise ConfigError(f"unknown transformer preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(replace(PRESETS[name], **overrides))
