"""Webhooks: a key's endpoints are told when its videos complete or fail, as OpenAI's webhook endpoints are.

Events go out signed the Standard Webhooks way that OpenAI uses (``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` under the endpoint's ``whsec_`` secret), so
the OpenAI SDK's ``client.webhooks.verify_signature`` checks them. A delivery row is written in the same
transaction as the job's change (``enqueue``), and the server's :class:`Sender` sends due rows, retrying with
backoff until the endpoint answers 2xx or ``ATTEMPTS`` are spent: a crash between the two loses no event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from tessera.errors import NotFoundError
from tessera.serve import metrics
from tessera.serve.db import AuditEvent, Video, WebhookDelivery, WebhookEndpoint, page, readers

log = logging.getLogger("tessera.serve.webhooks")
EVENT_TYPES = ("video.completed", "video.failed")
ATTEMPTS = 6  # a delivery the endpoint keeps refusing is given up after this many tries
KEEP_SECONDS = 7 * 86400  # finished deliveries are kept a week, then pruned
TIMEOUT = 10.0  # seconds an endpoint has to answer
STALE_SECONDS = 12 * TIMEOUT  # a delivery still 'sending' after this was left by a server that stopped
SENDS = 4  # deliveries sent at once, so one slow endpoint does not hold up the others


def host_allowed(host: str, allowed: str) -> bool:
    """Whether ``host`` is one of ``allowed`` (TESSERA_WEBHOOK_HOSTS: "a.example.com, *.example.org"; empty: any)."""
    patterns = [p.strip().lower() for p in allowed.split(",") if p.strip()]
    host = host.lower().rstrip(".")
    return not patterns or any(host == p or (p.startswith("*.") and host.endswith(p[1:])) for p in patterns)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def event_body(event_id: str, kind: str, video_id: str) -> str:
    """OpenAI's event object: the video's id only; its state is fetched with the key (GET /v1/videos/{id})."""
    body = {"id": event_id, "object": "event", "created_at": int(time.time()), "type": kind, "data": {"id": video_id}}
    return json.dumps(body, separators=(",", ":"))


def enqueue(session: Session, video_id: str, kind: str) -> None:
    """Inside a job change's transaction: one delivery for each of the video's key's endpoints that asks for
    ``kind``."""
    key_id, task = session.execute(select(Video.key_id, Video.task).where(Video.id == video_id)).one()
    if task == "text-to-image":  # an image request is answered when it is done, and its id never shown
        return
    endpoints = session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.key_id == key_id, WebhookEndpoint.deleted.is_(False))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    for endpoint in endpoints:
        if kind in endpoint.event_types:
            event_id = "evt_" + secrets.token_hex(16)
            body = event_body(event_id, kind, video_id)
            session.add(WebhookDelivery(event_id=event_id, endpoint_id=endpoint.id, type=kind, payload=body))


def post(url: str, secret: str, event_id: str, body: str, timeout: float = TIMEOUT) -> int:
    """Send one signed event; the endpoint's HTTP status (raises httpx.HTTPError when it cannot be reached)."""
    import httpx

    timestamp = int(time.time())
    data = body.encode()
    headers = {
        "content-type": "application/json",
        "user-agent": "Tessera-Webhooks",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, event_id, timestamp, data),
    }
    # No redirects: a signed event goes to the URL the key holder registered, nowhere else.
    return httpx.post(url, content=data, headers=headers, timeout=timeout, follow_redirects=False).status_code


