"""scripts/guidance_sweep.py end to end on a tiny random pipeline: both tables, and --set-default writes the
scale and shift its own rule picks into pipeline.json, leaving the weights as they were."""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import torch

from tessera.models.autoencoder import Autoencoder
from tessera.models.dit import DiT
from tessera.models.text import TextEncoder, TextEncoderParams
from tessera.pipeline import PipelineConfig, TextToVideoPipeline

ROOT = Path(__file__).resolve().parents[2]


def test_sweep_writes_both_tables_and_the_best_setting(tmp_path):
    torch.manual_seed(0)
    config = PipelineConfig(
        sizes=("64x64",), steps=2, guidance=5.0, shift=0.0, safety=False, text_encoder={"source": "toy:32"}
    )
    pipe = TextToVideoPipeline(DiT.from_preset("tiny"), Autoencoder.from_preset("tiny"),
                               TextEncoder(TextEncoderParams("toy:32")), config)  # fmt: skip
    folder = pipe.save_pretrained(tmp_path / "m")
    weights = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.safetensors")}
    out = tmp_path / "guidance.md"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "guidance_sweep.py"), str(folder), "--scales", "1,2",
         "--shifts", "0,2", "--clips", "2", "--out", str(out), "--set-default"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    # Each measured setting is printed with its mean adherence; the rule takes the highest, ties the first.
    rows = re.findall(r"^guidance (\S+?)(?:, shift (\S+))?: adherence (\S+),", run.stdout, re.M)
    scale = {float(g): float(a) for g, s, a in rows if not s}
    shift = {float(s): float(a) for _, s, a in rows if s}
    assert list(scale) == [1.0, 2.0] and list(shift) == [2.0]
    best = max(scale, key=scale.get)
    shift = {0.0: scale[best], **shift}  # the model's own shift is the scale row at the best scale
    saved = json.loads((folder / "pipeline.json").read_text())
    assert saved["guidance"] == best and saved["shift"] == max(shift, key=shift.get)
    text = out.read_text()
    assert "| guidance | adherence (mean)" in text and "| shift | adherence (mean)" in text
    assert "(the model's default was 5)" in text
    assert weights == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.safetensors")}
