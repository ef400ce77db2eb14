"""Media round-trips, ffmpeg compatibility, and clear errors for bad input."""

import os
import re
import stat
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from tessera.errors import InvalidInputError, MediaError
from tessera.media import (
    MediaLimits,
    Video,
    decode_video,
    fit,
    image_rgb,
    nearest_size,
    parse_size,
    read_image,
    read_video,
    resample,
    save,
    spritesheet,
    thumbnail,
    write_gif,
    write_mp4,
    write_png,
)
from tessera.world import sample_clip
from tests.media.heic import gridded_heic


@pytest.fixture(scope="module")
def clip():
    return sample_clip(3, "train", 112, 64, frames=17, fps=8.0, motion="throw")


def _psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 10 * np.log10(255**2 / mse)


def test_mp4_round_trip(tmp_path, clip):
    path = write_mp4(tmp_path / "c.mp4", clip.frames, clip.fps)
    video = read_video(path)
    assert video.frames.shape == clip.frames.shape
    assert video.fps == pytest.approx(8.0)
    assert _psnr(video.frames, clip.frames) > 30


def test_ffmpeg_reads_our_mp4_as_h264_yuv420p_faststart(tmp_path, clip):
    import imageio_ffmpeg

    path = write_mp4(tmp_path / "c.mp4", clip.frames, 8.0)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    # Decode every frame with the ffmpeg command-line tool itself: it must play without an error.
    run = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr.strip() == ""
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    stream = re.search(r"Video: (\w+).*?, (yuv\w+)[(,].*?(\d+)x(\d+).*?(\d+(?:\.\d+)?) fps", probe)
    assert stream, probe
    assert stream.group(1) == "h264" and stream.group(2) == "yuv420p"
    assert (int(stream.group(3)), int(stream.group(4))) == (112, 64) and float(stream.group(5)) == 8.0
    count = subprocess.run(
        [ffmpeg, "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"], capture_output=True, text=True
    ).stderr
    assert re.findall(r"frame=\s*(\d+)", count)[-1] == "17"
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: the index comes first


def test_odd_sizes_are_padded_to_even(tmp_path):
    frames = np.full((3, 33, 45, 3), 128, np.uint8)
    video = read_video(write_mp4(tmp_path / "odd.mp4", frames, 10))
    assert video.frames.shape == (3, 34, 46, 3)


def test_gif_png_jpeg(tmp_path, clip):
    gif = read_video(write_gif(tmp_path / "c.gif", clip.frames, 8.0))
    assert gif.num_frames == 17 and gif.frames.shape[1:] == (64, 112, 3)
    assert gif.fps == pytest.approx(8.0, rel=0.05)  # GIF delays are whole centiseconds
    png = read_video(write_png(tmp_path / "f.png", clip.frames[0]))
    assert np.array_equal(png.frames[0], clip.frames[0]) and png.fps == 0.0
    Image.fromarray(clip.frames[0]).save(tmp_path / "f.jpg", quality=95)
    jpg = read_video(tmp_path / "f.jpg")
    assert jpg.frames.shape == (1, 64, 112, 3) and _psnr(jpg.frames[0], clip.frames[0]) > 30
    assert save(tmp_path / "s.png", clip.frames, 8).exists()
    with pytest.raises(InvalidInputError, match="unsupported output format"):
        save(tmp_path / "s.avi", clip.frames, 8)


@pytest.mark.parametrize("fps", [8, 24, 60])
def test_a_gif_plays_at_its_frame_rate(tmp_path, fps):
    """Delays are whole centiseconds: rounded so the running time stays on the clip's (8 fps was 12 cs throughout,
    4% fast), and never under 2 cs, which browsers play as 10 cs (60 fps is written at 50)."""
    frames = np.zeros((49, 8, 8, 3), np.uint8)
    frames[..., 0] = np.arange(49)[:, None, None] * 5  # every frame differs, so none are merged
    with Image.open(write_gif(tmp_path / "c.gif", frames, fps)) as gif:
        delays = []
        for i in range(gif.n_frames):
            gif.seek(i)
            delays.append(gif.info["duration"])
    assert min(delays) >= 20 and abs(sum(delays) / 1000 - 49 / fps) <= 0.01
    assert len(delays) == (49 if fps <= 50 else len(resample(frames, fps, 50)))


