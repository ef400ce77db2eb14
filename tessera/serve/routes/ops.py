"""Operations and discovery: health, readiness, Prometheus metrics, models, and the web studio."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from tessera.errors import NotFoundError
from tessera.serve import metrics
from tessera.serve.deps import State, current_key, state
from tessera.serve.keys import KeyInfo

router = APIRouter()
STUDIO = Path(__file__).resolve().parent.parent / "studio"
App = Annotated[State, Depends(state)]


@router.get("/healthz", tags=["ops"])
def health() -> dict:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"])
def ready(app: App) -> JSONResponse:
    """Ready to take jobs: the store answers, and workers run here (or elsewhere, when workers = 0)."""
    checks: dict[str, str] = {}
    try:
        counts = app.store.counts()
        checks["database"] = "ok"
    except Exception as e:  # any driver error means not ready
        counts, checks["database"] = {}, f"error: {type(e).__name__}"
    if app.settings.workers:
        alive = sum(t.is_alive() for t in app.threads)
        checks["workers"] = f"{alive}/{app.settings.workers} alive" if alive else "none alive"
    else:
        checks["workers"] = "external (tessera worker)"
    ok = checks["database"] == "ok" and checks["workers"] != "none alive"
    return JSONResponse(
        {"status": "ready" if ok else "not ready", "checks": checks, "jobs": counts}, status_code=200 if ok else 503
    )


@router.get("/metrics", tags=["ops"])
def prometheus(app: App) -> Response:
    queue = CollectorRegistry()
    queue.register(metrics.QueueCollector(app.store))
    return Response(generate_latest(metrics.REGISTRY) + generate_latest(queue), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/models", tags=["models"])
def list_models(app: App, _key: Annotated[KeyInfo, Depends(current_key)]) -> dict:
    m = app.model
    return {"object": "list", "data": [_model(app)]} if m else {"object": "list", "data": []}


@router.get("/v1/models/{model_id}", tags=["models"])
def retrieve_model(model_id: str, app: App, _key: Annotated[KeyInfo, Depends(current_key)]) -> dict:
    """The served model, as OpenAI's retrieve-model answers (``client.models.retrieve``; it was a 404 for any id),
    for every id a create maps to it."""
    if not app.model.answers_to(model_id):
        raise NotFoundError(f"model {model_id[:80]!r} does not exist; this server has {app.model.name!r}")
    return _model(app)


def _model(app: State) -> dict:
    m = app.model
    return {
        "id": m.name,
        "object": "model",
        "created": m.created,
        "owned_by": "tessera",
        # Tessera extension: what the model makes, so clients need not guess
        "sizes": list(m.sizes),
        "fps": m.fps,
        "max_seconds": app.settings.max_seconds,
        "domain": m.domain,  # "world": prompts should name the physics world's shapes, colours and motions
        "longest_loop_seconds": m.longest_loop,  # a loop holds its first frame for one latent block to close
        "default_steps": m.steps,  # what a request without steps or guidance gets
        "default_guidance": m.guidance,
    }


@router.get("/", include_in_schema=False)
def studio() -> FileResponse:
    return FileResponse(STUDIO / "index.html", media_type="text/html")


@router.get("/studio/{name}", include_in_schema=False)
def studio_asset(name: str) -> FileResponse:
    files = {p.name: p for p in STUDIO.iterdir() if p.suffix in (".js", ".css", ".svg")}
    if name not in files:  # only the studio's own files: no path from the URL reaches the filesystem
        from tessera.errors import NotFoundError

        raise NotFoundError(f"no studio file {name[:60]!r}")
    kinds = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    return FileResponse(files[name], media_type=kinds[files[name].suffix])
