"""Parsing and checking API requests (JSON or multipart) before anything is stored or computed.

Uploads are checked by their bytes, not their names: size first, then the container's header (type,
dimensions, frame count, duration), and only then decoded, within limits.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tessera.errors import InvalidInputError, MediaError, NotFoundError
from tessera.files import model_name, read_json_object
from tessera.serve.settings import Settings

VIDEO_ID = re.compile(r"^video_[0-9a-f]{32}$")
# The fields each kind of request takes: OpenAI's own (prompt, model, seconds, size, input_reference, video) and
# Tessera's extras. Anything else is refused by name, as OpenAI's API does, so a misspelt or misplaced field (a
# remix's strength sent to a create) is an error instead of a setting silently not applied.
_EXTRAS = ("seed", "negative_prompt", "steps", "guidance")
FIELDS = {
    "text-to-video": ("prompt", "model", "seconds", "size", "input_reference", "recaption", "loop", *_EXTRAS),
    "edit": ("prompt", "model", "video", "video[id]", "strength", *_EXTRAS),
    "extend": ("prompt", "model", "seconds", "video", "video[id]", "direction", *_EXTRAS),
    "connect": ("prompt", "model", "seconds", "video", "video[id]", "end_video", "end_video[id]", *_EXTRAS),
    "storyboard": ("shots", "model", "size", "seed", "steps", "guidance"),
    "image": ("prompt", "model", "n", "size", "response_format", "output_format", "recaption", *_EXTRAS),
    "webhook endpoint": ("name", "url", "event_types"),
    "webhook test": ("event_type",),
}


class RequestError(InvalidInputError):
    """A request field is missing or wrong; ``param`` names it (OpenAI error bodies carry it)."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param, self.code = param, code


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ModelInfo:
    """What the loaded model can make, read from its pipeline.json (no weights needed)."""

    name: str
    sizes: tuple[str, ...]
    fps: float
    max_frames: int
    created: int = 0
    temporal_factor: int = 4  # frames per latent frame: storyboard shots come in multiples of it
    domain: str | None = None  # what it was trained on ("world": the physics world alone), where recorded
    steps: int = 24  # its sampling steps and guidance when a request gives none
    guidance: float = 2.0

    @property
    def cover(self) -> tuple[int, int]:
        """(width, height) an upload's frames need to keep for every size the model makes (see read_video)."""
        from tessera.media import covering_size

        return covering_size(self.sizes)

    @property
    def longest_call(self) -> float:
        """Seconds one call of the model makes: a connection's bridge is one call."""
        return (self.max_frames - 1) / self.fps

    @property
    def longest_loop(self) -> float:
        """Seconds a loop lasts at most: one call, less the latent block that holds the first frame to close it."""
        return (self.max_frames - self.temporal_factor - 1) / self.fps

    def answers_to(self, name: str) -> bool:
        """Its own id, or one of OpenAI's (``sora-2`` ...), which clients send by default: those map to it."""
        return name == self.name or str(name).startswith("sora-")

    @classmethod
    def from_folder(cls, folder: Path, name: str = "") -> ModelInfo:
        path = Path(folder) / "pipeline.json"
        try:
            data = read_json_object(path, "pipeline.json holds a pipeline's settings")
        except FileNotFoundError:
            raise NotFoundError(
                f"no pipeline at {folder} (missing pipeline.json); pass --model DIR (a `tessera train dit` run's "
                "model/ folder), or train the default one with scripts/train_world_s.sh"
            ) from None
        return cls(
            name or model_name(folder),
            tuple(data.get("sizes", ("64x64",))),
            float(data.get("fps", 8.0)),
            int(data.get("max_frames", 33)),
            int(path.stat().st_mtime),
            domain=data.get("domain"),
            steps=int(data.get("steps", 24)),
            guidance=float(data.get("guidance", 2.0)),
        )


@dataclass
class Job:
    """A checked request, ready to be stored as a video row."""

    prompt: str
    model: str
    seconds: str
    size: str
    task: str
    params: dict = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file name in the job's inputs folder -> bytes
    source_id: str | None = None  # a completed video this job starts from
    end_id: str | None = None  # a completed video a connection ends on


