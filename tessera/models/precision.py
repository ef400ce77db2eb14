"""Whether bf16 autocast pays off on a device.

bf16 is only fast where the hardware multiplies bf16 natively: CUDA GPUs, and CPUs with AVX512-BF16 or AMX.
Elsewhere (an AVX2-only CPU, e.g. the AMD EPYC of our CI machines) PyTorch emulates it: a transformer
training step measured more than 10x slower than fp32 (`bench/train_throughput.py`), a Conv3d step 20x
(`bench/vae_step_dtype.py`). So every "bf16 by default" in Tessera means "where it is fast".
"""

from __future__ import annotations

import torch


def bf16_is_fast(device: str | torch.device = "cpu") -> bool:
    """True where bf16 matmuls run natively (faster than fp32) on ``device``'s kind of hardware."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if kind != "cpu":
        return False
    # Private probes of torch.cpu (present since 2.3); an older or newer torch without them gets fp32.
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def autocast_bf16(device: str | torch.device, enabled: bool | None = None):
    """bf16 autocast on ``device``: on where ``enabled`` says, or (None) where bf16 is fast."""
    kind = torch.device(device).type
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16_is_fast(kind) if enabled is None else enabled)
