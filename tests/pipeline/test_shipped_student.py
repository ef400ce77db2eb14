"""The shipped few-step student, models/tessera-world-s-8step (slow: `pytest -m slow`).

It must load beside the default model, share its autoencoder, and score on the benchmark close to the default
model at its full step count (the full 64-clip comparison is bench/quality_vs_steps.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from tessera.cli.generate import default_model
from tessera.eval.report import evaluate_world_set, model_source
from tessera.eval.score import aggregate

pytestmark = pytest.mark.slow

CLIPS = 8


def _load(folder):
    from tessera.pipeline import TextToVideoPipeline

    if not (folder / "pipeline.json").is_file():
        pytest.fail(f"{folder} is missing: ship it with STAGE=student scripts/train_world_s.sh")
    return TextToVideoPipeline.from_pretrained(folder)


@pytest.fixture(scope="module")
def pipes():
    full = default_model()
    return _load(full), _load(full.parent / f"{full.name}-8step")


def test_student_samples_in_8_steps_without_guidance_on_the_default_autoencoder(pipes):
    full, student = pipes
    assert (student.config.steps, student.config.guidance) == (8, 1.0)
    a, b = full.autoencoder.state_dict(), student.autoencoder.state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert student.weights_sha256 != full.weights_sha256  # its own transformer, not the teacher's


def test_student_scores_close_to_the_full_model(pipes):
    full, student = pipes
    rows = []
    for pipe in (full, student):
        scores, _ = evaluate_world_set("in-dist", CLIPS, source=model_source(pipe))
        rows.append(aggregate(scores))
    # Mean scores over the same captions and seeds; 0.1 is wide enough for 8 clips, narrow enough that a
    # student that lost the prompt (adherence near the floor) or the objects fails.
    for metric in ("prompt_adherence", "identity_persistence", "flicker_jitter"):
        assert rows[1][metric]["mean"] >= rows[0][metric]["mean"] - 0.1, metric
