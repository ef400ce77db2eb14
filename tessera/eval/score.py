"""Score clips: parse, run every metric, aggregate with confidence intervals."""

from __future__ import annotations

import math

import numpy as np

from tessera.eval.metrics import METRIC_NAMES, METRICS, Expectation, flicker_and_jitter
from tessera.eval.parse import parse_frames
from tessera.world.prompt import parse_prompt


def score_clip(
    frames: np.ndarray, fps: float, prompt: str, record: dict | None = None, start_fixed: bool = False
) -> dict:
    """All metrics for one clip, and ``passed_all`` (the headline: every applicable metric passes)."""
    parsed = parse_frames(frames, fps)
    ex = Expectation(parse_prompt(prompt), record, start_fixed)
    results = [m(parsed, ex) for m in METRICS] + [flicker_and_jitter(parsed, ex, frames)]
    out = {"prompt": prompt, "metrics": {r.name: {"score": r.score, "passed": r.passed, **r.detail} for r in results}}
    out["passed_all"] = all(r.passed for r in results)
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, centre - half), min(1.0, centre + half))


def aggregate(clips: list[dict]) -> dict:
    """Per metric: mean score with a 95% normal interval, pass rate with a Wilson interval."""
    out = {}
    for name in METRIC_NAMES:
        scores = [c["metrics"][name]["score"] for c in clips if c["metrics"][name]["score"] is not None]
        passed = [c["metrics"][name]["passed"] for c in clips if c["metrics"][name]["score"] is not None]
        if not scores:
            out[name] = {"n": 0}
            continue
        mean = float(np.mean(scores))
        half = 1.96 * float(np.std(scores, ddof=1)) / math.sqrt(len(scores)) if len(scores) > 1 else 0.0
        out[name] = {
            "n": len(scores),
            "mean": mean,
            "ci95": [max(0.0, mean - half), min(1.0, mean + half)],
            "pass_rate": float(np.mean(passed)),
            "pass_ci95": list(wilson(sum(passed), len(passed))),
        }
    k = sum(c["passed_all"] for c in clips)
    out["passed_all"] = {"n": len(clips), "pass_rate": k / max(len(clips), 1), "pass_ci95": list(wilson(k, len(clips)))}
    return out