class WebhookStore:
    """A key's endpoints (create, list, get, update, delete, rotate) and the delivery queue."""

    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions, self.readers = sessions, readers(sessions)

    def create(self, key_id: str, name: str, url: str, event_types: list[str]) -> WebhookEndpoint:
        endpoint = WebhookEndpoint(
            id="we_" + secrets.token_hex(16), key_id=key_id, name=name, url=url, event_types=event_types
        )
        endpoint.secret = new_secret()
        with self.sessions.begin() as s:
            s.add(endpoint)
        return endpoint

    def get(self, key_id: str, endpoint_id: str) -> WebhookEndpoint:
        with self.readers() as s:
            row = s.get(WebhookEndpoint, endpoint_id)
        if row is None or row.deleted or row.key_id != key_id:
            raise NotFoundError(f"no webhook endpoint with id {endpoint_id[:80]!r}")
        return row

    def list(self, key_id: str, after: str | None, limit: int) -> tuple[list[WebhookEndpoint], bool]:
        """Newest first, paged by the id of the last one of the previous page."""
        with self.readers() as s:
            query = select(WebhookEndpoint).where(WebhookEndpoint.key_id == key_id, WebhookEndpoint.deleted.is_(False))
            return page(s, query, WebhookEndpoint, self.get(key_id, after) if after else None, limit)

    def update(self, key_id: str, endpoint_id: str, **values) -> WebhookEndpoint:
        """Change ``values`` (name, url, event_types; ``secret`` to rotate it); updated_at moves only on a change."""
        row = self.get(key_id, endpoint_id)
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if changed:
            with self.sessions.begin() as s:
                s.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == row.id)
                    .values(**changed, updated_at=time.time())
                )
        return self.get(key_id, endpoint_id)

    def delete(self, key_id: str, endpoint_id: str) -> None:
        row = self.get(key_id, endpoint_id)
        with self.sessions.begin() as s:
            s.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == row.id).values(deleted=True))
            # Its undelivered events go with it: nobody is listening there any more.
            s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == row.id, WebhookDelivery.status == "pending")
                .values(status="failed", last_error="endpoint deleted")
            )

    def claim_due(self, limit: int = 20) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
        """Deliveries due now, each taken by one sender (a compare-and-set on its status)."""
        now = time.time()
        with self.readers() as s:
            due = s.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_at <= now)
                .order_by(WebhookDelivery.next_at)
                .limit(limit)
            ).all()
        taken = []
        for delivery_id in due:
            with self.sessions.begin() as s:
                won = s.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
                    .values(status="sending", attempts=WebhookDelivery.attempts + 1, claimed_at=time.time())
                ).rowcount
                if won:
                    delivery = s.get(WebhookDelivery, delivery_id)
                    taken.append((delivery, s.get(WebhookEndpoint, delivery.endpoint_id)))
        return taken

    def finish(
        self, delivery: WebhookDelivery, status: int | None, error: str | None, backoff: float, give_up: bool = False
    ) -> str:
        """Record an attempt: delivered on 2xx; otherwise pending again after ``backoff`` x 4^(attempts-1)
        seconds, or failed once ``ATTEMPTS`` are spent (at once with ``give_up``). Returns the new status."""
        if status is not None and 200 <= status < 300:
            outcome, next_at = "delivered", delivery.next_at
        elif give_up or delivery.attempts >= ATTEMPTS:
            outcome, next_at = "failed", delivery.next_at
        else:
            outcome, next_at = "pending", time.time() + backoff * 4 ** (delivery.attempts - 1)
        with self.sessions.begin() as s:
            s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id)
                .values(status=outcome, next_at=next_at, last_status=status, last_error=error)
            )
            if outcome != "pending":
                key_id = s.scalar(select(WebhookEndpoint.key_id).where(WebhookEndpoint.id == delivery.endpoint_id))
                detail = {"event": delivery.event_id, "type": delivery.type, "attempts": delivery.attempts}
                s.add(AuditEvent(action=f"webhook.{outcome}", key_id=key_id, detail={**detail, "status": status}))
        return outcome

    def prune(self, older_than: float = KEEP_SECONDS) -> int:
        """Forget deliveries finished longer ago than ``older_than`` (the audit log keeps each one's outcome)."""
        with self.sessions.begin() as s:
            return s.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.status.in_(("delivered", "failed")),
                    WebhookDelivery.created_at < time.time() - older_than,
                )
            ).rowcount

    def requeue_stale(self, older_than: float = STALE_SECONDS) -> int:
        """Deliveries taken to send longer ago than any send takes: their server stopped mid-send, so they are due
        again (an endpoint may see an event twice, never not at all; the webhook-id tells repeats apart)."""
        with self.sessions.begin() as s:
            return s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.status == "sending", WebhookDelivery.claimed_at < time.time() - older_than)
                .values(status="pending")
            ).rowcount


class Sender:
    """Sends due deliveries from a thread of the server, ``SENDS`` at a time, about every ``poll`` seconds; every
    minute it also takes back sends a stopped server abandoned, and prunes old rows."""

    def __init__(self, store: WebhookStore, backoff: float, poll: float = 0.5, hosts: str = "") -> None:
        self.store, self.backoff, self.poll, self.hosts = store, backoff, poll, hosts
        self.stopping = threading.Event()

    def run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        next_sweep = 0.0
        with ThreadPoolExecutor(SENDS, thread_name_prefix="webhook") as pool:
            while not self.stopping.is_set():
                try:
                    if time.monotonic() >= next_sweep:  # every minute: another server's abandoned sends, old rows
                        self.store.requeue_stale()
                        self.store.prune()
                        next_sweep = time.monotonic() + 60
                    list(pool.map(lambda taken: self.send(*taken), self.store.claim_due()))
                except Exception:  # the database went away: keep trying, do not die
                    log.exception("webhook deliveries unavailable; retrying")
                self.stopping.wait(self.poll)

    def send(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> None:
        import httpx

        # The operator may have narrowed TESSERA_WEBHOOK_HOSTS since the endpoint was registered: no retry helps.
        allowed = host_allowed(httpx.URL(endpoint.url).host, self.hosts)
        status, error = None, None
        if not allowed:
            error = "the endpoint's host is no longer in TESSERA_WEBHOOK_HOSTS"
        else:
            try:
                status = post(endpoint.url, endpoint.secret, delivery.event_id, delivery.payload)
                if not 200 <= status < 300:
                    error = f"the endpoint answered {status}"
            except httpx.HTTPError as e:
                error = f"could not reach the endpoint ({type(e).__name__})"
        outcome = self.store.finish(delivery, status, error, self.backoff, give_up=not allowed)
        metrics.WEBHOOKS.labels("retry" if outcome == "pending" else outcome).inc()
        log.info(
            "webhook %s %s to %s: %s (attempt %d)",
            delivery.type,
            delivery.event_id,
            endpoint.id,
            outcome,
            delivery.attempts,
        )
