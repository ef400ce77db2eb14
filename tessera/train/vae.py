"""Autoencoder training: L1 + MSE reconstruction and a small KL term; PSNR logged as it trains."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from tessera.errors import ConfigError
from tessera.models.autoencoder import Autoencoder, AutoencoderParams
from tessera.models.pretrained import params_to_dict
from tessera.train.data import Batch, BatchSource, make_source
from tessera.train.loop import TrainConfig, Trainer

DEFAULTS = {
    "kl_weight": 1e-6,
    "stats_clips": 32,
    "init": None,  # an autoencoder folder whose weights start the run
    # Train the decoder alone on a frozen encoder (with "init"): the latent space, and so every transformer
    # trained on it, stays valid while reconstructions improve.
    "decoder_only": False,
    # Train the encoder alone on a frozen trained decoder (with "init"), keeping the start's latent statistics: every
    # latent a transformer makes decodes exactly as before, while the encoder learns latents that decoder renders
    # better (bench/autoencoder_quality.py --refine measures how much better a latent could be). Its latents move: a
    # transformer meets them only as the condition frames of image-to-video, extend, connect and edit.
    "encoder_only": False,
    # Residual blocks per decoder level (None: the preset's, or the --init model's). Given with "init", a deeper
    # decoder grows from the start's: its blocks come over and each added one starts as the identity (last conv
    # zeroed), so training begins from the start's reconstructions.
    "decoder_blocks": None,
    # Residual blocks per encoder level (None: the preset's, or the --init model's); grown from the start's as the
    # decoder's are, so a deeper encoder starts from the start's latents exactly.
    "encoder_blocks": None,
    # Extra weight on pixels that move (away from the clip's per-pixel median over time): the world's objects
    # are a few percent of each frame, so a plain mean lets a model blur them away at little cost while the
    # benchmark reads nothing else. 0 turns it off; single images are unaffected (nothing moves).
    "motion_weight": 0.0,
    # Weight of an L1 term on frame-to-frame differences (reconstruction's vs the clip's): a static backdrop must
    # not flicker and a moving object must not smear across a 4-frame latent block, which per-frame errors
    # barely see. 0 turns it off.
    "temporal_weight": 0.0,
    # Gaussian noise added to each training latent, of a spread drawn uniformly up to this many latent standard
    # deviations (Autoencoder.forward): a transformer's latents are off the encoder's by some amount, and a decoder
    # that only ever saw the encoder's draws their errors as lumpy edges and stray pixels. 0 turns it off.
    "latent_noise": 0.0,
}


def motion_mask(video: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, H, W) in [0, 1]: how far each pixel is from its clip's median over time (the static backdrop),
    saturating at a quarter of the value range."""
    backdrop = video.median(dim=2, keepdim=True).values
    return ((video - backdrop).abs().amax(dim=1, keepdim=True) / 0.5).clamp(max=1.0)


def vae_loss(
    kl_weight: float, seed: int, motion_weight: float = 0.0, temporal_weight: float = 0.0, latent_noise: float = 0.0
):
    def loss_fn(model: nn.Module, batch: Batch, step: int):
        x = batch.video
        seeds = [batch.generator(seed, i) for i in range(len(x))]
        recon, mean, logvar = model(x, seeds=seeds, latent_noise=latent_noise)
        err = recon.float() - x
        l1, mse = err.abs().mean(), err.pow(2).mean()
        mean, logvar = mean.float(), logvar.float()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = l1 + mse + kl_weight * kl
        if motion_weight:
            w = motion_weight * motion_mask(x)
            loss = loss + (w * (err.abs() + err.pow(2))).mean()
        if temporal_weight and x.shape[2] > 1:
            loss = loss + temporal_weight * err.diff(dim=2).abs().mean()  # diff of errors = error of diffs
        mse = float(mse.detach())
        return loss, {
            "l1": float(l1.detach()),
            "kl": float(kl.detach()),
            "psnr": 10 * math.log10(4.0 / max(mse, 1e-12)),
        }

    return loss_fn


@torch.no_grad()
def latent_stats(model: Autoencoder, source, clips: int) -> tuple[float, float]:
    """Mean and std of the latent means over ``clips`` clips: the transformer's normalisation."""
    values = []
    for step in range(clips):
        batch = source.batch(10_000_000 + step, 1)
        values.append(model.encode(batch.video)[0].flatten())
    z = torch.cat(values)
    return float(z.mean()), float(z.std())


