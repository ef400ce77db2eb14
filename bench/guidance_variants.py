"""What to guide away from, and when: classifier-free guidance against autoguidance (a weak guide model blended
into the unconditional side, ``PipelineConfig.guide_mix``) and against guidance over a limited interval of times
(``PipelineConfig.guidance_interval``), scored by the benchmark on the same in-distribution captions and noise.
The clips start at ``--seed`` (5000: the guidance sweep's, not the ones the model card reports).

    python bench/guidance_variants.py models/tessera-world-s --guide runs/dit-xs-weak/model \\
        --settings 2:0,2:0.5,3:0.5 [--clips 64] [--seed 5000]
    python bench/guidance_variants.py models/tessera-world-s --settings 2:0,2:0:0.2:0.9 --seed 6000

``--guide`` is a pipeline folder (its transformer is the guide, e.g. one trained with
``tessera train dit --preset xs``), or ``skip:K`` for the model itself with block K skipped (skip-layer
guidance, as in Spatiotemporal Skip Guidance and SD 3.5's). Each setting is ``GUIDANCE:MIX``: MIX 0 is plain
classifier-free guidance at GUIDANCE, so ``v = v_c + (GUIDANCE - 1)((1 - MIX)(v_c - v_u) + MIX (v_c - v_guide))``.
A setting ``GUIDANCE:MIX:LO:HI`` guides only at times LO < t <= HI (the conditional velocity alone elsewhere);
``--guide`` is needed only where MIX > 0. Prints one row per setting: pass rates, pass-all of the clips, mean
prompt adherence and its parts, and the seconds its clips took (generation and scoring).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from model_card import adherence  # noqa: E402

from tessera.errors import ConfigError  # noqa: E402
from tessera.eval.report import evaluate_world_set, model_source  # noqa: E402
from tessera.eval.score import aggregate  # noqa: E402
from tessera.models.dit import DiT  # noqa: E402
from tessera.pipeline import PipelineConfig, TextToVideoPipeline  # noqa: E402

COLUMNS = ("count_conservation", "identity_persistence", "trajectory_error", "flicker_jitter", "prompt_adherence")


class _Skipped(nn.Module):
    """A block that passes its tokens through; it keeps the block's cross-attention for ``DiT.encode_text``."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.cross = block.cross

    def forward(self, tokens, *args):
        return tokens


def skip_block(model: DiT, index: int) -> DiT:
    """The same weights with block ``index`` skipped (a shallow copy: nothing is duplicated)."""
    if not 0 <= index < len(model.blocks):
        raise SystemExit(f"--guide skip:K needs 0 <= K < {len(model.blocks)}, got {index}")
    weak = copy.copy(model)
    weak._modules = dict(model._modules)
    blocks = list(model.blocks)
    blocks[index] = _Skipped(blocks[index])
    weak._modules["blocks"] = nn.ModuleList(blocks)
    return weak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="pipeline folder")
    ap.add_argument("--guide", help="a pipeline folder whose transformer guides, or skip:K (for MIX > 0)")
    ap.add_argument("--settings", default="2:0,2:0.5,3:0.5", help="GUIDANCE:MIX[:LO:HI], comma-separated")
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--seed", type=int, default=5000)
    args = ap.parse_args()
    try:
        settings = [[float(v) for v in setting.split(":")] for setting in args.settings.split(",")]
    except ValueError:
        settings = [[]]  # reported just below
    if any(len(s) not in (2, 4) for s in settings):
        raise SystemExit(f"--settings: each is GUIDANCE:MIX or GUIDANCE:MIX:LO:HI (numbers), got {args.settings!r}")
    for s in settings:
        try:
            PipelineConfig(guidance_interval=s[2:] or (0.0, 1.0))  # the pipeline's own check of an interval
        except ConfigError as e:
            raise SystemExit(f"--settings: {e}") from None
    pipe = TextToVideoPipeline.from_pretrained(args.model)
    if args.guide is None and any(s[1] > 0 for s in settings):
        raise SystemExit("a setting with MIX > 0 guides away from a guide model: name it with --guide")
    if args.guide is not None and args.guide.startswith("skip:"):
        pipe.guide = skip_block(pipe.transformer, int(args.guide[5:]))
    elif args.guide is not None:
        pipe.guide = DiT.from_pretrained(Path(args.guide) / "transformer").eval()
    print(f"{args.model}, guide {args.guide}, {args.clips} in-dist clips from seed {args.seed}")
    head = "| guidance | mix | interval | " + " | ".join(COLUMNS)
    print(head + " | pass-all | adherence mean | colour | shape | direction |")
    print("|---" * (len(COLUMNS) + 8) + "|")
    for guidance, mix, *interval in settings:
        pipe.config.guide_mix = mix
        pipe.config.guidance_interval = tuple(interval or (0.0, 1.0))
        t0 = time.perf_counter()
        scores, _ = evaluate_world_set(
            "in-dist", args.clips, seed=args.seed, source=model_source(pipe, guidance=guidance)
        )
        agg = aggregate(scores)
        rates = [f"{agg[name]['pass_rate']:.3f}" if agg[name]["n"] else "-" for name in COLUMNS]
        mean = np.mean([s["metrics"]["prompt_adherence"]["score"] for s in scores])
        parts = adherence(scores)
        print(
            f"| {guidance:g} | {mix:g} | {pipe.config.guidance_interval} | "
            + " | ".join(rates)
            + f" | {sum(s['passed_all'] for s in scores)} | "
            f"{mean:.3f} | {parts['colour']:.3f} | {parts['shape']:.3f} | {parts['direction']:.3f} |",
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