def test_phone_clips_and_photos_are_read_upright(tmp_path):
    # A phone stores a portrait clip or photo as landscape pixels and a rotation that players honour; read
    # without it, what the user saw upright came in on its side.
    import imageio_ffmpeg

    frames = np.zeros((5, 32, 48, 3), np.uint8)
    frames[:, :8, :16] = 255  # a white block in the top-left corner, to see which way it turned
    plain = write_mp4(tmp_path / "plain.mp4", frames, 8.0)
    turned = tmp_path / "turned.mp4"
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    cmd = [ffmpeg, "-v", "error", "-display_rotation", "90", "-i", str(plain), "-c", "copy", str(turned)]
    subprocess.run(cmd, check=True)
    auto = tmp_path / "auto.png"  # ffmpeg's own reading: it turns the frame as a player does
    subprocess.run([ffmpeg, "-v", "error", "-i", str(turned), "-frames:v", "1", str(auto)], check=True)
    got = read_video(turned).frames
    assert got.shape == (5, 48, 32, 3) and np.array_equal(got[0], read_image(auto))
    assert read_video(turned, cover=(16, 16)).frames.shape == (5, 24, 16, 3)  # shrunk upright, not on its side
    assert got[0, -16:, :8].mean() > 200  # counter-clockwise: the top-left corner went to the bottom left
    photo = Image.fromarray(frames[0])
    exif = photo.getexif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view", what a phone held upright writes
    photo.save(tmp_path / "photo.jpg", exif=exif, quality=95)
    upright = read_image(tmp_path / "photo.jpg")
    assert upright.shape == (48, 32, 3) and upright[:16, -8:].mean() > 200  # top-left went to the top right
    upload = decode_video((tmp_path / "photo.jpg").read_bytes(), "photo.jpg").frames[0]
    assert np.array_equal(upload, upright)
    # Read to cover a size, the photo is decoded at a reduced JPEG scale, still upright and still covering it.
    small = read_video(tmp_path / "photo.jpg", cover=(16, 16)).frames[0]
    assert small.shape == (24, 16, 3) and small[:8, -4:].mean() > 200


@pytest.mark.parametrize("quarter_turns", [0, 1, 3])
def test_a_phone_heic_photo_is_read_whole_and_upright(tmp_path, quarter_turns):
    # A phone's HEIC is a grid of HEVC tiles plus a turn; FFmpeg reads each tile as a stream of its own, so read
    # as a video the photo came in as its top-left tile alone, on its side.
    photo = np.zeros((100, 150, 3), np.uint8)
    photo[..., 0] = np.linspace(0, 255, 150, dtype=np.uint8)[None]
    photo[..., 1] = np.linspace(0, 255, 100, dtype=np.uint8)[:, None]
    photo[:20, :30, 2] = 255  # a blue corner, to see which way it turned
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(gridded_heic(photo, tile=64, quarter_turns=quarter_turns))
    upright = np.rot90(photo, quarter_turns)  # irot turns anticlockwise, as rot90 does
    got = read_image(path)
    assert got.shape == upright.shape and np.abs(got.astype(int) - upright).mean() < 2  # HEVC at quality 95
    assert np.array_equal(read_video(path).frames[0], got)
    assert np.array_equal(decode_video(path.read_bytes(), "upload.heic").frames[0], got)
    small = read_video(path, cover=(16, 16)).frames[0]
    assert small.shape[:2] == ((16, 24) if quarter_turns % 2 == 0 else (24, 16))


@pytest.mark.parametrize("suffix", [".webp", ".png", ".avif"])
def test_an_animated_webp_png_or_avif_is_read_as_a_clip(tmp_path, suffix):
    # As a GIF is: read as a still, a clip given to extend or edit came in as its first frame alone.
    frames = [Image.fromarray(np.full((32, 48, 3), 20 * i, np.uint8)) for i in range(9)]
    path = tmp_path / f"clip{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=125, loop=0)
    clip = read_video(path)
    assert clip.frames.shape == (9, 32, 48, 3) and clip.fps == 8.0
    assert np.abs(clip.frames[:, 0, 0, 0].astype(int) - np.arange(0, 180, 20)).max() <= 2
    upload = decode_video(path.read_bytes(), f"upload{suffix}")
    assert upload.fps == 8.0 and np.array_equal(upload.frames, clip.frames)
    assert read_video(path, first=3).frames.shape[0] == 3
    frames[0].save(tmp_path / f"still{suffix}")  # one frame: still an image
    assert read_video(tmp_path / f"still{suffix}").fps == 0.0


