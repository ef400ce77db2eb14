import pytest
import torch

from tessera.models import precision
from tessera.models.precision import autocast_bf16, bf16_is_fast


@pytest.mark.parametrize("avx512_bf16, amx, fast", [(False, False, False), (True, False, True), (False, True, True)])
def test_bf16_is_on_by_default_only_where_the_cpu_has_it_natively(monkeypatch, avx512_bf16, amx, fast):
    monkeypatch.setattr(precision.torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(precision.torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    assert bf16_is_fast("cpu") is fast
    a = torch.randn(4, 4)
    with autocast_bf16("cpu"):
        assert (a @ a).dtype == (torch.bfloat16 if fast else torch.float32)
    # An explicit choice wins over the hardware probe either way.
    with autocast_bf16("cpu", enabled=not fast):
        assert (a @ a).dtype == (torch.float32 if fast else torch.bfloat16)


def test_a_torch_without_the_probes_gets_fp32(monkeypatch):
    monkeypatch.delattr(precision.torch.cpu, "_is_avx512_bf16_supported", raising=False)
    monkeypatch.delattr(precision.torch.cpu, "_is_amx_tile_supported", raising=False)
    assert not bf16_is_fast("cpu")
    assert not bf16_is_fast("meta")
