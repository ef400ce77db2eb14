"""tessera generate and tessera verify: every written video carries a watermark and a signed manifest."""

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tessera.cli.main import app
from tessera.media import read_video, write_gif, write_mp4, write_png
from tessera.models.autoencoder import Autoencoder
from tessera.models.dit import DiT
from tessera.models.text import TextEncoder, TextEncoderParams
from tessera.pipeline import PipelineConfig, TextToVideoPipeline

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    vae = Autoencoder.from_preset("tiny")
    torch.nn.init.zeros_(vae.decoder.conv_out.conv.weight)  # a random decoder saturates; this one draws gray
    config = PipelineConfig(sizes=("64x64",), max_frames=9, steps=2, text_encoder={"source": "toy:32"})
    pipe = TextToVideoPipeline(DiT.from_preset("tiny"), vae, TextEncoder(TextEncoderParams("toy:32")), config)
    return pipe.save_pretrained(tmp_path_factory.mktemp("models") / "tiny-world")


@pytest.fixture(autouse=True)
def _config(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))


def test_generate_writes_a_marked_signed_video_and_verify_says_so(model_dir, tmp_path):
    out = tmp_path / "ball.mp4"
    result = runner.invoke(app, ["generate", "a red ball falls", "--model", str(model_dir), "-o", str(out), "--gif"])
    assert result.exit_code == 0, result.output
    assert read_video(out).frames.shape == (17, 64, 64, 3)
    for path in (out, out.with_suffix(".gif")):
        report = runner.invoke(app, ["verify", str(path), "--json"])
        assert report.exit_code == 0, report.output
        data = json.loads(report.output)
        assert data["manifest"]["present"] and data["manifest"]["state"] == "Valid"
        assert data["watermark_detected"] and data["watermark_p_value"] < 1e-6
        assert data["manifest"]["soft_binding"] == data["watermark_payload"]
        assert data["manifest"]["actions"][0]["parameters"]["model"] == "tiny-world"


