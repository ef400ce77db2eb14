"""OpenAI's webhook endpoints API: a key registers URLs to be told when its videos complete or fail
(``client.webhooks.create/list/retrieve/update/delete/rotate_secret/test`` in the OpenAI SDK)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tessera.serve.db import WebhookEndpoint
from tessera.serve.requests import FIELDS, RequestError, refuse_unknown
from tessera.serve.routes.videos import App, Key, json_body, list_page, read_request
from tessera.serve.webhooks import EVENT_TYPES, event_body, host_allowed, new_secret, post

router = APIRouter(prefix="/v1", tags=["webhooks"])
_PROPERTIES = {
    "name": {"type": "string", "maxLength": 200},
    "url": {"type": "string", "format": "uri"},
    "event_types": {"type": "array", "minItems": 1, "items": {"enum": list(EVENT_TYPES)}},
}


def endpoint_object(row: WebhookEndpoint, with_secret: bool = False) -> dict:
    body = {
        "id": row.id,
        "object": "webhook_endpoint",
        "created_at": int(row.created_at),
        "updated_at": int(row.updated_at),
        "name": row.name,
        "url": row.url,
        "event_types": list(row.event_types),
        "signing_secret_hint": f"whsec_...{row.secret[-4:]}",
    }
    if with_secret:  # shown when made or rotated, never again
        body["signing_secret"] = row.secret
    return body


def _enabled(app) -> None:
    if not app.settings.webhooks:
        raise RequestError(
            "webhooks are turned off on this server (TESSERA_WEBHOOKS=0); poll GET /v1/videos/{id} instead",
            None,
            "unsupported_feature",
        )


def _checked(fields: dict, required: bool, hosts: str) -> dict:
    """The endpoint fields of a create (all required) or an update (any), each checked; anything else refused."""
    import httpx

    refuse_unknown("webhook endpoint", fields)
    values = {}
    for name in ("name", "url", "event_types"):
        if fields.get(name) in (None, "", []):
            if required:
                raise RequestError(f"'{name}' is required", name, "missing_required_parameter")
            continue
        values[name] = fields[name]
    if "name" in values and (not isinstance(values["name"], str) or len(values["name"]) > 200):
        raise RequestError("'name' must be a string of at most 200 characters", "name")
    if "url" in values:
        url = values["url"]
        try:
            parsed = httpx.URL(url) if isinstance(url, str) and len(url) <= 2000 else None
        except (httpx.InvalidURL, ValueError):
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise RequestError("'url' must be an http:// or https:// URL of at most 2000 characters", "url")
        if not host_allowed(parsed.host, hosts):
            raise RequestError(
                f"this server sends webhooks only to {hosts} (TESSERA_WEBHOOK_HOSTS), not to {parsed.host[:200]}",
                "url",
            )
    if "event_types" in values:
        kinds = values["event_types"]
        if not isinstance(kinds, list) or not kinds or any(k not in EVENT_TYPES for k in kinds):
            raise RequestError(
                f"'event_types' must be a list of event types this server sends: {', '.join(EVENT_TYPES)}",
                "event_types",
            )
        values["event_types"] = sorted(set(kinds), key=kinds.index)
    return values


@router.post("/webhook_endpoints", openapi_extra=json_body(_PROPERTIES, list(FIELDS["webhook endpoint"])))
async def create_endpoint(request: Request, app: App, key: Key) -> JSONResponse:
    """Register a URL for this key's video events; the answer carries the signing secret, shown once."""
    _enabled(app)
    fields, _ = await read_request(request)
    values = _checked(fields, required=True, hosts=app.settings.webhook_hosts)
    row = await run_in_threadpool(app.webhooks.create, key.id, values["name"], values["url"], values["event_types"])
    app.store.audit("webhook.created", key.id, None, endpoint=row.id)
    return JSONResponse(endpoint_object(row, with_secret=True))


@router.get("/webhook_endpoints")
def list_endpoints(
    app: App,
    key: Key,
    after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JSONResponse:
    rows, more = app.webhooks.list(key.id, after, limit)
    return list_page([endpoint_object(r) for r in rows], more)


@router.get("/webhook_endpoints/{endpoint_id}")
def retrieve_endpoint(endpoint_id: str, app: App, key: Key) -> JSONResponse:
    return JSONResponse(endpoint_object(app.webhooks.get(key.id, endpoint_id)))


@router.post("/webhook_endpoints/{endpoint_id}", openapi_extra=json_body(_PROPERTIES, []))
async def update_endpoint(endpoint_id: str, request: Request, app: App, key: Key) -> JSONResponse:
    """Change its name, URL or event types (each optional); its secret stays."""
    _enabled(app)
    fields, _ = await read_request(request)
    values = _checked(fields, required=False, hosts=app.settings.webhook_hosts)
    row = await run_in_threadpool(app.webhooks.update, key.id, endpoint_id, **values)
    return JSONResponse(endpoint_object(row))


@router.delete("/webhook_endpoints/{endpoint_id}")
def delete_endpoint(endpoint_id: str, app: App, key: Key) -> JSONResponse:
    app.webhooks.delete(key.id, endpoint_id)
    app.store.audit("webhook.deleted", key.id, None, endpoint=endpoint_id)
    return JSONResponse({"id": endpoint_id, "object": "webhook_endpoint.deleted", "deleted": True})


@router.post("/webhook_endpoints/{endpoint_id}/rotate_secret")
def rotate_secret(endpoint_id: str, app: App, key: Key) -> JSONResponse:
    """A new signing secret, shown once; deliveries from now on are signed with it."""
    row = app.webhooks.update(key.id, endpoint_id, secret=new_secret())
    return JSONResponse(endpoint_object(row, with_secret=True))


@router.post(
    "/webhook_endpoints/{endpoint_id}/test",
    openapi_extra=json_body({"event_type": {"enum": list(EVENT_TYPES)}}, ["event_type"]),
)
async def test_endpoint(endpoint_id: str, request: Request, app: App, key: Key) -> JSONResponse:
    """Send a sample event (of ``event_type``, about a video id that does not exist) now; the endpoint's status."""
    import httpx

    _enabled(app)
    fields, _ = await read_request(request)
    refuse_unknown("webhook test", fields)
    kind = fields.get("event_type")
    if kind not in EVENT_TYPES:
        raise RequestError(f"'event_type' must be one of {', '.join(EVENT_TYPES)}", "event_type")
    row = app.webhooks.get(key.id, endpoint_id)
    event_id = "evt_" + secrets.token_hex(16)
    body = event_body(event_id, kind, "video_" + "0" * 32)
    try:
        status = await run_in_threadpool(post, row.url, row.secret, event_id, body)
    except httpx.HTTPError as e:
        raise RequestError(
            f"could not reach {row.url[:200]} ({type(e).__name__}); check the URL and that the receiver is running",
            "url",
            "webhook_unreachable",
        ) from None
    return JSONResponse(
        {
            "object": "webhook_endpoint.test",
            "webhook_endpoint_id": row.id,
            "event_type": kind,
            "status_code": status,
            "success": True,
        }
    )
