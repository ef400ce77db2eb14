"""File I/O for video and images (PyAV for video, Pillow for stills and GIF).

Every failure a user can cause (missing, empty, corrupt, truncated, oversized or non-video input) becomes a
:class:`~tessera.errors.MediaError` that names the file and says what to do; no codec traceback escapes.
Writes are atomic: the file is written beside its destination and renamed, so a crash never leaves half a
file where a finished one was expected, and an existing file is only replaced by a complete one.
"""

from __future__ import annotations

import functools
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from tessera.errors import InvalidInputError, MediaError
from tessera.files import atomic_path
from tessera.media.frames import resample
from tessera.media.hdr import is_hdr, to_sdr

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".heic", ".heif", ".avif")
OUTPUT_SUFFIXES = (".mp4", ".gif", ".png")  # what save writes
# Read by Pillow, which keeps each frame's delay; FFmpeg drops the last frame's (a GIF's 300 ms end came in as 100 ms).
PICTURE_SUFFIXES = (".gif", *IMAGE_SUFFIXES)

# A phone's photo is HEIC, its pixels a grid of 512x512 HEVC tiles. FFmpeg reads each tile as a stream of its own,
# so read as a video it came in as the top-left tile alone; libheif (through pillow-heif) joins the grid and turns
# it upright. Pillow reads AVIF itself.
pillow_heif.register_heif_opener()
# Formats whose further frames are an animation, read as a clip as a GIF always is; a HEIC's further images are
# other photos (a burst, a stereo pair), so it is read as its primary photo.
ANIMATED_FORMATS = ("WEBP", "PNG", "AVIF")


@dataclass(frozen=True)
class MediaLimits:
    """Upper bounds on what a reader accepts, so a hostile or mistaken upload cannot exhaust memory."""

    max_bytes: int = 1 << 30
    max_frames: int = 10_000
    max_pixels: int = 4096 * 4096  # per frame
    # Decoded frames, all together. Why, beyond the other three: video compresses without bound, so a file small
    # enough to upload (67 KB: 999 still frames of 2048x2048) decoded to 12.6 GB and took every byte of memory.
    max_decoded_bytes: int = 4 << 30

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_frames", "max_pixels", "max_decoded_bytes"):
            if getattr(self, name) <= 0:
                raise InvalidInputError(f"MediaLimits.{name} must be positive, got {getattr(self, name)}")


DEFAULT_LIMITS = MediaLimits()


@dataclass
class Video:
    """Decoded frames (T, H, W, 3) uint8 RGB and their frame rate (0.0 for a still image)."""

    frames: np.ndarray
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps if self.fps > 0 else 0.0

    def at_fps(self, fps: float) -> np.ndarray:
        """The frames resampled to ``fps``, their timestamps kept (a still image, or a clip already at ``fps``,
        comes back as it is). Why: a clip that a model continues or edits must be at the model's frame rate, or
        its motion changes speed (a 24 fps clip taken as 8 fps plays three times slower)."""
        if self.fps <= 0 or self.num_frames < 2 or abs(self.fps - fps) < 1e-6:
            return self.frames
        return resample(self.frames, self.fps, fps)


# --------------------------------------------------------------------------------------------- reading


def _check_file(path: Path, limits: MediaLimits) -> None:
    if not path.exists():
        raise MediaError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise MediaError(f"{path}: is not a file; give the path of a video or image file")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(f"{path}: the file is empty; re-export or re-download it")
    if size > limits.max_bytes:
        raise MediaError(
            f"{path}: {size / 2**20:.0f} MiB is larger than the {limits.max_bytes / 2**20:.0f} MiB limit; "
            "trim or downscale it first"
        )


def _check_decoded(label: Path, count: int, frame: np.ndarray, limits: MediaLimits) -> None:
    """Refuse a clip whose ``count`` frames like ``frame`` would exceed the decoded-bytes limit, before they do."""
    if count * frame.nbytes > limits.max_decoded_bytes:
        height, width = frame.shape[:2]
        raise MediaError(
            f"{label}: decodes to more than {limits.max_decoded_bytes / 2**30:.3g} GiB ({count} frames of "
            f"{width}x{height} and more); trim it, lower its fps or downscale it first"
        )