def test_a_png_output_makes_an_image_not_a_clip_to_take_one_frame_from(model_dir, tmp_path, monkeypatch):
    seen = {}
    real = TextToVideoPipeline.__call__

    def spy(self, prompt, **kw):
        seen["frames"] = kw["num_frames"]
        return real(self, prompt, **kw)

    monkeypatch.setattr(TextToVideoPipeline, "__call__", spy)
    out = tmp_path / "still.png"
    result = runner.invoke(app, ["generate", "a red ball", "--model", str(model_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert seen["frames"] == 1 and read_video(out).frames.shape == (1, 64, 64, 3)
    assert "an image 64x64  |" in result.output  # not "1 frames 64x64 at 8 fps"


def test_a_prompt_outside_the_world_gets_a_note_from_a_world_model(model_dir, tmp_path):
    world = tmp_path / "world"
    shutil.copytree(model_dir, world)
    config = json.loads((world / "pipeline.json").read_text())
    (world / "pipeline.json").write_text(json.dumps({**config, "domain": "world"}))
    seen = {}
    for folder in (world, model_dir):
        for prompt in ("a cat jumps over a dog", "a red ball falls"):
            result = runner.invoke(app, ["generate", prompt, "--model", str(folder), "-o", str(tmp_path / "x.png")])
            assert result.exit_code == 0, result.output
            seen[folder.name, prompt] = "names nothing of it" in " ".join(result.output.split())
    # A storyboard's shots likewise; "the ball keeps rolling" names a world shape, so it gets none.
    board = tmp_path / "board.yaml"
    board.write_text(
        'shots:\n  - {duration: 1, prompt: "a red ball rolls"}\n  - {duration: 1, prompt: "the ball keeps rolling"}\n'
        '  - {duration: 1, prompt: "a cat jumps", transition: cut}\n'
    )
    result = runner.invoke(app, ["storyboard", str(board), "--model", str(world), "-o", str(tmp_path / "b.mp4")])
    notes = " ".join(result.output.split())
    assert result.exit_code == 0 and notes.count("names nothing of it") == 1 and "shot 3: this model" in notes, notes
    # A world model's own setting re-captions a short prompt, and the command says to what.
    config = json.loads((world / "pipeline.json").read_text())
    (world / "pipeline.json").write_text(json.dumps({**config, "recaption": True}))
    result = runner.invoke(app, ["generate", "red ball bouncing", "--model", str(world), "-o", str(tmp_path / "r.png")])
    assert result.exit_code == 0 and "recaptioned as 'a " in " ".join(result.output.split()), result.output
    result = runner.invoke(
        app, ["generate", "red ball bouncing", "--model", str(world), "--no-recaption", "-o", str(tmp_path / "r.png")]
    )
    assert result.exit_code == 0 and "recaptioned" not in result.output
    assert seen == {
        ("world", "a cat jumps over a dog"): True,
        ("world", "a red ball falls"): False,
        ("tiny-world", "a cat jumps over a dog"): False,  # its data is not recorded: no guess
        ("tiny-world", "a red ball falls"): False,
    }


def test_generate_refuses_bad_options_without_traceback(model_dir, tmp_path):
    result = runner.invoke(app, ["generate", "a ball", "--model", str(model_dir), "--size", "48x48"])
    assert result.exit_code != 0 and "supported: 64x64" in str(result.exception)
    result = runner.invoke(app, ["generate", "a ball", "--model", str(tmp_path / "none")])
    assert result.exit_code != 0 and "pipeline.json" in str(result.exception)
    result = runner.invoke(app, ["generate", "a ball", "--model", str(model_dir), "--refine", "-1"])
    assert result.exit_code != 0 and "--refine must be >= 0" in str(result.exception)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--direction", "backward"], "--direction applies to --extend only"),
        (["--strength", "0.3"], "--strength applies to --edit only"),
        (["--extend", "clip.mp4", "--direction", "sideways"], "--direction must be forward or backward"),
        (["--fps", "0"], "--fps must be a number in (0, 240]"),
        (["--fps", "nan"], "--fps must be a number in"),
        (["--fps", "1000"], "--fps must be a number in"),
        (["--seconds", "inf"], "--seconds must be a number >= 0"),
        (["--guidance", "nan"], "--guidance must be a number >= 0"),
        (["--steps", "0"], "--steps must be from 1 to 1000, got 0"),
        (["--steps", "1000000"], "--steps must be from 1 to 1000, got 1000000"),
        (["--image", "start.png", "--recaption"], "--recaption applies to text-to-video only"),
        (["--extend", "clip.mp4", "--seconds", "0"], "--extend adds --seconds to the clip; give more than 0"),
        (["-o", "still.png", "--seconds", "2"], "still.png is an image (one frame) but --seconds 2 asks for a video"),
        (["-o", "still.png", "--loop"], "still.png is an image (one frame) but --loop asks for a video"),
    ],
)
def test_generate_refuses_options_it_would_ignore_before_loading_the_model(tmp_path, args, message):
    # A model folder that does not exist: the refusal comes before any loading.
    result = runner.invoke(app, ["generate", "a ball", "--model", str(tmp_path / "none"), *args])
    assert result.exit_code != 0 and message in str(result.exception)


def test_an_empty_prompt_is_refused_before_loading_the_model(tmp_path):
    result = runner.invoke(app, ["generate", "   ", "--model", str(tmp_path / "none")])
    assert result.exit_code != 0 and "the prompt is empty" in str(result.exception)


def test_given_images_and_clips_set_the_size_unless_one_is_asked_for(model_dir, tmp_path):
    # A model with three aspect ratios, like the shipped one: a wide clip is extended wide, not cropped square.
    multi = tmp_path / "multi"
    shutil.copytree(model_dir, multi)
    config = json.loads((multi / "pipeline.json").read_text())
    (multi / "pipeline.json").write_text(json.dumps({**config, "sizes": ["64x64", "112x64", "64x112"]}))
    rng = np.random.default_rng(0)
    write_mp4(tmp_path / "wide.mp4", rng.integers(0, 255, (9, 64, 112, 3), dtype=np.uint8), 8)
    write_png(tmp_path / "tall.png", rng.integers(0, 255, (300, 160, 3), dtype=np.uint8))
    for args, shape in (
        (["--extend", "wide.mp4"], (64, 112)),
        (["--edit", "wide.mp4"], (64, 112)),
        (["--connect", "wide.mp4", "--connect", "wide.mp4"], (64, 112)),
        (["--image", "tall.png"], (112, 64)),
        (["--extend", "wide.mp4", "--size", "64x64"], (64, 64)),
        ([], (64, 64)),
    ):
        out = tmp_path / "out.mp4"
        given = [str(tmp_path / a) if a.endswith((".mp4", ".png")) else a for a in args]
        cmd = ["generate", "a ball", "--model", str(multi), "--seconds", "1", "-o", str(out), *given]
        result = runner.invoke(app, cmd)
        assert result.exit_code == 0, (args, result.output)
        assert read_video(out).frames.shape[1:3] == shape, args


@pytest.mark.parametrize(
    "args,frames",
    [
        (["--extend", "clip.mp4", "--seconds", "1.5"], 25 + 12),  # 1.5 s added: three calls of this model
        (["--extend", "clip.mp4", "--seconds", "1", "--direction", "backward"], 25 + 8),
        (["--extend", "clip.mp4"], 25 + 16),  # 2 s added by default
        (["--edit", "clip.mp4"], 25),  # the whole clip, 3 s (it took the first 2)
        (["--edit", "clip.mp4", "--seconds", "1"], 9),  # its first second
        (["--edit", "clip.mp4", "-o", "out.png"], 1),  # an image: its first frame, edited
    ],
)
def test_extend_adds_seconds_and_edit_takes_the_whole_clip(model_dir, tmp_path, args, frames):
    write_mp4(tmp_path / "clip.mp4", np.full((25, 64, 64, 3), 128, np.uint8), 8)
    out = tmp_path / ("out.png" if "out.png" in args else "out.mp4")
    given = [str(tmp_path / a) if a.endswith((".mp4", ".png")) else a for a in args]
    result = runner.invoke(app, ["generate", "a ball", "--model", str(model_dir), "-o", str(out), *given])
    assert result.exit_code == 0, result.output
    assert len(read_video(out).frames) == frames


@pytest.mark.parametrize("args", [["--edit", "clip.mp4", "-o", "clip.mp4"], ["--extend", "clip.gif", "--gif"]])
def test_an_input_is_never_the_output(model_dir, tmp_path, args):
    write_mp4(tmp_path / "clip.mp4", np.full((9, 64, 64, 3), 128, np.uint8), 8)
    write_gif(tmp_path / "clip.gif", np.full((9, 64, 64, 3), 128, np.uint8), 8)
    before = (tmp_path / "clip.mp4").read_bytes()
    paths = [str(tmp_path / a) if a.startswith("clip.") else a for a in args]
    if "-o" not in args:
        paths += ["-o", str(tmp_path / "clip.mp4")]
    gif_before = (tmp_path / "clip.gif").read_bytes()
    result = runner.invoke(app, ["generate", "a ball", "--model", str(model_dir), *paths])
    assert (tmp_path / "clip.mp4").read_bytes() == before and (tmp_path / "clip.gif").read_bytes() == gif_before
    assert result.exit_code != 0 and "is both an input and the output" in str(result.exception)


def test_a_bad_input_file_is_refused_before_loading_the_model(model_dir, tmp_path, monkeypatch):
    def load(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(TextToVideoPipeline, "from_pretrained", load)
    (tmp_path / "empty.png").touch()
    cmd = ["generate", "a ball", "--model", str(model_dir), "--image", str(tmp_path / "empty.png")]
    result = runner.invoke(app, cmd)
    assert result.exit_code != 0 and "the file is empty" in str(result.exception)


def test_a_large_clip_is_read_no_larger_than_the_models_sizes_need(model_dir, tmp_path, monkeypatch):
    # A minute of 4K to extend, decoded whole, is tens of gigabytes; this model makes 64x64, so the frames are
    # shrunk as they decode to what covers that (the aspect kept).
    seen = []
    real = TextToVideoPipeline.extend

    def spy(self, prompt, video, *args, **kwargs):
        seen.append(video.frames.shape)
        return real(self, prompt, video, *args, **kwargs)

    monkeypatch.setattr(TextToVideoPipeline, "extend", spy)
    big = write_mp4(tmp_path / "big.mp4", np.full((9, 360, 640, 3), 90, np.uint8), 8.0)
    cmd = ["generate", "a ball", "--model", str(model_dir), "--extend", str(big), "--seconds", "1"]
    result = runner.invoke(app, [*cmd, "-o", str(tmp_path / "more.mp4")])
    assert result.exit_code == 0, result.output
    assert seen == [(9, 64, 114, 3)] and read_video(tmp_path / "more.mp4").frames.shape[1:3] == (64, 64)


def test_eval_takes_a_pipeline_folder_for_its_autoencoder(model_dir, tmp_path):
    out = tmp_path / "floor"
    result = runner.invoke(app, ["eval", "--autoencoder", str(model_dir), "--clips", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"reconstructions by {model_dir / 'autoencoder'}," in json.loads((out / "report.json").read_text())["title"]
