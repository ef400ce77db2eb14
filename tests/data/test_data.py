"""Shards, user folders, buckets and the on-the-fly world stream."""

import itertools
import json
import tarfile

import numpy as np
import pytest
from typer.testing import CliRunner

from tessera.data import (
    DEFAULT_BUCKETS,
    Bucket,
    ShardReader,
    VideoFolder,
    WorldStream,
    batch_by_bucket,
    fit_to_bucket,
    make_world_dataset,
    nearest_bucket,
)
from tessera.errors import ConfigError, InvalidInputError, MediaError, NotFoundError
from tessera.media import psnr, resample, write_mp4
from tessera.world import sample_clip


def test_world_dataset_shards_round_trip(tmp_path):
    paths = make_world_dataset(tmp_path / "ds", clips=12, frames=9, clips_per_shard=5, seed=100, workers=2)
    assert [p.name for p in paths] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    with tarfile.open(paths[0]) as tar:
        names = tar.getnames()
    assert names[:2] == ["train-000000100.mp4", "train-000000100.json"]
    samples = list(ShardReader(tmp_path / "ds"))
    assert len(samples) == 12
    expected = sample_clip(100, "train", frames=9)
    assert samples[0]["caption"] == expected.caption and samples[0]["record"] == expected.record
    assert samples[0]["frames"].shape == (9, 64, 64, 3)
    assert np.abs(samples[0]["frames"].astype(int) - expected.frames).mean() < 3  # H.264 at crf 18
    manifest = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert manifest["clips"] == 12 and len(manifest["files"]) == 3 and manifest["layout"] == "shards"


def test_dataset_parameters_are_checked_before_work(tmp_path):
    with pytest.raises(ConfigError, match="fps"):
        make_world_dataset(tmp_path / "bad", clips=3, fps=0)
    assert not (tmp_path / "bad").exists()


def test_a_dataset_is_never_written_over_stored_files(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "captions.jsonl").write_text('{"file": "a.mp4", "caption": "my own"}\n')
    for layout in ("shards", "folder"):
        with pytest.raises(InvalidInputError, match="already holds files"):
            make_world_dataset(mine, clips=2, frames=9, layout=layout)
    assert [p.name for p in mine.iterdir()] == ["captions.jsonl"] and "my own" in (mine / "captions.jsonl").read_text()
    (tmp_path / "empty").mkdir()
    assert len(make_world_dataset(tmp_path / "empty", clips=2, frames=9)) == 1


def test_shard_reader_errors(tmp_path):
    with pytest.raises(NotFoundError, match="make-dataset"):
        ShardReader(tmp_path)
    (tmp_path / "broken.tar").write_bytes(b"nonsense" * 100)
    with pytest.raises(MediaError, match="broken.tar"):
        list(ShardReader(tmp_path / "broken.tar"))


def test_video_folder_with_jsonl_and_txt(tmp_path):
    clip = sample_clip(0, frames=9)
    write_mp4(tmp_path / "a.mp4", clip.frames, 8)
    write_mp4(tmp_path / "b.mp4", clip.frames[:5], 8)
    (tmp_path / "captions.jsonl").write_text(
        json.dumps({"file": "a.mp4", "caption": "first"}) + "\n" + json.dumps({"file": "b.mp4", "caption": "second"})
    )
    samples = list(VideoFolder(tmp_path))
    assert [s["caption"] for s in samples] == ["first", "second"]
    assert samples[1]["frames"].shape == (5, 64, 64, 3) and samples[1]["fps"] == 8

    other = tmp_path / "txt"
    other.mkdir()
    write_mp4(other / "c.mp4", clip.frames, 8)
    (other / "c.txt").write_text("a caption beside the video\n")
    assert [s["caption"] for s in VideoFolder(other)] == ["a caption beside the video"]


