"""API keys: random secrets shown once, stored as SHA-256 hashes; per-key rate limit and daily quota."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from tessera.errors import NotFoundError, TesseraError
from tessera.serve.db import ApiKey, Video, readers

SECRET_PREFIX = "tsk-"


class AuthError(TesseraError):
    """No key, an unknown key or a revoked key."""

    http_status = 401


class RateLimitError(TesseraError):
    """Too many requests or videos for one key; ``retry_after`` says when to try again (seconds)."""

    http_status = 429

    def __init__(self, message: str, retry_after: float, code: str = "rate_limit_exceeded") -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))
        self.code = code


def hash_secret(secret: str) -> str:
    # The secrets are 256-bit random, so a plain hash cannot be brute-forced; no slow KDF needed per request.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class KeyInfo:
    id: str
    name: str
    prefix: str
    created_at: float
    revoked: bool
    last_used_at: float | None


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.prefix, row.created_at, row.revoked_at is not None, row.last_used_at)


class KeyStore:
    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions, self.readers = sessions, readers(sessions)

    def create(self, name: str) -> tuple[KeyInfo, str]:
        """A new key; the secret is returned once and never stored."""
        name = name.strip()
        if not name or len(name) > 200:
            raise TesseraError("a key needs a name of 1 to 200 characters")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        row = ApiKey(id="key_" + secrets.token_hex(12), name=name, secret_hash=hash_secret(secret), prefix=secret[:10])
        with self.sessions.begin() as s:
            s.add(row)
        return _info(row), secret

    def list(self) -> list[KeyInfo]:
        with self.readers() as s:
            return [_info(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.created_at))]

    def count_active(self) -> int:
        with self.readers() as s:
            return s.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))) or 0

    def revoke(self, key_id: str) -> KeyInfo:
        with self.sessions.begin() as s:
            row = s.get(ApiKey, key_id) or s.scalar(select(ApiKey).where(ApiKey.prefix == key_id))
            if row is None:
                raise NotFoundError(f"no key {key_id!r}; `tessera keys list` shows the ids")
            if row.revoked_at is None:
                row.revoked_at = time.time()
            return _info(row)

    def authenticate(self, authorization: str | None) -> KeyInfo:
        """The key behind an ``Authorization: Bearer ...`` header, or AuthError."""
        if not authorization:
            raise AuthError(
                "no API key: send the header 'Authorization: Bearer tsk-...' (create a key with `tessera keys create`)"
            )
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthError("malformed Authorization header: use 'Authorization: Bearer tsk-...'")
        with self.readers() as s:  # every request passes here: a read, not a write transaction
            row = s.scalar(select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret.strip())))
        if row is None:
            raise AuthError("incorrect API key; check it, or create one with `tessera keys create`")
        if row.revoked_at is not None:
            raise AuthError(f"API key {row.prefix}... was revoked; create a new one with `tessera keys create`")
        now = time.time()
        if row.last_used_at is None or now - row.last_used_at > 60:  # at most one write a minute per key
            with self.sessions.begin() as s:
                s.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        return _info(row)

    def videos_today(self, key_id: str) -> int:
        start = time.time() // 86400 * 86400
        with self.readers() as s:
            query = select(func.count()).select_from(Video).where(Video.key_id == key_id, Video.created_at >= start)
            return s.scalar(query) or 0


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests, refilled continuously (per server process)."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key_id: str) -> None:
        with self.lock:
            now = time.monotonic()
            tokens, last = self.buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1:
                self.buckets[key_id] = (tokens, now)
                raise RateLimitError(
                    f"rate limit of {int(self.capacity)} requests per minute reached for this key; slow down",
                    (1 - tokens) / self.rate,
                )
            self.buckets[key_id] = (tokens - 1, now)