def video_id(value: str, param: str = "video_id") -> str:
    """A well-formed id or a 404-style error: ids never reach the filesystem unchecked."""
    if not isinstance(value, str) or not VIDEO_ID.match(value):
        from tessera.errors import NotFoundError

        raise NotFoundError(f"no video with id {str(value)[:80]!r}")
    return value


def _text(fields: dict, name: str, settings: Settings, required: bool = True) -> str | None:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RequestError(f"'{name}' is required: describe the video to make", name, "missing_required_parameter")
        return None
    if not isinstance(value, str):
        raise RequestError(f"'{name}' must be a string", name)
    if len(value) > settings.max_prompt_chars:
        raise RequestError(f"'{name}' is {len(value)} characters; the limit is {settings.max_prompt_chars}", name)
    if "\x00" in value:
        raise RequestError(f"'{name}' contains a NUL character", name)
    return value.strip()


def _choice(fields: dict, name: str, allowed: list[str], default: str) -> str:
    value = fields.get(name, default)
    if value is None:
        value = default
    value = str(value).strip()
    if value not in allowed:
        raise RequestError(f"{name} {value[:40]!r} is not supported; supported: {', '.join(allowed)}", name)
    return value


# OpenAI's sizes (Sora's and its image models'), which unmodified clients send. Each maps to the model's size of the
# nearest aspect ratio, as OpenAI's model names map to the served model; the video object says what was made.
OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024", "1024x1024", "1536x1024", "1024x1536")


def _size(fields: dict, model: ModelInfo) -> str:
    value = fields.get("size")
    if isinstance(value, str) and value.strip() in OPENAI_SIZES and value.strip() not in model.sizes:
        from tessera.media import nearest_size, parse_size

        return nearest_size(*parse_size(value.strip()), model.sizes)
    if value == "auto":  # the images API's
        return model.sizes[0]
    return _choice(fields, "size", list(model.sizes), model.sizes[0])


def _number(fields: dict, name: str, kind, low, high):
    value = fields.get(name)
    if value is None or value == "":
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise RequestError(f"'{name}' must be a number, got {str(value)[:40]!r}", name) from None
    if isinstance(value, bool) or not low <= number <= high:
        raise RequestError(f"'{name}' must be between {low} and {high}, got {str(value)[:40]}", name)
    return number


def supported_seconds(settings: Settings) -> list[str]:
    return [str(s) for s in range(1, settings.max_seconds + 1)]


def _extras(fields: dict) -> dict:
    params = {
        "seed": _number(fields, "seed", int, 0, 2**63 - 1),
        "negative_prompt": fields.get("negative_prompt") or None,
        "steps": _number(fields, "steps", int, 1, 200),
        "guidance": _number(fields, "guidance", float, 0.0, 30.0),
    }
    if params["negative_prompt"] is not None and not isinstance(params["negative_prompt"], str):
        raise RequestError("'negative_prompt' must be a string", "negative_prompt")
    return {k: v for k, v in params.items() if v is not None}


def _flag(fields: dict, name: str) -> bool | None:
    """A yes/no field: a JSON boolean, or true/false (1/0) in a form."""
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "false", "0"):
        return text in ("true", "1")
    raise RequestError(f"'{name}' must be true or false, got {str(value)[:40]!r}", name)


def _recaption(fields: dict, model: ModelInfo) -> bool | None:
    """The ``recaption`` flag (None when not sent); asking for it needs a model of the physics world."""
    recaption = _flag(fields, "recaption")
    if recaption and model.domain != "world":
        raise RequestError("'recaption' needs a model of the physics world; this one is not", "recaption")
    return recaption


def refuse_unknown(task: str, *names: dict) -> None:
    """Refuse any field or file the request kind does not take (OpenAI's ``unknown_parameter``)."""
    for name in (n for group in names for n in group):
        if name not in FIELDS[task]:
            raise RequestError(
                f"unknown parameter {str(name)[:40]!r}; this request takes {', '.join(FIELDS[task])}",
                str(name)[:40],
                "unknown_parameter",
            )


def _model(fields: dict, model: ModelInfo) -> str:
    name = fields.get("model") or model.name
    if not model.answers_to(name):
        raise RequestError(
            f"model {str(name)[:80]!r} does not exist; this server has {model.name!r}", "model", "model_not_found"
        )
    return model.name


