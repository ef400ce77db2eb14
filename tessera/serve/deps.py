"""What every request needs: the server's state and the caller's key (authenticated and rate-limited)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fastapi import Request

from tessera.serve.jobs import JobStore
from tessera.serve.keys import KeyInfo, KeyStore, RateLimiter
from tessera.serve.requests import ModelInfo
from tessera.serve.settings import Settings
from tessera.serve.webhooks import WebhookStore


@dataclass
class State:
    settings: Settings
    store: JobStore
    keys: KeyStore
    limiter: RateLimiter
    model: ModelInfo
    policy: object
    webhooks: WebhookStore
    workers: list = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def wake_workers(self) -> None:
        for worker in self.workers:
            worker.wake.set()


def state(request: Request) -> State:
    return request.app.state.tessera


def current_key(request: Request) -> KeyInfo:
    app: State = request.app.state.tessera
    key = app.keys.authenticate(request.headers.get("authorization"))
    request.state.key_id = key.id  # for the audit log written after the response
    app.limiter.take(key.id)
    return key
