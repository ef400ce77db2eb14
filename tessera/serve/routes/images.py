"""OpenAI's Images API, for the stills a video model makes (Sora's report lists images among its tasks): the SDK's
``client.images.generate`` gets watermarked, C2PA-signed PNGs. An image is a one-frame job on the same queue as the
videos (moderated, counted against the quota, audited), which the request waits for, as OpenAI's answers
synchronously; it is not listed among the key's videos and its files go once it is answered."""

from __future__ import annotations

import asyncio
import base64
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tessera.errors import TesseraError
from tessera.serve.requests import parse_image
from tessera.serve.routes.videos import App, Key, _submit, json_body, read_request
from tessera.serve.worker import IMAGE

router = APIRouter(prefix="/v1", tags=["images"])


class ImageError(TesseraError):
    """The image was not made: no worker took it in time (504), or its generation failed (500)."""

    def __init__(self, message: str, http_status: int, code: str) -> None:
        super().__init__(message)
        self.http_status, self.code = http_status, code


_PROPERTIES = {
    "prompt": {"type": "string", "maxLength": 2000},
    "model": {"type": "string"},
    "n": {"type": "integer", "minimum": 1, "maximum": 4},
    "size": {"type": "string"},
    "response_format": {"enum": ["b64_json"]},
    "output_format": {"enum": ["png"]},
    "recaption": {"type": "boolean"},
    "seed": {"type": "integer", "minimum": 0},
    "negative_prompt": {"type": "string"},
    "steps": {"type": "integer", "minimum": 1, "maximum": 200},
    "guidance": {"type": "number", "minimum": 0, "maximum": 30},
}


@router.post("/images/generations", openapi_extra=json_body(_PROPERTIES, ["prompt"]))
async def generate_images(request: Request, app: App, key: Key) -> JSONResponse:
    """`prompt`, `n` (1-4), `size` (the model's), `response_format` (b64_json); Tessera's `seed` (image i gets seed
    + i), `negative_prompt`, `steps`, `guidance`, `recaption`."""
    fields, files = await read_request(request)
    jobs = parse_image(fields, files, app.model, app.settings)
    rows = []
    try:
        for job in jobs:
            rows.append(await run_in_threadpool(_submit, app, key, job))
        deadline = time.monotonic() + app.settings.image_timeout
        done: dict[str, object] = {}
        while len(done) < len(rows):
            if time.monotonic() > deadline:
                raise ImageError(
                    f"no worker made the image within {app.settings.image_timeout:g} s; the server may have no "
                    "workers running (start `tessera worker`, or serve with --workers 1), or be busy: try again",
                    504,
                    "timeout",
                )
            for video in rows:
                if video["id"] in done:
                    continue
                row = await run_in_threadpool(app.store.get, key.id, video["id"])
                if row.status in ("completed", "failed"):
                    done[row.id] = row
            await asyncio.sleep(0.1)
        data = []
        for video in rows:
            row = done[video["id"]]
            if row.status == "failed":
                raise ImageError(f"the image failed: {row.error_message}", 500, row.error_code or "failed")
            png = (app.settings.storage / row.assets / IMAGE).read_bytes()
            data.append(
                {"b64_json": base64.b64encode(png).decode(), "revised_prompt": (row.params or {}).get("revised_prompt")}
            )
    finally:
        for video in rows:  # answered (or given up on): nothing of it stays, as nothing lists it
            await run_in_threadpool(app.store.delete, key.id, video["id"])
    return JSONResponse({"created": int(time.time()), "data": data, "output_format": "png", "size": jobs[0].size})
