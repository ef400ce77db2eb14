"""Workers: claim a job, render it with the pipeline, write its assets atomically, then complete it.

The same :class:`Worker` runs as threads inside ``tessera serve`` and as separate ``tessera worker`` processes
on other hosts (sharing a PostgreSQL queue and a storage folder).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from tessera.errors import TesseraError
from tessera.serve import metrics
from tessera.serve.db import Video
from tessera.serve.jobs import JobStore, worker_name
from tessera.serve.settings import Settings

log = logging.getLogger("tessera.serve.worker")
VIDEO, THUMBNAIL, SPRITESHEET = "video.mp4", "thumbnail.webp", "spritesheet.jpg"
IMAGE = "image.png"  # what an image request (POST /v1/images/generations) makes instead
VARIANTS = {
    "video": (VIDEO, "video/mp4"),
    "thumbnail": (THUMBNAIL, "image/webp"),
    "spritesheet": (SPRITESHEET, "image/jpeg"),
}


class Interrupted(Exception):
    """The job must stop now: the server is shutting down, or the job was deleted or taken back."""

    def __init__(self, requeue: bool) -> None:
        super().__init__("interrupted")
        self.requeue = requeue


def load_pipeline(settings: Settings):
    from tessera.cli.generate import default_model
    from tessera.errors import NotFoundError
    from tessera.pipeline import TextToVideoPipeline

    folder = settings.model or default_model()
    if not (Path(folder) / "pipeline.json").is_file():
        raise NotFoundError(f"no pipeline at {folder}; pass --model DIR (a folder with pipeline.json)")
    log.info("loading the model from %s", folder)
    pipe = TextToVideoPipeline.from_pretrained(folder)
    pipe.config.safety = False  # the API checked every prompt at submission, before it was queued
    pipe.config.compile = settings.compile
    return pipe


class Renderer:
    """Turns one job row into frames, then into the files a client downloads."""

    def __init__(self, settings: Settings, pipe=None) -> None:
        self.settings = settings
        self.pipe = pipe if pipe is not None else load_pipeline(settings)

    def frames(self, row: Video, on_step) -> tuple[np.ndarray, float, int | None, list[Path], str, str | None]:
        """(frames, fps, watermark payload, input files, provenance task, the prompt as re-captioned or None)."""
        from tessera.media import parse_size, read_image, read_video

        pipe, p = self.pipe, row.params
        width, height = parse_size(row.size)
        fps = pipe.config.fps
        inputs_dir = self.settings.storage / row.id / "inputs"
        common = dict(
            height=height,
            width=width,
            seed=int(p.get("seed", 0)),
            negative_prompt=p.get("negative_prompt"),
            num_inference_steps=p.get("steps"),
            guidance_scale=p.get("guidance"),
            callback_on_step_end=on_step,
        )
        frames = round(float(row.seconds) * fps) + 1
        source = inputs_dir / p["source"] if p.get("source") else None
        if row.task == "image-to-video":
            image = read_image(inputs_dir / p["reference"])
            out = pipe(row.prompt, num_frames=frames, image=image, **common)
            return out.frames[0], out.fps, out.watermarks[0], [inputs_dir / p["reference"]], "image-to-video", None
        if row.task in ("remix", "edit"):
            clip = read_video(source, cover=(width, height)).at_fps(fps)
            out = pipe(row.prompt, num_frames=len(clip), video=clip, strength=p["strength"], **common)
            return out.frames[0], out.fps, out.watermarks[0], [source], "edit", None
        if row.task == "extend":
            clip = read_video(source, cover=(width, height))
            out = pipe.extend(row.prompt, clip, float(p["extra_seconds"]), p.get("direction", "forward"), **common)
            return out.frames[0], out.fps, out.watermarks[0], [source], "extend", None
        if row.task == "connect":
            end = inputs_dir / p["end"]
            clip, end_clip = (read_video(path, cover=(width, height)) for path in (source, end))
            bridge = round(float(p["bridge_seconds"]) * fps) + 1
            out = pipe(row.prompt, num_frames=bridge, video=clip, end_video=end_clip, **common)
            return out.frames[0], out.fps, out.watermarks[0], [source, end], "connect", None
        loop = bool(p.get("loop"))
        out = pipe(row.prompt, num_frames=frames, recaption=p.get("recaption"), loop=loop, **common)
        video, revised = out.frames[0], out.prompts[0] if out.prompts[0] != row.prompt else None
        task = "loop" if loop else "text-to-video" if len(video) > 1 else "text-to-image"
        return video, out.fps, out.watermarks[0], [], task, revised

    def storyboard(self, row: Video, on_step):
        from tessera.media import parse_size
        from tessera.pipeline.storyboard import Storyboard

        inputs_dir = self.settings.storage / row.id / "inputs"
        board = Storyboard.from_dict(row.params["board"], base=inputs_dir)  # a shot's image: a file in inputs/
        board.seed = int(row.params.get("seed", 0))
        width, height = parse_size(row.size)
        out = self.pipe.storyboard(
            board,
            height=height,
            width=width,
            num_inference_steps=row.params.get("steps"),
            guidance_scale=row.params.get("guidance"),
            callback_on_step_end=on_step,
        )
        images = [Path(shot.image) for shot in board.shots if shot.image is not None]
        return out.frames[0], out.fps, out.watermarks[0], board.timeline(), images

    def render(self, row: Video, folder: Path, on_step) -> str | None:
        """Write video.mp4 (watermarked, C2PA-signed), thumbnail.webp and spritesheet.jpg into ``folder``; returns
        the prompt as the pipeline re-captioned it (None: used as written)."""
        from PIL import Image

        from tessera.media import save, spritesheet, thumbnail
        from tessera.provenance import Generation, sign_file

        shots: list[dict] = []
        revised = None
        if row.task == "storyboard":
            video, fps, payload, shots, inputs = self.storyboard(row, on_step)
            task = "storyboard"
        else:
            video, fps, payload, inputs, task, revised = self.frames(row, on_step)
        folder.mkdir(parents=True, exist_ok=True)
        prompt = row.prompt if os.environ.get("TESSERA_C2PA_INCLUDE_PROMPT") == "1" else None
        gen = Generation(self.pipe.name, self.pipe.weights_sha256, task, payload, inputs, prompt, shots)
        if row.task == "text-to-image":  # a still, asked for as one: a signed PNG, no player's thumbnails
            sign_file(save(folder / IMAGE, video, fps), gen)
            return revised
        mp4 = save(folder / VIDEO, video, fps)
        sign_file(mp4, gen)
        Image.fromarray(thumbnail(video)).save(folder / THUMBNAIL, quality=90)
        Image.fromarray(spritesheet(video)).save(folder / SPRITESHEET, quality=90)
        return revised


class Worker:
    """Claims and runs jobs until stopped; ``stop()`` lets a running job finish within the grace period."""

    def __init__(self, settings: Settings, store: JobStore, renderer_factory, label: str = "worker") -> None:
        self.settings, self.store = settings, store
        self.renderer_factory = renderer_factory
        self.renderer: Renderer | None = None
        self.name = worker_name(label)
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.deadline = float("inf")
        self.busy = False

    def load(self) -> Renderer:
        """The renderer, made on first use: loading the model takes seconds, so a worker does it once."""
        if self.renderer is None:
            self.renderer = self.renderer_factory()
        return self.renderer

    def stop(self, grace: float | None = None) -> None:
        self.deadline = time.monotonic() + (self.settings.shutdown_grace if grace is None else grace)
        self.stopping.set()
        self.wake.set()

    def run(self, poll: float = 1.0) -> None:
        next_sweep = 0.0
        while not self.stopping.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    for video_id, status in self.store.recover():
                        log.warning("took back %s from a stopped worker: now %s", video_id, status)
                    for video_id in self.store.expire():
                        log.info("expired %s (retention)", video_id)
                    next_sweep = time.monotonic() + max(1.0, self.settings.lease_seconds / 4)
                job = self.store.claim(self.name)
            except Exception:  # the database went away: keep trying, do not die
                log.exception("job store unavailable; retrying")
                self.stopping.wait(poll * 5)
                continue
            if job is None:
                self.wake.wait(poll)
                self.wake.clear()
                continue
            self.run_one(*job)

    def run_one(self, row: Video, token: str) -> None:
        self.busy = True
        started = time.monotonic()
        folder_name = f"{row.id}/{row.attempts}-{token.rsplit(':', 1)[-1]}"
        folder = self.settings.storage / folder_name
        last = [0.0]

        def on_step(pipe, step: int, _t, kwargs: dict) -> dict:
            if self.stopping.is_set() and time.monotonic() > self.deadline:
                raise Interrupted(requeue=True)
            now, done, total = time.monotonic(), step + 1, pipe.num_timesteps
            if now - last[0] >= 0.5 or done == total:
                last[0] = now
                if not self.store.heartbeat(row.id, token, 5 + 85 * done / max(total, 1)):
                    raise Interrupted(requeue=False)  # deleted, or taken back after our lease ran out
            return kwargs

        log.info("job %s (%s) started, attempt %d", row.id, row.task, row.attempts)
        try:
            renderer = self.load()
            self.store.heartbeat(row.id, token, 1)
            revised = renderer.render(row, folder, on_step)
            if not self.store.heartbeat(row.id, token, 99):
                raise Interrupted(requeue=False)
            params = {**row.params, "revised_prompt": revised} if revised else None
            if self.store.complete(row.id, token, folder_name, self._expiry(), params):
                self.store.audit("job.completed", row.key_id, row.id, worker=self.name, attempt=row.attempts)
                metrics.JOBS.labels("completed").inc()
                metrics.JOB_SECONDS.observe(time.monotonic() - started)
                log.info("job %s completed in %.2fs", row.id, time.monotonic() - started)
            else:
                shutil.rmtree(folder, ignore_errors=True)
        except Interrupted as stop:
            shutil.rmtree(folder, ignore_errors=True)
            if stop.requeue and self.store.release(row.id, token):
                log.warning("job %s requeued: shutting down", row.id)
        except TesseraError as err:
            shutil.rmtree(folder, ignore_errors=True)
            self._fail(row, token, getattr(err, "code", "invalid_request"), str(err))
        except Exception as err:  # a bug or a broken model: the job fails with a reason, the worker goes on
            log.exception("job %s failed", row.id)
            shutil.rmtree(folder, ignore_errors=True)
            self._fail(row, token, "internal_error", f"generation failed ({type(err).__name__}); see the server log")
        finally:
            self.busy = False

    def _fail(self, row: Video, token: str, code: str, message: str) -> None:
        if self.store.fail(row.id, token, code, message):
            self.store.audit("job.failed", row.key_id, row.id, code=code, message=message)
            metrics.JOBS.labels("failed").inc()

    def _expiry(self) -> float | None:
        days = self.settings.retention_days
        return time.time() + days * 86400 if days else None
