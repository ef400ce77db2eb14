"""Server settings: one dataclass, read from ``TESSERA_*`` environment variables or given directly."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from tessera.errors import ConfigError


def _data_dir() -> Path:
    return Path(os.environ.get("TESSERA_DATA_DIR", Path.home() / ".local" / "share" / "tessera"))


@dataclass
class Settings:
    """Everything the server and its workers need; ``Settings.from_env()`` reads ``TESSERA_<FIELD>``."""

    data_dir: Path = field(default_factory=_data_dir)
    database_url: str = ""  # default: a SQLite file in data_dir; postgresql+psycopg://... for a shared queue
    storage: Path | None = None  # video assets; default data_dir/videos
    model: Path | None = None  # pipeline folder; default: the shipped models/tessera-world-s
    model_name: str = ""  # the id clients send as `model`; default: the folder's name (a run's, for its model/)
    workers: int = 1  # in-process workers; 0 = this server only queues (run `tessera worker` elsewhere)
    max_attempts: int = 3  # a job interrupted this many times fails instead of running again
    lease_seconds: float = 60.0  # a claimed job whose worker stops renewing this long is taken back
    shutdown_grace: float = 20.0  # on shutdown, a running job gets this long to finish before it is requeued
    rate_per_minute: int = 120  # requests per key per minute (429 with Retry-After beyond it)
    daily_quota: int = 500  # videos per key per UTC day
    max_prompt_chars: int = 2000
    max_request_bytes: int = 32 << 20
    max_seconds: int = 12  # longest clip a request may ask for (longer than the model's chunk: chained)
    max_upload_pixels: int = 4096 * 4096
    max_upload_frames: int = 1000
    remix_strength: float = 0.6  # how far a remix may move from its source (SDEdit strength)
    retention_days: int = 0  # 0 = keep assets until deleted; otherwise expires_at and a cleanup sweep
    compile: bool = False  # torch.compile each worker's transformer: slower first job, ~1.2x faster after
    # Key holders may register webhook URLs, which the server then posts to: it reaches whatever the server's
    # network reaches, so a server whose keys are not all trusted with that turns them off.
    webhooks: bool = True
    # Where they may point: comma-separated host names, "*.example.com" for its subdomains; empty = anywhere.
    webhook_hosts: str = ""
    image_timeout: float = 300.0  # an image request waits this long for a worker to make it (504 after)
    webhook_retry_seconds: float = 30.0  # a refused webhook delivery is retried after this, then 4x longer each time

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'tessera.db'}"
        self.storage = Path(self.storage) if self.storage else self.data_dir / "videos"
        if self.model is not None:
            self.model = Path(self.model)
        for name in ("workers", "retention_days"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("max_attempts", "rate_per_minute", "daily_quota", "max_prompt_chars", "max_request_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in (
            "lease_seconds",
            "max_seconds",
            "max_upload_pixels",
            "max_upload_frames",
            "webhook_retry_seconds",
            "image_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.remix_strength <= 1:
            raise ConfigError(f"remix_strength must be in (0, 1], got {self.remix_strength}")

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Fields from ``TESSERA_<NAME>`` variables, then ``overrides`` (None values ignored)."""
        values: dict = {}
        for f in fields(cls):
            raw = os.environ.get(f"TESSERA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            try:
                if kind.startswith("bool"):
                    if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                        raise ValueError(raw)
                    values[f.name] = raw.lower() in ("1", "true", "yes")
                elif kind.startswith("int"):
                    values[f.name] = int(raw)
                elif kind.startswith("float"):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError:
                raise ConfigError(f"TESSERA_{f.name.upper()}={raw!r} is not a valid {kind}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