def test_an_uploaded_gif_keeps_every_frames_delay_as_the_file_does(tmp_path):
    # Uploads went to FFmpeg, which drops the last frame's delay: this GIF's 300 ms end came in as one 100 ms frame.
    frames = [Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)) for i in range(4)]
    frames[0].save(tmp_path / "c.gif", save_all=True, append_images=frames[1:], duration=[100, 200, 100, 300], loop=0)
    upload = decode_video((tmp_path / "c.gif").read_bytes(), "upload.gif")
    assert upload.fps == 10.0 and list(upload.frames[:, 0, 0, 0]) == [0, 40, 40, 80, 120, 120, 120]
    assert np.array_equal(upload.frames, read_video(tmp_path / "c.gif").frames)


def test_a_display_p3_photo_is_read_in_srgb_as_a_browser_shows_it(tmp_path):
    # A phone's photo is in Display P3; read as sRGB its colours came in duller, by up to 40 of 255 here.
    from PIL import ImageCms

    from tests.media.icc import display_p3_icc

    def linear(v):
        v = v / 255
        return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)

    def encoded(v):
        v = np.clip(v, 0, 1)
        return 255 * np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)

    # sRGB and Display P3 to XYZ (IEC 61966-2-1, SMPTE EG 432-1): the colours a viewer should see, in P3's numbers.
    srgb_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    p3_xyz = np.array([[0.4866, 0.2657, 0.1982], [0.2290, 0.6917, 0.0793], [0.0000, 0.0451, 1.0439]])
    shown = np.array([[200, 60, 40], [40, 160, 70], [60, 80, 200], [128, 128, 128]], float)
    stored = np.rint(encoded(linear(shown) @ (np.linalg.inv(p3_xyz) @ srgb_xyz).T)).astype(np.uint8)
    pixels = np.repeat(np.repeat(stored[None], 32, axis=0), 32, axis=1)  # four 32x32 blocks side by side
    Image.fromarray(pixels).save(tmp_path / "p3.png", icc_profile=display_p3_icc())
    got = read_image(tmp_path / "p3.png")[16, 16::32].astype(int)
    assert np.abs(got - shown).max() <= 2 and np.abs(stored.astype(int) - shown).max() >= 35
    # A JPEG read to cover a smaller size: converted after it is shrunk, to the same colours.
    Image.fromarray(pixels).save(tmp_path / "p3.jpg", icc_profile=display_p3_icc(), quality=100)
    small = read_video(tmp_path / "p3.jpg", cover=(16, 16)).frames[0]
    assert small.shape == (16, 64, 3) and np.abs(small[8, 8::16].astype(int) - shown).max() <= 4
    # An sRGB profile, or one lcms cannot read, leaves the pixels as they are.
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for icc in (srgb, b"not a profile"):
        Image.fromarray(pixels).save(tmp_path / "other.png", icc_profile=icc)
        assert np.abs(read_image(tmp_path / "other.png").astype(int) - pixels).max() <= 1


