"""Export a run's latest (or a chosen) checkpoint as a model folder, without waiting for the run to end.

The EMA weights are what is exported, as at the end of training; an autoencoder gets its latent statistics
measured, a transformer becomes a pipeline folder beside a copy of its autoencoder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import load_file

from tessera.errors import ConfigError, NotFoundError
from tessera.models.pretrained import params_from_dict
from tessera.train.loop import TrainConfig, checkpoint_dirs


def export_checkpoint(run: str | os.PathLike, out: str | os.PathLike, step: int | None = None) -> Path:
    run, out = Path(run), Path(out)
    found = checkpoint_dirs(run)
    if step is not None:
        found = [c for c in found if int(c.name.split("-")[1]) == step]
    if not found:
        raise NotFoundError(f"{run}: no checkpoint{'' if step is None else f' at step {step}'}; train first")
    ckpt = found[-1]
    state = json.loads((ckpt / "trainer.json").read_text())
    cfg = TrainConfig(**state["train"])
    ema = load_file(str(ckpt / "ema.safetensors"))
    if state["kind"] == "autoencoder":
        from tessera.models.autoencoder import AutoencoderParams
        from tessera.train.vae import export_autoencoder

        export_autoencoder(ema, params_from_dict(AutoencoderParams, state["params"]), cfg, out)
    elif state["kind"] == "dit":
        from tessera.models.dit import DiTParams
        from tessera.train.dit import export_transformer

        export_transformer(ema, params_from_dict(DiTParams, state["params"]), cfg, out)
    elif state["kind"] == "dit-student":
        from tessera.models.dit import DiTParams
        from tessera.train.distill import export_student

        export_student(ema, params_from_dict(DiTParams, state["params"]), cfg, out)
    else:
        raise ConfigError(f"{ckpt}: unknown model kind {state['kind']!r}")
    return out