def export_autoencoder(
    state: dict, params: AutoencoderParams, cfg: TrainConfig, folder: Path, source: BatchSource | None = None
) -> None:
    """Write EMA weights as a model folder, with the latent statistics measured on the run's data (``source``,
    or the run's data opened again); a decoder-only or encoder-only run keeps its start's statistics, the
    normalisation every transformer on that start was trained with."""
    extra = {**DEFAULTS, **cfg.extra}
    model = Autoencoder(params)
    model.load_state_dict(state)
    model.eval()
    if not (extra["decoder_only"] or extra["encoder_only"]):
        source = source or make_source(cfg.data, cfg.buckets(), cfg.seed, window=True, captioned=False)
        model.with_latent_stats(*latent_stats(model, source, int(extra["stats_clips"])))
    model.save_pretrained(folder)


def grow(model: Autoencoder, start: Autoencoder) -> None:
    """Load ``start``'s weights into ``model``, whose encoder and decoder may have more residual blocks per level
    (never fewer, and nothing else may differ); each added block's last conv is zeroed, so it passes its input
    through and the latents and reconstructions are exactly the start's."""
    old, new = start.params, model.params
    have = (old.blocks, old.decoder_depth)
    want = (new.blocks, new.decoder_depth)
    same = replace(old, blocks=1, decoder_blocks=1) == replace(new, blocks=1, decoder_blocks=1)
    if not same or want[0] < have[0] or want[1] < have[1]:
        raise ConfigError(
            f"init: the model has {have[0]} encoder and {have[1]} decoder blocks per level and other settings "
            f"{old}; a run from it may only add blocks (asked for {want[0]} and {want[1]})"
        )
    model.load_state_dict(start.state_dict(), strict=False)  # the added blocks are the only keys it lacks
    with torch.no_grad():
        for levels, depth in ((model.encoder.levels, have[0]), (model.decoder.levels, have[1])):
            for level in levels:
                for block in level.blocks[depth:]:
                    block.conv2.conv.weight.zero_()
                    block.conv2.conv.bias.zero_()


def train_vae(
    params: AutoencoderParams, cfg: TrainConfig, resume: bool = True, until: int | None = None
) -> Path | None:
    """Train (or resume) an autoencoder; the EMA weights go to ``cfg.out/model`` with latent statistics."""
    extra = cfg.settings(DEFAULTS, "autoencoder")
    if float(extra["latent_noise"]) < 0:
        raise ConfigError(f"latent_noise must be >= 0 (latent standard deviations), got {extra['latent_noise']}")
    if extra["decoder_only"] and extra["encoder_only"]:
        raise ConfigError("decoder_only and encoder_only exclude each other: freeze one half, or neither")
    frozen = "encoder" if extra["decoder_only"] else "decoder" if extra["encoder_only"] else None
    if frozen and not extra["init"]:
        half = "decoder_only" if frozen == "encoder" else "encoder_only"
        raise ConfigError(f"{half} trains on a frozen trained {frozen}: give --init AUTOENCODER_DIR")
    if frozen and extra[f"{frozen}_blocks"] is not None:
        raise ConfigError(
            f"{frozen}_blocks grows the {frozen}, which this run freezes: its added blocks stay the identity"
        )
    source = make_source(cfg.data, cfg.buckets(), cfg.seed, window=True, captioned=False)  # frames alone
    start = Autoencoder.from_pretrained(extra["init"]) if extra["init"] else None
    torch.manual_seed(cfg.seed)  # the initial weights (with "init": the added blocks') are a function of the seed
    if start is not None:
        params = start.params  # its latent statistics too
    # The decoder's depth is pinned before the encoder's changes: unset, it follows the encoder's.
    depth = extra["decoder_blocks"]
    params = replace(params, decoder_blocks=params.decoder_depth if depth is None else int(depth))
    if extra["encoder_blocks"] is not None:
        params = replace(params, blocks=int(extra["encoder_blocks"]))
    model = Autoencoder(params)
    if start is not None:
        grow(model, start)
    if frozen:
        getattr(model, frozen).requires_grad_(False)  # no gradients, so AdamW and the EMA leave it exactly as it was

    def save(state: dict, folder: Path) -> None:
        export_autoencoder(state, params, cfg, folder, source)

    describe = {"kind": "autoencoder", "params": params_to_dict(params)}
    trainer = Trainer(
        model,
        cfg,
        source,
        vae_loss(
            float(extra["kl_weight"]),
            cfg.seed,
            float(extra["motion_weight"]),
            float(extra["temporal_weight"]),
            float(extra["latent_noise"]),
        ),
        save,
        describe,
    )
    return trainer.fit(resume=resume, until=until)
