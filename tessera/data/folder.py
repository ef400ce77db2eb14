"""A user's folder of videos with captions: ``captions.jsonl`` lines ``{"file": ..., "caption": ...}``, or a
``.txt`` file beside each video holding its caption."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from tessera.errors import InvalidInputError, MediaError, NotFoundError
from tessera.files import read_text
from tessera.media.io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, read_video

log = logging.getLogger(__name__)


class VideoFolder:
    """Index a folder of captioned videos; iterating decodes them one by one into samples.

    ``captioned=False`` takes every video, its caption "" where it has none (an autoencoder learns from the
    frames alone); ``cover`` = (width, height) shrinks frames as they decode to what covers that size (see
    ``read_video``), as a trainer that fits them to its buckets needs no more.
    """

    def __init__(self, root: str | os.PathLike, captioned: bool = True, cover: tuple[int, int] | None = None) -> None:
        self.root, self.captioned, self.cover = Path(root), captioned, cover
        if self.root.is_file():  # one video: it needs a caption, which only a folder can hold
            raise InvalidInputError(
                f"{self.root} is a file; put it in a folder with its caption (NAME.txt beside it) and give the folder"
            )
        if not self.root.is_dir():
            raise NotFoundError(f"{self.root}: no such folder; give a folder of videos with captions")
        self.items = self._index()
        if not self.items and not self.captioned:
            raise InvalidInputError(f"{self.root}: found no videos or images ({', '.join(VIDEO_SUFFIXES)} ...)")
        if not self.items:
            raise InvalidInputError(
                f"{self.root}: found no captioned videos; add captions.jsonl (lines like "
                '{"file": "a.mp4", "caption": "..."}) or a .txt file beside each video'
            )

    def _index(self) -> list[tuple[Path, str]]:
        jsonl = self.root / "captions.jsonl"
        items = self._listed(jsonl) if jsonl.exists() else []
        listed = {path for path, _ in items}
        suffixes = VIDEO_SUFFIXES + IMAGE_SUFFIXES
        for path in sorted(p for p in self.root.iterdir() if p.suffix.lower() in suffixes and p not in listed):
            txt = path.with_suffix(".txt")
            caption = read_text(txt, f"it holds the caption of {path.name}").strip() if txt.exists() else None
            items.append((path, caption))
        if not self.captioned:
            return [(path, caption or "") for path, caption in items]
        missing = [path.name for path, caption in items if caption is None]
        if missing and len(missing) < len(items):  # training on fewer clips than were given is not left unsaid
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            log.warning(
                "%s: %d of %d videos have no caption and are left out: %s", self.root, len(missing), len(items), shown
            )
        return [(path, caption) for path, caption in items if caption is not None]

    def _listed(self, jsonl: Path) -> list[tuple[Path, str]]:
        """The videos ``captions.jsonl`` lists, with their captions."""
        items = []
        text = read_text(jsonl, 'each line is JSON like {"file": "a.mp4", "caption": "..."}')
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                path, caption = self.root / entry["file"], str(entry["caption"])
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise InvalidInputError(
                    f"{jsonl}:{n}: each line must be a JSON object with 'file' and 'caption' ({e})"
                ) from e
            if not path.is_file():
                raise NotFoundError(f"{jsonl}:{n}: {entry['file']} does not exist in {self.root}")
            items.append((path, caption))
        return items

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[dict]:
        """Decoded samples; a video that cannot be read (corrupt, truncated, past the media limits) is left out
        with a warning naming it and why, as one bad file in a thousand should not stop a training run. None
        readable at all is an error."""
        read = 0
        for path, caption in self.items:
            try:
                video = read_video(path, cover=self.cover)
            except MediaError as e:
                log.warning("left out %s, which could not be read: %s", path.name, e)
                continue
            read += 1
            yield {"key": path.stem, "frames": video.frames, "fps": video.fps, "caption": caption, "record": None}
        if not read:
            raise MediaError(f"{self.root}: none of its {len(self.items)} videos could be read (see the warnings)")


def write_folder(out: str | os.PathLike, samples: Iterable[dict]) -> list[Path]:
    """Write samples (``key``, ``caption``, ``mp4`` bytes, optional ``record``) as a folder that
    :class:`VideoFolder` and ``tessera eval --videos`` read: KEY.mp4, KEY.json and captions.jsonl."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths, lines = [], []
    for sample in samples:
        path = out / f"{sample['key']}.mp4"
        path.write_bytes(sample["mp4"])
        meta = {"caption": sample["caption"], "fps": sample.get("fps"), "record": sample.get("record")}
        (out / f"{sample['key']}.json").write_text(json.dumps(meta))
        lines.append(json.dumps({"file": path.name, "caption": sample["caption"]}))
        paths.append(path)
    (out / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return paths
