"""The OpenAI Videos API: create, retrieve, list, delete, download, remix, extensions, edits; and Tessera's
connections (two clips joined) and storyboards."""

from __future__ import annotations

import logging
import shutil
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from tessera.errors import BlockedPromptError, InvalidInputError, NotFoundError
from tessera.serve import metrics
from tessera.serve.db import Video
from tessera.serve.deps import State, current_key, state
from tessera.serve.jobs import new_video_id
from tessera.serve.keys import KeyInfo, RateLimitError
from tessera.serve.requests import (
    FIELDS,
    Job,
    RequestError,
    Upload,
    parse_connect,
    parse_create,
    parse_edit,
    parse_storyboard,
    video_id,
)
from tessera.serve.worker import VARIANTS, VIDEO

router = APIRouter(prefix="/v1", tags=["videos"])
log = logging.getLogger("tessera.serve.api")

Key = Annotated[KeyInfo, Depends(current_key)]
App = Annotated[State, Depends(state)]

_FORM_FIELDS = {
    "prompt": {"type": "string", "maxLength": 2000},
    "model": {"type": "string"},
    "seconds": {"type": "string"},
    "size": {"type": "string"},
    "seed": {"type": "integer", "minimum": 0},
    "negative_prompt": {"type": "string"},
    "steps": {"type": "integer", "minimum": 1, "maximum": 200},
    "guidance": {"type": "number", "minimum": 0, "maximum": 30},
    "strength": {"type": "number", "minimum": 0.05, "maximum": 1},
    "recaption": {"type": "boolean"},  # text-to-video: false keeps the prompt as written (default: the model's)
    "loop": {"type": "boolean"},  # text-to-video: the last frame leads back into the first
    "direction": {"enum": ["forward", "backward"]},  # extensions: after the clip (default) or before it
}


def _body(task: str, required: list[str], extra: dict) -> dict:
    """An OpenAPI request body accepting JSON and multipart (what the OpenAI SDK sends), listing the fields this
    kind of request takes (``FIELDS``: the server refuses any other)."""
    fields = {k: v for k, v in _FORM_FIELDS.items() if k in FIELDS[task]}
    schema = {"type": "object", "required": required, "properties": {**fields, **extra}}
    form = {
        "type": "object",
        "required": required,
        "properties": {**fields, **{k: {"type": "string", "format": "binary"} for k in extra}},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "multipart/form-data": {"schema": form}},
        }
    }


def json_body(properties: dict, required: list[str]) -> dict:
    """The OpenAPI request body of a JSON-only request (what /docs shows and the fuzz test sends)."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


VIDEO_OBJECT = {
    "200": {
        "description": "The video job",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Video"}}},
    }
}


def video_object(row: Video) -> dict:
    """The OpenAI `video` object."""
    error = None
    if row.status == "failed":
        error = {"code": row.error_code or "failed", "message": row.error_message or "generation failed"}
    return {
        "id": row.id,
        "object": "video",
        "created_at": int(row.created_at),
        "completed_at": int(row.completed_at) if row.completed_at else None,
        "expires_at": int(row.expires_at) if row.expires_at else None,
        "error": error,
        "model": row.model,
        "progress": row.progress if row.status != "completed" else 100,
        "prompt": row.prompt,
        "remixed_from_video_id": row.remixed_from_video_id,
        "seconds": row.seconds,
        "size": row.size,
        "status": row.status,
        # Tessera extension, as OpenAI's image API names it: the prompt the model was given when the server
        # re-captioned a short one (tessera.world.recaption); null when it was used as written.
        "revised_prompt": (row.params or {}).get("revised_prompt"),
        # Tessera extension: a note on the prompt, null when there is none; for a model of the physics world, that
        # the prompt names nothing of it (so the video shows some world scene, not what was asked for).
        "notice": (row.params or {}).get("notice"),
    }


async def read_request(request: Request) -> tuple[dict, dict[str, Upload]]:
    """Fields and files of a JSON or multipart/urlencoded body."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise InvalidInputError("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidInputError("the JSON body must be an object")
        return body, {}
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_files=4, max_fields=50)
        except Exception as e:  # malformed multipart of any kind is the client's error
            raise InvalidInputError(f"the form body could not be parsed ({type(e).__name__})") from None
        fields: dict = {}
        files: dict[str, Upload] = {}
        for name, value in form.multi_items():
            if hasattr(value, "read"):
                files[name] = Upload(value.filename or "", value.content_type or "", await value.read())
            else:
                fields[name] = value
        return fields, files
    raise InvalidInputError("send the request as application/json or multipart/form-data")