def test_a_video_folder_leaves_out_a_corrupt_video_with_a_warning(tmp_path, caplog):
    # One bad file among many stopped a training run with an error; it is now named and left out.
    clip = sample_clip(0, frames=9)
    write_mp4(tmp_path / "a.mp4", clip.frames, 8)
    write_mp4(tmp_path / "b.mp4", clip.frames, 8)
    (tmp_path / "b.mp4").write_bytes((tmp_path / "b.mp4").read_bytes()[:300])  # a truncated download
    write_mp4(tmp_path / "c.mp4", clip.frames, 8)
    for name in "abc":
        (tmp_path / f"{name}.txt").write_text(f"clip {name}")
    with caplog.at_level("WARNING"):
        assert [s["key"] for s in VideoFolder(tmp_path)] == ["a", "c"]
    assert "left out b.mp4, which could not be read" in caplog.text
    for name in "ac":
        (tmp_path / f"{name}.mp4").write_bytes(b"not a video")
    with pytest.raises(MediaError, match="none of its 3 videos could be read"):
        list(VideoFolder(tmp_path))


def test_an_autoencoder_takes_uncaptioned_videos_and_a_transformer_says_which_it_leaves_out(tmp_path, caplog):
    # The autoencoder learns from frames alone: a folder of videos without captions was refused for it.
    from tessera.cli.main import app

    clip = sample_clip(0, frames=9)
    for name in ("a", "b", "c"):
        write_mp4(tmp_path / f"{name}.mp4", clip.frames, 8)
    assert [s["caption"] for s in VideoFolder(tmp_path, captioned=False)] == ["", "", ""]
    with pytest.raises(InvalidInputError, match="found no captioned videos"):
        VideoFolder(tmp_path)
    (tmp_path / "captions.jsonl").write_text(json.dumps({"file": "b.mp4", "caption": "listed"}))
    assert [(s["key"], s["caption"]) for s in VideoFolder(tmp_path, captioned=False)] == [
        ("b", "listed"),
        ("a", ""),
        ("c", ""),
    ]
    with caplog.at_level("WARNING"):
        assert [s["key"] for s in VideoFolder(tmp_path)] == ["b"]
    assert "2 of 3 videos have no caption and are left out: a.mp4, c.mp4" in caplog.text
    out = tmp_path.parent / "vae-run"
    cmd = ["train", "vae", "--preset", "tiny", "--out", str(out), "--data", str(tmp_path), "--steps", "2"]
    result = CliRunner().invoke(app, [*cmd, "--batch-size", "2", "--frames", "9", "--sizes", "64x64"])
    assert result.exit_code == 0, result.output
    assert (out / "model" / "config.json").exists()
    (tmp_path / "captions.jsonl").unlink()
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.mp4").unlink()
    with pytest.raises(InvalidInputError, match="found no videos or images"):
        VideoFolder(tmp_path, captioned=False)


def test_a_folder_is_held_for_training_no_larger_than_its_buckets_need(tmp_path):
    # Three 10 s 1080p clips took 7.8 GB to load for training (kept whole at 8 fps); 0.5 GB now.
    from tessera.train.data import make_source

    clip = sample_clip(0, frames=9, width=112, height=64)
    write_mp4(tmp_path / "big.mp4", resample(clip.frames, 8, size=(448, 256)), 8)
    (tmp_path / "big.txt").write_text("a big clip")
    source = make_source(str(tmp_path), (Bucket(9, 64, 64), Bucket(9, 64, 112)), fps=8.0)
    assert source.samples[0]["frames"].shape == (9, 64, 112, 3)  # covers 64x64 and 112x64, the aspect kept
    frames = source.sample(0, Bucket(9, 64, 112), np.random.default_rng(0))[0]
    assert psnr(frames, clip.frames) > 28
    shards = tmp_path / "shards"  # shards made at a large size (make-dataset goes to 2048 px) likewise
    make_world_dataset(shards, 2, 448, 256, 9, 8.0)
    source = make_source(str(shards), (Bucket(9, 64, 64), Bucket(9, 64, 112)), fps=8.0)
    assert [s["frames"].shape for s in source.samples] == [(9, 64, 112, 3)] * 2


def test_clips_too_short_for_every_bucket_are_named_when_left_out(tmp_path, caplog):
    from tessera.train.data import make_source

    clip = sample_clip(0, frames=9)
    write_mp4(tmp_path / "long.mp4", clip.frames, 8)
    write_mp4(tmp_path / "short.mp4", clip.frames[:5], 8)
    for name in ("long", "short"):
        (tmp_path / f"{name}.txt").write_text("a clip")
    with caplog.at_level("WARNING"):
        source = make_source(str(tmp_path), (Bucket(9, 64, 64),), fps=8.0)
    assert [s["key"] for s in source.samples] == ["long"]
    assert "1 of 2 clips are shorter than the shortest bucket (9 frames at the model's rate)" in caplog.text
    assert "left out: short" in caplog.text


