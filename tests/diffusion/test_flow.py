"""Flow matching: schedules, samplers against exact solutions, guidance, condition frames, the loss."""

import pytest
import torch

from tessera.diffusion import (
    FRESH_NOISE,
    add_noise,
    autoguided,
    denoise,
    flow_loss,
    get_schedule,
    guided,
    limited,
    logit_normal,
    shift_for,
    time_shift,
    velocity_target,
)
from tessera.errors import ConfigError


def test_time_shift_keeps_endpoints_and_adds_noise_in_between():
    t = torch.linspace(0, 1, 11)
    shifted = time_shift(t, 3.0)
    assert shifted[0] == 0 and shifted[-1] == 1
    assert (shifted[1:-1] > t[1:-1]).all() and (shifted.diff() > 0).all()
    assert torch.equal(time_shift(t, 1.0), t)
    assert shift_for(64) == 1.0 and shift_for(1024) == pytest.approx(2.0) and shift_for(10**9) == 6.0


def test_schedule_runs_from_start_to_zero():
    s = get_schedule(10, shift=2.0)
    assert len(s) == 11 and s[0] == 1 and s[-1] == 0 and (s.diff() < 0).all()
    edit = get_schedule(5, start=0.6)
    assert edit[0] == pytest.approx(0.6) and edit[-1] == 0
    with pytest.raises(ConfigError, match="steps"):
        get_schedule(0)
    with pytest.raises(ConfigError, match="strength"):
        get_schedule(4, start=1.5)


def test_logit_normal_times_lie_inside_the_unit_interval():
    t = logit_normal(10000, torch.Generator().manual_seed(0))
    assert 0 < t.min() and t.max() < 1 and abs(float(t.mean()) - 0.5) < 0.01


def test_euler_follows_a_straight_path_exactly():
    x0 = torch.randn(2, 3, 2, 4, 4)

    def velocity(x, t):  # the true field when all data is the single point x0
        return (x - x0) / t.view(-1, 1, 1, 1, 1)

    out = denoise(velocity, torch.randn_like(x0), get_schedule(4))
    torch.testing.assert_close(out, x0, rtol=1e-5, atol=1e-5)


def _gaussian_field(s: float):
    """The exact velocity field when the data is N(0, s^2): its clean guess is the posterior mean."""

    def velocity(x, t):
        t = t.view(-1, 1)
        return (t - (1 - t) * s**2) / ((1 - t) ** 2 * s**2 + t**2) * x

    return velocity


GAUSS_NOISE = torch.randn(4000, 8, generator=torch.Generator().manual_seed(1))


def _gaussian_samples(method, steps, seed=0, s=3.0):
    gen = torch.Generator().manual_seed(seed)
    return denoise(_gaussian_field(s), GAUSS_NOISE, get_schedule(steps), method, generator=gen)


def test_heun_beats_euler_on_a_curved_field():
    s = 3.0  # data ~ N(0, s^2): the exact flow maps noise n to s * n
    velocity = _gaussian_field(s)
    noise = torch.randn(4, 8)
    errors = {m: (denoise(velocity, noise, get_schedule(6), m) - s * noise).abs().max() for m in ("euler", "heun")}
    assert errors["heun"] < errors["euler"] / 3
    with pytest.raises(ConfigError, match="sampler"):
        denoise(velocity, noise, get_schedule(2), "ddim")


@pytest.mark.parametrize("method", FRESH_NOISE)
def test_fresh_noise_samplers_forget_the_start_repeat_with_their_seed_and_land_on_a_single_point(method):
    out = _gaussian_samples(method, 200)
    # Fresh noise at every step: the result no longer follows the starting noise, as the ODE's does (s * noise).
    assert abs(float(torch.corrcoef(torch.stack([out.flatten(), GAUSS_NOISE.flatten()]))[0, 1])) < 0.05
    assert abs(float(out.mean())) < 0.1
    assert torch.equal(_gaussian_samples(method, 12), _gaussian_samples(method, 12))
    assert not torch.equal(_gaussian_samples(method, 12), _gaussian_samples(method, 12, seed=1))
    x0 = torch.randn(2, 3, 2, 4, 4)  # a single data point: its clean guess is exact, so the last step lands on it
    out = denoise(lambda x, t: (x - x0) / t.view(-1, 1, 1, 1, 1), torch.randn_like(x0), get_schedule(4), method)
    torch.testing.assert_close(out, x0, rtol=1e-5, atol=1e-5)


def test_ancestral_reaches_the_data_spread_and_renoise_stays_nearer_the_mode():
    s = 3.0
    # Ancestral steps from the posterior mean of the clean data, not a draw of it: under-dispersed at few steps,
    # exact in the limit. Renoise keeps only the clean guess, so more steps do not bring it to s: it stays near 0.7 s.
    ancestral = [float(_gaussian_samples("ancestral", n).std()) / s for n in (12, 48, 200)]
    assert ancestral[0] < ancestral[1] < ancestral[2] and abs(ancestral[2] - 1) < 0.03
    renoise = [float(_gaussian_samples("renoise", n).std()) / s for n in (24, 200)]
    assert all(0.6 < r < 0.75 for r in renoise)