def test_a_transparent_image_is_composited_over_black_whatever_its_format(tmp_path):
    # Its alpha was dropped, keeping whatever colour the encoder left under it: this one picture came in on green
    # (PNG, GIF, an exact WebP) or black (a WebP saved by default), and its half-transparent corner opaque.
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 1] = 255  # transparent green
    rgba[8:24, 8:24] = (255, 0, 0, 255)  # an opaque red square
    rgba[:4, :4] = (255, 0, 0, 128)  # half-transparent red
    picture = Image.fromarray(rgba)
    picture.save(tmp_path / "a.png")
    picture.save(tmp_path / "a.webp", lossless=True, exact=True)  # exact: keep the green under the alpha
    picture.save(tmp_path / "a.gif")  # a palette with one transparent entry: no half-transparency
    picture.convert("LA").save(tmp_path / "grey.png")
    frames = [picture, Image.fromarray(np.roll(rgba, 4, axis=1))]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], lossless=True, exact=True)
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:])
    expected = np.zeros((32, 32, 3), np.uint8)
    expected[8:24, 8:24, 0] = 255
    expected[:4, :4, 0] = 128
    for name in ("a.png", "a.webp", "a.gif", "anim.webp", "anim.png"):
        for clip in (read_video(tmp_path / name), decode_video((tmp_path / name).read_bytes(), name)):
            want = expected if name != "a.gif" else np.where(expected == 128, 255, expected)
            assert np.array_equal(clip.frames[0], want), name
    assert np.array_equal(read_video(tmp_path / "anim.png").frames[1], np.roll(expected, 4, axis=1))
    grey = read_image(tmp_path / "grey.png")
    assert grey[0, 16].tolist() == [0, 0, 0] and grey[16, 16].tolist() == [76] * 3  # red's luma, opaque


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "tolerance"),
    [
        ("clip.webm", "libvpx-vp9", "yuva420p", 6),
        ("clip.mov", "png", "rgba", 0),
        ("clip.mov", "prores_ks", "yuva444p10le", 2),
    ],
)
def test_a_transparent_clip_is_composited_over_black_as_an_image_is(tmp_path, name, codec, pix_fmt, tolerance):
    # Its alpha was dropped: the colour under it came in (here green), and a WebM's VP9 alpha was not even decoded.
    import av

    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., 1] = 255  # transparent green
    rgba[8:40, 16:48] = (255, 0, 0, 255)  # an opaque red square
    rgba[:, :8] = (255, 0, 0, 128)  # a half-transparent red band
    with av.open(str(tmp_path / name), "w") as out:
        stream = out.add_stream(codec, rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        for k in range(4):
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
            frame.pts, frame.time_base = k, Fraction(1, 8)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    expected = np.zeros((48, 64, 3), int)
    expected[8:40, 16:48, 0] = 255
    expected[:, :8, 0] = 128
    for clip in (read_video(tmp_path / name), decode_video((tmp_path / name).read_bytes(), name)):
        assert clip.frames.shape == (4, 48, 64, 3) and clip.fps == 8.0
        for block in (np.s_[12:36, 20:44], np.s_[12:36, 2:6], np.s_[2:6, 52:62]):  # red, half red, transparent
            assert np.abs(clip.frames[0][block].astype(int) - expected[block]).max() <= tolerance, (name, block)


def test_an_avif_photo_is_read(tmp_path):
    photo = np.zeros((40, 60, 3), np.uint8)
    photo[:, 30:] = (30, 30, 200)
    Image.fromarray(photo).save(tmp_path / "photo.avif", quality=95)
    got = read_video(tmp_path / "photo.avif").frames[0]
    assert got.shape == (40, 60, 3) and np.abs(got.astype(int) - photo).mean() < 3


def test_a_variable_frame_rate_clip_keeps_its_timing(tmp_path):
    # 3 s at 10 fps with frames 1.0-1.9 s dropped (a phone or screen recording's held screen): read as 20 evenly
    # spaced frames at 6.7 fps, its motion ran at the wrong speed on both sides of the gap.
    import imageio_ffmpeg

    ffmpeg, path = imageio_ffmpeg.get_ffmpeg_exe(), tmp_path / "vfr.mp4"
    source = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "3"]
    drop = ["-vf", r"select='not(between(n\,10\,19))'", "-fps_mode", "passthrough", "-c:v", "libx264"]
    subprocess.run([ffmpeg, "-v", "error", *source, *drop, "-pix_fmt", "yuv420p", str(path)], check=True)
    video = read_video(path)
    assert video.fps == 10.0 and len(video.frames) == 30
    assert all(np.array_equal(video.frames[k], video.frames[9]) for k in range(10, 20))  # held, as a player shows
    assert not np.array_equal(video.frames[20], video.frames[9])
    with pytest.raises(MediaError, match="is 30 frames at its 10 fps; trim it"):  # the grid is what counts
        read_video(path, MediaLimits(max_frames=25))
    steady = read_video(write_mp4(tmp_path / "cfr.mp4", video.frames, 10.0))  # a constant-rate clip: as it is
    assert steady.fps == 10.0 and len(steady.frames) == 30


def test_deep_and_float_images_keep_their_grey(tmp_path):
    """Pillow's convert("RGB") clipped a 16-bit mid-grey to white and a float one to black."""
    Image.fromarray(np.full((6, 8), 30000, np.uint16)).save(tmp_path / "deep.png")
    Image.fromarray(np.full((6, 8), 0.5, np.float32)).save(tmp_path / "float.tiff")
    for name, grey in (("deep.png", round(30000 / 65535 * 255)), ("float.tiff", 128)):
        assert np.array_equal(read_image(tmp_path / name), np.full((6, 8, 3), grey, np.uint8))
    deep = decode_video((tmp_path / "deep.png").read_bytes(), "deep.png").frames
    assert np.array_equal(deep[0], read_image(tmp_path / "deep.png"))
    rgba = Image.fromarray(np.dstack([np.full((6, 8, 3), 200, np.uint8), np.full((6, 8), 255, np.uint8)]))
    assert np.array_equal(image_rgb(rgba), np.full((6, 8, 3), 200, np.uint8))


def test_decode_from_memory(tmp_path, clip):
    data = write_mp4(tmp_path / "c.mp4", clip.frames, 8.0).read_bytes()
    assert decode_video(data).num_frames == 17


