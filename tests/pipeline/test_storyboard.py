"""Storyboards on a tiny random model: timeline validation, shot boundaries, safety before compute, one mark."""

import re

import numpy as np
import pytest
import torch

from tessera.errors import BlockedPromptError, InvalidInputError
from tessera.models.autoencoder import Autoencoder
from tessera.models.dit import DiT
from tessera.models.text import TextEncoder, TextEncoderParams
from tessera.pipeline import PipelineConfig, TextToVideoPipeline
from tessera.pipeline.storyboard import Shot, Storyboard, plan, render


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    vae = Autoencoder.from_preset("tiny")
    torch.nn.init.zeros_(vae.decoder.conv_out.conv.weight)  # gray frames: the watermark is then detectable
    config = PipelineConfig(sizes=("64x64",), max_frames=17, steps=2, text_encoder={"source": "toy:32"})
    return TextToVideoPipeline(DiT.from_preset("tiny"), vae, TextEncoder(TextEncoderParams("toy:32")), config)


def board(*shots, **kw) -> Storyboard:
    return Storyboard([Shot(**s) for s in shots], **kw)


def test_three_shots_render_one_clip_with_boundaries_where_the_file_says(pipe):
    b = board(
        {"prompt": "a red ball rolls in from the left", "duration": 2, "at": 0},
        {"prompt": "the red ball hits a blue square", "duration": 1.5, "at": 2},
        {"prompt": "a green triangle falls", "duration": 1, "at": 3.5, "transition": "cut"},
    )
    steps = []
    out = pipe.storyboard(
        b, height=64, width=64, callback_on_step_end=lambda p, step, _t, kw: steps.append((step + 1, p.num_timesteps))
    )
    video = out.frames[0]
    assert video.shape == (1 + 8 * 4.5, 64, 64, 3)
    assert out.shot_starts == [0, 17, 29]  # 2 s and 1.5 s at 8 fps after the opening frame
    assert steps == [(i + 1, len(steps)) for i in range(len(steps))]  # one bar to 100%
    # A first shot longer than one call is made in two chunks, then one call extends it: all their steps count
    # toward one total (the bar used to run to 4 of 8, then fall back to 3 of 4 for the next shot).
    steps.clear()
    pipe.storyboard(
        board({"prompt": "a red ball falls", "duration": 3}, {"prompt": "a blue square slides", "duration": 1}),
        height=64,
        width=64,
        callback_on_step_end=lambda p, step, _t, kw: steps.append((step + 1, p.num_timesteps)),
    )
    assert len(steps) == (2 + 1) * 2 and steps == [(i + 1, len(steps)) for i in range(len(steps))]
    from tessera.provenance import detect

    found = detect(video)
    assert found.detected and found.payload == out.watermarks[0]


def test_a_continuous_shot_starts_from_the_previous_shots_frames(pipe, monkeypatch):
    seen = {}
    real = TextToVideoPipeline.__call__

    def spy(self, prompt, **kw):
        if kw.get("video") is not None:
            seen["video"] = kw["video"].copy()
        return real(self, prompt, **kw)

    monkeypatch.setattr(TextToVideoPipeline, "__call__", spy)
    b = board({"prompt": "a red ball rolls", "duration": 1}, {"prompt": "it stops", "duration": 1})
    out = pipe.storyboard(b, height=64, width=64)
    assert seen["video"].shape[0] == 9  # the whole first shot is what the second one extends
    assert out.frames[0].shape[0] == 17 and out.shot_starts == [0, 9]


@pytest.mark.parametrize(
    "shots,message",
    [
        (
            [{"prompt": "a", "duration": 2, "at": 0}, {"prompt": "b", "duration": 2, "at": 1}],
            r"overlap\); move it to start at 2 s",
        ),
        ([{"prompt": "a", "duration": 2, "at": 0}, {"prompt": "b", "duration": 2, "at": 3}], "gap"),
        ([{"prompt": "a", "duration": 0.3}], "multiples of 0.5 s"),
        ([{"prompt": "a", "duration": -1}], "multiples"),
        ([{"prompt": "a", "duration": 1e308}], "shot 1 lasts 1e[+]308 s; give it a few seconds"),  # an OverflowError
        ([{"prompt": "", "duration": 1}], "prompt"),
        ([{"prompt": "a", "duration": 1, "transition": "wipe"}], "transition"),
        ([], "at least one shot"),
    ],
)
def test_bad_timelines_are_refused_with_the_shot_named(shots, message):
    with pytest.raises(InvalidInputError, match=message):
        Storyboard.from_dict({"shots": shots}).validate(8.0)