def _submit(app: State, key: KeyInfo, job: Job, remixed_from: str | None = None) -> dict:
    """Moderate, check the quota, copy inputs, and queue: nothing is queued for a refused request."""
    if job.task == "storyboard":  # every shot is checked; a refusal names the shot
        texts = [(f"shot {i}", shot["prompt"]) for i, shot in enumerate(job.params["board"]["shots"], 1)]
    else:
        texts = [("prompt", job.prompt), ("negative_prompt", job.params.get("negative_prompt"))]
    texts = [(label, text) for label, text in texts if text]
    for (label, _), decision in zip(texts, app.policy.check_many([t for _, t in texts]), strict=True):
        metrics.MODERATION.labels("allow" if decision.allowed else "block", decision.category or "none").inc()
        app.store.audit(
            "moderation",
            key.id,
            None,
            field=label,
            allowed=decision.allowed,
            category=decision.category,
            score=round(float(decision.score), 4),
            layer=decision.layer,
        )
        if not decision.allowed:
            try:
                decision.raise_if_blocked()
            except BlockedPromptError as e:
                raise BlockedPromptError(f"{label}: {e}" if label.startswith("shot") else str(e)) from None
    used = app.keys.videos_today(key.id)
    if used >= app.settings.daily_quota:
        raise RateLimitError(
            f"daily quota of {app.settings.daily_quota} videos reached for this key; it resets at 00:00 UTC",
            86400 - time.time() % 86400,
            code="insufficient_quota",
        )
    # Everything is checked before anything is written: a refused request leaves nothing behind.
    source = _completed(app, key, job.source_id)
    if source is not None:
        job.size = source.size
        job.params["source_seconds"] = source.seconds
    end = _completed(app, key, job.end_id)
    if end is not None:
        job.params["end_seconds"] = end.seconds
    if job.uploads.get("end.mp4") is not None or end is not None:
        job.params["end"] = "end.mp4"
    if job.uploads.get("source.mp4") is not None or source is not None:
        job.params["source"] = "source.mp4"
        base = job.params.get("source_seconds") or _seconds(job.params["source_frames"], app.model.fps)
        if job.task == "extend":
            job.seconds = _fmt(float(base) + float(job.params["extra_seconds"]))
        elif job.task == "connect":
            job.seconds = _seconds(_connected_frames(job.params, app.model), app.model.fps)
        else:
            job.seconds = base
    if float(job.seconds) > app.settings.max_seconds:
        raise InvalidInputError(
            f"the result would last {job.seconds} s; this server makes at most {app.settings.max_seconds} s "
            "(use a shorter clip or fewer seconds)"
        )
    if app.model.domain == "world":  # what tessera generate warns of: a prompt that names nothing the model knows
        from tessera.world.prompt import outside_world

        notes = [(label, outside_world(text)) for label, text in texts if label != "negative_prompt"]
        notes = [f"{label}: {note}" if label.startswith("shot") else note for label, note in notes if note]
        if notes:
            job.params["notice"] = notes[0]
    vid = new_video_id()
    inputs = app.settings.storage / vid / "inputs"
    if job.uploads or source is not None or end is not None:
        inputs.mkdir(parents=True, exist_ok=True)
    for name, data in job.uploads.items():
        (inputs / (name + ".part")).write_bytes(data)
        (inputs / (name + ".part")).rename(inputs / name)
    for name, row in (("source.mp4", source), ("end.mp4", end)):
        if row is not None:
            shutil.copyfile(app.settings.storage / row.assets / VIDEO, inputs / (name + ".part"))
            (inputs / (name + ".part")).rename(inputs / name)
    row = Video(
        id=vid,
        key_id=key.id,
        status="queued",
        progress=0,
        model=job.model,
        prompt=job.prompt,
        seconds=job.seconds,
        size=job.size,
        task=job.task,
        params=job.params,
        remixed_from_video_id=remixed_from,
    )
    app.store.submit(row)
    app.store.audit("job.queued", key.id, vid, task=job.task, size=job.size, seconds=job.seconds)
    app.wake_workers()
    return video_object(row)


def _completed(app: State, key: KeyInfo, vid: str | None) -> Video | None:
    """The completed video ``vid`` of this key (None for None); a 404 for another key's, a 400 for an unfinished one."""
    if vid is None:
        return None
    row = app.store.get(key.id, vid)
    if row.status != "completed" or not row.assets:
        raise InvalidInputError(f"video {row.id} is {row.status}; only a completed video can be used")
    return row


