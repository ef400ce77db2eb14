"""The transformer's latent cache: each clip of a finite data set is encoded once, and kept on disk too, so
a resumed run (a new session, a crash) does not spend its first epoch encoding again.

On disk: ``part-R-N.safetensors`` files in the run's ``latents/`` folder, each holding the latents that rank
``R`` encoded since its previous part, named by the clip's key, with the clips' captions in its metadata (so
a cached clip need not be rendered again only to read its caption). Every part records a tag (the autoencoder's
weights hash, the data and seed): a part made for another autoencoder or data set is ignored, never used.
Parts are written atomically, so a run killed mid-write loses only the entries not yet written.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

log = logging.getLogger("tessera.train")


class LatentCache:
    """``get(key)`` / ``put(key, z)`` in memory; with ``folder``, new entries are written every ``flush_every``."""

    def __init__(self, folder: str | os.PathLike | None, tag: str, rank: int = 0, flush_every: int = 1024) -> None:
        self.folder, self.tag, self.rank, self.flush_every = folder and Path(folder), tag, rank, flush_every
        self.entries: dict[str, torch.Tensor] = {}
        self.captions: dict[str, str] = {}
        self.pending: list[str] = []
        if self.folder is not None and self.folder.is_dir():
            self._load()

    def _load(self) -> None:
        skipped = 0
        for path in sorted(self.folder.glob("part-*.safetensors")):
            with safe_open(path, "pt") as f:
                metadata = f.metadata() or {}
                if metadata.get("tag") != self.tag:
                    skipped += 1
                    continue
                self.captions.update(json.loads(metadata.get("captions", "{}")))
                for name in f.keys():
                    self.entries[name] = f.get_tensor(name)
        if self.entries or skipped:
            log.info(f"latent cache: {len(self.entries)} latents from {self.folder}; {skipped} stale part(s) ignored")

    @staticmethod
    def name(key) -> str:
        return repr(key)

    def get(self, key) -> torch.Tensor | None:
        return self.entries.get(self.name(key))

    def caption(self, key) -> str | None:
        """The caption of a cached clip (None: not cached, or cached by a version that kept no captions)."""
        return self.captions.get(self.name(key))

    def put(self, key, z: torch.Tensor, caption: str | None = None) -> None:
        name = self.name(key)
        if name not in self.entries:
            self.entries[name] = z.detach().cpu().contiguous()
            self.pending.append(name)
            if caption is not None:
                self.captions[name] = caption
        if self.folder is not None and len(self.pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if self.folder is None or not self.pending:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(list(self.folder.glob(f"part-{self.rank}-*.safetensors")))
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-", suffix=".tmp")
        os.close(fd)
        captions = json.dumps({n: self.captions[n] for n in self.pending if n in self.captions})
        save_file({n: self.entries[n] for n in self.pending}, tmp, metadata={"tag": self.tag, "captions": captions})
        os.replace(tmp, self.folder / f"part-{self.rank}-{number:05d}.safetensors")
        self.pending = []

    def __len__(self) -> int:
        return len(self.entries)
