"""The acts classifier: MiniLM itself tuned to tell an act of violence, self-harm or hate shown as it happens from
the everyday scene beside it.

The linear classifier (:mod:`tessera.safety.classifier`) reads MiniLM's frozen sentence embedding, which places a
prompt by its topic: "a man hangs from the banister" sits beside banisters, "a bomb explodes in a crowded market"
beside markets. Retrained on such acts it blocked "Darth Vader cooking pasta" as self-harm (docs/safety.md). Here
the encoder learns too, through low-rank adapters (LoRA, rank 16, on every linear map of its six layers; 0.6M
numbers against its 22M), from the training split plus ``data/acts_train.jsonl`` (158 acts; 385 everyday scenes
beside them and 300 of the world's captions). Only its violence and self-harm readings are used (its hate reading
took "a mid-sized white circle" for hate), after the rules and the linear classifier. By default it only lifts the
linear classifier's violence and self-harm blocks that it reads as neither ("a nurse handing a patient their morning
pills"); its own blocks are an operator option (``Policy(acts=True)`` or ``TESSERA_SAFETY_ACTS=1``), as they also
fall on some everyday scenes. Train with ``python -m tessera.safety.acts`` (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import copy
import json
import logging
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tessera.models.precision import autocast_bf16
from tessera.safety.classifier import LABELS, _encoder, augmented, pooled

ACTS = ("violence", "self_harm")
WEIGHTS = "data/acts.safetensors"
RANK = 16
ADAPTED = ("qkv", "out", "up", "down")  # every linear map of a BERT layer


class _Adapted(nn.Module):
    """A frozen linear map plus a trained low-rank update, ``W + b @ a``."""

    def __init__(self, base: nn.Linear, generator: torch.Generator) -> None:
        super().__init__()
        self.base = base
        self.a = nn.Parameter(torch.randn(RANK, base.in_features, generator=generator) / base.in_features**0.5)
        self.b = nn.Parameter(torch.zeros(base.out_features, RANK))  # starts as the encoder it adapts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.a.T) @ self.b.T


def _logits(bert: nn.Module, head: nn.Linear, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # The linear classifier's sentence embedding and temperature: unit vectors span few logits otherwise.
    return head(20 * pooled(bert(ids, mask), mask))


class ActsClassifier:
    def __init__(self, bert: nn.Module, head: nn.Linear) -> None:
        self.bert, self.head = bert, head

    @torch.no_grad()
    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(n, len(LABELS)) class probabilities; sorted by length so batches pad little, under bf16 autocast where
        the CPU has it."""
        out = np.zeros((len(texts), len(LABELS)), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            ids, mask = _encoder().padded_ids([texts[i] for i in batch])
            with autocast_bf16("cpu"):
                logits = _logits(self.bert, self.head, ids, mask)
            out[batch] = F.softmax(logits.float(), -1).numpy()
        return out

    @classmethod
    @cache
    def shipped(cls) -> ActsClassifier:
        """The shipped adapters merged into a copy of the bundled encoder (86 MiB more memory; the pipeline's
        encoder stays as it is)."""
        from safetensors.torch import load

        weights = load(resources.files("tessera.safety").joinpath(WEIGHTS).read_bytes())
        bert = copy.deepcopy(_encoder().model)
        for i, layer in enumerate(bert.layers):
            for name in ADAPTED:
                linear = getattr(layer, name)
                delta = weights[f"layers.{i}.{name}.b"].float() @ weights[f"layers.{i}.{name}.a"].float()
                linear.weight.data += delta
        head = nn.Linear(bert.layers[0].qkv.in_features, len(LABELS))
        head.load_state_dict({"weight": weights["head.weight"].float(), "bias": weights["head.bias"].float()})
        return cls(bert.eval(), head.eval())


def train(rows: list[dict], epochs: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """Adapters and head fitted on labelled rows ({"prompt", "label"}), classes balanced by weighting."""
    torch.manual_seed(seed)  # the head's initial weights
    generator = torch.Generator().manual_seed(seed)
    bert = copy.deepcopy(_encoder().model).requires_grad_(False)
    for layer in bert.layers:
        for name in ADAPTED:
            setattr(layer, name, _Adapted(getattr(layer, name), generator))
    head = nn.Linear(bert.layers[0].qkv.base.in_features, len(LABELS))
    y = torch.tensor([LABELS.index(r["label"]) for r in rows])
    counts = torch.bincount(y, minlength=len(LABELS)).float()
    class_weight = counts.sum() / (len(LABELS) * counts.clamp(min=1))
    adapters = [p for p in bert.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": adapters, "lr": 1e-3}, {"params": head.parameters(), "lr": 3e-3}], weight_decay=0.01
    )
    for _ in range(epochs):
        order = torch.randperm(len(rows), generator=generator).tolist()
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            ids, mask = _encoder().padded_ids([rows[i]["prompt"] for i in batch])
            loss = F.cross_entropy(_logits(bert, head, ids, mask), y[batch], weight=class_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
    weights = {f"head.{k}": v.detach() for k, v in head.state_dict().items()}
    for i, layer in enumerate(bert.layers):
        for name in ADAPTED:
            adapted = getattr(layer, name)
            weights[f"layers.{i}.{name}.a"], weights[f"layers.{i}.{name}.b"] = adapted.a.detach(), adapted.b.detach()
    return weights


def main() -> None:
    from safetensors.torch import save_file

    from tessera.files import atomic_path

    folder = Path(__file__).parent / "data"
    rows = []
    for name in ("redteam_train.jsonl", "acts_train.jsonl"):
        rows += [json.loads(line) for line in (folder / name).read_text(encoding="utf-8").splitlines()]
    weights = train(augmented(rows))
    with atomic_path(folder / "acts.safetensors") as tmp:
        save_file({k: v.to(torch.float16).contiguous() for k, v in weights.items()}, str(tmp))
    logging.getLogger("tessera.safety").warning("trained the acts classifier on %d prompts", len(rows))


if __name__ == "__main__":
    main()
