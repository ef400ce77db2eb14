"""The pipeline on a tiny random model: every task's shapes, conditions honoured, determinism, clear errors."""

import dataclasses
import re

import numpy as np
import pytest
import torch

from tessera.diffusion import FRESH_NOISE, SAMPLERS
from tessera.errors import ConfigError, InvalidInputError, NotFoundError
from tessera.media import psnr
from tessera.models.autoencoder import Autoencoder
from tessera.models.dit import DiT
from tessera.models.text import TextEncoder, TextEncoderParams
from tessera.pipeline import PipelineConfig, TextToVideoPipeline
from tessera.world.prompt import parse_prompt

KW = dict(height=32, width=32, num_inference_steps=2)


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    dit = DiT.from_preset("tiny")
    for p in dit.parameters():
        torch.nn.init.normal_(p, std=0.05)
    config = PipelineConfig(sizes=("32x32", "48x32"), max_frames=9, steps=2, guidance=2.0)
    return TextToVideoPipeline(dit, Autoencoder.from_preset("tiny"), TextEncoder(TextEncoderParams("toy:32")), config)


def progress(seen: list):
    """A diffusers-style step callback noting (step, pipe.num_timesteps)."""

    def callback(pipe, step, timestep, kwargs):
        seen.append((step, pipe.num_timesteps))
        return kwargs

    return callback