def check_image(upload: Upload, settings: Settings, cover: tuple[int, int], param: str = "input_reference") -> bytes:
    """An image upload: decodable, of sane dimensions; returned as PNG bytes (no metadata carried on), no larger
    than covers ``cover`` (the model's sizes; its aspect kept): a 12 MP photo was kept whole as a 36 MB PNG,
    written in 1.4 s while the request waited (0.09 s now)."""
    from PIL import Image, UnidentifiedImageError

    from tessera.media import image_rgb

    if not upload.data:
        raise RequestError(f"{param} is empty; upload a PNG, JPEG, WebP or HEIC image", param)
    try:
        with Image.open(io.BytesIO(upload.data)) as image:  # reads the header only
            if image.format not in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "HEIF", "AVIF"):
                raise RequestError(f"{param} is {image.format}; upload PNG, JPEG, WebP or HEIC", param)
            if image.width * image.height > settings.max_upload_pixels or min(image.size) < 1:
                raise RequestError(
                    f"{param} is {image.width}x{image.height}; the limit is {settings.max_upload_pixels} pixels",
                    param,
                )
            out = io.BytesIO()
            Image.fromarray(image_rgb(image, cover)).save(out, format="PNG")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise RequestError(
            f"{param} is not a readable image ({type(e).__name__}); upload a PNG, JPEG, WebP or HEIC",
            param,
        ) from None
    return out.getvalue()


def check_video(upload: Upload, settings: Settings, cover: tuple[int, int], param: str = "video"):
    """A video upload: a readable clip within the frame and pixel limits; returns (bytes, decoded clip). Its frames
    are shrunk as they decode to what covers ``cover``: a 67 KB clip of 999 still 2048x2048 frames decoded whole
    to 12.6 GB and took the server's memory."""
    from tessera.media import MediaLimits, decode_video

    if not upload.data:
        raise RequestError(f"{param} is empty; upload an MP4 clip", param)
    limits = MediaLimits(settings.max_request_bytes, settings.max_upload_frames, settings.max_upload_pixels)
    try:
        clip = decode_video(upload.data, Path(upload.filename or "upload.mp4").name or "upload.mp4", limits, cover)
    except MediaError as e:
        raise RequestError(f"{param}: {e}", param) from None
    return upload.data, clip


def data_url(value: str, param: str) -> Upload:
    """``data:image/png;base64,...`` — the only URLs accepted (the server never fetches from the network)."""
    match = re.match(r"^data:([\w/+.-]+);base64,(.*)$", value, re.S)
    if not match:
        raise RequestError(
            f"{param}: only base64 data URLs (data:image/png;base64,...) are accepted; upload the file "
            "as multipart instead",
            param,
        )
    try:
        return Upload("upload", match.group(1), base64.b64decode(match.group(2), validate=True))
    except (binascii.Error, ValueError):
        raise RequestError(f"{param}: the data URL is not valid base64", param) from None


def parse_create(fields: dict, files: dict[str, Upload], model: ModelInfo, settings: Settings) -> Job:
    refuse_unknown("text-to-video", fields, files)
    prompt = _text(fields, "prompt", settings)
    job = Job(
        prompt=prompt,
        model=_model(fields, model),
        seconds=_choice(fields, "seconds", supported_seconds(settings), "4" if settings.max_seconds >= 4 else "1"),
        size=_size(fields, model),
        task="text-to-video",
        params=_extras(fields),
    )
    reference = files.get("input_reference")
    if reference is None and isinstance(fields.get("input_reference"), dict):
        ref = fields["input_reference"]
        if "image_url" in ref:
            reference = data_url(str(ref["image_url"]), "input_reference")
        elif ref:
            raise RequestError(
                "input_reference: give image_url (a base64 data URL) or upload a file; file ids are not supported",
                "input_reference",
            )
    elif reference is None and fields.get("input_reference") not in (None, ""):
        raise RequestError(
            'input_reference must be an uploaded image file or {"image_url": "data:..."}', "input_reference"
        )
    if _flag(fields, "loop"):
        if reference is not None:
            raise RequestError("a loop is made from the prompt alone; leave out input_reference", "loop")
        longest = model.longest_loop
        if float(job.seconds) > longest:
            ask = f"ask for seconds 1 to {int(longest)}" if longest >= 1 else "so it makes no loop of a whole second"
            raise RequestError(
                f"a loop lasts at most {longest:g} s with this model (its longest clip, less the block that closes "
                f"the loop); {ask}",
                "seconds",
            )
        job.params["loop"] = True
    recaption = _recaption(fields, model)
    if recaption is not None:
        if recaption and (reference is not None or job.params.get("loop")):
            raise RequestError(
                "'recaption' applies to text-to-video only: a scene written afresh could contradict input_reference, "
                "and the world's captions tell one-way events, not loops",
                "recaption",
            )
        job.params["recaption"] = recaption
    if reference is not None:
        job.uploads["reference.png"] = png = check_image(reference, settings, model.cover)
        job.task, job.params["reference"] = "image-to-video", "reference.png"
        if fields.get("size") in (None, ""):  # no size asked for: the image's, as for an uploaded clip
            from PIL import Image

            from tessera.media import nearest_size

            with Image.open(io.BytesIO(png)) as image:
                job.size = nearest_size(image.width, image.height, model.sizes)
    return job