def _connected_frames(params: dict, model) -> int:
    """Frames of a connection, as the pipeline makes it: the first clip but its last frame, which opens the bridge;
    the bridge; the second clip but its first latent block (one frame and temporal_factor more), which closes it."""

    def frames(name: str) -> int:
        given = params.get(f"{name}_frames")
        return given if given is not None else round(float(params[f"{name}_seconds"]) * model.fps) + 1

    bridge = round(float(params["bridge_seconds"]) * model.fps) + 1
    return frames("source") - 1 + bridge + max(frames("end") - model.temporal_factor - 1, 0)


def list_page(data: list[dict], more: bool) -> JSONResponse:
    """OpenAI's cursor page of objects."""
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return JSONResponse({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": more})


def _seconds(frames: int, fps: float) -> str:
    return _fmt(max(frames - 1, 0) / fps)


def _fmt(value: float) -> str:
    return f"{value:g}"


@router.post(
    "/videos",
    openapi_extra=_body("text-to-video", ["prompt"], {"input_reference": {"type": "string"}}),
    responses=VIDEO_OBJECT,
)
async def create_video(request: Request, app: App, key: Key) -> JSONResponse:
    """Create a video from a prompt (and optionally an image to start from)."""
    fields, files = await read_request(request)
    job = await run_in_threadpool(parse_create, fields, files, app.model, app.settings)  # decodes an upload
    return JSONResponse(await run_in_threadpool(_submit, app, key, job))


@router.get("/videos", responses={"200": {"description": "A page of videos"}})
def list_videos(
    app: App,
    key: Key,
    after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> JSONResponse:
    """This key's videos, newest first by default; page with `after` (the last id of the previous page)."""
    if after is not None:
        video_id(after, "after")
    rows, more = app.store.list(key.id, after, limit, order)
    return list_page([video_object(r) for r in rows], more)


@router.post("/videos/characters", include_in_schema=False)
@router.get("/videos/characters/{character_id}", include_in_schema=False)
def characters(key: Key) -> JSONResponse:
    """OpenAI's characters (a person or thing from an uploaded clip, reused across videos) are not served: without
    these routes the SDK's create_character got a bare 405 Method Not Allowed."""
    raise RequestError(
        "characters are not supported by this server; describe the object in the prompt, or start from an image "
        "(input_reference) or a clip (POST /v1/videos/extensions)",
        None,
        "unsupported_feature",
    )


@router.get("/videos/{video_id}", responses=VIDEO_OBJECT)
def retrieve_video(video_id: str, app: App, key: Key) -> JSONResponse:
    return JSONResponse(video_object(app.store.get(key.id, _checked(video_id))))


@router.delete("/videos/{video_id}")
def delete_video(video_id: str, app: App, key: Key) -> JSONResponse:
    app.store.delete(key.id, _checked(video_id))
    app.store.audit("video.deleted", key.id, video_id)
    return JSONResponse({"id": video_id, "object": "video.deleted", "deleted": True})


# HEAD: what a download manager or `curl -I` asks first (it was a 405). Left out of the spec, where it would
# repeat GET's operation id.
@router.head("/videos/{video_id}/content", include_in_schema=False)
@router.get(
    "/videos/{video_id}/content",
    response_class=FileResponse,
    responses={"200": {"description": "The file", "content": {"video/mp4": {}, "image/webp": {}, "image/jpeg": {}}}},
)
def download_content(
    request: Request,
    video_id: str,
    app: App,
    key: Key,
    variant: Literal["video", "thumbnail", "spritesheet"] = "video",
) -> FileResponse:
    """The MP4 (watermarked and C2PA-signed), a thumbnail or a spritesheet of a completed video."""
    row = app.store.get(key.id, _checked(video_id))
    if row.status != "completed" or not row.assets:
        raise InvalidInputError(f"video {row.id} is {row.status}; content is available once it is completed")
    name, media_type = VARIANTS[variant]
    path = app.settings.storage / row.assets / name
    if not path.is_file():
        raise NotFoundError(f"the {variant} of video {row.id} is no longer stored")
    if request.method == "GET":  # a HEAD delivers nothing
        app.store.audit("delivery", key.id, row.id, variant=variant)
    return FileResponse(path, media_type=media_type, filename=f"{row.id}{path.suffix}")


@router.get("/videos/{video_id}/provenance")
def provenance(video_id: str, app: App, key: Key) -> JSONResponse:
    """Tessera extension: the C2PA manifest and watermark check of a completed video (the studio's badge)."""
    from tessera.provenance import verify

    row = app.store.get(key.id, _checked(video_id))
    if row.status != "completed" or not row.assets:
        raise InvalidInputError(f"video {row.id} is {row.status}; provenance is available once it is completed")
    report = verify(app.settings.storage / row.assets / VIDEO)
    m = report.manifest
    return JSONResponse(
        {
            "verdict": report.verdict,
            "watermark_detected": report.watermark_detected,
            "watermark_p_value": report.watermark_p_value,
            "watermark_payload": report.watermark_payload,
            "c2pa": {"present": m.present, "state": m.state, "tampered": m.tampered, "generator": m.generator},
        }
    )


@router.post("/videos/{video_id}/remix", responses=VIDEO_OBJECT, openapi_extra=_body("edit", ["prompt"], {}))
async def remix_video(video_id: str, request: Request, app: App, key: Key) -> JSONResponse:
    """A new video from a completed one under a new prompt (keeps its motion and layout; changes what is asked)."""
    fields, _ = await read_request(request)
    fields = {k: v for k, v in fields.items() if k != "video"}
    fields["video"] = {"id": _checked(video_id)}
    job = parse_edit(fields, {}, app.model, app.settings, "edit")
    job.task = "remix"
    return JSONResponse(await run_in_threadpool(_submit, app, key, job, video_id))


@router.post(
    "/videos/extensions",
    responses=VIDEO_OBJECT,
    openapi_extra=_body("extend", ["prompt", "video"], {"video": {"type": "object"}}),
)
async def extend_video(request: Request, app: App, key: Key) -> JSONResponse:
    """Continue a completed (or uploaded) clip by `seconds`; the result is the stitched whole."""
    fields, files = await read_request(request)
    job = await run_in_threadpool(parse_edit, fields, files, app.model, app.settings, "extend")  # decodes the clip
    return JSONResponse(await run_in_threadpool(_submit, app, key, job))


@router.post(
    "/videos/connections",
    responses=VIDEO_OBJECT,
    openapi_extra=_body(
        "connect", ["prompt", "video", "end_video"], {"video": {"type": "object"}, "end_video": {"type": "object"}}
    ),
)
async def connect_videos(request: Request, app: App, key: Key) -> JSONResponse:
    """Tessera extension: join two completed (or uploaded) clips, `video` then `end_video`, by `seconds` of new
    frames under the prompt that start from the first clip's last frame and arrive at the second's first."""
    fields, files = await read_request(request)
    job = await run_in_threadpool(parse_connect, fields, files, app.model, app.settings)  # decodes the clips
    return JSONResponse(await run_in_threadpool(_submit, app, key, job))


@router.post(
    "/videos/edits",
    responses=VIDEO_OBJECT,
    openapi_extra=_body("edit", ["prompt", "video"], {"video": {"type": "object"}}),
)
async def edit_video(request: Request, app: App, key: Key) -> JSONResponse:
    """Edit a completed (or uploaded) clip under a new prompt (SDEdit; `strength` 0..1, Tessera extension)."""
    fields, files = await read_request(request)
    job = await run_in_threadpool(parse_edit, fields, files, app.model, app.settings, "edit")
    return JSONResponse(await run_in_threadpool(_submit, app, key, job))


@router.post(
    "/storyboards",
    tags=["storyboards"],
    responses=VIDEO_OBJECT,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["shots"],
                        "properties": {
                            "shots": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 50,
                                "items": {
                                    "type": "object",
                                    "required": ["prompt", "duration"],
                                    "properties": {
                                        "prompt": {"type": "string"},
                                        "duration": {"type": "number"},
                                        "at": {"type": "number"},
                                        "transition": {"enum": ["continuous", "cut"]},
                                        # The frame a cut starts from, as input_reference takes it.
                                        "image": {
                                            "type": "object",
                                            "required": ["image_url"],
                                            "properties": {"image_url": {"type": "string"}},
                                        },
                                    },
                                },
                            },
                            "size": {"type": "string"},
                            "seed": {"type": "integer", "minimum": 0},
                            "model": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def create_storyboard(request: Request, app: App, key: Key) -> JSONResponse:
    """Tessera extension: timed shots as one continuous video, a cut starting from an image where its shot gives
    one; a `video` job like any other (retrieve, content)."""
    fields, _ = await read_request(request)
    job = parse_storyboard(fields, app.model, app.settings)
    return JSONResponse(await run_in_threadpool(_submit, app, key, job))


def _checked(value: str) -> str:
    return video_id(value)
