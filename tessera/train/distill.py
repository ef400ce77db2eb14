"""Few-step distillation: a student transformer that samples in ``student_steps`` Euler steps without
classifier-free guidance, trained to land where the guided teacher lands.

The student's schedule is every k-th point of the teacher's (k = teacher_steps / student_steps, same shift), so
over each student step [t, s] the teacher takes exactly its own k guided Euler steps. A training sample picks
one student step, noises a clip's latent to t, lets the teacher integrate from t to s (no gradients), and asks
the student's single step to match: ``x_t + (s - t) v_student(x_t, t) = teacher(x_t, t -> s)``. Guidance is
baked in, so the student makes one model call per step instead of the teacher's two: 24 guided steps become 4
plain ones, 12x fewer transformer calls. The student starts from the teacher's weights (or, with ``init``, from
another pipeline's, e.g. an earlier student's; after one STAGE=more that did not beat a fresh start, see
docs/performance.md) and learns every conditioning task the teacher knows (given frames stay pinned, and out of
the loss).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import torch
from torch import nn

from tessera.diffusion import get_schedule, guided, shift_for
from tessera.errors import ConfigError
from tessera.files import atomic_write_text
from tessera.models.dit import DiT
from tessera.models.pretrained import WEIGHTS_NAME, params_to_dict
from tessera.train.data import Batch, make_source
from tessera.train.dit import DEFAULTS as DIT_DEFAULTS
from tessera.train.dit import (
    PIPELINE_CONFIG,
    TASKS,
    DiTObjective,
    condition_mask,
    init_transformer,
    model_params,
    open_cache,
)
from tessera.train.loop import TrainConfig, Trainer

DEFAULTS = {
    "teacher": None,  # a pipeline folder (required)
    "student_steps": 4,
    "teacher_steps": 24,  # must be a multiple of student_steps
    "guidance": None,  # the teacher's guidance scale; None = its pipeline's
    "init": None,  # a pipeline folder whose transformer starts the student; None = the teacher's
    "task_weights": DIT_DEFAULTS["task_weights"],
    "pool": 0,
    "cache_latents": True,
}


class DistillObjective:
    def __init__(self, teacher, extra: dict, seed: int, cache=None) -> None:
        self.teacher = teacher.transformer.eval().requires_grad_(False)
        self.text = teacher.text_encoder
        self.student_steps, self.teacher_steps = int(extra["student_steps"]), int(extra["teacher_steps"])
        if self.student_steps < 1 or self.teacher_steps % self.student_steps:
            raise ConfigError(
                f"teacher_steps ({self.teacher_steps}) must be a positive multiple of student_steps "
                f"({self.student_steps})"
            )
        self.guidance = float(extra["guidance"] if extra["guidance"] is not None else teacher.config.guidance)
        self.seed, self.shift = seed, float(teacher.config.shift)
        # Latents (and their cache) exactly as transformer training makes them.
        self.data = DiTObjective(
            teacher.autoencoder, self.text, {**DIT_DEFAULTS, **extra, "text_dropout": 0.0}, seed, cache
        )

    @torch.no_grad()
    def _teacher(self, x, times, ctx, cond, cond_mask) -> torch.Tensor:
        """Guided Euler from times[0] to times[-1] (per-sample schedules of equal length), frames pinned."""
        cond2, mask2 = torch.cat([cond, cond]), torch.cat([cond_mask, cond_mask])
        fn = guided(lambda xt, t: self.teacher(xt, t, cond=cond2, cond_mask=mask2, context=ctx).float(), self.guidance)
        pin = cond_mask[:, None, :, None, None]
        for j in range(times.shape[1] - 1):
            t, s = times[:, j], times[:, j + 1]
            x = x + (s - t).view(-1, 1, 1, 1, 1) * fn(x, t)
            x = torch.where(pin, cond, x)
        return x

    def known(self, key) -> str | None:
        return self.data.known(key)

    def __call__(self, model: nn.Module, batch: Batch, step: int):
        z = self.data.latents(batch)
        b, _, frames = z.shape[:3]
        tokens = z[0, 0].numel() // math.prod(model_params(model).patch)
        # The pipeline's own schedule rule, so the student samples on exactly the grid it was trained on.
        schedule = get_schedule(self.teacher_steps, self.shift or shift_for(tokens)).to(z.device)
        k = self.teacher_steps // self.student_steps
        masks, noise, spans = [], [], []
        for i in range(b):
            rng, gen = batch.rng(self.seed, i), batch.generator(self.seed, i)
            task = TASKS[int(rng.choice(len(TASKS), p=self.data.task_p))]
            masks.append(condition_mask(task, frames, rng))
            noise.append(torch.randn(z.shape[1:], generator=gen, device=z.device))
            j = int(rng.integers(self.student_steps))
            spans.append(schedule[j * k : (j + 1) * k + 1])
        cond_mask, noise, times = torch.stack(masks).to(z.device), torch.stack(noise), torch.stack(spans)
        t, s = times[:, 0], times[:, -1]
        x_t = (1 - t).view(-1, 1, 1, 1, 1) * z + t.view(-1, 1, 1, 1, 1) * noise
        x_t = torch.where(cond_mask[:, None, :, None, None], z, x_t)
        text, text_mask = self.text(list(batch.captions), device=z.device)
        empty, empty_mask = self.text([""] * b, device=z.device)
        from tessera.pipeline.pipeline import _stack_text

        # The teacher runs in the training's autocast dtype (bf16 where fast: 1.4x, 57 dB from fp32's video).
        ctx = self.teacher.encode_text(*_stack_text((text, text_mask), (empty, empty_mask)))
        target = self._teacher(x_t, times, ctx, z, cond_mask)
        # The student's velocity over its step, compared with the teacher's average velocity over the same span.
        v = model(x_t, t, text, text_mask, cond=z, cond_mask=cond_mask).float()
        v_target = (target - x_t) / (s - t).view(-1, 1, 1, 1, 1)
        err = (v - v_target).square().mean(dim=(1, 3, 4))  # (B, T)
        keep = (~cond_mask).float()
        loss = ((err * keep).sum(1) / keep.sum(1).clamp(min=1)).mean()
        return loss, {}


def export_student(state: dict, params, cfg: TrainConfig, folder: Path) -> None:
    """A pipeline folder: the student transformer, the teacher's autoencoder and text encoder, and a
    pipeline.json whose defaults are the student's steps with guidance off."""
    extra = {**DEFAULTS, **cfg.extra}
    teacher = Path(extra["teacher"])
    student = DiT(params)
    student.load_state_dict(state)
    student.save_pretrained(folder / "transformer")
    config = json.loads((teacher / PIPELINE_CONFIG).read_text())
    if (folder / config["autoencoder"]).resolve() != (teacher / config["autoencoder"]).resolve():
        shutil.copytree(teacher / config["autoencoder"], folder / config["autoencoder"], dirs_exist_ok=True)
    # The student learns Euler steps of the teacher's path but samples them with renoise: on the session-twenty-nine
    # student's 320 benchmark clips that passed every metric in 40 against Euler's 24 (docs/performance.md).
    config.update(transformer="transformer", steps=int(extra["student_steps"]), guidance=1.0, sampler="renoise")
    atomic_write_text(folder / PIPELINE_CONFIG, json.dumps(config, indent=2) + "\n")


