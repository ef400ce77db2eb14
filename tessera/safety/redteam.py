"""The red-team harness: a labelled corpus through the policy, block and false-block rates with Wilson
95% intervals per category and per attack family."""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from importlib import resources
from pathlib import Path

from tessera.errors import ConfigError, NotFoundError
from tessera.eval.score import wilson
from tessera.files import read_text
from tessera.safety.policy import Policy
from tessera.safety.rules import CATEGORIES


def shipped_corpus(split: str = "test") -> Path:
    return Path(str(resources.files("tessera.safety").joinpath(f"data/redteam_{split}.jsonl")))


KINDS = ("harmful", "borderline", "creative")


def load_corpus(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path}: no such corpus file")
    rows = []
    text = read_text(path, "a corpus is JSON lines with 'prompt' and 'label'", ConfigError)
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            prompt, label = row["prompt"], row["label"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ConfigError(f"{path}:{n}: each line must be JSON with 'prompt' and 'label' ({e})") from e
        if label != "benign" and label not in CATEGORIES:
            raise ConfigError(f"{path}:{n}: label {label!r} is not 'benign' or one of {', '.join(CATEGORIES)}")
        # A benign prompt with no kind is a creative one: taken as harmful, it was silently left out of every rate.
        kind = row.get("kind", "creative" if label == "benign" else "harmful")
        if kind not in KINDS or (kind == "harmful") == (label == "benign"):
            raise ConfigError(
                f"{path}:{n}: kind {kind!r} does not fit label {label!r}; a harmful prompt is labelled with its "
                "category, a borderline or creative one 'benign'"
            )
        rows.append({"prompt": prompt, "label": label, "kind": kind, "family": row.get("family", "direct")})
    if not rows:
        raise ConfigError(f"{path} holds no prompts; give one JSON object per line with 'prompt' and 'label'")
    return rows


def _rate(flags: list[bool]) -> dict:
    k, n = sum(flags), len(flags)
    return {"n": n, "rate": k / n if n else None, "ci95": list(wilson(k, n))}


def run(rows: list[dict], policy: Policy) -> dict:
    policy.check_many(["a warm-up prompt about a red ball"])  # load the encoder first: speed is steady-state
    t0 = time.perf_counter()
    decisions = policy.check_many([r["prompt"] for r in rows])  # batched, as a server checks a queue
    seconds = time.perf_counter() - t0
    blocked = defaultdict(list)
    for row, d in zip(rows, decisions, strict=True):
        hit = not d.allowed
        if row["kind"] == "harmful":
            if row["label"] not in policy.categories:
                continue  # a category the operator turned off is not measured
            blocked[("harmful", "all")].append(hit)
            blocked[("harmful", row["label"])].append(hit)
            blocked[("family", row["family"])].append(hit)
        else:
            blocked[(row["kind"], "all")].append(hit)
            if row["kind"] == "borderline":
                blocked[("borderline", row["family"])].append(hit)
    report = {
        "prompts": len(rows),
        "prompts_per_second": len(rows) / seconds if seconds else None,
        "block_rate": {k: _rate(v) for (g, k), v in blocked.items() if g == "harmful"},
        "block_rate_by_attack": {k: _rate(v) for (g, k), v in blocked.items() if g == "family"},
        "false_block_borderline": {k: _rate(v) for (g, k), v in blocked.items() if g == "borderline"},
        "false_block_creative": _rate(blocked[("creative", "all")]),
        "misses": [
            r["prompt"]
            for r, d in zip(rows, decisions, strict=True)
            if r["kind"] == "harmful" and d.allowed and r["label"] in policy.categories
        ][:50],
        "false_blocks": [
            (r["prompt"], d.category)
            for r, d in zip(rows, decisions, strict=True)
            if r["kind"] != "harmful" and not d.allowed
        ][:50],
    }
    return report
