"""The tessera command: the README's main job, world commands, and user errors without tracebacks."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from tessera.cli.main import app
from tessera.media import read_video

runner = CliRunner()


def test_world_sample_writes_video_and_record(tmp_path):
    out, rec = tmp_path / "ball.mp4", tmp_path / "ball.json"
    result = runner.invoke(
        app,
        [
            "world",
            "sample",
            "a small red ball drops onto the floor and bounces twice",
            "-o",
            str(out),
            "--record",
            str(rec),
        ],
    )
    assert result.exit_code == 0, result.output
    assert read_video(out).frames.shape == (17, 64, 64, 3)
    record = json.loads(rec.read_text())
    assert record["scene"]["motion"] == "fall" and record["objects"][0]["colour"] == "red"
    assert "bounce" in result.output


def test_world_sample_by_motion_name_and_size(tmp_path):
    out = tmp_path / "o.gif"
    result = runner.invoke(app, ["world", "sample", "occlude", "-o", str(out), "--size", "112x64", "--frames", "9"])
    assert result.exit_code == 0, result.output
    assert read_video(out).frames.shape == (9, 64, 112, 3)


def test_preview_and_make_dataset(tmp_path):
    assert runner.invoke(app, ["world", "preview", "-o", str(tmp_path / "p.png"), "--clips", "2"]).exit_code == 0
    assert (tmp_path / "p.png").stat().st_size > 1000
    result = runner.invoke(
        app, ["world", "make-dataset", "--out", str(tmp_path / "ds"), "--clips", "3", "--frames", "5", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ds" / "shard-000000.tar").exists()


def test_info():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0 and "held-out" in result.output


def test_user_errors_print_one_line_without_traceback(tmp_path):
    for args in (
        ["world", "sample", "fall", "--size", "13x64", "-o", str(tmp_path / "x.mp4")],
        ["world", "sample", "fall", "--size", "big", "-o", str(tmp_path / "x.mp4")],
        ["world", "sample", "fall", "-o", str(tmp_path / "x.avi")],
        ["world", "sample", "a purple elephant dances", "-o", str(tmp_path / "x.mp4")],
    ):
        run = subprocess.run(
            [sys.executable, "-c", "from tessera.cli.main import main; main()", *args], capture_output=True, text=True
        )
        assert run.returncode == 1, run
        assert "error:" in run.stderr and "Traceback" not in run.stderr


def test_eval_sampling_options_are_checked_before_any_work(tmp_path):
    for args, message in (
        (["--model", str(tmp_path), "--sampler", "ddim"], "--sampler must be one of euler, heun, ancestral, renoise"),
        (["--sampler", "ancestral"], "apply to --model only"),
    ):
        run = subprocess.run(
            [sys.executable, "-c", "from tessera.cli.main import main; main()", "eval", *args, "--out", str(tmp_path)],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 1 and message in run.stderr and "Traceback" not in run.stderr, run


def test_eval_on_a_folder_of_videos_writes_report_and_plots(tmp_path):
    from tessera.media import write_mp4
    from tessera.world import sample_clip

    folder = tmp_path / "videos"
    lines = []
    for seed in range(3):
        clip = sample_clip(seed, "in-dist")
        write_mp4(folder / f"c{seed}.mp4", clip.frames, clip.fps)
        (folder / f"c{seed}.json").write_text(json.dumps(clip.record))
        lines.append(json.dumps({"file": f"c{seed}.mp4", "caption": clip.caption}))
    (folder / "captions.jsonl").write_text("\n".join(lines))
    out = tmp_path / "report"
    result = runner.invoke(app, ["eval", "--videos", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert len(report["clips"]) == 3 and "passed_all" in report["aggregate"]
    assert (out / "metrics.png").stat().st_size > 1000 and (out / "trajectories.png").stat().st_size > 1000
    assert "| count_conservation |" in (out / "report.md").read_text()


def test_serve_refuses_a_port_out_of_range_before_starting(tmp_path):
    result = runner.invoke(app, ["serve", "--port", "99999", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--port" in result.output and not any(tmp_path.iterdir())