def train_distill(cfg: TrainConfig, resume: bool = True, until: int | None = None) -> Path | None:
    """Distil the pipeline at ``cfg.extra['teacher']`` into a few-step student; ``cfg.out/model`` is a pipeline."""
    from tessera.pipeline import TextToVideoPipeline

    extra = cfg.settings(DEFAULTS, "distillation")
    if not extra["teacher"]:
        raise ConfigError("distillation needs a teacher: --teacher DIR (a pipeline folder)")
    teacher = TextToVideoPipeline.from_pretrained(extra["teacher"])
    cfg.extra = extra
    source = make_source(cfg.data, cfg.buckets(), cfg.seed, pool=int(extra["pool"]))
    vae_weights = Path(extra["teacher"]) / teacher.config.autoencoder / WEIGHTS_NAME
    objective = DistillObjective(teacher, extra, cfg.seed, open_cache(cfg, extra, vae_weights))
    params = teacher.transformer.params
    student = DiT(params)
    start = teacher.transformer
    if extra["init"]:
        start = init_transformer(extra["init"], params, "start from the teacher (no --init) or a student of its preset")
    student.load_state_dict(start.state_dict())

    def save(state: dict, folder: Path) -> None:
        export_student(state, params, cfg, folder)

    describe = {"kind": "dit-student", "params": params_to_dict(params)}
    return Trainer(student, cfg, source, objective, save, describe).fit(resume=resume, until=until)
