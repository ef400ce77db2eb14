"""Spacetime-patch transformer: variable shapes, conditioning input, save/load, clear errors."""

import os
import stat

import pytest
import torch

from tessera.errors import ConfigError, InvalidInputError
from tessera.models.dit import PRESETS, DiT, DiTParams
from tessera.models.pretrained import count_params


def _model(**kw):
    torch.manual_seed(0)
    model = DiT.from_preset("tiny", **kw).eval()
    for p in model.parameters():  # adaLN-Zero starts as the zero map; give it weights so outputs differ
        torch.nn.init.normal_(p, std=0.05)
    return model


def _text(b=2, n=5, dim=32):
    mask = torch.ones(b, n, dtype=torch.bool)
    if b > 1:
        mask[1, 3:] = False
    return torch.randn(b, n, dim), mask


@pytest.mark.parametrize("t,h,w", [(1, 8, 8), (5, 8, 8), (3, 8, 14), (9, 14, 8)])
def test_shapes_across_buckets_in_one_model(t, h, w):
    model = _model()
    x = torch.randn(2, 4, t, h, w)
    with torch.no_grad():
        out = model(x, torch.rand(2), *_text())
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_zero_init_makes_the_fresh_model_output_zero():
    model = DiT.from_preset("tiny")
    with torch.no_grad():
        assert model(torch.randn(1, 4, 2, 4, 4), torch.rand(1), *_text(1)).abs().max() == 0


@torch.no_grad()
def test_padding_tokens_of_the_prompt_are_ignored():
    model, x, t = _model(), torch.randn(1, 4, 2, 4, 4), torch.rand(1)
    text, mask = torch.randn(1, 3, 32), torch.ones(1, 3, dtype=torch.bool)
    padded = torch.cat([text, torch.randn(1, 4, 32)], dim=1)
    pad_mask = torch.cat([mask, torch.zeros(1, 4, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(model(x, t, padded, pad_mask), model(x, t, text, mask))


@torch.no_grad()
def test_condition_frames_replace_the_noisy_input():
    model, t, (text, mask) = _model(), torch.rand(1), _text(1)
    cond = torch.randn(1, 4, 3, 4, 4)
    cond_mask = torch.tensor([[True, False, False]])
    x1, x2 = torch.randn(1, 4, 3, 4, 4), torch.randn(1, 4, 3, 4, 4)
    x2[:, :, 1:] = x1[:, :, 1:]  # differ only on the condition frame, which the clean latent replaces
    torch.testing.assert_close(model(x1, t, text, mask, cond, cond_mask), model(x2, t, text, mask, cond, cond_mask))
    # without the mask the same inputs differ, so the mask really is what made them equal
    assert not torch.allclose(model(x1, t, text, mask), model(x2, t, text, mask))


@torch.no_grad()
def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    model = _model(patch=(1, 2, 2))
    model.save_pretrained(tmp_path / "dit")
    loaded = DiT.from_pretrained(tmp_path / "dit")
    x, t, text = torch.randn(2, 4, 3, 4, 6), torch.rand(2), _text()
    assert torch.equal(loaded(x, t, *text), model(x, t, *text))
    # weights and config are written atomically, yet with the mode any file of the user's gets (not 0600),
    # so a saved model can be served from another account
    umask = os.umask(0)
    os.umask(umask)
    files = sorted((tmp_path / "dit").iterdir())
    assert [f.name for f in files] == ["config.json", "model.safetensors"]
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o666 & ~umask}


def test_preset_sizes_are_documented_scale():
    counts = {}
    for name, p in PRESETS.items():
        with torch.device("meta"):
            counts[name] = count_params(DiT(p))
    assert counts["tiny"] < counts["s"] < counts["b"] < counts["l"] < counts["xl"]
    assert 5e6 < counts["s"] < 30e6 and counts["xl"] > 1e9


def test_bad_configs_and_inputs_name_what_is_wrong():
    with pytest.raises(ConfigError, match="heads"):
        DiTParams(dim=30, heads=4)
    with pytest.raises(ConfigError, match="rope_split"):
        DiTParams(dim=64, heads=2, rope_split=(8, 8, 8))
    with pytest.raises(ConfigError, match="patch"):
        DiTParams(patch=(1, 0, 2))
    with pytest.raises(InvalidInputError, match="divisible by the patch"):
        _model()(torch.randn(1, 4, 2, 5, 4), torch.rand(1), *_text(1))


def test_a_precomputed_text_context_gives_the_same_velocity():
    torch.manual_seed(0)
    model = DiT.from_preset("tiny").eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x, t = torch.randn(2, 4, 3, 4, 4), torch.rand(2)
    text = torch.randn(2, 5, 32)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    with torch.no_grad():
        direct = model(x, t, text, mask)
        cached = model(x, t, context=model.encode_text(text, mask))
    torch.testing.assert_close(cached, direct)


@torch.no_grad()
def test_tokens_know_their_place_in_the_frame():
    # A latent that is the same everywhere: with RoPE alone (relative positions) every token has the same
    # queries, keys and values, so the same output; with frame_pos the left and right columns differ.
    x, t, text = torch.zeros(1, 4, 1, 8, 8), torch.rand(1), _text(1)
    for frame_pos in (False, True):
        out = _model(frame_pos=frame_pos)(x, t, *text)
        gap = (out[..., :2] - out[..., -2:]).abs().mean() / out.abs().mean()  # same place within a patch
        assert (gap > 0.1) == frame_pos, (frame_pos, float(gap))


def test_a_model_saved_before_frame_pos_loads_without_it(tmp_path):
    import json

    model = _model(frame_pos=False)
    model.save_pretrained(tmp_path / "dit")
    config = json.loads((tmp_path / "dit" / "config.json").read_text())
    del config["params"]["frame_pos"]  # as written before the field existed
    (tmp_path / "dit" / "config.json").write_text(json.dumps(config))
    loaded = DiT.from_pretrained(tmp_path / "dit")
    assert loaded.params.frame_pos is False and loaded.frame_pos is None