def source_of(fields: dict, files: dict[str, Upload], settings: Settings, model: ModelInfo, param: str = "video"):
    """The ``video`` (or ``param``) of an extension, edit or connection: an uploaded clip, or ``{"id": ...}`` of a
    completed video."""
    if param in files:
        return None, check_video(files[param], settings, model.cover, param)
    ref = fields.get(param)
    if isinstance(ref, str) and ref.startswith("{"):
        try:
            ref = json.loads(ref)
        except json.JSONDecodeError:
            ref = None
    ref_id = ref.get("id") if isinstance(ref, dict) else fields.get(f"{param}[id]")
    if ref_id is None:
        raise RequestError(
            f'\'{param}\' is required: upload a clip or give {{"id": "video_..."}} of a completed video',
            param,
            "missing_required_parameter",
        )
    return video_id(str(ref_id), param), None


def parse_edit(fields: dict, files: dict[str, Upload], model: ModelInfo, settings: Settings, task: str) -> Job:
    """An edit (``task='edit'``) or extension (``task='extend'``) request."""
    refuse_unknown(task, fields, files)
    prompt = _text(fields, "prompt", settings)
    params = _extras(fields)
    if task == "extend":
        seconds = _choice(fields, "seconds", supported_seconds(settings), "4" if settings.max_seconds >= 4 else "1")
        params["extra_seconds"] = seconds
        params["direction"] = _choice(fields, "direction", ["forward", "backward"], "forward")
    else:
        strength = _number(fields, "strength", float, 0.05, 1.0)
        params["strength"] = strength if strength is not None else settings.remix_strength
        seconds = "0"
    source_id, upload = source_of(fields, files, settings, model)
    job = Job(prompt, _model(fields, model), seconds, model.sizes[0], task, params, source_id=source_id)
    if upload is not None:
        from tessera.media import nearest_size

        data, clip = upload
        job.uploads["source.mp4"] = data
        job.size = nearest_size(clip.width, clip.height, model.sizes)
        # Counted at the model's frame rate, the one the worker reads the clip at (a 24 fps upload is resampled).
        job.params["source_frames"] = len(clip.at_fps(model.fps))
    return job


def parse_connect(fields: dict, files: dict[str, Upload], model: ModelInfo, settings: Settings) -> Job:
    """A connection: ``video`` and ``end_video`` (each an upload or ``{"id": ...}``) joined by ``seconds`` of new
    frames under ``prompt``; the result is the first clip, the bridge, then the second."""
    refuse_unknown("connect", fields, files)
    prompt = _text(fields, "prompt", settings)
    bridges = [str(s) for s in range(1, int(model.longest_call) + 1)]
    if not bridges:
        raise RequestError(
            f"this model makes at most {model.longest_call:g} s a call, too short to connect two clips by a whole "
            "second",
            "seconds",
        )
    seconds = _choice(fields, "seconds", bridges, "2" if "2" in bridges else bridges[-1])
    params = {**_extras(fields), "bridge_seconds": seconds}
    source_id, upload = source_of(fields, files, settings, model)
    end_id, end_upload = source_of(fields, files, settings, model, "end_video")
    job = Job(
        prompt, _model(fields, model), seconds, model.sizes[0], "connect", params, source_id=source_id, end_id=end_id
    )
    for name, key, given in (("source.mp4", "source_frames", upload), ("end.mp4", "end_frames", end_upload)):
        if given is not None:
            data, clip = given
            job.uploads[name] = data
            job.params[key] = len(clip.at_fps(model.fps))  # at the model's frame rate, as the worker reads it
            if name == "source.mp4":
                from tessera.media import nearest_size

                job.size = nearest_size(clip.width, clip.height, model.sizes)
    return job