def _covering(width: int, height: int, cover: tuple[int, int] | None) -> tuple[int, int]:
    """The size a ``width`` x ``height`` frame shrinks to, its aspect kept, so that it still covers ``cover`` =
    (width, height): every crop-and-resize to that size or a smaller one then sees as many pixels as it can use.
    Never larger than the frame; the frame's own size without ``cover``."""
    if cover is None:
        return width, height
    scale = max(cover[0] / width, cover[1] / height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_frame(path: Path, height: int, width: int, limits: MediaLimits) -> None:
    if height * width > limits.max_pixels:
        raise MediaError(
            f"{path}: frames of {width}x{height} exceed the limit of {limits.max_pixels} pixels; downscale it first"
        )


ORIENTATION = 0x0112  # the EXIF tag of how a photo is turned


def image_rgb(image: Image.Image, cover: tuple[int, int] | None = None) -> np.ndarray:
    """A Pillow image of any mode as (H, W, 3) uint8 RGB, turned upright as its EXIF orientation says; with
    ``cover``, no larger than covers that size (see :func:`_shrink`), a JPEG not yet loaded decoded at 1/2, 1/4
    or 1/8 scale where that still covers (a 12 MP photo read to cover 112x112: 0.078 s, 0.309 s decoded whole).

    Why not ``convert("RGB")`` alone: Pillow clips the integer greys of a 16-bit PNG or TIFF to 255 rather than
    scaling them, so a mid-grey came out white, and float images (TIFF) to 0 or 1, so they came out black. And
    a phone stores a portrait photo as landscape pixels with an orientation tag, which viewers honour: read
    without it, the photo a user sees upright came in on its side. Its colours are in the colour space its ICC
    profile names (a phone's photo: Display P3), converted to sRGB as a browser shows them.
    """
    icc = image.info.get("icc_profile")
    # An HDR still (a camera's PQ or HLG HEIF, an HDR AVIF) says so in its nclx colour box: pillow-heif reports it,
    # and _read_picture adds it for an AVIF, whose Pillow reader does not.
    transfer = (image.info.get("nclx_profile") or {}).get("transfer_characteristics")
    if cover is not None and image.format == "JPEG":  # the scale is chosen before any orientation: either way up
        image.draft("RGB", (max(cover), max(cover)))
    if image.getexif().get(ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I") or image.mode == "F":
        grey = np.asarray(image, dtype=np.float64)
        # 16-bit integers span 0..65535; floats are taken as 0..1 when they stay within it, else as 0..255.
        scale = 255 / 65535 if image.mode.startswith("I") else (255.0 if grey.max(initial=0) <= 1 else 1.0)
        grey = np.clip(np.rint(grey * scale), 0, 255).astype(np.uint8)
        return _shrink(np.repeat(grey[..., None], 3, axis=-1), cover)
    if image.has_transparency_data:
        image = _flatten(image)
    rgb = _shrink(np.asarray(image.convert("RGB"), dtype=np.uint8).copy(), cover)
    if is_hdr(transfer):
        # Tone-mapped as an HDR clip is (tessera.media.hdr), from the 8 bits the readers give: its 10 spread over
        # 0-255, so PQ's reference white, at 58% of the range, came in as a dim grey.
        return to_sdr(rgb.astype(np.uint16) * 257, transfer)
    transform = _to_srgb(icc) if icc else None
    if transform is None:
        return rgb
    # After shrinking: a colour conversion is per pixel, so it need not touch the pixels a shrink drops.
    return np.asarray(ImageCms.applyTransform(Image.fromarray(rgb), transform), dtype=np.uint8).copy()


def _avif_colour(image: Image.Image, source: Path | io.BytesIO) -> None:
    """Add an AVIF's colour description (its transfer and primaries) to ``image.info`` as pillow-heif gives a
    HEIF's, read by FFmpeg from the file's boxes (2 ms): Pillow's AVIF reader does not report it, so an HDR AVIF
    read as SDR came in dim and grey."""
    if image.format != "AVIF" or "nclx_profile" in image.info:
        return
    try:
        with av.open(io.BytesIO(source.getvalue()) if isinstance(source, io.BytesIO) else str(source)) as container:
            codec = container.streams.video[0].codec_context
            image.info["nclx_profile"] = {
                "transfer_characteristics": codec.color_trc,
                "color_primaries": codec.color_primaries,
            }
    except (av.FFmpegError, IndexError, OSError):
        pass  # FFmpeg cannot read it: Pillow's reading stands, as SDR


def _flatten(image: Image.Image) -> Image.Image:
    """An image with transparency (RGBA, LA, or a palette with a transparent entry) composited over black, as a
    dark page shows it. Why: dropping the alpha keeps whatever colour the encoder left in the transparent
    pixels, so one picture (a red square on nothing) came in on green or on black depending on how it was saved,
    and a half-transparent edge came in opaque. Black, because the world's scenes are on dark backdrops (its
    default is black)."""
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)


@functools.lru_cache(maxsize=16)
def _to_srgb(icc: bytes) -> ImageCms.ImageCmsTransform | None:
    """The conversion from an RGB ICC profile to sRGB; None for a profile that is not RGB, or that lcms cannot
    read (the pixels are then taken as sRGB, as browsers take an image without a profile)."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if profile.profile.xcolor_space.strip() != "RGB":
            return None
        return ImageCms.buildTransform(profile, _SRGB, "RGB", "RGB")
    except (OSError, ImageCms.PyCMSError):
        return None


_SRGB = ImageCms.createProfile("sRGB")


def read_image(
    path: str | os.PathLike, limits: MediaLimits = DEFAULT_LIMITS, cover: tuple[int, int] | None = None
) -> np.ndarray:
    """Read a still image (PNG, JPEG, WebP, BMP, HEIC, AVIF) as (H, W, 3) uint8 RGB; ``cover`` as for
    :func:`image_rgb`."""
    path = Path(path)
    _check_file(path, limits)
    try:
        with Image.open(path) as im:
            _check_frame(path, im.height, im.width, limits)
            _avif_colour(im, path)
            return image_rgb(im, cover)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise MediaError(f"{path}: not a readable image ({e}); use a PNG or JPEG file") from e


def read_video(
    path: str | os.PathLike,
    limits: MediaLimits = DEFAULT_LIMITS,
    cover: tuple[int, int] | None = None,
    first: int | None = None,
) -> Video:
    """Read a video (MP4, MOV, MKV, WebM, AVI, GIF, animated WebP, PNG or AVIF) or a still image into a
    :class:`Video`.

    A still image comes back as a one-frame video with fps 0.0. With ``cover`` = (width, height), frames are
    shrunk as they decode to the smallest size that still covers it (see :func:`_covering`): a reader that will
    fit them to a model's size needs no more, and a minute of 1080p then takes megabytes, not gigabytes. With
    ``first``, only the first that many frames are decoded (the rest of the file is not read).
    """
    path = Path(path)
    _check_file(path, limits)
    if path.suffix.lower() in PICTURE_SUFFIXES:
        return _read_picture(path, path, limits, cover, first)
    try:
        return _decode(path, limits, cover=cover, first=first)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as e:
        raise MediaError(
            f"{path}: could not decode it as video ({type(e).__name__}: {e}); the file is corrupt, truncated or "
            "not a video; re-export it as MP4 (H.264)"
        ) from e


def decode_video(
    data: bytes, name: str = "video.mp4", limits: MediaLimits = DEFAULT_LIMITS, cover: tuple[int, int] | None = None
) -> Video:
    """Decode a video held in memory (a shard member, an upload); ``name`` labels errors and picks stills;
    ``cover`` as for :func:`read_video`."""
    if not data:
        raise MediaError(f"{name}: is empty; re-export or re-upload it")
    if len(data) > limits.max_bytes:
        raise MediaError(
            f"{name}: {len(data) / 2**20:.0f} MiB is larger than the {limits.max_bytes / 2**20:.0f} MiB limit"
        )
    source = io.BytesIO(data)
    try:
        if Path(name).suffix.lower() in PICTURE_SUFFIXES:
            return _read_picture(source, Path(name), limits, cover)
        return _decode(source, limits, Path(name), cover)
    except MediaError:
        raise
    except (av.FFmpegError, UnidentifiedImageError, OSError, ValueError, EOFError) as e:
        raise MediaError(f"{name}: could not decode it ({type(e).__name__}: {e}); it is corrupt or not a video") from e


def _shrink(image: np.ndarray, cover: tuple[int, int] | None) -> np.ndarray:
    """One (H, W, 3) image shrunk, its aspect kept, to the smallest size that still covers ``cover`` = (width,
    height) (see :func:`_covering`); as it is when it is no larger, or without ``cover``."""
    height, width = image.shape[:2]
    size = _covering(width, height, cover)
    if size == (width, height):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))


def _read_picture(
    source: Path | io.BytesIO,
    path: Path,
    limits: MediaLimits,
    cover: tuple[int, int] | None = None,
    first: int | None = None,
) -> Video:
    """A still image as a one-frame video with fps 0.0, or a GIF or an animated WebP, PNG or AVIF as a clip
    (``path`` labels errors), from one opening of the file. An animation has a delay per frame, and encoders merge
    repeated frames into one longer frame; they are expanded back to a constant frame rate (the shortest delay),
    so frame counts and timing survive a round trip."""
    try:
        with Image.open(source) as im:
            _check_frame(path, im.height, im.width, limits)
            _avif_colour(im, source)
            if im.format != "GIF" and not (im.format in ANIMATED_FORMATS and getattr(im, "n_frames", 1) > 1):
                return Video(image_rgb(im, cover)[None], 0.0)
            frames, delays = [], []
            for k in range(min(getattr(im, "n_frames", 1), first or math.inf)):
                im.seek(k)
                frames.append(image_rgb(im, cover))
                delays.append(im.info.get("duration") or 100)  # 100 ms: browsers' default for a missing delay
                if len(frames) > limits.max_frames:
                    raise MediaError(f"{path}: has more than {limits.max_frames} frames; trim it first")
                _check_decoded(path, len(frames), frames[-1], limits)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise MediaError(
            f"{path}: not a readable image ({e}); the file is corrupt, truncated or not an image; re-export it as PNG "
            "or JPEG"
        ) from e
    base = min(delays)
    repeats = [max(1, round(d / base)) for d in delays]
    if sum(repeats) > limits.max_frames:
        raise MediaError(f"{path}: has more than {limits.max_frames} frames; trim it first")
    _check_decoded(path, sum(repeats), frames[0], limits)
    return Video(np.repeat(np.stack(frames), repeats, axis=0)[:first], 1000.0 / base)


def _decode(
    source: Path | io.BytesIO,
    limits: MediaLimits,
    label: Path | None = None,
    cover: tuple[int, int] | None = None,
    first: int | None = None,
) -> Video:
    """Decode a file path or an in-memory file; ``label`` names it in errors (defaults to the path)."""
    label = label or Path(source)
    with av.open(str(source) if isinstance(source, Path) else source, mode="r") as container:
        if not container.streams.video:
            raise MediaError(f"{label}: has no video stream; give a video file")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        _check_frame(label, stream.codec_context.height, stream.codec_context.width, limits)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio or 1  # None or 0: square
        frames, times, size = [], [], None
        # One reformatter for the whole clip: frame.to_ndarray(format=...) sets up a new colour converter per
        # frame, which costs milliseconds even for a 64x64 frame (measured: 5 ms vs 0.07 ms).
        to_rgb = av.video.reformatter.VideoReformatter()
        for frame in _frames(container, stream):
            if first is not None and len(frames) >= first:
                break
            if len(frames) >= limits.max_frames:
                raise MediaError(f"{label}: has more than {limits.max_frames} frames; trim it or lower its fps first")
            # A phone's portrait clip is landscape pixels with a display rotation that players apply (ffmpeg's
            # autorotate); read without it, the clip came in on its side. rotation is counter-clockwise degrees.
            turns = round(getattr(frame, "rotation", 0) / 90) % 4
            # Shrunk in the same colour conversion (swscale's area filter), so a large frame is never held whole;
            # and every frame at the first one's size, as ffmpeg brings a stream that changes size mid-way (a
            # screen recording's, joined segments'): such a clip was refused as corrupt.
            if size is None:
                # Non-square pixels (anamorphic DV, broadcast) are shown stretched by their aspect ratio; read as
                # stored, a 16:9 picture came in squeezed to 3:2 and a ball as an oval.
                shown = (max(1, round(frame.width * sar)), frame.height)
                size = _covering(*(shown[::-1] if turns % 2 else shown), cover)  # (width, height) upright
            width, height = size
            if turns % 2:
                width, height = height, width
            # HDR (a phone's HLG or PQ clip) is read at 16 bits and tone-mapped as a player shows it on an SDR
            # screen; taken as 8-bit BT.709 it came in washed out and grey.
            hdr = is_hdr(frame.color_trc)
            # A transparent clip (ProRes 4444, PNG in MOV, a WebM with alpha) is composited over black, as an image is.
            alpha = any(c.is_alpha for c in frame.format.components)
            fmt = ("rgba64le" if alpha else "rgb48le") if hdr else ("rgba" if alpha else "rgb24")
            if (width, height) == (frame.width, frame.height):  # the conversion alone, as without cover
                rgb = to_rgb.reformat(frame, format=fmt).to_ndarray()
            else:
                rgb = to_rgb.reformat(frame, format=fmt, width=width, height=height, interpolation="AREA")
                rgb = rgb.to_ndarray()
            if alpha:
                rgb = _over_black(rgb)
            if hdr:
                rgb = to_sdr(rgb, frame.color_trc)
            frames.append(np.rot90(rgb, turns) if turns else rgb)
            times.append(frame.time)
            _check_decoded(label, len(frames), rgb, limits)
        expected = stream.frames  # from the container index; 0 when the container does not say
    if not frames:
        raise MediaError(f"{label}: contains no decodable frames; the file is empty or truncated")
    if expected and len(frames) < min(expected, first or expected):
        raise MediaError(f"{label}: only {len(frames)} of {expected} frames decode; the file is truncated or corrupt")
    if steady := _steady(frames, times, label, limits):
        return steady
    return Video(np.stack(frames), float(rate) if rate else 0.0)


def _frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
    """The stream's frames. A WebM's VP8 or VP9 with alpha (``alpha_mode`` 1) carries the alpha beside the picture,
    which FFmpeg's own decoders drop and libvpx's read, so such a stream is decoded by libvpx (as ``ffmpeg -c:v
    libvpx-vp9 -i`` must be told to)."""
    name = {"vp8": "libvpx", "vp9": "libvpx-vp9"}.get(stream.codec_context.name)
    if name is None or stream.metadata.get("alpha_mode") != "1" or name not in av.codecs_available:
        yield from container.decode(stream)
        return
    decoder = av.CodecContext.create(name, "r")
    for packet in container.demux(stream):  # its last, empty packet flushes the decoder
        yield from decoder.decode(packet)


def _over_black(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) RGBA of 8 or 16 bits composited over black, as :func:`_flatten` does a still image (the same
    rounding as Pillow's alpha_composite: equal on all 65536 pairs of 8-bit value and alpha)."""
    peak = np.iinfo(rgba.dtype).max
    return ((rgba[..., :3].astype(np.uint64) * rgba[..., 3:] + peak // 2) // peak).astype(rgba.dtype)


def _steady(frames: list[np.ndarray], times: list[float | None], label: Path, limits: MediaLimits) -> Video | None:
    """A variable-frame-rate clip (a phone's, a screen recording's) on a constant-rate grid, each grid time
    showing the frame on screen then, as a player shows it; None for a clip that is constant-rate already (or
    has no timestamps). Read as evenly spaced frames at the average rate, such a clip's motion ran at the wrong
    speed wherever frames were dropped or held, and speed is what the benchmark measures."""
    if len(frames) < 3 or any(t is None for t in times):
        return None
    t = np.asarray(times, np.float64)
    gaps = np.diff(t)
    step = float(np.median(gaps))
    if step <= 0 or np.all(np.abs(gaps - step) <= step / 2):
        return None
    count = int(round((t[-1] - t[0]) / step)) + 1
    if count > limits.max_frames:  # a long hold at a high rate (a paused recording) is many frames
        raise MediaError(f"{label}: is {count} frames at its {1 / step:.3g} fps; trim it or lower its fps first")
    _check_decoded(label, count, frames[0], limits)
    grid = t[0] + step * np.arange(count)
    shown = np.searchsorted(t, grid + step / 2, side="right") - 1  # the latest frame shown by each grid time
    rate = float(Fraction(1 / step).limit_denominator(1001))  # 10, 30000/1001: the rate the clip was made at
    return Video(np.stack([frames[i] for i in np.clip(shown, 0, len(frames) - 1)]), rate)


# --------------------------------------------------------------------------------------------- writing


def _as_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InvalidInputError(f"frames must be shaped (T, H, W, 3) RGB, got {frames.shape}")
    if frames.shape[0] == 0:
        raise InvalidInputError("there are no frames to write")
    if frames.dtype != np.uint8:
        raise InvalidInputError(f"frames must be uint8, got {frames.dtype}; scale floats to 0..255 first")
    return frames


MAX_FPS = 240  # the highest frame rate a written file may have
GIF_MAX_FPS = 50  # GIF delays are whole centiseconds, and browsers play a delay under 2 cs as 10 cs


def _check_fps(fps: float) -> Fraction:
    if not (0 < fps <= MAX_FPS):
        raise InvalidInputError(f"fps must be in (0, {MAX_FPS}], got {fps}")
    return Fraction(fps).limit_denominator(1001)


PIX_FMTS = ("yuv420p", "yuv444p")


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: float, crf: int = 18, pix_fmt: str = "yuv420p") -> Path:
    """Write H.264 MP4 with the index at the front (faststart) so it streams in a browser.

    ``yuv420p`` (the default) plays everywhere; it needs even sizes, so an odd height or width is padded by
    repeating the last row or column. ``yuv444p`` keeps full colour resolution — what data sets and
    benchmark folders need, since 4:2:0 smears the colour of a few-pixel object — but some browsers
    will not play it.
    """
    if pix_fmt not in PIX_FMTS:
        raise InvalidInputError(f"pix_fmt must be one of {', '.join(PIX_FMTS)}, got {pix_fmt!r}")
    path = Path(path)
    frames = _as_frames(frames)
    rate = _check_fps(fps)
    pad_h, pad_w = (frames.shape[1] % 2, frames.shape[2] % 2) if pix_fmt == "yuv420p" else (0, 0)
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = pix_fmt
            stream.options = {"crf": str(crf), "preset": "medium"}
            for image in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(stream.encode())
    return path


def write_gif(path: str | os.PathLike, frames: np.ndarray, fps: float) -> Path:
    """Write a looping animated GIF (Pillow's adaptive palette, one per frame) that plays at ``fps``'s speed.

    A GIF's delays are whole centiseconds: each is rounded so the running time stays on the clip's (8 fps is 12
    and 13 cs in turn; 12 throughout ran 4% fast), and above 50 fps the frames are resampled to 50 (a browser
    shows a 1 cs delay as 10 cs, so a 60 fps GIF played at a tenth of its speed)."""
    path = Path(path)
    frames = _as_frames(frames)
    _check_fps(fps)
    if fps > GIF_MAX_FPS:
        frames, fps = resample(frames, fps, GIF_MAX_FPS), GIF_MAX_FPS
    ticks = np.round(np.arange(len(frames) + 1) * 100 / fps).astype(int)  # each frame's start, in centiseconds
    durations = [int(d) * 10 for d in np.diff(ticks)]
    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return path


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write one (H, W, 3) uint8 image as PNG."""
    path = Path(path)
    image = _as_frames(image)
    if image.shape[0] != 1:
        raise InvalidInputError(f"write_png takes one image, got {image.shape[0]} frames; use write_png_frames")
    with atomic_path(path) as tmp:
        Image.fromarray(image[0]).save(tmp, format="PNG")
    return path


def write_png_frames(folder: str | os.PathLike, frames: np.ndarray) -> list[Path]:
    """Write each frame as ``folder/00000.png``, ``00001.png``, ..."""
    folder = Path(folder)
    frames = _as_frames(frames)
    return [write_png(folder / f"{i:05d}.png", f) for i, f in enumerate(frames)]


def save(path: str | os.PathLike, frames: np.ndarray, fps: float) -> Path:
    """Write frames in the format the suffix names: .mp4, .gif, or .png (a single frame)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mp4":
        return write_mp4(path, frames, fps)
    if suffix == ".gif":
        return write_gif(path, frames, fps)
    if suffix == ".png":
        frames = _as_frames(frames)
        return write_png(path, frames[len(frames) // 2])
    raise InvalidInputError(f"{path}: unsupported output format {suffix!r}; use {', '.join(OUTPUT_SUFFIXES)}")