def test_files_in_yaml_and_json(tmp_path):
    (tmp_path / "b.yaml").write_text(
        "seed: 3\nshots:\n  - {at: 0, duration: 2, prompt: a red ball rolls}\n"
        "  - {at: 2, duration: 1, prompt: it stops, transition: cut, image: first.png}\n"
    )
    b = Storyboard.from_file(tmp_path / "b.yaml")
    assert b.seed == 3 and [s.transition for s in b.shots] == ["cut", "cut"]
    assert b.shots[1].image == str(tmp_path / "first.png")  # relative to the file
    (tmp_path / "b.json").write_text('{"shots": [{"duration": 1, "prompt": "x", "colour": "red"}]}')
    with pytest.raises(InvalidInputError, match="unknown field"):
        Storyboard.from_file(tmp_path / "b.json")
    for name, content, message in (
        ("bad.yaml", "shots:\n  - {prompt: a: b}", "not valid YAML at line 2, column 15"),  # where it stopped
        ("date.yaml", "shots: []\nwhen: 2001-13-45", "not valid YAML (month must be in 1..12)"),
        ("bad.json", '{"shots": [}', "not valid JSON"),
        ("video.yaml", b"\x00\x00\x00\x18ftypmp42\xe7\xff", "(byte 12 is not text); a storyboard is YAML or JSON"),
    ):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(InvalidInputError, match=re.escape(message)):
            Storyboard.from_file(path)


@pytest.mark.parametrize("first", [2, 0.5, 1])
def test_plan_adds_exactly_the_frames_each_shot_asks_for(first):
    # A first shot shorter than what a call is given (2 s here) gives less, so its first extension adds more.
    b = board(*[{"prompt": "x", "duration": d} for d in (first, 0.5, 1, 1.5, 2, 3.5)])
    from tessera.pipeline.storyboard import frames_added

    calls = plan(b, 8.0, 4, 33)
    assert calls[0] == [first * 8 + 1]
    length = first * 8 + 1
    for shot, sizes in zip(b.shots[1:], calls[1:], strict=True):
        added = 0
        for n in sizes:
            added += frames_added(33, 4, length + added)[n]
        assert added == shot.duration * 8
        length += added


def test_a_short_first_shot_and_its_continuation_last_as_long_as_the_file_says(pipe):
    b = board({"prompt": "a red ball rolls", "duration": 0.5}, {"prompt": "the red ball rolls on", "duration": 2})
    out = pipe.storyboard(b, height=64, width=64)
    assert len(out.frames[0]) == 1 + 8 * 2.5 and out.shot_starts == [0, 5]


def test_extension_sizes_refuse_a_partial_block():
    from tessera.pipeline.storyboard import extension_sizes

    assert extension_sizes(0, 33, 4, 17) == []
    with pytest.raises(InvalidInputError, match="multiple of 4"):
        extension_sizes(6, 33, 4, 17)


def test_an_extension_of_several_calls_is_marked_once_as_a_whole(pipe):
    from tessera.provenance import detect

    clip = np.full((9, 64, 64, 3), 128, np.uint8)
    out = pipe.extend("a red ball rolls", clip, 3, height=64, width=64)  # 3 s: three calls of this model
    found = detect(out.frames[0])
    assert len(out.frames[0]) == 9 + 24 and found.detected and found.payload == out.watermarks[0]


def test_unmarked_pieces_leave_the_pipeline_config_alone(pipe):
    from tessera.provenance import detect

    out = pipe("a red ball rolls", num_frames=9, watermark=False)
    assert out.watermarks == [None] and not detect(out.frames[0]).detected
    assert pipe.config.watermark and pipe.config.safety  # a per-call choice, not a flipped flag
    b = board({"prompt": "a red ball rolls", "duration": 1}, {"prompt": "it stops", "duration": 1})
    assert pipe.storyboard(b).watermarks[0] is not None and pipe.config.watermark