def test_corrupt_truncated_empty_and_wrong_inputs(tmp_path, clip):
    good = write_mp4(tmp_path / "c.mp4", clip.frames, 8.0).read_bytes()
    cases = {
        "empty.mp4": b"",
        "truncated.mp4": good[: len(good) // 2],
        "garbage.mp4": b"\x00\x01garbage" * 500,
        "text.mp4": b"this is not a video\n" * 50,
        "flipped.mp4": good[:200] + bytes(b ^ 0xFF for b in good[200:]),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(MediaError) as err:
            read_video(tmp_path / name)
        assert name in str(err.value)
    with pytest.raises(MediaError, match="no such file"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(MediaError, match="bad.png"):
        read_video(tmp_path / "bad.png")
    with pytest.raises(MediaError):
        decode_video(b"")


def test_oversized_inputs_are_refused(tmp_path, clip):
    path = write_mp4(tmp_path / "c.mp4", clip.frames, 8.0)
    with pytest.raises(MediaError, match="larger than"):
        read_video(path, MediaLimits(max_bytes=100))
    with pytest.raises(MediaError, match="more than 5 frames"):
        read_video(path, MediaLimits(max_frames=5))
    with pytest.raises(MediaError, match="pixels"):
        read_video(path, MediaLimits(max_pixels=64 * 64))


def test_a_clip_that_decodes_past_the_memory_limit_is_refused_as_it_decodes(tmp_path):
    # Video compresses without bound: 999 still 2048x2048 frames were a 67 KB file that decoded to 12.6 GB and
    # took all of a 24 GB machine's memory. Here 40 frames of 64x48 (368 KB decoded) against a 100 KB limit.
    frames = np.full((40, 48, 64, 3), 90, np.uint8)
    path = write_mp4(tmp_path / "still.mp4", frames, 8.0)
    assert path.stat().st_size < 5_000
    limits = MediaLimits(max_decoded_bytes=100_000)
    with pytest.raises(MediaError, match=r"decodes to more than .* GiB \(11 frames of 64x48 and more\); trim it"):
        read_video(path, limits)
    with pytest.raises(MediaError, match="decodes to more than"):
        decode_video(path.read_bytes(), "still.mp4", limits)
    frames[:, :, :, 0] = np.arange(40)[:, None, None] * 5  # a GIF merges repeated frames: these all differ
    write_gif(tmp_path / "moving.gif", frames, 8.0)
    with pytest.raises(MediaError, match="decodes to more than"):
        read_video(tmp_path / "moving.gif", limits)
    assert len(read_video(path, MediaLimits(max_decoded_bytes=368_640)).frames) == 40  # exactly at the limit
    with pytest.raises(InvalidInputError, match="max_decoded_bytes must be positive"):
        MediaLimits(max_decoded_bytes=0)


def test_cover_shrinks_frames_as_they_decode_to_what_a_model_size_needs(tmp_path, clip):
    # A reader that fits frames to a model's size (64x64, 112x64 ...) needs no more than covers the largest: a
    # 4K minute decoded whole is tens of gigabytes. The aspect is kept, so the crop and its content are the same.
    big = resample(clip.frames, 8.0, size=(448, 256))
    path = write_mp4(tmp_path / "big.mp4", big, 8.0)
    whole, shrunk = read_video(path), read_video(path, cover=(112, 64))
    assert whole.frames.shape == (17, 256, 448, 3) and shrunk.frames.shape == (17, 64, 112, 3)
    assert shrunk.fps == whole.fps == 8.0
    assert _psnr(fit(shrunk.frames, 64, 64), fit(whole.frames, 64, 64)) > 30
    assert read_video(path, cover=(64, 112)).frames.shape == (17, 112, 196, 3)  # covers a tall size: 112 high
    assert read_video(path, cover=(1000, 1000)).frames.shape == whole.frames.shape  # never enlarged
    assert np.array_equal(read_video(path, cover=(448, 256)).frames, whole.frames)  # already the size: as read
    assert decode_video(path.read_bytes(), "big.mp4", cover=(112, 64)).frames.shape == (17, 64, 112, 3)
    write_gif(tmp_path / "big.gif", big[:5], 8.0)
    assert read_video(tmp_path / "big.gif", cover=(56, 32)).frames.shape == (5, 32, 56, 3)
    write_png(tmp_path / "big.png", big[0])
    assert read_video(tmp_path / "big.png", cover=(56, 32)).frames.shape == (1, 32, 56, 3)


def test_a_stream_that_changes_size_midway_is_read_at_its_first_size_as_ffmpeg_reads_it(tmp_path):
    # Joined segments or a screen recording can change resolution mid-stream; ffmpeg plays it at the first size,
    # and it was refused as corrupt ("all input arrays must have the same shape").
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    parts = []
    for size in ("160x120", "320x240"):
        parts.append(tmp_path / f"{size}.ts")
        source = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=10", "-t", "1", "-c:v", "libx264"]
        subprocess.run([ffmpeg, "-v", "error", *source, "-pix_fmt", "yuv420p", str(parts[-1])], check=True)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    mkv = tmp_path / "joined.mkv"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(joined), "-c", "copy", str(mkv)], check=True)
    video = read_video(mkv)
    ours = ["-v", "error", "-i", str(mkv), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    theirs = np.frombuffer(subprocess.run([ffmpeg, *ours], capture_output=True, check=True).stdout, np.uint8)
    theirs = theirs.reshape(-1, 120, 160, 3)
    assert video.frames.shape == theirs.shape == (20, 120, 160, 3) and video.fps == 10.0
    assert np.array_equal(video.frames[:10], theirs[:10])  # the first segment as ffmpeg decodes it
    assert np.abs(video.frames[10:].astype(int) - theirs[10:]).mean() < 4  # the second scaled to it (filters differ)
    assert read_video(mkv, cover=(80, 60)).frames.shape == (20, 60, 80, 3)


def test_non_square_pixels_are_read_as_a_player_shows_them(tmp_path):
    # Anamorphic video (DV, broadcast) stores 16:9 in narrower pixels that players stretch; read as stored, the
    # picture came in squeezed and a ball as an oval.
    import imageio_ffmpeg

    ffmpeg, path = imageio_ffmpeg.get_ffmpeg_exe(), tmp_path / "wide.mp4"
    source = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1", "-vf", "setsar=2", "-c:v", "libx264"]
    subprocess.run([ffmpeg, "-v", "error", *source, "-pix_fmt", "yuv420p", str(path)], check=True)
    shown = ["-v", "error", "-i", str(path), "-vf", "scale=iw*sar:ih", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    theirs = np.frombuffer(subprocess.run([ffmpeg, *shown], capture_output=True, check=True).stdout, np.uint8)
    video = read_video(path)
    assert video.frames.shape == (10, 120, 320, 3)
    assert np.abs(video.frames.astype(int) - theirs.reshape(10, 120, 320, 3)).mean() < 4  # the filters differ


def test_first_decodes_only_the_first_frames(tmp_path, clip):
    # A reader that needs a few frames (the watermark check) no longer decodes a long file whole.
    path = write_mp4(tmp_path / "c.mp4", clip.frames, 8.0)
    head = read_video(path, MediaLimits(max_frames=5), first=5)  # the limit is not reached: the rest is not read
    assert np.array_equal(head.frames, read_video(path).frames[:5]) and head.fps == 8.0
    assert len(read_video(path, first=100).frames) == 17
    write_gif(tmp_path / "c.gif", clip.frames, 8.0)
    assert np.array_equal(read_video(tmp_path / "c.gif", first=4).frames, read_video(tmp_path / "c.gif").frames[:4])


def test_failed_write_keeps_the_existing_file(tmp_path, clip):
    path = write_mp4(tmp_path / "c.mp4", clip.frames, 8.0)
    before = path.read_bytes()
    with pytest.raises(InvalidInputError):
        write_mp4(path, clip.frames.astype(np.float32), 8.0)
    with pytest.raises(InvalidInputError):
        write_mp4(path, clip.frames, 0)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]  # no temporary left behind


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_take_the_users_umask(tmp_path, clip, umask):
    # A temporary file from mkstemp is 0600, and renaming it kept that mode: videos came out unreadable to
    # a web server or another account whatever the user's umask said.
    old = os.umask(umask)
    try:
        paths = [
            write_mp4(tmp_path / "c.mp4", clip.frames, 8.0),
            write_gif(tmp_path / "c.gif", clip.frames, 8.0),
            write_png(tmp_path / "c.png", clip.frames[0]),
        ]
    finally:
        os.umask(old)
    assert [stat.S_IMODE(p.stat().st_mode) for p in paths] == [0o666 & ~umask] * 3
    paths[0].chmod(0o640)  # writing over a file keeps the mode its owner gave it
    assert stat.S_IMODE(write_mp4(paths[0], clip.frames, 8.0).stat().st_mode) == 0o640


def test_resample_fit_thumbnail_spritesheet(clip):
    half = resample(clip.frames, 8.0, fps=4.0)
    assert len(half) == 9 and np.array_equal(half[1], clip.frames[2])
    double = resample(clip.frames, 8.0, fps=16.0, size=(56, 32))
    assert double.shape == (33, 32, 56, 3) and np.array_equal(
        resample(double, 16, fps=8.0), resample(clip.frames, 8.0, size=(56, 32))
    )
    assert np.array_equal(Video(clip.frames, 8.0).at_fps(4.0), half)
    assert Video(clip.frames, 8.0).at_fps(8.0) is clip.frames and Video(clip.frames[:1], 0.0).at_fps(8.0).shape[0] == 1
    square = fit(clip.frames, 64, 64)
    assert square.shape == (17, 64, 64, 3)
    assert np.array_equal(square[0], clip.frames[0][:, 24:88])  # centre crop, no resize needed
    assert np.array_equal(thumbnail(clip.frames), clip.frames[8])
    sheet = spritesheet(clip.frames, max_frames=16, columns=4, gap=2)
    assert sheet.shape == (4 * 64 + 3 * 2, 4 * 112 + 3 * 2, 3)
    with pytest.raises(InvalidInputError):
        thumbnail(clip.frames, 40)


def test_parse_size():
    assert parse_size("112x64") == (112, 64)
    for bad in ("64", "axb", "0x64", "64x64x3"):
        with pytest.raises(InvalidInputError, match="WIDTHxHEIGHT|positive"):
            parse_size(bad)


def test_nearest_size_keeps_the_aspect_ratio():
    sizes = ("64x64", "112x64", "64x112")
    assert nearest_size(1920, 1080, sizes) == "112x64"
    assert nearest_size(300, 500, sizes) == "64x112"
    assert nearest_size(65, 64, sizes) == "64x64"
    assert nearest_size(100, 100, ("112x64", "64x112")) == "112x64"  # a tie goes to the first listed


def _hdr_signal(frames: np.ndarray, transfer: str) -> tuple[np.ndarray, str]:
    """SDR frames as an HDR picture codes them: SDR white at HDR reference white (203 nits, BT.2408), BT.2020
    primaries, PQ or HLG; the non-linear R'G'B' in [0, 1] and FFmpeg's name of the transfer. From the standards' own
    numbers, not tessera.media.hdr's, so an error there cannot cancel out in the round trip."""
    bt709_to_bt2020 = np.array(
        [[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]]
    )  # BT.2087
    nits = ((frames / 255.0) ** 2.4) @ bt709_to_bt2020.T * 203
    if transfer == "pq":  # SMPTE ST 2084's inverse EOTF
        y = (np.maximum(nits, 0) / 10000) ** (2610 / 16384)
        signal, tag = ((3424 / 4096 + 2413 / 128 * y) / (1 + 2392 / 128 * y)) ** (2523 / 32), "smpte2084"
    else:  # BT.2100 HLG: the inverse OOTF to scene light (a 1000-nit display), then the OETF
        luma = np.maximum(nits @ [0.2627, 0.6780, 0.0593], 1e-9) / 1000
        scene = np.maximum(nits, 0) / 1000 / luma[..., None] ** (0.2 / 1.2)
        a, b, c = 0.17883277, 0.28466892, 0.55991073
        signal, tag = (
            np.where(scene <= 1 / 12, np.sqrt(3 * scene), a * np.log(np.maximum(12 * scene - b, 1e-9)) + c),
            "arib-std-b67",
        )
    return np.clip(signal, 0, 1), tag


def _hdr_clip(path, frames: np.ndarray, transfer: str) -> None:
    """SDR frames as a phone's HDR clip shows them (see _hdr_signal), HEVC 10-bit tagged as such."""
    import av

    signal, tag = _hdr_signal(frames, transfer)
    r, g, b_ = signal[..., 0], signal[..., 1], signal[..., 2]
    y = 0.2627 * r + 0.6780 * g + 0.0593 * b_  # BT.2020 non-constant luminance, limited range
    planes = (64 + 876 * y, 512 + 896 * (b_ - y) / 1.8814, 512 + 896 * (r - y) / 1.4746)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=8)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p10le"
        vui = f"colorprim=bt2020:transfer={tag}:colormatrix=bt2020nc:range=limited"
        stream.options = {"x265-params": f"log-level=error:{vui}", "crf": "4"}
        for t in range(len(frames)):
            frame = av.VideoFrame(frames.shape[2], frames.shape[1], "yuv444p10le")
            for plane, values in zip(frame.planes, planes, strict=True):
                plane.update(np.round(values[t]).astype("<u2").tobytes())
            for packet in stream.encode(frame.reformat(format="yuv420p10le")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize(("suffix", "transfer"), [(".heic", "pq"), (".heic", "hlg"), (".avif", "pq")])
def test_an_hdr_still_is_tone_mapped_as_an_hdr_clip_is(tmp_path, suffix, transfer):
    # A camera's HDR HEIF or an HDR AVIF was read as SDR: PQ's reference white, at 58% of the range, came in grey.
    import av
    import pillow_heif

    ramp = np.linspace(0, 255, 64)
    sdr = np.zeros((64, 64, 3))
    sdr[:32] = ramp[None, :, None]  # a grey ramp, black to SDR white
    sdr[32:48] = ramp[None, :, None] * [1.0, 0.35, 0.2]  # a warm colour ramp
    sdr[48:] = ramp[None, :, None] * [0.2, 0.5, 1.0]  # a cool one
    signal, _ = _hdr_signal(sdr, transfer)
    path = tmp_path / f"hdr{suffix}"
    if suffix == ".heic":  # as a camera writes it: 10 bits, BT.2020, the transfer in its nclx box
        code = {"pq": 16, "hlg": 18}[transfer]
        still = pillow_heif.from_bytes(
            mode="RGB;16", size=(64, 64), data=np.rint(signal * 65535).astype("<u2").tobytes()
        )
        still.save(path, quality=-1, color_primaries=9, transfer_characteristics=code, matrix_coefficients=9)
    else:  # AV1 10-bit in an AVIF, as Chrome or Lightroom export one
        with av.open(str(path), "w", format="avif") as out:
            stream = out.add_stream("libsvtav1", rate=1)
            stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p10le"
            stream.options = {"crf": "4"}
            context = stream.codec_context
            context.color_primaries, context.color_trc, context.colorspace, context.color_range = 9, 16, 9, 2
            frame = av.VideoFrame.from_ndarray(np.rint(signal * 65535).astype(np.uint16), format="rgb48le")
            out.mux(stream.encode(frame.reformat(format="yuv420p10le", dst_colorspace=9, dst_color_range=2)))
            out.mux(stream.encode(None))
    got = read_image(path).astype(float)
    error = np.abs(got - sdr)
    below_knee = sdr.max(-1) < 170
    assert error[below_knee].mean() < 4 and error.mean() < 7, (error[below_knee].mean(), error.mean())
    with Image.open(path) as plain:  # read as before, as SDR
        assert np.abs(np.asarray(plain.convert("RGB"), float) - sdr).mean() > 3 * error.mean()
    assert np.array_equal(decode_video(path.read_bytes(), path.name).frames[0], read_image(path))


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_hdr_video_is_tone_mapped_as_a_player_shows_it(tmp_path, transfer):
    import av

    # A phone's HDR clip (HLG on iPhones, PQ elsewhere) was read as if it were SDR BT.709: washed out and grey.
    ramp = np.linspace(0, 255, 64)
    frames = np.zeros((5, 64, 64, 3))
    frames[:, :32] = ramp[None, None, :, None]  # a grey ramp, black to SDR white
    frames[:, 32:48] = ramp[None, None, :, None] * [1.0, 0.35, 0.2]  # a warm colour ramp
    frames[:, 48:] = ramp[None, None, :, None] * [0.2, 0.5, 1.0]  # a cool one
    _hdr_clip(tmp_path / "hdr.mp4", frames, transfer)
    video = read_video(tmp_path / "hdr.mp4")
    error = np.abs(video.frames.astype(float) - frames)
    below_knee = frames.max(-1) < 170  # up to about 100 nits, where the highlight roll-off leaves light alone
    assert error[below_knee].mean() < 2.5 and error.mean() < 6  # measured: 1.8 and 4.4 (PQ), 1.7 and 4.4 (HLG)
    grey = video.frames[2, 8:24, :, 1].mean(0)
    assert np.all(np.diff(grey) >= -1) and grey[-1] > 210  # highlights rolled off, not clipped or inverted
    with av.open(str(tmp_path / "hdr.mp4")) as container:  # a plain read, as before: 30.6 (PQ) and 17.9 (HLG)
        plain = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert np.abs(plain.astype(float) - frames).mean() > 3 * error.mean()
    assert read_video(tmp_path / "hdr.mp4", cover=(32, 32)).frames.shape == (5, 32, 32, 3)
