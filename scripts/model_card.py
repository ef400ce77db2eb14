"""Write MODEL_CARD.md for a trained pipeline from what was measured: the training runs' logs and the
benchmark reports of `tessera eval --model DIR --split S --out docs/eval/model-S`.

    python scripts/model_card.py models/tessera-world-s --runs runs/vae-s runs/dit-s \
        --reports docs/eval/model-in-dist docs/eval/model-ood docs/eval/model-held-out \
        --floor docs/eval/floor-in-dist

The runs' summaries are kept in the model folder (training.json) and each new run is added to them, so a
model trained further on another machine, where the earlier runs' folders are gone, keeps its whole history.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
from pathlib import Path

import numpy as np

from tessera.models.pretrained import read_config
from tessera.world import COLOURS


def run_summary(run: Path) -> dict:
    """Steps, samples seen and compute time of a run, from its log and its last checkpoint's config."""
    rows = list(csv.DictReader(open(run / "log.csv")))
    ckpts = sorted((run / "checkpoints").glob("step-*"))
    train = json.loads((ckpts[-1] / "trainer.json").read_text())["train"] if ckpts else {}
    batch = int(train.get("batch_size", 1))
    seconds, last = 0.0, 0
    for r in rows:
        step, rate = int(r["step"]), float(r["samples_per_s"])
        if rate > 0:
            seconds += (step - last) * batch / rate
        last = step
    out = {
        "steps": last,
        "batch": batch,
        "samples": last * batch,
        "hours": seconds / 3600,
        "frames": train.get("frames"),
        "sizes": train.get("sizes"),
        "lr": train.get("lr"),
    }
    if "psnr" in rows[-1]:
        out["final_train_psnr"] = float(rows[-1]["psnr"])
        extra = train.get("extra") or {}
        out["decoder_only"] = bool(extra.get("decoder_only"))
        out["encoder_only"] = bool(extra.get("encoder_only"))
        # The depth the run's model has (a run from a grown decoder keeps it without setting it again).
        config = run / "model" / "config.json"
        depth = json.loads(config.read_text())["params"].get("decoder_blocks") if config.exists() else None
        if depth:
            out["decoder_blocks"] = int(depth)
    elif (run / "model" / "transformer").is_dir():
        # A transformer grown deeper (`tessera train dit --depth N --init`) is no longer its preset's depth.
        out["blocks"] = int(read_config(run / "model" / "transformer", "dit")["params"]["depth"])
    return out


def record_runs(path: Path, runs: list[Path]) -> list[dict]:
    """The model's training history: what `path` holds, with each of `runs` added (a run seen before is updated).

    A run is known by its folder name and its first logged row: `STAGE=more` reuses the folder name in every
    session, and each of those runs is another step in the history."""
    history = json.loads(path.read_text()) if path.is_file() else []
    for run in runs:
        with open(run / "log.csv") as f:
            first = f.readlines()[1:2]
        summary = {"run": run.name, "id": f"{run.name}:{first[0].strip() if first else ''}", **run_summary(run)}
        summary["stage"] = "autoencoder" if "final_train_psnr" in summary else "transformer"
        history = [h for h in history if h["id"] != summary["id"]] + [summary]
    if not history:
        raise SystemExit(f"no training history in {path}: pass the runs with --runs")
    path.write_text(json.dumps(history, indent=2) + "\n")
    return history


def training_row(r: dict) -> str:
    # Runs recorded before decoder_only was (STAGE=decoder's) are known by their folder's name.
    decoder_only = r.get("decoder_only", "decoder" in r["run"])
    if r["stage"] == "autoencoder":
        notes = (
            ("decoder only (frozen encoder), " if decoder_only else "")
            + ("encoder only (frozen decoder), " if r.get("encoder_only") else "")
            + (f"{r['decoder_blocks']} decoder blocks per level, " if r.get("decoder_blocks") else "")
            + f"final training-batch PSNR {r['final_train_psnr']:.1f} dB"
        )
    else:
        blocks = f"{r['blocks']} blocks, " if r.get("blocks") else ""  # runs recorded before session 27 lack it
        notes = blocks + "tasks t2v/i2v/extend/extend-back/connect, text dropout 0.1"
    return (
        f"| {r['stage']} (`{r['run']}`) | {r['steps']} | {r['batch']} | {r['samples']:,} | {r['hours']:.1f} h "
        f"| frames {r['frames']}, {notes} |"
    )


def adherence(clips: list[dict]) -> dict[str, float]:
    """In-distribution prompt adherence split into colour, shape and motion direction checks."""
    found: dict[str, list[bool]] = {"colour": [], "shape": [], "direction": []}
    for c in clips:
        checks = c["metrics"]["prompt_adherence"].get("checks") or {}
        for name, ok in checks.items():
            kind = "colour" if name == "colours" else "shape" if name.endswith(".shape") else name
            if kind in found:
                found[kind].append(bool(ok))
    return {k: float(np.mean(v)) if v else float("nan") for k, v in found.items()}


def gravity(clips: list[dict]) -> tuple[float, float, int]:
    """(median relative error of fitted gravity, fraction within 15%, clips) on scenes that fall."""
    errs = [
        abs(g["g_fit"] - g["g_world"]) / g["g_world"]
        for c in clips
        if (g := c["metrics"]["gravity"]).get("g_world") and g.get("g_fit") is not None
    ]
    return (
        float(np.median(errs)) if errs else float("nan"),
        float(np.mean([e <= 0.15 for e in errs])) if errs else float("nan"),
        len(errs),
    )