def test_a_blocked_shot_refuses_the_whole_storyboard_before_compute(pipe, monkeypatch):
    calls = []
    monkeypatch.setattr(TextToVideoPipeline, "__call__", lambda self, *a, **k: calls.append(1))
    b = board(
        {"prompt": "a red ball rolls", "duration": 1},
        {"prompt": "graphic gore, a beheading with blood everywhere", "duration": 1},
    )
    with pytest.raises(BlockedPromptError, match="shot 2"):
        pipe.storyboard(b, height=64, width=64)
    assert calls == []


def test_cli_writes_one_signed_mp4_listing_the_shots(pipe, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tessera.cli.main import app
    from tessera.media import read_video
    from tessera.provenance import read_manifest

    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))
    folder = pipe.save_pretrained(tmp_path / "tiny")
    (tmp_path / "board.yaml").write_text(
        "shots:\n  - {at: 0, duration: 1, prompt: a red ball rolls}\n  - {at: 1, duration: 1, prompt: it stops}\n"
        "  - {at: 2, duration: 0.5, prompt: a blue square falls, transition: cut}\n"
    )
    out = tmp_path / "film.mp4"
    result = CliRunner().invoke(
        app, ["storyboard", str(tmp_path / "board.yaml"), "--model", str(folder), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert read_video(out).num_frames == 1 + 8 * 2.5
    manifest = read_manifest(out)
    described = [a.get("parameters", {}).get("description", "") for a in manifest.actions]
    assert manifest.state == "Valid" and described[1:] == [
        "shot 1 (cut) 0-1 s",
        "shot 2 (continuous) 1-2 s",
        "shot 3 (cut) 2-2.5 s",
    ]
    blocked = tmp_path / "blocked.yaml"
    blocked.write_text(
        "shots:\n  - {duration: 1, prompt: a red ball}\n"
        "  - {duration: 1, prompt: 'graphic gore, a beheading with blood everywhere'}\n"
    )
    result = CliRunner().invoke(
        app, ["storyboard", str(blocked), "--model", str(folder), "-o", str(tmp_path / "b.mp4")]
    )
    assert isinstance(result.exception, BlockedPromptError) and "shot 2" in str(result.exception)
    assert not (tmp_path / "b.mp4").exists()


def test_a_board_at_another_frame_rate_is_made_at_the_models_and_resampled(pipe):
    """Durations are the model's (0.5 s blocks at 8 fps), and the 24 fps video is the 8 fps one resampled."""
    from tessera.media import resample

    shots = (
        {"prompt": "a red ball rolls", "duration": 1},
        {"prompt": "a blue square", "duration": 0.5, "transition": "cut"},
    )
    at_8 = pipe.storyboard(board(*shots), height=64, width=64)
    at_24 = pipe.storyboard(board(*shots, fps=24), height=64, width=64)
    assert at_24.fps == 24 and at_24.shot_starts == [0, 27] and len(at_24.frames[0]) == 1 + 24 * 1.5
    assert at_24.watermarks != at_8.watermarks  # the rate is part of the content id
    # Before the mark, the 24 fps video is the 8 fps one resampled.
    unmarked_8, _, _ = render(pipe, board(*shots), 64, 64)
    unmarked_24, starts, fps = render(pipe, board(*shots, fps=24), 64, 64)
    assert fps == 24 and starts == [0, 27] and np.array_equal(unmarked_24, resample(unmarked_8, 8, 24))
    with pytest.raises(InvalidInputError, match="fps must be a number > 0"):
        board(*shots, fps=float("nan"))


@pytest.mark.parametrize("seed", [-1, 2**63, "7", True])
def test_a_storyboard_seed_out_of_range_is_refused(seed):
    with pytest.raises(InvalidInputError, match="seed must be a whole number from 0 to 2\\*\\*63 - 1"):
        Storyboard.from_dict({"shots": [{"prompt": "a ball", "duration": 1}], "seed": seed})


@pytest.mark.parametrize("field,value", [("duration", "nan"), ("duration", ".inf"), ("at", "nan")])
def test_times_that_are_not_finite_are_refused_naming_the_shot(tmp_path, field, value):
    shot = {"prompt": "a ball", "duration": "1", "at": "0", field: value}
    path = tmp_path / "board.yaml"
    path.write_text("shots:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in shot.items()) + "\n")
    with pytest.raises(InvalidInputError, match=f"shot 1: {field} must be a finite number of seconds"):
        Storyboard.from_file(path)
