"""The learned layer: multinomial logistic regression on the bundled MiniLM's sentence embeddings.

Rules catch explicit terms; this catches paraphrase ("a body taken apart piece by piece"). Trained by
Tessera on the training split of its own corpus (``python -m tessera.safety.classifier``); the weights
(a 384 x 10 matrix) ship in ``data/classifier.safetensors``. Sentence embeddings are MiniLM's mean-pooled,
L2-normalised token states — how all-MiniLM-L6-v2 was trained to be used.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from tessera.models.precision import autocast_bf16
from tessera.safety.rules import CATEGORIES

LABELS = ("benign", *CATEGORIES)
WEIGHTS = "data/classifier.safetensors"


@cache
def _encoder():
    from tessera.models.text import TextEncoder, TextEncoderParams

    return TextEncoder(TextEncoderParams(max_tokens=64, cache_size=20_000))


@cache
def vocabulary() -> frozenset[str]:
    """Whole words of the encoder's vocabulary: a cheap test of whether a reading is language at all."""
    return frozenset(w for w in _encoder().vocabulary() if w.isalpha())


def embed(texts: list[str]) -> np.ndarray:
    """(n, 384) L2-normalised sentence embeddings.

    Speed without changing the answer: texts are batched by token length (padding was half the work), and the
    encoder runs under bf16 autocast where the CPU has native bf16 (twice the matmul speed); the pooled
    embedding moves by ~1e-2 in cosine, far inside the classifier's margins (the red-team results are the same;
    docs/safety.md).
    """
    if not texts:
        return np.zeros((0, 384), np.float32)
    encoder = _encoder()
    lengths = [len(ids) for ids in encoder.token_ids(texts)]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out = np.zeros((len(texts), 384), np.float32)
    for i in range(0, len(order), 128):
        batch = order[i : i + 128]
        with autocast_bf16("cpu"):
            states, mask = encoder([texts[j] for j in batch])
        out[batch] = pooled(states, mask).numpy()
    return out


def pooled(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The sentence embedding: token states (B, L, D) mean-pooled over the mask, L2-normalised (B, D) float32."""
    weights = mask.unsqueeze(-1).float()
    mean = (states.float() * weights).sum(1) / weights.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(mean, dim=-1)


class Classifier:
    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        self.weight, self.bias = weight, bias

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(n, len(LABELS)) class probabilities."""
        logits = embed(texts) @ self.weight + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    @classmethod
    @cache
    def shipped(cls) -> Classifier:
        from safetensors.numpy import load

        data = load(resources.files("tessera.safety").joinpath(WEIGHTS).read_bytes())
        return cls(data["weight"], data["bias"])


def train(rows: list[dict], epochs: int = 400, l2: float = 1e-3, seed: int = 0) -> Classifier:
    """Fit on labelled rows ({"prompt", "label"}), classes balanced by weighting."""
    torch.manual_seed(seed)
    x = torch.from_numpy(embed([r["prompt"] for r in rows]))
    y = torch.tensor([LABELS.index(r["label"]) for r in rows])
    counts = torch.bincount(y, minlength=len(LABELS)).float()
    class_weight = counts.sum() / (len(LABELS) * counts.clamp(min=1))
    w = torch.zeros(x.shape[1], len(LABELS), requires_grad=True)
    b = torch.zeros(len(LABELS), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=epochs, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        # A temperature of 1/20: cosine-normalised embeddings span a small range of logits otherwise.
        loss = torch.nn.functional.cross_entropy(20 * x @ w + b, y, weight=class_weight) + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return Classifier((20 * w).detach().numpy(), b.detach().numpy())


def augmented(rows: list[dict]) -> list[dict]:
    """Training rows plus framed and multi-scene copies of the harmful ones (from training prompts only), so
    the classifier learns that a harmful scene stays harmful inside a story or a sequence of scenes."""
    from tessera.safety.corpus import ROLEPLAY

    extra = []
    for i, r in enumerate(rows):
        if r["kind"] == "harmful":
            extra.append({**r, "prompt": ROLEPLAY[i % len(ROLEPLAY)].format(p=r["prompt"])})
            extra.append({**r, "prompt": f"Scene 1: a calm city street. Scene 2: {r['prompt']}."})
    return rows + extra


def main() -> None:
    from safetensors.numpy import save_file

    from tessera.files import atomic_path

    folder = Path(__file__).parent / "data"
    rows = [json.loads(line) for line in (folder / "redteam_train.jsonl").read_text(encoding="utf-8").splitlines()]
    clf = train(augmented(rows))
    with atomic_path(folder / "classifier.safetensors") as tmp:
        save_file(
            {"weight": clf.weight.astype(np.float32), "bias": clf.bias.astype(np.float32)},
            str(tmp),
            metadata={"labels": ",".join(LABELS)},
        )
    logging.getLogger("tessera.safety").warning("trained on %d prompts", len(rows))


if __name__ == "__main__":
    main()
