"""The FastAPI application: OpenAI-compatible Videos API, web studio, operations endpoints, in-process workers.

create_app(Settings(...))  ->  uvicorn  (``tessera serve`` does both)
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match

from tessera.errors import BlockedPromptError, TesseraError
from tessera.serve import metrics
from tessera.serve.db import make_engine, sessions
from tessera.serve.deps import State
from tessera.serve.jobs import JobStore
from tessera.serve.keys import AuthError, KeyStore, RateLimiter, RateLimitError
from tessera.serve.requests import ModelInfo
from tessera.serve.settings import Settings
from tessera.serve.webhooks import Sender, WebhookStore
from tessera.serve.worker import Renderer, Worker

log = logging.getLogger("tessera.serve")


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _error_response(err: TesseraError) -> JSONResponse:
    status = getattr(err, "http_status", 400)
    headers = {}
    if isinstance(err, AuthError):
        body = error_body(str(err), "invalid_request_error", "invalid_api_key")
    elif isinstance(err, RateLimitError):
        body = error_body(str(err), "insufficient_quota" if err.code == "insufficient_quota" else "requests", err.code)
        headers["Retry-After"] = str(err.retry_after)
    elif isinstance(err, BlockedPromptError):
        body = error_body(str(err), "invalid_request_error", "moderation_blocked", "prompt")
    else:
        code = getattr(err, "code", None) or ("not_found" if status == 404 else "invalid_request")
        body = error_body(str(err), "invalid_request_error", code, getattr(err, "param", None))
    return JSONResponse(body, status_code=status, headers=headers)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes (413), by header and while streaming, before they are parsed."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = JSONResponse(
            error_body(
                f"request body over the {self.limit >> 20} MB limit; send a smaller file",
                "invalid_request_error",
                "request_too_large",
            ),
            status_code=413,
        )
        try:
            if length is not None and int(length) > self.limit:
                return await too_big(scope, receive, send)
        except ValueError:
            pass
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        started = False

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked_send)
        except _TooLarge:
            if not started:
                await too_big(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(settings: Settings | None = None, pipe=None, start_workers: bool = True) -> FastAPI:
    """The server. ``pipe`` (a loaded pipeline) skips loading one from ``settings.model``, for tests."""
    from tessera.cli.generate import default_model
    from tessera.safety import default_policy

    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    make = sessions(engine)
    store = JobStore(make, settings.storage, settings.max_attempts, settings.lease_seconds)
    model = ModelInfo.from_folder(settings.model or default_model(), settings.model_name)
    webhooks = WebhookStore(make)
    app_state = State(
        settings, store, KeyStore(make), RateLimiter(settings.rate_per_minute), model, default_policy(), webhooks
    )
    # The server sends the webhook events that its workers and any `tessera worker` processes queue.
    sender = Sender(webhooks, settings.webhook_retry_seconds, hosts=settings.webhook_hosts)

    def renderer() -> Renderer:
        return Renderer(settings, pipe)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Load the classifier now, not on the first user's request (and keep this check out of the log).
        safety_log = logging.getLogger("tessera.safety")
        level = safety_log.level
        safety_log.setLevel(logging.WARNING)
        try:
            app_state.policy.check("a red ball falls")
        finally:
            safety_log.setLevel(level)
        sending = threading.Thread(target=sender.run, name="webhooks", daemon=True)
        if settings.webhooks:
            sending.start()
        if start_workers:
            for i in range(settings.workers):
                worker = Worker(settings, store, renderer, label=f"serve-{i}")
                thread = threading.Thread(target=worker.run, name=worker.name, daemon=True)
                app_state.workers.append(worker)
                app_state.threads.append(thread)
                thread.start()
        log.info(
            "serving model %s (%s); %d in-process worker(s)", model.name, ", ".join(model.sizes), len(app_state.workers)
        )
        yield
        # Graceful shutdown: running jobs get the grace period to finish, then are given back to the queue.
        for worker in app_state.workers:
            worker.stop()
        for thread in app_state.threads:
            thread.join(settings.shutdown_grace + 10)
        sender.stopping.set()
        if sending.is_alive():
            sending.join(15)
        engine.dispose()
        log.info("shutdown complete")

    app = FastAPI(
        title="Tessera",
        version=__import__("tessera").__version__,
        summary="OpenAI-compatible Videos API for Tessera's text-to-video models",
        lifespan=lifespan,
    )
    app.state.tessera = app_state

    from tessera.serve.routes import images, ops, videos
    from tessera.serve.routes import webhooks as webhook_routes

    app.include_router(videos.router)
    app.include_router(ops.router)
    app.include_router(webhook_routes.router)
    app.include_router(images.router)
    _add_schemas(app)

    @app.exception_handler(TesseraError)
    async def _tessera_error(request: Request, err: TesseraError) -> JSONResponse:
        return _error_response(err)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path"))
        message = f"{where or 'request'}: {first.get('msg', 'invalid')}"
        return JSONResponse(error_body(message, "invalid_request_error", "invalid_value", where or None), 400)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, err: HTTPException) -> JSONResponse:
        message = err.detail if isinstance(err.detail, str) else "request failed"
        headers = err.headers
        if err.status_code == 404:
            message = f"no route {request.method} {request.url.path[:200]}; see /docs for the API"
        elif err.status_code == 405:  # the path exists, not for this method: say which it takes
            # (Starlette's Allow names the first matching route's methods only: POST for /v1/videos; so both are set.)
            path = request.url.path
            allow = [
                m
                for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
                if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in request.app.routes)
            ]
            message = f"{request.method} is not allowed on {path[:200]}; it takes {', '.join(allow)} (see /docs)"
            headers = {**(headers or {}), "Allow": ", ".join(allow)}
        return JSONResponse(error_body(message, "invalid_request_error", None), err.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, err: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal server error; see the server log", "server_error", None), 500)

    @app.middleware("http")
    async def _observe(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        metrics.REQUESTS.labels(request.method, name, str(response.status_code)).inc()
        metrics.REQUEST_SECONDS.labels(name).observe(time.perf_counter() - t0)
        if name.startswith("/v1/"):
            key_id = getattr(request.state, "key_id", None)
            try:
                video = request.path_params.get("video_id") if route else None
                detail = {"method": request.method, "route": name, "status": response.status_code}
                await run_in_threadpool(store.audit, "request", key_id, video, **detail)
            except Exception:  # the audit log must never take the API down with it
                log.exception("audit log write failed")
        log.info(
            "%s %s %d %.1fms",
            request.method,
            request.url.path[:200],
            response.status_code,
            1000 * (time.perf_counter() - t0),
        )
        return response

    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    return app


def _add_schemas(app: FastAPI) -> None:
    """Put the `Video` object into the OpenAPI spec (routes return plain JSON for speed and exact shape)."""
    from fastapi.openapi.utils import get_openapi

    def openapi():
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        nullable_int = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        spec.setdefault("components", {}).setdefault("schemas", {})["Video"] = {
            "type": "object",
            "required": ["id", "object", "created_at", "model", "progress", "seconds", "size", "status"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "video"},
                "created_at": {"type": "integer"},
                "completed_at": nullable_int,
                "expires_at": nullable_int,
                "error": {"anyOf": [{"type": "object"}, {"type": "null"}]},
                "model": {"type": "string"},
                "progress": {"type": "integer"},
                "prompt": {"type": ["string", "null"]},
                "remixed_from_video_id": {"type": ["string", "null"]},
                "seconds": {"type": "string"},
                "size": {"type": "string"},
                "status": {"enum": ["queued", "in_progress", "completed", "failed"]},
            },
        }
        security = {"bearer": {"type": "http", "scheme": "bearer"}}
        spec["components"]["securitySchemes"] = security
        spec["security"] = [{"bearer": []}]
        app.openapi_schema = spec
        return spec

    app.openapi = openapi
