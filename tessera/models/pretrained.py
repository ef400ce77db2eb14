"""Save and load a model folder: ``model.safetensors`` + ``config.json`` (the params dataclass as JSON).

Every model in :mod:`tessera.models` has a params dataclass and a ``PRESETS`` dict beside it; this module is the
one place that turns (params, weights) into a folder and back, so all models round-trip the same way.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from tessera.errors import ConfigError, NotFoundError
from tessera.files import atomic_path, atomic_write_text, read_json_object

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def params_to_dict(params: Any) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(params).items()}


def params_from_dict(cls: type, data: dict) -> Any:
    """Build a params dataclass from JSON, naming unknown fields instead of failing with a TypeError."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}; known: {', '.join(names)}")
    values = {}
    for key, value in data.items():
        default = names[key].default
        values[key] = tuple(value) if isinstance(default, tuple) and isinstance(value, list) else value
    return cls(**values)


def save_model(model: torch.nn.Module, params: Any, kind: str, directory: str | os.PathLike, **extra: Any) -> Path:
    """Write weights and config into ``directory`` (created); files are replaced atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(state, tmp, metadata={"kind": kind})
    config = {"kind": kind, "params": params_to_dict(params), **extra}
    atomic_write_text(directory / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
    return directory


def read_config(directory: str | os.PathLike, kind: str) -> dict:
    directory = Path(directory)
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise NotFoundError(f"{directory}: no {CONFIG_NAME}; give a folder written by save_pretrained")
    config = read_json_object(path, f"{CONFIG_NAME} holds a model's settings")
    if config.get("kind") != kind:
        raise ConfigError(f"{path}: holds a {config.get('kind')!r} model, expected {kind!r}")
    return config


def load_weights(model: torch.nn.Module, directory: str | os.PathLike) -> torch.nn.Module:
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise NotFoundError(f"{directory}: no {WEIGHTS_NAME}")
    state = load_file(str(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ConfigError(
            f"{path}: weights do not match config.json (missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]})"
        )
    return model


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (weights files are large)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
