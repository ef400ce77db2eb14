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
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from tessera.files import atomic_path

log = logging.getLogger("tessera.train")


class LatentCache:
    """``get(key)`` / ``put(key, z)`` in memory; with ``folder``, new entries are written every ``flush_every``,
    or once the oldest unwritten one is ``flush_seconds`` old: a refined latent costs seconds (``--set refine=5``:
    800 to 1100 an hour on 2 cores), so a count alone could leave an hour's work unwritten when a run stops."""

    def __init__(
        self,
        folder: str | os.PathLike | None,
        tag: str,
        rank: int = 0,
        flush_every: int = 1024,
        flush_seconds: float = 300.0,
    ) -> None:
        self.folder, self.tag, self.rank = folder and Path(folder), tag, rank
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.entries: dict[str, torch.Tensor] = {}
        self.captions: dict[str, str] = {}
        self.pending: list[str] = []
        self.pending_since = 0.0
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
            if not self.pending:
                self.pending_since = time.monotonic()
            self.entries[name] = z.detach().cpu().contiguous()
            self.pending.append(name)
            if caption is not None:
                self.captions[name] = caption
        due = len(self.pending) >= self.flush_every or time.monotonic() - self.pending_since >= self.flush_seconds
        if self.folder is not None and self.pending and due:
            self.flush()

    def flush(self) -> None:
        if self.folder is None or not self.pending:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(list(self.folder.glob(f"part-{self.rank}-*.safetensors")))
        captions = json.dumps({n: self.captions[n] for n in self.pending if n in self.captions})
        with atomic_path(self.folder / f"part-{self.rank}-{number:05d}.safetensors") as tmp:
            save_file({n: self.entries[n] for n in self.pending}, tmp, metadata={"tag": self.tag, "captions": captions})
        self.pending = []

    def __len__(self) -> int:
        return len(self.entries)
