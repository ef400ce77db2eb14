"""Ship a distilled few-step student beside the default model: ``models/tessera-world-s-<N>step``.

    python scripts/ship_student.py runs/distill-s [--teacher models/tessera-world-s]
        [--comparison docs/quality-vs-steps.json]

Only the student's transformer is written (fp16 on disk, loaded back as fp32); its pipeline.json points at the
teacher's autoencoder, which distillation never changes, so the two folders together stay under the size limit
and can never disagree about the latent space. The model card records the run and, where the comparison file
of ``bench/quality_vs_steps.py`` measured this student, its side-by-side numbers.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from model_card import run_summary

from tessera.models.autoencoder import Autoencoder
from tessera.models.dit import DiT
from tessera.models.pretrained import WEIGHTS_NAME, file_sha256
from tessera.train.loop import checkpoint_dirs


def training_section(folder: Path) -> list[str]:
    """The "## Training" section of a shipped model's card (its lines, heading excluded); [] if there is none."""
    card = folder / "MODEL_CARD.md"
    lines = card.read_text().splitlines() if card.is_file() else []
    if "## Training" not in lines:
        return []
    body = lines[lines.index("## Training") + 1 :]
    end = next((i for i, line in enumerate(body) if line.startswith("## ")), len(body))
    return [line for line in body[:end] if line.strip()]


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].float(), sb[k].float()) for k in sa)