def floor_lines(folders: list[Path]) -> list[str]:
    """The benchmark on the autoencoder's reconstructions of the true clips: no model in its latent space can do
    better, so a model's shortfall splits into the autoencoder's and the transformer's."""
    if not folders:
        return []
    lines = [
        "## The autoencoder's floor (`tessera eval --autoencoder`)",
        "",
        "The same benchmark on the autoencoder's reconstructions of the ground-truth clips: what a perfect",
        "transformer in this latent space would score.",
        "",
        "| split | clips | all metrics pass | prompt adherence | count conservation | identity persistence |",
        "|---|---|---|---|---|---|",
    ]
    for folder in folders:
        agg = json.loads((folder / "report.json").read_text())["aggregate"]
        rate = {k: agg[k].get("pass_rate", float("nan")) for k in agg}
        lines.append(
            f"| {folder.name} | {agg['passed_all']['n']} | {rate['passed_all']:.3f} | {rate['prompt_adherence']:.3f} "
            f"| {rate['count_conservation']:.3f} | {rate['identity_persistence']:.3f} |"
        )
    return [*lines, ""]


def interval_words(config: dict) -> str:
    """Where guidance applies, when pipeline.json limits it to an interval of times (older files: every step)."""
    lo, hi = config.get("guidance_interval", (0.0, 1.0))
    return "" if (lo, hi) == (0.0, 1.0) else f" at times {lo:g} < t <= {hi:g} (conditional alone elsewhere)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--runs", nargs="*", type=Path, default=[], help="training runs to add to the history")
    ap.add_argument("--reports", nargs="+", type=Path, required=True, help="report folders, in-dist first")
    ap.add_argument(
        "--floor", nargs="*", type=Path, default=[], help="reports of `tessera eval --autoencoder` (the floor)"
    )
    ap.add_argument("--note", default="", help="The model's state and history; blank lines part paragraphs")
    ap.add_argument("--hardware", default=f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})")
    args = ap.parse_args()

    config = json.loads((args.model / "pipeline.json").read_text())
    dit = read_config(args.model / config["transformer"], "dit")["params"]
    size_mb = sum(p.stat().st_size for p in args.model.rglob("*") if p.is_file()) / 1e6
    history = record_runs(args.model / "training.json", args.runs)
    reports = [(p.name, json.loads((p / "report.json").read_text())) for p in args.reports]
    ind = reports[0][1]
    agg = ind["aggregate"]
    adh = adherence(ind["clips"])
    g_err, g_ok, g_n = gravity(ind["clips"])
    later = [
        stage
        for stage, prefix in (("more", "dit-s-more"), ("decoder", "vae-s-decoder"), ("vae-more", "vae-s-more"))
        if any(r["run"].startswith(prefix) for r in history)
    ]
    continued = f"; then STAGE={', '.join(later)}" if later else ""
    lines = [
        f"# {args.model.name}",
        "",
        "Tessera's default text-to-video model: a causal 3D VAE (`s`) and a spacetime-patch diffusion transformer",
        f"(`s`, {dit['depth']} blocks of width {dit['dim']}), flow matching, conditioned on the bundled",
        f"all-MiniLM-L6-v2. {size_mb:.0f} MB on disk (fp16).",
        "",
        "## Data",
        "",
        "Tessera's physics world only (pymunk scenes rendered on the fly: balls, squares and triangles in "
        f"{len(COLOURS)}",
        "colours falling, bouncing, rolling, sliding, colliding, drifting and passing behind pillars), captioned",
        "by the world, training split; the held-out combinations and the out-of-distribution split were never",
        f"trained on. Sizes {', '.join(config['sizes'])}, up to {config['max_frames']} frames at 8 fps.",
        "",
        "## Training",
        "",
        "| stage | steps | batch | samples | compute | notes |",
        "|---|---|---|---|---|---|",
        *(training_row(r) for r in history),
        "",
        f"Hardware: {args.hardware}. Recipe: `scripts/train_world_s.sh` (STAGE=vae, dit, export{continued}).",
        "",
        "## Benchmark (`tessera eval --model`)",
        "",
        "| split | clips | all metrics pass (95% CI) |",
        "|---|---|---|",
    ]
    for name, rep in reports:
        a = rep["aggregate"]["passed_all"]
        lines.append(f"| {name} | {a['n']} | {a['pass_rate']:.3f} ({a['pass_ci95'][0]:.3f}–{a['pass_ci95'][1]:.3f}) |")
    lines += [
        "",
        f"In distribution ({reports[0][0]}): prompt adherence colour {adh['colour']:.3f}, shape {adh['shape']:.3f}, "
        f"motion direction {adh['direction']:.3f}; count conservation "
        f"{agg['count_conservation'].get('pass_rate', float('nan')):.3f}, identity persistence "
        f"{agg['identity_persistence'].get('pass_rate', float('nan')):.3f}; "
        + (
            f"fitted gravity on {g_n} falling scene{'s' * (g_n != 1)}: median error {100 * g_err:.1f}%, "
            f"{100 * g_ok:.0f}% of them within 15% of the world's."
            if g_n
            else "no falling scene was tracked well enough to fit gravity."
        ),
        "",
        "Per-metric tables: the `report.md` beside each `report.json`. Sampled as `pipeline.json` sets: "
        f"{config['steps']} {config['sampler']} steps, guidance {config['guidance']:g}{interval_words(config)}, "
        "time shift " + (f"{config['shift']:g}." if config["shift"] else "by token count."),
        "",
        *floor_lines(args.floor),
        *(["## Status", "", args.note, ""] if args.note else []),
        "## Use and limits",
        "",
        "Makes the physics world's scenes only (flat shapes on plain backgrounds); it knows nothing else. Every",
        "output carries Tessera's invisible watermark and, from the CLI and API, a signed C2PA manifest.",
        "",
    ]
    (args.model / "MODEL_CARD.md").write_text("\n".join(lines))
    print(f"wrote {args.model / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