def _clip(frames=13, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (frames, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "kwargs,frames",
    [
        ({"num_frames": 9}, 9),
        ({"num_frames": 1}, 1),
        ({"num_frames": 7}, 9),  # rounded to 4k+1
        ({"num_frames": 21}, 21),  # longer than max_frames: chunked
        ({"num_frames": 9, "image": np.zeros((40, 50, 3), np.uint8)}, 9),
        ({"num_frames": 9, "video": _clip()}, 13 - 5 + 9),  # extend forward: the clip, then new frames
        ({"num_frames": 9, "video": _clip(), "direction": "backward"}, 9 + 13 - 5),
        ({"num_frames": 9, "video": _clip(), "end_video": _clip(seed=1)}, 12 + 9 + 8),
        ({"num_frames": 5, "loop": True}, 5),  # a loop has the frames asked for
        ({"num_frames": 9, "video": _clip(), "strength": 0.5}, 9),
    ],
)
def test_every_task_returns_frames_of_the_requested_size(pipe, kwargs, frames):
    out = pipe("a red ball falls", **{**KW, **kwargs})
    video = out.frames[0]
    assert video.dtype == np.uint8 and video.shape == (frames, 32, 32, 3)
    assert set(out.timings) == {"load", "sample", "decode"}


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_same_seed_same_video_and_other_seed_differs(pipe, sampler):
    # The fresh noise that ancestral and renoise draw at each step comes from the call's seed too.
    a = pipe("a red ball falls", seed=3, sampler=sampler, **KW)
    again = pipe("a red ball falls", seed=3, sampler=sampler, **KW)
    assert np.array_equal(a.frames[0], again.frames[0]) and a.watermarks == again.watermarks
    assert not np.array_equal(a.frames[0], pipe("a red ball falls", seed=4, sampler=sampler, **KW).frames[0])


@pytest.mark.parametrize("sampler", FRESH_NOISE)
def test_a_loop_samples_with_euler_unless_asked_when_the_model_samples_with_fresh_noise(pipe, sampler):
    model = TextToVideoPipeline(
        pipe.transformer, pipe.autoencoder, pipe.text_encoder, dataclasses.replace(pipe.config, sampler=sampler)
    )
    kw = dict(seed=5, loop=True, num_frames=5, output_type="latent", **KW)
    loop = model("a ball", **kw).frames[0]
    assert torch.equal(loop, model("a ball", sampler="euler", **kw).frames[0])
    assert not torch.allclose(loop, model("a ball", sampler=sampler, **kw).frames[0], atol=1e-3)
    plain = dict(seed=5, num_frames=5, output_type="latent", **KW)  # other tasks: the model's sampler
    assert torch.equal(model("a ball", **plain).frames[0], model("a ball", sampler=sampler, **plain).frames[0])


def test_the_sampler_changes_the_video_and_its_content_id(pipe):
    euler, ancestral = (
        pipe("a red ball falls", seed=3, sampler=s, output_type="latent", **KW) for s in ("euler", "ancestral")
    )
    assert not torch.allclose(euler.frames[0], ancestral.frames[0], atol=1e-3)
    marks = {s: pipe("a red ball falls", seed=3, sampler=s, **KW).watermarks[0] for s in ("euler", "ancestral")}
    assert marks["euler"] != marks["ancestral"]


def test_what_a_call_is_given_is_part_of_its_content_id(pipe):
    def mark(**kw):
        return pipe("a red ball falls", seed=3, num_frames=9, **{**KW, **kw}).watermarks[0]

    calls = [
        {"image": _clip(1)[0]},
        {"image": _clip(1, seed=1)[0]},
        {"video": _clip(9)},
        {"video": _clip(9, seed=1)},
        {"video": _clip(9), "direction": "backward"},
        {"video": _clip(9), "end_video": _clip(9, seed=1)},
        {"negative_prompt": "a blue square"},
        {"negative_prompt": "a green ball"},
    ]
    marks = [mark(**kw) for kw in calls]
    assert len(set(marks)) == len(marks) and mark() not in marks
    assert mark(**calls[0]) == marks[0]  # and the same call, the same id


def test_a_clip_at_another_frame_rate_is_resampled_to_the_calls(pipe, tmp_path):
    """A 24 fps clip extended at 8 fps keeps its speed: every third frame is given, not all of them."""
    from tessera.media import Video, write_mp4

    fast = np.repeat(_clip(13), 3, axis=0)[:37]  # 1.5 s at 24 fps; every third frame is the 8 fps clip
    kw = dict(num_frames=9, watermark=False, **KW)
    at_8 = pipe("a red ball", video=_clip(13), **kw).frames[0]
    at_24 = pipe("a red ball", video=Video(fast, 24.0), **kw).frames[0]
    assert at_24.shape == (13 - 5 + 9, 32, 32, 3) and np.array_equal(at_24, at_8)
    path = write_mp4(tmp_path / "fast.mp4", fast, 24.0)
    assert len(pipe("a red ball", video=path, **kw).frames[0]) == 13 - 5 + 9
    edit = pipe("a red ball", video=Video(fast, 24.0), strength=0.5, **kw).frames[0]
    assert np.array_equal(edit, pipe("a red ball", video=_clip(13), strength=0.5, **kw).frames[0])


def test_frames_in_diffusers_float_form_are_taken_as_their_uint8_equals(pipe):
    # output_type="pt" gives float (T, 3, H, W) in [0, 1], as diffusers does; handing it back to extend or edit, or
    # giving a float image as diffusers pipelines take one, was refused for not being uint8.
    kw = dict(num_frames=9, watermark=False, **KW)
    made = pipe("a red ball", output_type="pt", **kw).frames[0]
    assert made.shape == (9, 3, 32, 32) and made.dtype == torch.float32
    as_uint8 = (made.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    for given in (made, made.permute(0, 2, 3, 1), made.permute(0, 2, 3, 1).numpy()):  # channels first or last
        assert np.array_equal(
            pipe("it rolls on", video=given, **kw).frames[0], pipe("it rolls on", video=as_uint8, **kw).frames[0]
        )
    image = _clip(1)[0]
    assert np.array_equal(
        pipe("a red ball", image=torch.from_numpy(image).permute(2, 0, 1) / 255.0, **kw).frames[0],
        pipe("a red ball", image=image, **kw).frames[0],
    )


def test_a_file_is_read_no_larger_than_the_calls_size_needs(pipe, tmp_path, monkeypatch):
    # A minute of 4K decoded whole is tens of gigabytes; the call fits its frames to 32x32, so no more is read.
    import tessera.pipeline.pipeline as module
    from tessera.media import read_video, write_mp4

    seen = []

    def spy(path, limits=None, cover=None):
        video = read_video(path, cover=cover)
        seen.append(video.frames.shape)
        return video

    monkeypatch.setattr(module, "read_video", spy)
    path = write_mp4(tmp_path / "big.mp4", np.repeat(np.repeat(_clip(5), 8, axis=1), 12, axis=2), 8.0)
    kw = dict(num_frames=9, watermark=False, **KW)
    out = pipe("a red ball", video=path, **kw).frames[0]
    pipe.extend("a red ball", path, 0.5, **KW)
    pipe("a red ball", image=path, **kw)
    assert seen == [(5, 32, 48, 3)] * 3 and out.shape == (9, 32, 32, 3)  # 256x384 read as 48x32


def test_another_frame_rate_is_made_at_the_models_and_resampled(pipe):
    """The model knows motion at its own rate only: 1 s at 24 fps is the 8 fps second resampled (each frame shown
    about three times), not 25 frames of 8 fps motion played three times too fast; 4 fps takes every other frame."""
    from tessera.media import resample

    assert pipe.config.fps == 8
    kw = dict(seed=2, watermark=False, **KW)
    base = pipe("a red ball falls", num_frames=9, **kw).frames[0]  # 1 s at 8 fps
    fast = pipe("a red ball falls", num_frames=25, fps=24, **kw)
    slow = pipe("a red ball falls", num_frames=5, fps=4, **kw)
    assert fast.fps == 24 and np.array_equal(fast.frames[0], resample(base, 8, 24))
    assert slow.fps == 4 and np.array_equal(slow.frames[0], base[::2])
    # A given clip comes in at the call's rate and is continued at the model's.
    clip = np.repeat(_clip(13), 3, axis=0)[:37]  # 1.5 s at 24 fps
    out = pipe("a red ball", video=clip, num_frames=25, fps=24, **kw).frames[0]
    at_8 = pipe("a red ball", video=_clip(13), num_frames=9, **kw).frames[0]
    assert np.array_equal(out, resample(at_8, 8, 24))
    # A loop is resampled over its whole period: the frame before the seam lasts as long as the others.
    loop8 = pipe("a ball", num_frames=5, loop=True, **kw).frames[0]
    loop24 = pipe("a ball", num_frames=13, fps=24, loop=True, **kw).frames[0]
    assert len(loop24) == 3 * len(loop8)
    assert [sum(np.array_equal(f, g) for f in loop24) for g in loop8] == [3] * len(loop8)
    # The mark's content id depends on the rate too.
    marks = [pipe("a ball", num_frames=n, fps=f, seed=2, **KW).watermarks[0] for n, f in ((9, 8), (25, 24))]
    assert marks[0] != marks[1]


def test_long_clips_report_every_chunks_steps(pipe):
    seen = []
    pipe("a ball", num_frames=21, callback_on_step_end=progress(seen), **KW)
    chunks = len(seen) // KW["num_inference_steps"]
    assert chunks > 1 and seen == [(i, len(seen)) for i in range(len(seen))]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"fps": float("nan")}, "fps must be a finite number"),
        ({"guidance_scale": float("nan")}, "guidance_scale must be a finite number"),
        ({"video": np.zeros((9, 32, 32, 3), np.uint8), "strength": float("nan")}, "strength must be in"),
        ({"num_frames": 10**9}, "GiB to decode"),
    ],
)
def test_numbers_that_cannot_make_a_video_are_refused(pipe, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        pipe("a ball", **{**KW, **kwargs})


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_extend_adds_the_seconds_asked_for_in_as_many_calls_as_it_takes(pipe, direction):
    clip, seen = _clip(13), []
    # At 8 fps, 2.3 s is 18 frames: past what one call adds (4 here), and not a whole 4-frame block.
    out = pipe.extend("a ball", clip, 2.3, direction, callback_on_step_end=progress(seen), **KW)
    video = out.frames[0]
    assert video.shape == (13 + 18, 32, 32, 3) and out.fps == 8
    # The far end of the given clip is kept as it was, but for the watermark; its other end is conditioned on.
    kept = video[:8] if direction == "forward" else video[-8:]
    assert psnr(kept, clip[:8] if direction == "forward" else clip[-8:]) > 35
    assert len(seen) == 5 * KW["num_inference_steps"] and seen == [(i, len(seen)) for i in range(len(seen))]
    other = pipe.extend("a ball", _clip(13, seed=1), 2.3, direction, **KW)
    assert other.watermarks[0] != out.watermarks[0]  # the given clip is part of what the content id hashes


def test_extend_plans_its_calls_from_the_clips_length(pipe):
    # One frame is all a call is given, so one 9-frame call adds 8: not two calls of the 4 a long clip gets.
    seen = []
    out = pipe.extend("a ball", _clip(1), 1.0, callback_on_step_end=progress(seen), **KW)
    assert len(out.frames[0]) == 1 + 8 and seen == [(i, KW["num_inference_steps"]) for i in range(len(seen))]


def test_extend_at_another_frame_rate_keeps_the_clips_speed(pipe):
    clip = _clip(13)  # an array is taken at the call's rate: 13 frames at 4 fps are 3 s
    out = pipe.extend("a ball", clip, 1.0, fps=4, **KW)
    assert out.fps == 4 and len(out.frames[0]) == 13 + 4


@pytest.mark.parametrize(
    "seconds,kwargs,message",
    [
        (0, {}, "must be a finite number > 0"),
        (float("nan"), {}, "must be a finite number > 0"),
        (0.01, {}, "less than one frame"),
        (1e9, {}, "ask for fewer seconds"),
        (1, {"direction": "up"}, "direction must be"),
        (1, {"fps": float("inf")}, "fps must be a finite number"),
        (1, {"height": 40}, "size 32x40 is not supported"),
    ],
)
def test_extend_refuses_what_it_cannot_make_before_any_compute(pipe, seconds, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        pipe.extend("a ball", _clip(9), seconds, **{**KW, **kwargs})


def test_given_image_latent_comes_back_unchanged(pipe):
    image = _clip(1)[0]
    latents = pipe("a red ball", image=image, num_frames=9, output_type="latent", **KW).frames[0]
    torch.testing.assert_close(latents[:, :1], pipe.encode(image[None], 32, 32)[0])


def test_refined_given_frames_come_back_closer(pipe):
    """config.refine: the given image's latent is refined against the decoder, and the video opens closer to it."""
    image = np.random.default_rng(5).integers(60, 200, (32, 32, 3), dtype=np.uint8)
    err = []
    default = pipe.config.refine
    for refine in (0, 10):
        pipe.config.refine = refine
        try:
            out = pipe("a red ball", image=image, num_frames=5, watermark=False, **KW).frames[0]
        finally:
            pipe.config.refine = default
        err.append(((out[0].astype(float) - image) ** 2).mean())
    assert err[1] < err[0]


def test_a_prompt_past_the_text_encoders_limit_warns_with_the_words_it_drops(pipe, caplog):
    limit = pipe.text_encoder.params.max_tokens
    words = [f"w{i}" for i in range(limit + 5)]
    with caplog.at_level("WARNING", logger="tessera.pipeline"):
        pipe("a ball", **KW)
        assert not caplog.records
        pipe(" ".join(words), **KW)
    # The toy encoder reads a word per position plus its end token, so the words from limit - 1 on are dropped.
    assert repr(" ".join(words[limit - 1 :])) in caplog.text and f"{limit} tokens" in caplog.text


def test_bad_configs_name_the_field():
    from tessera.errors import ConfigError

    for field, value in (
        ("refine", -1),
        ("steps", 0),
        ("steps", 1001),  # every call would be refused for its default
        ("max_frames", 8),
        ("sampler", "ddim"),
        ("fps", float("nan")),
        ("guidance", float("inf")),
    ):
        with pytest.raises(ConfigError, match=field):
            PipelineConfig(**{field: value})


def test_a_served_model_is_named_by_its_folder_or_its_run(tmp_path):
    from tessera.serve.requests import ModelInfo

    for folder, name in ((tmp_path / "tessera-world-s", "tessera-world-s"), (tmp_path / "dit-s" / "model", "dit-s")):
        folder.mkdir(parents=True)
        (folder / "pipeline.json").write_text("{}")
        assert ModelInfo.from_folder(folder).name == name  # a run's model/ folder was served as "model"
    assert ModelInfo.from_folder(folder, "mine").name == "mine"


def test_a_broken_pipeline_json_is_a_clear_error(tmp_path):
    from tessera.errors import ConfigError
    from tessera.models.pretrained import read_config
    from tessera.serve.requests import ModelInfo

    for content, message in (
        (b"[1]", "must be a JSON object, got list"),  # was a TypeError from set(data)
        (b"{broken", "not valid JSON"),  # the server's reader raised JSONDecodeError
        (b"\x00\x00\x00\x18ftypmp42\xe7\xff", "is not a UTF-8 text file (byte 12"),  # an MP4 saved over it
    ):
        (tmp_path / "pipeline.json").write_bytes(content)
        (tmp_path / "config.json").write_bytes(content)
        # what tessera generate and tessera serve read, and a model folder's config
        for read in (PipelineConfig.read, ModelInfo.from_folder, lambda d: read_config(d, "dit")):
            with pytest.raises(ConfigError, match=re.escape(message)):
                read(tmp_path)


def test_prompt_and_negative_prompt_change_the_result(pipe):
    base = pipe("a red ball falls", **KW).frames[0]
    assert not np.array_equal(base, pipe("a blue square slides", **KW).frames[0])
    assert not np.array_equal(base, pipe("a red ball falls", negative_prompt="blue", **KW).frames[0])


def test_a_list_of_pil_frames_of_any_mode_is_a_clip(pipe):
    from PIL import Image

    clip = _clip(9)
    frames = [Image.fromarray(f).convert("RGBA") for f in clip]
    as_pil = pipe("a ball", video=frames, num_frames=9, seed=1, **KW)
    as_array = pipe("a ball", video=clip, num_frames=9, seed=1, **KW)
    assert np.array_equal(as_pil.frames[0], as_array.frames[0])


def test_pil_output_and_step_callback(pipe):
    seen = []
    out = pipe("a ball", num_frames=5, output_type="pil", callback_on_step_end=progress(seen), **KW)
    assert len(out.frames[0]) == 5 and out.frames[0][0].size == (32, 32)
    assert seen == [(0, 2), (1, 2)]


def test_several_videos_per_prompt_and_tensor_output_as_in_diffusers(pipe):
    out = pipe(["a ball", "a square"], num_frames=5, num_videos_per_prompt=2, seed=1, **KW)
    same = pipe(["a ball", "a ball", "a square", "a square"], num_frames=5, seed=1, **KW)
    assert len(out.frames) == 4 and all(np.array_equal(a, b) for a, b in zip(out.frames, same.frames, strict=True))
    assert not np.array_equal(out.frames[0], out.frames[1]) and len(set(out.watermarks)) == 4
    pt = pipe(["a ball", "a square"], num_frames=5, num_videos_per_prompt=2, seed=1, output_type="pt", **KW).frames
    assert pt.shape == (4, 5, 3, 32, 32) and pt.dtype == torch.float32
    assert torch.equal(pt, torch.from_numpy(np.stack(out.frames)).permute(0, 1, 4, 2, 3) / 255)
    for bad in (0, 1.5, True):
        with pytest.raises(InvalidInputError, match="num_videos_per_prompt must be a whole number >= 1"):
            pipe("a ball", num_videos_per_prompt=bad, **KW)


@pytest.mark.parametrize("sampler", ["euler", "renoise"])
def test_a_list_of_generators_gives_each_video_its_own(pipe, sampler):
    # As in diffusers: video i of the batch is the one a call of it alone with generator i makes.
    def gen(seed):
        return torch.Generator().manual_seed(seed)

    kw = dict(KW, num_frames=5, output_type="latent", sampler=sampler)
    both = pipe(["a ball", "a square"], generator=[gen(5), gen(7)], **kw).frames
    alone = pipe("a square", generator=gen(7), **kw).frames[0]
    assert torch.allclose(both[1], alone, atol=1e-5) and not torch.allclose(both[0], both[1], atol=1e-2)
    with pytest.raises(InvalidInputError, match="this call makes 4 .* and 2 were given"):
        pipe("a ball", num_videos_per_prompt=4, generator=[gen(1), gen(2)], **KW)
    with pytest.raises(InvalidInputError, match="a torch.Generator, or a list of them"):
        pipe("a ball", generator=[gen(1), 3], **KW)


def test_a_world_model_recaptions_short_text_to_video_prompts(pipe):
    world = TextToVideoPipeline(
        pipe.transformer,
        pipe.autoencoder,
        pipe.text_encoder,
        dataclasses.replace(pipe.config, domain="world", recaption=True),
    )
    short = world("red ball bouncing", num_frames=5, seed=1, **KW)
    assert short.prompts[0] != "red ball bouncing" and parse_prompt(short.prompts[0]).motion == "fall"
    assert not np.array_equal(
        short.frames[0], world("red ball bouncing", num_frames=5, seed=1, recaption=False, **KW).frames[0]
    )
    # Given frames are kept to: no scene is written afresh for them.
    image = np.full((32, 32, 3), 128, np.uint8)
    assert world("red ball bouncing", num_frames=5, image=image, **KW).prompts == ["red ball bouncing"]
    assert world("red ball bouncing", num_frames=5, loop=True, **KW).prompts == ["red ball bouncing"]
    with pytest.raises(InvalidInputError, match="recaption needs a model of the physics world"):
        pipe("red ball bouncing", recaption=True, **KW)
    with pytest.raises(ConfigError, match="recaption needs a model of the physics world"):
        PipelineConfig(recaption=True)


def test_step_callback_is_called_as_diffusers_calls_it(pipe):
    # (pipe, step, timestep, callback_kwargs) -> callback_kwargs; latents put back there are sampled on from.
    seen = []

    def zero_at_the_end(p, step, timestep, kwargs):
        seen.append((p is pipe, step, float(timestep), sorted(kwargs), tuple(kwargs["latents"].shape)))
        if step == p.num_timesteps - 1:
            kwargs["latents"] = torch.zeros_like(kwargs["latents"])
        return kwargs

    out = pipe("a ball", num_frames=5, output_type="latent", callback_on_step_end=zero_at_the_end, **KW)
    assert [s[:2] for s in seen] == [(True, 0), (True, 1)] and seen[0][2] == 1.0 > seen[1][2] > 0
    assert seen[0][3] == ["latents"] and seen[0][4] == tuple(out.frames[0][None].shape)
    assert not out.frames[0].any()  # the callback's latents are what came out
    plain = pipe("a ball", num_frames=5, output_type="latent", **KW).frames[0]
    assert plain.abs().sum() > 0
    # Asked for no tensors, it gets none; it may return None; bad names and returns are refused.
    kwargs_seen = []
    pipe(
        "a ball",
        num_frames=5,
        callback_on_step_end=lambda *a: kwargs_seen.append(a[3]),
        callback_on_step_end_tensor_inputs=[],
        **KW,
    )
    assert kwargs_seen == [{}, {}]
    with pytest.raises(InvalidInputError, match="can name latents; got \\['prompt_embeds'\\]"):
        pipe("a ball", callback_on_step_end=progress([]), callback_on_step_end_tensor_inputs=["prompt_embeds"], **KW)
    with pytest.raises(InvalidInputError, match="must return its callback_kwargs"):
        pipe("a ball", callback_on_step_end=lambda *a: 3, **KW)
    with pytest.raises(InvalidInputError, match="must keep the shape"):
        pipe("a ball", callback_on_step_end=lambda *a: {"latents": torch.zeros(1)}, **KW)


def test_save_and_load_round_trip_in_half_precision(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "p", dtype=torch.float16)
    (tmp_path / "p" / "pipeline.json").write_text(
        (tmp_path / "p" / "pipeline.json").read_text().replace('"minilm"', '"toy:32"')
    )
    loaded = TextToVideoPipeline.from_pretrained(tmp_path / "p")
    assert loaded.config.sizes == pipe.config.sizes and loaded.name == "p"  # the name its manifests record
    (tmp_path / "run").mkdir()
    (tmp_path / "p").rename(tmp_path / "run" / "model")  # a training run's model/ goes by the run's name
    loaded = TextToVideoPipeline.from_pretrained(tmp_path / "run" / "model")
    assert loaded.name == "run"
    pipe.config.watermark = loaded.config.watermark = False  # compare the models, not their (hash-keyed) marks
    a, b = pipe("a ball", **KW).frames[0].astype(int), loaded("a ball", **KW).frames[0].astype(int)
    pipe.config.watermark = True
    assert np.abs(a - b).mean() < 2  # fp16 storage changes pixels by rounding only


def test_guide_model_changes_sampling_only_when_mixed_in_and_saves_with_the_pipeline(pipe, tmp_path):
    from tessera.errors import ConfigError

    torch.manual_seed(1)
    weak = DiT.from_preset("tiny")
    for p in weak.parameters():
        torch.nn.init.normal_(p, std=0.05)
    config = PipelineConfig(**{**pipe.config.__dict__, "guide": "guide", "guide_mix": 0.0, "watermark": False})
    guided_pipe = TextToVideoPipeline(pipe.transformer, pipe.autoencoder, pipe.text_encoder, config, guide=weak)
    pipe.config.watermark = False
    try:
        plain = pipe("a ball", seed=2, output_type="latent", **KW).frames[0]
    finally:
        pipe.config.watermark = True
    assert torch.equal(guided_pipe("a ball", seed=2, output_type="latent", **KW).frames[0], plain)
    guided_pipe.config.guide_mix = 0.5
    mixed = guided_pipe("a ball", seed=2, output_type="latent", **KW).frames[0]
    assert not torch.allclose(mixed, plain)

    guided_pipe.save_pretrained(tmp_path / "p")
    path = tmp_path / "p" / "pipeline.json"
    path.write_text(path.read_text().replace('"minilm"', '"toy:32"'))
    loaded = TextToVideoPipeline.from_pretrained(tmp_path / "p")
    assert loaded.config.guide_mix == 0.5 and (tmp_path / "p" / "guide" / "model.safetensors").is_file()
    assert torch.allclose(loaded("a ball", seed=2, output_type="latent", **KW).frames[0], mixed, atol=1e-5)
    # The guide shapes the video, so it enters the watermark's content id; unguided, the id is as before.
    loaded.config.watermark = True
    marks = [loaded("a ball", seed=2, **KW).watermarks[0]]
    loaded.config.guide_mix = 0.0
    marks.append(loaded("a ball", seed=2, **KW).watermarks[0])
    loaded.guide_sha256 = "other"
    assert marks[0] != marks[1] == loaded("a ball", seed=2, **KW).watermarks[0]

    with pytest.raises(ConfigError, match="guide_mix"):
        PipelineConfig(guide_mix=1.5)
    with pytest.raises(ConfigError, match="needs a guide model"):
        TextToVideoPipeline(pipe.transformer, pipe.autoencoder, pipe.text_encoder, PipelineConfig(guide_mix=0.5))


def test_guidance_interval_guides_only_its_steps_saves_and_marks_the_video(pipe, tmp_path):
    from tessera.errors import ConfigError

    def latent(p, **kw):
        return p("a ball", seed=2, output_type="latent", **{**KW, "num_inference_steps": 4, **kw}).frames[0]

    default = pipe.config.guidance_interval
    try:
        full = latent(pipe)
        pipe.config.guidance_interval = (0.0, 1e-6)  # no step's time inside: every step unguided
        assert torch.equal(latent(pipe), latent(pipe, guidance_scale=1.0))
        pipe.config.guidance_interval = (0.3, 0.9)  # some steps guided, some not: neither of the two
        part = latent(pipe)
        assert not torch.allclose(part, full) and not torch.allclose(part, latent(pipe, guidance_scale=1.0))
        marks = [pipe("a ball", seed=2, **KW).watermarks[0]]
        pipe.save_pretrained(tmp_path / "p")
    finally:
        pipe.config.guidance_interval = default
    # Where guidance applies shapes the video, so it enters the content id; the default leaves ids as they were.
    assert marks[0] != pipe("a ball", seed=2, **KW).watermarks[0]
    path = tmp_path / "p" / "pipeline.json"
    path.write_text(path.read_text().replace('"minilm"', '"toy:32"'))
    assert TextToVideoPipeline.from_pretrained(tmp_path / "p").config.guidance_interval == (0.3, 0.9)
    for bad in ((0.9, 0.3), (0.0, 1.5), (0.2,), ("a", "b")):
        with pytest.raises(ConfigError, match="guidance_interval must be"):
            PipelineConfig(guidance_interval=bad)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"height": 64}, "supported: 32x32, 48x32"),
        ({"prompt": ""}, "non-empty"),
        ({"num_frames": 0}, "num_frames"),
        ({"strength": 1.5, "video": _clip()}, "strength"),
        ({"strength": 0.5}, "needs video"),
        ({"end_video": _clip()}, "also needs video"),
        ({"direction": "sideways", "video": _clip()}, "direction"),
        ({"image": np.zeros((4, 4), np.uint8)}, "uint8 RGB"),
        ({"video": np.zeros((3, 32, 32), np.uint8)}, r"an image file .*, got uint8 \(3, 32, 32\)"),
        ({"image": np.full((32, 32, 3), 255.0)}, r"float frames must be finite and in \[0, 1\] .* from 255 to 255"),
        ({"video": torch.full((5, 3, 32, 32), float("nan"))}, "must be finite and in .*, got NaN or infinity"),
        ({"width": None}, "whole numbers of pixels, got height=32, width=None; supported sizes"),  # said "Nonex32"
        ({"loop": True, "image": _clip(1)[0]}, "choose one task"),
        ({"output_type": "tensor"}, "output_type"),
        ({"sampler": "ddim"}, "sampler"),
        ({"num_frames": 9, "loop": True}, r"a loop is at most 5 frames \(0.5 s\)"),
        ({"num_frames": 21, "video": _clip()}, "at most 9 frames"),
        ({"num_frames": 9.5}, "whole number"),
        ({"num_inference_steps": 0}, "num_inference_steps must be a whole number from 1 to 1000, got 0"),
        ({"num_inference_steps": 10**6}, "from 1 to 1000, got 1000000"),  # hours of sampling, not an error
        ({"negative_prompt": 5}, "negative_prompt must be a string"),
        ({"generator": "x"}, "torch.Generator"),
        ({"seed": 1, "generator": torch.Generator().manual_seed(1)}, "not both"),
        ({"seed": "1"}, "seed must be a whole number"),
        ({"seed": -5}, "seed must be a whole number from 0"),
        ({"seed": 2**70}, "seed must be a whole number from 0"),
    ],
)
def test_bad_inputs_get_clear_errors(pipe, kwargs, message):
    args = {**KW, "prompt": "a red ball", **kwargs}
    with pytest.raises(InvalidInputError, match=message):
        pipe(**args)


def test_missing_folder_says_what_to_give(tmp_path):
    with pytest.raises(NotFoundError, match="pipeline.json"):
        TextToVideoPipeline.from_pretrained(tmp_path)


@pytest.mark.slow
def test_compiled_transformer_gives_the_same_video(pipe):
    pipe.config.compile = False
    eager = pipe("a red ball falls", seed=1, **KW).frames[0]
    pipe.config.compile = True
    try:
        compiled = pipe("a red ball falls", seed=1, **KW).frames[0]
    finally:
        pipe.config.compile = False
    assert np.abs(eager.astype(int) - compiled.astype(int)).max() <= 2