def parse_image(fields: dict, files: dict[str, Upload], model: ModelInfo, settings: Settings) -> list[Job]:
    """OpenAI's image generation: ``n`` one-frame jobs of ``prompt``, image i of seed ``seed`` + i."""
    refuse_unknown("image", fields, files)
    prompt = _text(fields, "prompt", settings)
    n = _number(fields, "n", int, 1, 4) or 1
    size = _size(fields, model)
    if fields.get("response_format") not in (None, "b64_json"):
        raise RequestError(
            "response_format must be b64_json: this server returns images inline and serves no image URLs",
            "response_format",
        )
    if fields.get("output_format") not in (None, "png"):
        raise RequestError(
            "output_format must be png: images are signed PNGs (C2PA) with their watermark", "output_format"
        )
    params = _extras(fields)
    recaption = _recaption(fields, model)
    if recaption is not None:
        params["recaption"] = recaption
    seed = params.pop("seed", 0)
    return [
        Job(prompt, _model(fields, model), "0", size, "text-to-image", {**params, "seed": seed + i}) for i in range(n)
    ]


def parse_storyboard(fields: dict, model: ModelInfo, settings: Settings) -> Job:
    """``{"shots": [{"prompt", "duration", "at"?, "transition"?, "image"?}], "size"?, "seed"?, "model"?}``; a shot's
    ``image`` (``{"image_url": "data:..."}``, as ``input_reference`` takes it) is the frame a cut starts from."""
    from tessera.pipeline.storyboard import Storyboard

    refuse_unknown("storyboard", fields)
    shots = fields.get("shots")
    if not isinstance(shots, list) or not shots:
        raise RequestError(
            "'shots' is required: a list of {prompt, duration, at, transition}", "shots", "missing_required_parameter"
        )
    if len(shots) > 50:
        raise RequestError("at most 50 shots per storyboard", "shots")
    uploads: dict[str, bytes] = {}
    named = []  # the shots with each image replaced by its file's name in the job's inputs folder
    for i, shot in enumerate(shots, 1):
        if isinstance(shot, dict) and isinstance(shot.get("prompt"), str):
            _text({"prompt": shot["prompt"]}, "prompt", settings)
        if isinstance(shot, dict) and shot.get("image") is not None:
            image = shot["image"]
            url = image.get("image_url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise RequestError(f'shot {i}: image must be {{"image_url": "data:image/png;base64,..."}}', "shots")
            try:
                png = check_image(data_url(url, "image"), settings, model.cover, "image")
            except RequestError as e:
                raise RequestError(f"shot {i}: {e}", "shots") from None
            uploads[f"shot-{i}.png"] = png
            shot = {**shot, "image": f"shot-{i}.png"}
        named.append(shot)
    data = {"shots": named}
    try:
        board = Storyboard.from_dict(data)
        board.validate(model.fps, model.temporal_factor, max_seconds=settings.max_seconds)
    except InvalidInputError as e:
        raise RequestError(str(e), "shots") from None
    seconds = sum(s.duration for s in board.shots)
    params = {
        "board": {
            "shots": [
                {"prompt": s.prompt, "duration": s.duration, "transition": s.transition}
                | ({"image": s.image} if s.image is not None else {})
                for s in board.shots
            ]
        }
    }
    params.update({k: v for k, v in _extras(fields).items() if k in ("seed", "steps", "guidance")})
    prompt = " | ".join(s.prompt for s in board.shots)
    return Job(
        prompt[:4000],
        _model(fields, model),
        f"{seconds:g}",
        _size(fields, model),
        "storyboard",
        params,
        uploads,
    )