def test_classifier_free_guidance_formula_in_one_batched_call():
    calls = []

    def both(x, t):  # conditional half first (2.0), unconditional half second (0.5)
        calls.append(x.shape[0])
        return torch.cat([torch.full_like(x[:1], 2.0), torch.full_like(x[1:], 0.5)])

    x, t = torch.zeros(1, 3), torch.zeros(1)
    assert torch.equal(guided(both, 4.0)(x, t), torch.full((1, 3), 6.5))
    assert calls == [2]


def test_autoguidance_blends_the_weak_model_into_the_unconditional_side():
    def both(x, t):  # strong model: conditional 2.0, unconditional 0.5
        return torch.cat([torch.full_like(x[:1], 2.0), torch.full_like(x[1:], 0.5)])

    def weak(x, t):  # the weak model, conditioned on the prompt
        return torch.full_like(x, 1.0)

    x, t = torch.zeros(1, 3), torch.zeros(1)
    assert torch.equal(autoguided(both, weak, 4.0, 0.0)(x, t), guided(both, 4.0)(x, t))  # mix 0: CFG exactly
    assert torch.equal(autoguided(both, weak, 4.0, 1.0)(x, t), torch.full((1, 3), 5.0))  # 1 + 4 (2 - 1)
    assert torch.allclose(autoguided(both, weak, 4.0, 0.5)(x, t), torch.full((1, 3), 5.75))  # ref 0.75


def test_limited_guidance_guides_inside_its_interval_only_and_calls_one_half_outside():
    calls = []

    def both(x, t):  # conditional half 2.0, unconditional half 0.5
        calls.append(x.shape[0])
        return torch.cat([torch.full_like(x[:1], 2.0), torch.full_like(x[1:], 0.5)])

    def conditional(x, t):
        calls.append(x.shape[0])
        return torch.full_like(x, 2.0)

    fn = limited(guided(both, 4.0), conditional, (0.3, 0.9))
    x = torch.zeros(1, 3)
    got = {t: float(fn(x, torch.full((1,), t))[0, 0]) for t in (1.0, 0.95, 0.85, 0.5, 0.25, 0.1)}
    assert got == {1.0: 2.0, 0.95: 2.0, 0.85: 6.5, 0.5: 6.5, 0.25: 2.0, 0.1: 2.0}  # guided inside only
    assert calls == [1, 1, 2, 2, 1, 1]  # the unguided steps cost one half of the batch


def test_condition_frames_come_back_unchanged():
    cond = torch.randn(1, 2, 4, 3, 3)
    mask = torch.tensor([[True, False, False, True]])
    seen = []

    def velocity(x, t):
        seen.append(x[:, :, 0].clone())
        return torch.randn_like(x)

    for method in ("heun", *FRESH_NOISE):
        seen.clear()
        out = denoise(velocity, torch.randn(1, 2, 4, 3, 3), get_schedule(5), method, cond=cond, cond_mask=mask)
        assert torch.equal(out[:, :, 0], cond[:, :, 0]) and torch.equal(out[:, :, 3], cond[:, :, 3])
        assert all(torch.equal(s, cond[:, :, 0]) for s in seen)  # the model always saw the clean frame
        assert not torch.equal(out[:, :, 1], cond[:, :, 1])


def test_loss_is_zero_for_the_true_velocity_and_ignores_condition_frames():
    x0, noise = torch.randn(2, 3, 4, 2, 2), torch.randn(2, 3, 4, 2, 2)
    t = torch.tensor([0.3, 0.8])
    xt = add_noise(x0, noise, t)
    torch.testing.assert_close(xt[1], 0.2 * x0[1] + 0.8 * noise[1])
    target = velocity_target(x0, noise)
    assert flow_loss(target, x0, noise) == 0
    wrong = target.clone()
    wrong[:, :, 0] += 5.0
    mask = torch.zeros(2, 4, dtype=torch.bool)
    assert flow_loss(wrong, x0, noise) > 1
    mask[:, 0] = True
    assert flow_loss(wrong, x0, noise, mask) == 0


def test_a_weighted_loss_is_a_weighted_mean_that_keeps_its_scale():
    x0, noise = torch.randn(2, 3, 4, 2, 2), torch.randn(2, 3, 4, 2, 2)
    wrong = velocity_target(x0, noise).clone()
    wrong[:, :, :, 0, 0] += 2.0  # every channel of one latent pixel per frame is off by 2
    torch.testing.assert_close(flow_loss(wrong, x0, noise, weight=torch.full((2, 1, 4, 2, 2), 3.0)), torch.tensor(1.0))
    weight = torch.ones(2, 1, 4, 2, 2)
    weight[:, :, :, 0, 0] = 3.0  # the erring pixel counts 3 of 6 shares
    torch.testing.assert_close(flow_loss(wrong, x0, noise, weight=weight), torch.tensor(2.0))
    mask = torch.zeros(2, 4, dtype=torch.bool)
    mask[:, 1:] = True
    wrong[:, :, 1:] += 9.0  # condition frames stay out of the weighted loss too
    torch.testing.assert_close(flow_loss(wrong, x0, noise, mask, weight), torch.tensor(2.0))
