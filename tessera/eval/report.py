"""Evaluation runs and their reports: JSON, a Markdown summary and plots (matplotlib)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tessera.eval.metrics import METRIC_NAMES  # noqa: E402
from tessera.eval.parse import parse_frames  # noqa: E402
from tessera.eval.score import aggregate, score_clip  # noqa: E402
from tessera.world.palette import COLOURS  # noqa: E402


def evaluate_world_set(
    split: str,
    clips: int,
    seed: int = 0,
    width: int = 64,
    height: int = 64,
    frames: int = 17,
    fps: float = 8.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[list, list]:
    """Score ground-truth renders of a world split (the calibration run); returns (scores, samples)."""
    from tessera.world import sample_clip

    scores, samples = [], []
    for i in range(clips):
        clip = sample_clip(seed + i, split, width, height, frames, fps)
        scores.append(
            {
                "key": f"{split}-{seed + i}",
                **score_clip(clip.frames, clip.fps, clip.caption, clip.record, start_fixed=True),
            }
        )
        samples.append({"frames": clip.frames, "fps": clip.fps, "record": clip.record})
        if progress:
            progress(1)
    return scores, samples


def evaluate_folder(folder: str | os.PathLike, progress: Callable[[int], None] | None = None) -> tuple[list, list]:
    """Score a folder of world-style videos with captions; a ``KEY.json`` world record beside a video is used
    as ground truth for the trajectory, gravity and bounce metrics."""
    from tessera.data import VideoFolder

    folder = Path(folder)
    scores, samples = [], []
    for sample in VideoFolder(folder):
        rec_path = folder / f"{sample['key']}.json"
        record = json.loads(rec_path.read_text()) if rec_path.exists() else None
        if record is not None and "record" in record:  # a shard-style {"caption", "record"} file
            record = record["record"]
        scores.append(
            {
                "key": sample["key"],
                **score_clip(
                    sample["frames"], sample["fps"], sample["caption"], record, start_fixed=record is not None
                ),
            }
        )
        samples.append({"frames": sample["frames"], "fps": sample["fps"], "record": record})
        if progress:
            progress(1)
    return scores, samples


def write_report(out: str | os.PathLike, title: str, scores: list[dict], samples: list[dict]) -> dict:
    """Write ``report.json``, ``report.md``, ``metrics.png`` and ``trajectories.png`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    agg = aggregate(scores)
    (out / "report.json").write_text(
        json.dumps({"title": title, "aggregate": agg, "clips": scores}, indent=1, default=_jsonable)
    )
    _metric_bars(out / "metrics.png", agg, title)
    _trajectories(out / "trajectories.png", samples[:6])
    lines = [
        f"# {title}",
        "",
        f"{len(scores)} clips. Headline (all metrics pass): "
        f"**{agg['passed_all']['pass_rate']:.3f}** (95% CI {agg['passed_all']['pass_ci95'][0]:.3f}–"
        f"{agg['passed_all']['pass_ci95'][1]:.3f}).",
        "",
        "| metric | clips | mean score (95% CI) | pass rate (Wilson 95% CI) |",
        "|---|---|---|---|",
    ]
    for name in METRIC_NAMES:
        a = agg[name]
        if not a["n"]:
            lines.append(f"| {name} | 0 | not applicable | |")
            continue
        lines.append(
            f"| {name} | {a['n']} | {a['mean']:.3f} ({a['ci95'][0]:.3f}–{a['ci95'][1]:.3f}) | "
            f"{a['pass_rate']:.3f} ({a['pass_ci95'][0]:.3f}–{a['pass_ci95'][1]:.3f}) |"
        )
    failed = [s for s in scores if not s["passed_all"]]
    if failed:
        lines += ["", "## Clips that failed a metric", ""]
        for s in failed[:20]:
            bad = [k for k, v in s["metrics"].items() if not v["passed"]]
            lines.append(f"- `{s['key']}` ({', '.join(bad)}): {s['prompt']}")
    lines += ["", "![metrics](metrics.png)", "", "![trajectories](trajectories.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    return agg


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x))


def _metric_bars(path: Path, agg: dict, title: str) -> None:
    names = [n for n in METRIC_NAMES if agg[n]["n"]] + ["passed_all"]
    rates = [agg[n]["pass_rate"] for n in names]
    lo = [r - agg[n]["pass_ci95"][0] for n, r in zip(names, rates, strict=True)]
    hi = [agg[n]["pass_ci95"][1] - r for n, r in zip(names, rates, strict=True)]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.bar(range(len(names)), rates, yerr=[lo, hi], capsize=3, color=["#4c72b0"] * (len(names) - 1) + ["#dd8452"])
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("pass rate (95% Wilson CI)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _trajectories(path: Path, samples: list[dict]) -> None:
    """Parsed centroids (dots) over the simulator's ground truth (lines), height above the floor vs time."""
    fig, axes = plt.subplots(1, max(len(samples), 1), figsize=(2.6 * max(len(samples), 1), 2.6), squeeze=False)
    for ax, sample in zip(axes[0], samples, strict=False):
        parsed = parse_frames(sample["frames"], sample["fps"])
        t = np.arange(len(sample["frames"])) / sample["fps"]
        rec = sample["record"]
        for tr in parsed.tracks.values():
            colour = np.array(COLOURS[tr.colour]) / 255
            ax.plot(t[tr.present], (parsed.height - tr.cy[tr.present]) / parsed.scale, "o", ms=3, color=colour)
            if rec:
                for i, o in enumerate(rec["objects"]):
                    if o["colour"] == tr.colour:
                        ax.plot(t, np.asarray(rec["position"][i])[:, 1], "-", lw=1, color=colour)
        ax.set_title(rec["scene"]["motion"] if rec else "", fontsize=8)
        ax.set_xlabel("s", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_facecolor("#222")
    axes[0][0].set_ylabel("height (m)", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