def test_training_reads_a_folder_at_the_training_frame_rate(tmp_path):
    """A 24 fps video trains an 8 fps model as every third frame, so its motion keeps its speed."""
    from tessera.media import read_video
    from tessera.train.data import make_source

    clip = sample_clip(0, frames=9)
    write_mp4(tmp_path / "fast.mp4", np.repeat(clip.frames, 3, axis=0)[:25], 24)
    write_mp4(tmp_path / "same.mp4", clip.frames, 8)
    (tmp_path / "fast.txt").write_text("three times the frames")
    (tmp_path / "same.txt").write_text("at the training rate")
    source = make_source(str(tmp_path), (Bucket(9, 64, 64),), fps=8.0)
    fast, same = source.samples
    assert np.array_equal(fast["frames"], read_video(tmp_path / "fast.mp4").frames[::3])
    assert np.array_equal(same["frames"], read_video(tmp_path / "same.mp4").frames)


def test_video_folder_errors(tmp_path):
    with pytest.raises(NotFoundError):
        VideoFolder(tmp_path / "nope")
    (tmp_path / "one.mp4").write_bytes(b"")
    with pytest.raises(InvalidInputError, match="one.mp4 is a file; put it in a folder with its caption"):
        VideoFolder(tmp_path / "one.mp4")
    (tmp_path / "one.mp4").unlink()
    with pytest.raises(InvalidInputError, match="captions.jsonl"):
        VideoFolder(tmp_path)
    (tmp_path / "captions.jsonl").write_text("{not json}\n")
    with pytest.raises(InvalidInputError, match=r"captions.jsonl:1"):
        VideoFolder(tmp_path)
    (tmp_path / "captions.jsonl").write_text(json.dumps({"file": "gone.mp4", "caption": "x"}))
    with pytest.raises(NotFoundError, match="gone.mp4"):
        VideoFolder(tmp_path)
    (tmp_path / "captions.jsonl").write_bytes("caption in Latin-1: café".encode("latin-1"))
    with pytest.raises(InvalidInputError, match="captions.jsonl is not a UTF-8 text file"):
        VideoFolder(tmp_path)
    (tmp_path / "captions.jsonl").unlink()
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "a.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(InvalidInputError, match="a.txt is not a UTF-8 text file .*the caption of a.mp4"):
        VideoFolder(tmp_path)


def test_buckets():
    with pytest.raises(ConfigError, match="4k\\+1"):
        Bucket(16, 64, 64)
    with pytest.raises(ConfigError, match="multiples of 8"):
        Bucket(17, 60, 64)
    with pytest.raises(ConfigError, match="got 63x64"):  # as --sizes takes it, WIDTHxHEIGHT
        Bucket(17, 64, 63)
    assert nearest_bucket(40, 720, 1280) == Bucket(33, 64, 112)
    assert nearest_bucket(20, 500, 480) == Bucket(17, 64, 64)
    assert nearest_bucket(30, 1920, 1080).width == 64
    with pytest.raises(InvalidInputError, match="shorter"):
        nearest_bucket(10, 64, 64)
    frames = np.zeros((40, 72, 128, 3), np.uint8)
    assert fit_to_bucket(frames, Bucket(33, 64, 112), start=2).shape == (33, 64, 112, 3)


def test_batches_hold_one_shape():
    stream = WorldStream(buckets=DEFAULT_BUCKETS[:3] + DEFAULT_BUCKETS[3:6:2], seed=5)
    batches = list(itertools.islice(batch_by_bucket(stream, 3), 4))
    for batch in batches:
        assert len(batch) == 3 and len({s["frames"].shape for s in batch}) == 1


def test_world_stream_shards_are_disjoint_and_reproducible():
    def keys(shard):
        return [s["key"] for s in itertools.islice(WorldStream(seed=0, shard=shard, num_shards=2), 4)]

    a, b = keys(0), keys(1)
    assert not set(a) & set(b)
    assert keys(0) == a