def comparison_lines(path: Path, student_sha: str, teacher_sha: str, teacher_steps: int) -> list[str]:
    """The student's row of `path` and the teacher's at its default steps, both matched on the weights measured:
    numbers of an earlier student, or of a teacher that STAGE=more has since replaced, are not shown."""
    rows = json.loads(path.read_text()) if path.is_file() else []
    # (model, weights, steps) picks a row; clips and split must agree so both rows scored the same captions.
    found = {(r["model"], r.get("weights_sha256"), r["steps"]): r for r in rows}
    student = next((r for (m, sha, _), r in found.items() if m == "student" and sha == student_sha), None)
    full = found.get(("full", teacher_sha, teacher_steps))
    command = f"python bench/quality_vs_steps.py --student <this folder> --steps {teacher_steps}"
    if not (
        student
        and full
        and student.get("clips")
        and (student["clips"], student["split"]) == (full.get("clips"), full.get("split"))
    ):
        return [f"Not yet measured on these weights: run `{command}`.", ""]
    lines = [
        f"`{command}` ({path}): {student['clips']} {student['split']} clips, the same captions and seeds for both; "
        "the fraction of clips that pass each metric:",
        "",
        "| model | steps | sampler | guidance | all metrics pass | "
        + " | ".join(student["pass_rates"])
        + " | s per clip |",
        "|---|---|---|---|---|" + "---|" * len(student["pass_rates"]) + "---|",
    ]
    for name, r in (("this student", student), ("the default model", full)):
        rates = " | ".join(f"{r['pass_rates'].get(m, float('nan')):.3f}" for m in student["pass_rates"])
        # Rows from before the bench recorded the sampler were all Euler's.
        lines.append(
            f"| {name} | {r['steps']} | {r.get('sampler', 'euler')} | {r['guidance']:g} | {r['pass_all']:.3f} "
            f"| {rates} | {r['seconds_per_clip']:.2f} |"
        )
    return [*lines, ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a `tessera train distill` run folder (with model/)")
    ap.add_argument("--teacher", type=Path, default=Path("models/tessera-world-s"))
    ap.add_argument("--comparison", type=Path, default=Path("docs/quality-vs-steps.json"))
    args = ap.parse_args()
    src = args.run / "model"
    if not (src / "pipeline.json").is_file():
        raise SystemExit(f"{src}: no finished student here; finish `STAGE=distill scripts/train_world_s.sh` first")
    config = json.loads((src / "pipeline.json").read_text())
    teacher_config = json.loads((args.teacher / "pipeline.json").read_text())
    teacher_ae = args.teacher / teacher_config["autoencoder"]
    student_ae = Autoencoder.from_pretrained(src / config["autoencoder"])
    if not same_weights(student_ae, Autoencoder.from_pretrained(teacher_ae)):
        raise SystemExit(
            f"{src}'s autoencoder differs from {teacher_ae}: the student was distilled from another model; distil it "
            f"again from {args.teacher} (STAGE=distill in a fresh runs/distill-s)"
        )
    out = args.teacher.parent / f"{args.teacher.name}-{config['steps']}step"
    extra = json.loads((checkpoint_dirs(args.run)[-1] / "trainer.json").read_text())["train"]["extra"]
    # A student started from an earlier one (STUDENT_INIT): that one's training is part of this one's history,
    # read before `out` (often the same folder) is overwritten. Shipping the same run again (after the bench,
    # for the comparison) finds this run's own card there: its quoted history is the earlier student's.
    run_id = f"<!-- run {args.run.name}: {(args.run / 'log.csv').read_text().splitlines()[1]} -->"
    earlier, init_env = [], f"STUDENT_INIT={extra['init']} " if extra.get("init") else ""
    if extra.get("init"):
        section = training_section(Path(extra["init"]))
        quoted = [line for line in section if line.startswith("> ")] if run_id in section else []
        earlier = [
            "",
            f"It started from the transformer of `{extra['init']}`, an earlier student, not from the teacher's. "
            "That student's training, from its card:",
            "",
            *(quoted or [f"> {line}" for line in section]),
        ]
    DiT.from_pretrained(src / config["transformer"]).to(torch.float16).save_pretrained(out / "transformer")
    config["autoencoder"] = os.path.relpath(teacher_ae, out)  # shared, not copied
    (out / "pipeline.json").write_text(json.dumps(config, indent=2) + "\n")

    teacher_sha = file_sha256(args.teacher / teacher_config["transformer"] / WEIGHTS_NAME)
    evaluations = teacher_config["steps"] * (2 if teacher_config["guidance"] != 1 else 1)
    run = run_summary(args.run)
    lines = [
        f"# {out.name}",
        "",
        f"The few-step student of `{args.teacher.name}`: the same transformer (`s`), distilled to sample in "
        f"{config['steps']} steps",
        f"without classifier-free guidance (one transformer pass per step instead of two), with the "
        f"{config['sampler']} sampler. It shares the default "
        f"model's autoencoder (`{config['autoencoder']}`) and text encoder. Use it with `--model {out}`.",
        "",
        "## Training",
        "",
        f"Distilled from the teacher sampling {extra['teacher_steps']} steps at its guidance: the student's "
        f"{config['steps']} Euler steps are each trained to land where the teacher's own steps over the same "
        "interval land, on the physics world's "
        "clips with the conditioning tasks (weights t2v/i2v/extend/extend-back/connect "
        f"{extra['task_weights']}). {run['steps']} steps of batch {run['batch']} ({run['samples']:,} samples), "
        f"{run['hours']:.1f} h on {os.cpu_count()} CPU cores, frames {run['frames']}, sizes {run['sizes']}.",
        f"Recipe: `{init_env}STUDENT_STEPS={config['steps']} STAGE=distill scripts/train_world_s.sh`, then "
        "`STAGE=student`.",
        # A later STAGE=more replaces the teacher's transformer; this says which one the student learned from.
        f"Teacher transformer at shipping: sha256 `{teacher_sha[:16]}`.",
        run_id,
        *earlier,
        "",
        "## Benchmark, side by side with the default model",
        "",
        *comparison_lines(
            args.comparison, file_sha256(out / "transformer" / WEIGHTS_NAME), teacher_sha, teacher_config["steps"]
        ),
        "## Use and limits",
        "",
        f"Everything the default model does (every task, size and duration), in {config['steps']} transformer "
        f"evaluations per clip instead of {evaluations} (the default's {teacher_config['steps']} steps"
        f"{', each with and without the text' if teacher_config['guidance'] != 1 else ''}); the same limits: it makes",
        "the physics world's scenes only.",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines))
    print(f"shipped {out} ({sum(p.stat().st_size for p in out.rglob('*') if p.is_file()) / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
