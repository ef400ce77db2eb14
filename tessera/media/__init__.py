"""Reading and writing video and images: MP4/H.264, GIF, PNG/JPEG, thumbnails and spritesheets.

Arrays are always uint8 RGB shaped (T, H, W, 3); a still image is a one-frame video.
"""

from tessera.media.frames import (
    covering_size,
    fit,
    grid,
    nearest_size,
    parse_size,
    psnr,
    resample,
    spritesheet,
    thumbnail,
)
from tessera.media.io import (
    IMAGE_SUFFIXES,
    MAX_FPS,
    OUTPUT_SUFFIXES,
    VIDEO_SUFFIXES,
    MediaLimits,
    Video,
    decode_video,
    image_rgb,
    read_image,
    read_video,
    save,
    write_gif,
    write_mp4,
    write_png,
    write_png_frames,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_FPS",
    "OUTPUT_SUFFIXES",
    "VIDEO_SUFFIXES",
    "MediaLimits",
    "Video",
    "covering_size",
    "decode_video",
    "image_rgb",
    "fit",
    "grid",
    "nearest_size",
    "parse_size",
    "psnr",
    "read_image",
    "read_video",
    "resample",
    "save",
    "spritesheet",
    "thumbnail",
    "write_gif",
    "write_mp4",
    "write_png",
    "write_png_frames",
]
