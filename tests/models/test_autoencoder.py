"""Causal video autoencoder: shapes, causality, chunked decoding, save/load, clear errors."""

import pytest
import torch

from tessera.errors import ConfigError, InvalidInputError, NotFoundError
from tessera.models.autoencoder import Autoencoder, AutoencoderParams


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return Autoencoder.from_preset("tiny").eval()


@pytest.mark.parametrize("frames,height,width", [(1, 16, 16), (5, 32, 48), (9, 64, 64), (17, 64, 112)])
def test_shapes_for_buckets_and_single_images(vae, frames, height, width):
    x = torch.rand(2, 3, frames, height, width) * 2 - 1
    mean, logvar = vae.encode(x)
    assert mean.shape == logvar.shape == (2, 4, 1 + (frames - 1) // 4, height // 8, width // 8)
    assert vae.decode(mean).shape == x.shape


@torch.no_grad()
def test_causal_first_frame_is_encoded_alone(vae):
    x = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    mean = vae.encode(x)[0]
    image = vae.encode(x[:, :, :1])[0]
    torch.testing.assert_close(image, mean[:, :, :1])
    changed = x.clone()
    changed[:, :, 5:] = 0  # the future changes: latent frames built only from the past stay identical
    torch.testing.assert_close(vae.encode(changed)[0][:, :, :2], mean[:, :, :2])


@torch.no_grad()
@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_chunked_decoding_equals_decoding_at_once(vae, chunk):
    z = torch.randn(1, 4, 5, 4, 6)
    torch.testing.assert_close(vae.decode(z, chunk=chunk), vae.decode(z), rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_save_load_round_trip_gives_identical_outputs(vae, tmp_path):
    vae.with_latent_stats(0.1, 2.0).save_pretrained(tmp_path / "vae")
    loaded = Autoencoder.from_pretrained(tmp_path / "vae")
    assert loaded.params == vae.params and loaded.params.latent_std == 2.0
    x = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    assert torch.equal(loaded.encode(x)[0], vae.encode(x)[0])
    assert torch.equal(loaded.decode(torch.ones(1, 4, 2, 2, 2)), vae.decode(torch.ones(1, 4, 2, 2, 2)))


@torch.no_grad()
def test_refine_lowers_the_reconstruction_error_and_leaves_the_weights_alone(vae):
    torch.manual_seed(1)
    x = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    z0 = vae.encode(x)[0]
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    z = vae.refine(x, z0, steps=20, lr=0.05)
    assert z.shape == z0.shape and not z.requires_grad
    err0, err = ((vae.decode(z0) - x) ** 2).mean(), ((vae.decode(z) - x) ** 2).mean()
    assert err < 0.9 * err0
    assert all(torch.equal(v, before[k]) for k, v in vae.state_dict().items())
    assert all(p.grad is None for p in vae.parameters())
    assert torch.equal(vae.refine(x, z0, steps=0), z0)
    with pytest.raises(InvalidInputError, match="refine steps must be >= 0"):
        vae.refine(x, z0, steps=-1)


def test_bad_configs_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match="latent_channels"):
        AutoencoderParams(latent_channels=0)
    with pytest.raises(ConfigError, match="temporal_down"):
        AutoencoderParams(channels=(8, 16), temporal_down=(True, True))
    with pytest.raises(ConfigError, match="decoder_blocks"):
        AutoencoderParams(decoder_blocks=0)
    with pytest.raises(ConfigError, match="unknown autoencoder preset 'm'"):
        Autoencoder.from_preset("m")
    with pytest.raises(NotFoundError, match="config.json"):
        Autoencoder.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"kind": "autoencoder", "params": {"latent_chanels": 4}}')
    with pytest.raises(ConfigError, match="latent_chanels"):
        Autoencoder.from_pretrained(tmp_path)


def test_bad_inputs_say_what_to_give(vae):
    with pytest.raises(InvalidInputError, match="4k\\+1"):
        vae.encode(torch.zeros(1, 3, 6, 16, 16))
    with pytest.raises(InvalidInputError, match="multiples of 8"):
        vae.encode(torch.zeros(1, 3, 5, 20, 16))
    with pytest.raises(InvalidInputError, match="shape"):
        vae.encode(torch.zeros(3, 5, 16, 16))


@torch.no_grad()
def test_latent_noise_perturbs_the_decoded_latent_by_a_seeded_bounded_spread(vae):
    x = torch.rand(3, 3, 5, 16, 16) * 2 - 1

    def seeds():
        return [torch.Generator().manual_seed(i) for i in range(3)]

    clean = vae(x, seeds=seeds())[0]
    torch.testing.assert_close(vae(x, seeds=seeds(), latent_noise=0.0)[0], clean)  # off: the plain sample
    noisy = vae(x, seeds=seeds(), latent_noise=0.5)[0]
    torch.testing.assert_close(vae(x, seeds=seeds(), latent_noise=0.5)[0], noisy)  # repeats with its seeds
    assert not torch.allclose(noisy, clean)
    # What was added to the latent: each sample's spread lies within 0.5 latent standard deviations.
    seen = []
    original = vae.decoder.forward
    vae.decoder.forward = lambda z, cache=None: seen.append(z) or original(z, cache)
    try:
        vae(x, seeds=seeds())
        vae(x, seeds=seeds(), latent_noise=0.5)
    finally:
        del vae.decoder.forward
    added = (seen[1] - seen[0]).flatten(1).std(dim=1) / vae.params.latent_std
    assert (added > 0).all() and (added < 0.6).all()
    assert added.std() > 0.01  # a spread drawn per sample, not one for the batch
