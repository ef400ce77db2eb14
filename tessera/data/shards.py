"""WebDataset-style tar shards: each clip is ``KEY.mp4`` + ``KEY.json`` (caption and ground truth).

The layout is the one the ``webdataset`` library reads, so shards made here work there too; reading and
writing them needs only the standard library's tarfile, so no extra dependency is pulled in for it.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tessera.errors import ConfigError, InvalidInputError, MediaError, NotFoundError
from tessera.media.io import decode_video, write_mp4


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible shards
    tar.addfile(info, io.BytesIO(data))


def _encode_mp4(frames, fps: float) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        # Full colour resolution: 4:2:0 would blur the colour of objects a few pixels wide.
        path = write_mp4(Path(d) / "clip.mp4", frames, fps, pix_fmt="yuv444p")
        return path.read_bytes()


def write_shards(
    out: str | os.PathLike, samples: Iterable[dict], clips_per_shard: int = 1000, prefix: str = "shard"
) -> list[Path]:
    """Write samples (``key``, ``frames``, ``fps``, ``caption``, ``record``) into numbered tar shards."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    tar = None
    count = 0
    try:
        for sample in samples:
            if count % clips_per_shard == 0:
                if tar is not None:
                    tar.close()
                paths.append(out / f"{prefix}-{len(paths):06d}.tar")
                tar = tarfile.open(paths[-1], "w")
            meta = {"caption": sample["caption"], "fps": sample["fps"], "record": sample.get("record")}
            _add(tar, f"{sample['key']}.mp4", sample.get("mp4") or _encode_mp4(sample["frames"], sample["fps"]))
            _add(tar, f"{sample['key']}.json", json.dumps(meta, separators=(",", ":")).encode())
            count += 1
    finally:
        if tar is not None:
            tar.close()
    return paths


class ShardReader:
    """Iterate the samples of one or more shards (a folder, a glob of paths, or a list); ``cover`` as for
    ``read_video`` (frames decoded no larger than covers that size)."""

    def __init__(
        self, source: str | os.PathLike | list, decode: bool = True, cover: tuple[int, int] | None = None
    ) -> None:
        if isinstance(source, list | tuple):
            self.paths = [Path(p) for p in source]
        else:
            source = Path(source)
            self.paths = sorted(source.glob("*.tar")) if source.is_dir() else [source]
        missing = [p for p in self.paths if not p.is_file()]
        if not self.paths or missing:
            raise NotFoundError(
                f"no shards found at {source if not missing else missing[0]}; run "
                "`tessera world make-dataset --out DIR` first"
            )
        self.decode, self.cover = decode, cover

    def __iter__(self) -> Iterator[dict]:
        for path in self.paths:
            yield from self._read(path)

    def _read(self, path: Path) -> Iterator[dict]:
        try:
            with tarfile.open(path, "r") as tar:
                group: dict[str, dict] = {}
                for member in tar:
                    if not member.isfile():
                        continue
                    key, _, ext = member.name.rpartition(".")
                    group.setdefault(key, {})[ext] = tar.extractfile(member).read()
                    if "mp4" in group[key] and "json" in group[key]:
                        yield self._sample(path, key, group.pop(key))
        except tarfile.TarError as e:
            raise MediaError(f"{path}: not a readable tar shard ({e}); re-create it") from e

    def _sample(self, path: Path, key: str, parts: dict) -> dict:
        meta = json.loads(parts["json"])
        sample = {
            "key": key,
            "caption": meta["caption"],
            "fps": meta["fps"],
            "record": meta.get("record"),
            "mp4": parts["mp4"],
        }
        if self.decode:
            sample["frames"] = decode_video(parts["mp4"], f"{path}:{key}.mp4", cover=self.cover).frames
        return sample


# ------------------------------------------------------------------------------- world dataset maker


def _world_sample(args: tuple) -> dict:
    from tessera.world import sample_clip  # imported in the worker process

    index, seed, split, width, height, frames, fps = args
    clip = sample_clip(seed + index, split, width, height, frames, fps)
    return {
        "key": f"{split}-{seed + index:09d}",
        "caption": clip.caption,
        "fps": clip.fps,
        "record": clip.record,
        "mp4": _encode_mp4(clip.frames, clip.fps),
    }


class _Inline:
    """The executor interface, run in this process (workers=1 needs no pool)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def map(self, fn, items, chunksize: int = 1):
        return map(fn, items)


def check_world_dataset(
    out: str | os.PathLike,
    width: int,
    height: int,
    frames: int,
    fps: float,
    split: str,
    seed: int = 0,
    layout: str = "shards",
) -> None:
    """Refuse what :func:`make_world_dataset` cannot write, before any clip renders (or a progress bar shows)."""
    from tessera.world import sample_scene

    if layout not in ("shards", "folder"):
        raise ConfigError(f"layout must be 'shards' or 'folder', got {layout!r}")
    sample_scene(seed, split, width, height, frames, fps)  # bad parameters fail here, before any worker starts
    # Into a folder that holds files, new shards would overwrite some and sit beside others (a reader takes every
    # *.tar), and a folder layout would replace its captions.jsonl: refuse, so nothing stored there is lost.
    if Path(out).is_dir() and any(Path(out).iterdir()):
        raise InvalidInputError(f"{out} already holds files; give a new or empty folder (or remove it first)")


def make_world_dataset(
    out: str | os.PathLike,
    clips: int,
    width: int = 64,
    height: int = 64,
    frames: int = 17,
    fps: float = 8.0,
    split: str = "train",
    seed: int = 0,
    clips_per_shard: int = 1000,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    layout: str = "shards",
) -> list[Path]:
    """Render ``clips`` world clips under ``out`` — tar shards, or (``layout="folder"``) one MP4 + JSON record
    per clip with ``captions.jsonl`` — and write ``dataset.json`` describing them."""
    from tessera.data.folder import write_folder

    check_world_dataset(out, width, height, frames, fps, split, seed, layout)
    jobs = [(i, seed, split, width, height, frames, fps) for i in range(clips)]

    def produced() -> Iterator[dict]:
        with ProcessPoolExecutor(workers) if workers > 1 else _Inline() as pool:
            for sample in pool.map(_world_sample, jobs, chunksize=16):
                if progress:
                    progress(1)
                yield sample

    paths = write_shards(out, produced(), clips_per_shard) if layout == "shards" else write_folder(out, produced())
    manifest = {
        "clips": clips,
        "size": f"{width}x{height}",
        "frames": frames,
        "fps": fps,
        "split": split,
        "seed": seed,
        "layout": layout,
        "files": [p.name for p in paths],
    }
    (Path(out) / "dataset.json").write_text(json.dumps(manifest, indent=2))
    return paths
