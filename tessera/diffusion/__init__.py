"""Flow matching: noise/time schedules, the training loss, samplers, guidance, frame-mask conditioning."""

from tessera.diffusion.flow import add_noise, flow_loss, logit_normal, shift_for, time_shift, velocity_target
from tessera.diffusion.sampling import (
    FRESH_NOISE,
    SAMPLERS,
    autoguided,
    denoise,
    get_schedule,
    guided,
    limited,
    randn,
)

__all__ = [
    "FRESH_NOISE",
    "SAMPLERS",
    "add_noise",
    "autoguided",
    "denoise",
    "flow_loss",
    "get_schedule",
    "guided",
    "limited",
    "logit_normal",
    "randn",
    "shift_for",
    "time_shift",
    "velocity_target",
]
