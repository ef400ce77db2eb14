"""Training: loss goes down, an overfit transformer samples its clip, exact resume, DDP == combined batch."""

import csv
import logging
import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from tessera.diffusion import denoise, get_schedule
from tessera.errors import ConfigError, NotFoundError
from tessera.models.autoencoder import Autoencoder, AutoencoderParams
from tessera.models.dit import PRESETS, DiT
from tessera.models.text import TextEncoder, TextEncoderParams
from tessera.train.data import WorldSource
from tessera.train.dit import train_dit
from tessera.train.loop import TrainConfig, checkpoint_dirs
from tessera.train.vae import train_vae

TINY_VAE = AutoencoderParams(latent_channels=4, channels=(8, 16, 16))


def _cfg(out, **kw):
    base = dict(out=str(out), steps=4, batch_size=2, lr=3e-3, warmup=0, sizes=("32x32",), frames=(5,), bf16=False)
    base.update(kw)
    return TrainConfig(**base)


def _losses(out):
    with open(out / "log.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vae") / "model"
    torch.manual_seed(0)
    Autoencoder(TINY_VAE).with_latent_stats(0.0, 0.2).save_pretrained(folder)
    return folder


def test_autoencoder_loss_decreases_when_overfitting_a_few_clips(tmp_path):
    from tessera.train.export import export_checkpoint

    cfg = _cfg(tmp_path, steps=40, log_every=5, ckpt_every=20, extra={"stats_clips": 2})
    cfg.data = "world"
    model_dir = train_vae(TINY_VAE, cfg)
    losses = _losses(tmp_path)
    assert losses[-1] < 0.7 * losses[0]
    vae = Autoencoder.from_pretrained(model_dir)
    assert vae.params.latent_std != 1.0  # latent statistics were measured on export
    mid = Autoencoder.from_pretrained(export_checkpoint(tmp_path, tmp_path / "mid", step=20))
    assert mid.params.latent_std != 1.0 and not torch.equal(
        mid.decoder.conv_out.conv.weight, vae.decoder.conv_out.conv.weight
    )


def test_motion_and_temporal_weights_price_what_the_benchmark_sees():
    from tessera.train.data import Batch
    from tessera.train.vae import motion_mask, vae_loss

    video = torch.full((1, 3, 5, 8, 8), -0.5)
    for t in range(5):
        video[0, :, t, 2, t] = 0.9  # a dot moving right over a static backdrop
    mask = motion_mask(video)
    assert mask[0, 0, :, 2, :5].diagonal().eq(1).all() and mask.sum() == 5
    assert motion_mask(video[:, :, :1]).sum() == 0  # an image: nothing moves

    class Blur(torch.nn.Module):  # reconstructs the backdrop only, as an undertrained autoencoder does
        def forward(self, x, seeds, latent_noise=0.0):
            return torch.full_like(x, -0.5), torch.zeros(1), torch.zeros(1)

    batch = Batch(video=video, captions=["x"], indices=[0])
    plain, _ = vae_loss(0.0, 0)(Blur(), batch, 0)
    weighted, _ = vae_loss(0.0, 0, motion_weight=10.0)(Blur(), batch, 0)
    assert weighted > 5 * plain  # the missed dot now costs what it means to the benchmark

    class Flicker(torch.nn.Module):  # right on average, but the backdrop changes from frame to frame
        def forward(self, x, seeds, latent_noise=0.0):
            wobble = 0.05 * torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0]).view(1, 1, 5, 1, 1)
            return x + wobble, torch.zeros(1), torch.zeros(1)

    steady, _ = vae_loss(0.0, 0)(Flicker(), batch, 0)
    temporal, _ = vae_loss(0.0, 0, temporal_weight=1.0)(Flicker(), batch, 0)
    assert temporal.item() == pytest.approx(steady.item() + 0.1)  # |0.05 - (-0.05)| between every pair of frames


def _dit_cfg(out, vae_dir, **kw):
    extra = {"vae": str(vae_dir), "text": "toy:32", "pool": 1, "task_weights": [1, 0, 0, 0, 0], "text_dropout": 0.0}
    extra.update(kw.pop("extra", {}))
    return _cfg(out, extra=extra, **kw)


def test_overfit_transformer_reproduces_its_clip_with_euler(tmp_path, vae_dir):
    cfg = _dit_cfg(tmp_path, vae_dir, steps=300, batch_size=4, lr=2e-3, log_every=50, ema_decay=0.0)
    folder = train_dit(PRESETS["tiny"], cfg)
    losses = _losses(tmp_path)
    assert losses[-1] < 0.5 * losses[0]
    vae = Autoencoder.from_pretrained(folder / "autoencoder")
    dit = DiT.from_pretrained(folder / "transformer")
    source = WorldSource(cfg.buckets(), cfg.seed, pool=1)
    batch = source.batch(0, 1)
    with torch.no_grad():
        target = vae.normalize(vae.encode(batch.video)[0])
        text, mask = TextEncoder(TextEncoderParams(source="toy:32"))(batch.captions)
        sample = denoise(lambda x, t: dit(x, t, text, mask), torch.randn_like(target), get_schedule(30))
        other = torch.randn_like(target)
    error = float((sample - target).pow(2).mean() / target.pow(2).mean())
    baseline = float((other - target).pow(2).mean() / target.pow(2).mean())
    assert error < 0.1 < baseline


def test_resume_continues_bit_for_bit(tmp_path, vae_dir, caplog):
    straight = train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "a", vae_dir, steps=4, ckpt_every=2, extra={"pool": 0}))
    interrupted = train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "b", vae_dir, steps=4, extra={"pool": 0}), until=2)
    assert interrupted is None
    assert [p.name for p in checkpoint_dirs(tmp_path / "b")] == ["step-00000002"]
    with caplog.at_level(logging.WARNING, logger="tessera"):
        resumed = train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "b", vae_dir, steps=4, extra={"pool": 0}))
    assert "other settings" not in caplog.text  # the same command, longer: nothing to say
    a = load_file(straight / "transformer" / "model.safetensors")
    b = load_file(resumed / "transformer" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ckpt_a, ckpt_b = checkpoint_dirs(tmp_path / "a")[-1], checkpoint_dirs(tmp_path / "b")[-1]
    assert ckpt_a.name == ckpt_b.name == "step-00000004"
    raw_a, raw_b = load_file(ckpt_a / "model.safetensors"), load_file(ckpt_b / "model.safetensors")
    assert all(torch.equal(raw_a[k], raw_b[k]) for k in raw_a)
    assert [r for r in open(tmp_path / "b" / "log.csv")][0].startswith("step,")
    # Asked for fewer steps than the run has: nothing trains, and the log says so and what to do.
    with caplog.at_level(logging.WARNING, logger="tessera"):
        again = train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "b", vae_dir, steps=3, extra={"pool": 0}))
    assert "already at step 4 of the 3 asked for: nothing to train" in caplog.text
    c = load_file(again / "transformer" / "model.safetensors")
    assert all(torch.equal(b[k], c[k]) for k in b)
    # Another batch size or learning rate goes on from the checkpoint, and is said (it went on without a word).
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tessera"):
        train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "b", vae_dir, steps=5, batch_size=4, lr=1e-3, extra={"pool": 0}))
    said = "resuming with other settings than the checkpoint's: batch_size 2 -> 4; lr 0.003 -> 0.001"
    assert said in caplog.text


def test_a_compiled_run_trains_like_an_eager_one_and_shares_its_checkpoints(tmp_path, vae_dir):
    eager = train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "a", vae_dir, steps=3, ckpt_every=3))
    compiled = train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "b", vae_dir, steps=3, ckpt_every=3, compile=True))
    a = load_file(eager / "transformer" / "model.safetensors")
    b = load_file(compiled / "transformer" / "model.safetensors")
    assert a.keys() == b.keys()  # no "_orig_mod." prefixes: the checkpoints are interchangeable
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)  # same math; fused kernels round differently
    # An eager run resumes a compiled run's checkpoint.
    train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "b", vae_dir, steps=4, ckpt_every=4))
    assert [p.name for p in checkpoint_dirs(tmp_path / "b")][-1] == "step-00000004"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world_size, port, out, vae_dir):
    os.environ.update(
        {"RANK": str(rank), "WORLD_SIZE": str(world_size), "LOCAL_RANK": str(rank)},
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    try:
        cfg = _dit_cfg(out, vae_dir, steps=2, batch_size=4, extra={"pool": 0, "task_weights": [1, 1, 1, 1, 1]})
        cfg.ema_decay = 0.0
        train_dit(PRESETS["tiny"], cfg)
    finally:
        torch.distributed.destroy_process_group()


def test_ddp_on_two_gloo_processes_equals_one_process_with_the_combined_batch(tmp_path, vae_dir):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path / "ddp"), str(vae_dir)), nprocs=2, join=True)
    cfg = _dit_cfg(tmp_path / "one", vae_dir, steps=2, batch_size=4, extra={"pool": 0, "task_weights": [1, 1, 1, 1, 1]})
    cfg.ema_decay = 0.0
    torch.set_num_threads(1)
    train_dit(PRESETS["tiny"], cfg)
    ddp = load_file(checkpoint_dirs(tmp_path / "ddp")[-1] / "model.safetensors")
    one = load_file(checkpoint_dirs(tmp_path / "one")[-1] / "model.safetensors")
    init = DiT.from_preset("tiny").state_dict()
    moved = 0
    for k in one:
        torch.testing.assert_close(ddp[k], one[k], rtol=1e-4, atol=1e-6)
        moved += int(not torch.equal(one[k], init[k]))
    assert moved > 10  # the step really changed the weights


def test_bad_configs_name_the_bad_field(tmp_path, vae_dir):
    with pytest.raises(ConfigError, match="steps"):
        _cfg(tmp_path, steps=0)
    with pytest.raises(ConfigError, match="sizes"):
        _cfg(tmp_path, sizes=("64by64",))
    with pytest.raises(ConfigError, match="4k\\+1"):
        _cfg(tmp_path, frames=(8,))
    with pytest.raises(ConfigError, match="--vae"):
        train_dit(PRESETS["tiny"], _cfg(tmp_path))
    with pytest.raises(ConfigError, match="task_weights"):
        train_dit(PRESETS["tiny"], _dit_cfg(tmp_path, vae_dir, extra={"task_weights": [1, 2]}))
    with pytest.raises(ConfigError, match="text_dropout_rate"):
        train_dit(PRESETS["tiny"], _dit_cfg(tmp_path, vae_dir, extra={"text_dropout_rate": 0.1}))
    # --set values of another kind than the default's are refused naming the setting, before anything loads.
    for extra, message in (
        ({"pool": "abc"}, "--set pool must be a whole number, like its default 0; got 'abc'"),
        ({"refine": 2.5}, "--set refine must be a whole number"),
        ({"cache_latents": 1}, "--set cache_latents must be true or false"),
        ({"object_weight": float("nan")}, "--set object_weight must be a number"),
        ({"time_shift": "x"}, "--set time_shift must be a number \\(or a list of them\\)"),
    ):
        with pytest.raises(ConfigError, match=message):
            train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "none", vae_dir, extra=extra))
    assert not (tmp_path / "none").exists()
    with pytest.raises(ConfigError, match="text_dropout must be in"):
        train_dit(PRESETS["tiny"], _dit_cfg(tmp_path, vae_dir, extra={"text_dropout": 1.5}))
    with pytest.raises(ConfigError, match="seed must be >= 0"):
        _cfg(tmp_path, seed=-1)
    with pytest.raises(ConfigError, match="divisible by the number of processes"):
        WorldSource(_cfg(tmp_path).buckets()).batch(0, 3, rank=0, world_size=2)


def test_export_a_checkpoint_while_the_run_goes_on(tmp_path, vae_dir):
    from tessera.pipeline import TextToVideoPipeline
    from tessera.train.export import export_checkpoint

    train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "run", vae_dir, steps=4, ckpt_every=2), until=2)
    folder = export_checkpoint(tmp_path / "run", tmp_path / "exported")
    pipe = TextToVideoPipeline.from_pretrained(folder)
    ema = load_file(checkpoint_dirs(tmp_path / "run")[-1] / "ema.safetensors")
    assert all(torch.equal(pipe.transformer.state_dict()[k], ema[k]) for k in ema)
    # Trained on the world alone: generate notes prompts outside it, and re-captions short ones.
    assert pipe.config.domain == "world" and pipe.config.recaption
    with pytest.raises(NotFoundError):
        export_checkpoint(tmp_path / "run", tmp_path / "x", step=99)


def test_latents_are_cached_only_for_finite_data(vae_dir, tmp_path):
    from tessera.train.dit import DEFAULTS, DiTObjective, open_cache
    from tessera.train.latents import LatentCache

    vae, text = Autoencoder.from_pretrained(vae_dir), TextEncoder(TextEncoderParams(source="toy:32"))
    batch = WorldSource(_cfg("x").buckets(), pool=2).batch(0, 2)
    cached = DiTObjective(vae, text, DEFAULTS, 0, LatentCache(None, "t"))
    first = cached.latents(batch)
    assert len(cached.cache) == 2 and torch.equal(cached.latents(batch), first)
    weights = Path(vae_dir) / "model.safetensors"
    assert open_cache(_cfg(tmp_path / "run"), DEFAULTS, weights) is None  # an endless stream never repeats
    assert open_cache(_cfg(tmp_path / "run"), {**DEFAULTS, "pool": 2}, weights) is not None


def test_a_batch_encodes_only_its_clips_not_cached_yet(vae_dir):
    from tessera.train.dit import DEFAULTS, DiTObjective
    from tessera.train.latents import LatentCache

    vae, text = Autoencoder.from_pretrained(vae_dir), TextEncoder(TextEncoderParams(source="toy:32"))
    batch = WorldSource(_cfg("x").buckets(), pool=2).batch(0, 2)
    whole = DiTObjective(vae, text, DEFAULTS, 0).latents(batch)
    objective = DiTObjective(vae, text, DEFAULTS, 0, LatentCache(None, "t"))
    marker = torch.full_like(whole[0], 7.0)  # no encoder makes this: it can only come from the cache
    objective.cache.put(batch.keys[0], marker)
    z = objective.latents(batch)
    assert torch.equal(z[0], marker) and torch.allclose(z[1], whole[1], atol=1e-5)
    assert len(objective.cache) == 2


def test_a_larger_pool_reuses_the_latents_of_a_smaller_one(vae_dir, tmp_path):
    from tessera.train.dit import DEFAULTS, open_cache

    weights = Path(vae_dir) / "model.safetensors"
    small = open_cache(_cfg(tmp_path), {**DEFAULTS, "pool": 2}, weights)
    small.put((1, "b"), torch.ones(2), "a red ball")
    small.flush()
    larger = open_cache(_cfg(tmp_path), {**DEFAULTS, "pool": 8}, weights)
    assert torch.equal(larger.get((1, "b")), torch.ones(2)) and larger.caption((1, "b")) == "a red ball"
    # Other buckets render pool clip 1 differently: its latents must not be used.
    assert len(open_cache(_cfg(tmp_path, frames=(9,)), {**DEFAULTS, "pool": 8}, weights)) == 0
    assert len(open_cache(_cfg(tmp_path, seed=1), {**DEFAULTS, "pool": 8}, weights)) == 0


def test_refined_latents_decode_closer_and_are_cached_apart(vae_dir, tmp_path):
    from tessera.train.dit import DEFAULTS, DiTObjective, open_cache

    vae, text = Autoencoder.from_pretrained(vae_dir), TextEncoder(TextEncoderParams(source="toy:32"))
    batch = WorldSource(_cfg("x").buckets(), pool=2).batch(0, 2)
    err = []
    for refine in (0, 5):
        z = DiTObjective(vae, text, {**DEFAULTS, "refine": refine}, 0).latents(batch)
        with torch.no_grad():
            err.append(float((vae.decode(vae.denormalize(z)) - batch.video).pow(2).mean()))
    assert err[1] < err[0]
    weights = Path(vae_dir) / "model.safetensors"
    plain = open_cache(_cfg(tmp_path), {**DEFAULTS, "pool": 2}, weights)
    plain.put((0, "a"), torch.ones(2), "a red ball")
    plain.flush()
    assert len(open_cache(_cfg(tmp_path), {**DEFAULTS, "pool": 2}, weights)) == 1
    assert len(open_cache(_cfg(tmp_path), {**DEFAULTS, "pool": 2, "refine": 5}, weights)) == 0
    for bad in (-1, "five", 2.5):
        with pytest.raises(ConfigError, match="refine must be an integer >= 0"):
            DiTObjective(vae, text, {**DEFAULTS, "refine": bad}, 0)


def test_cached_clips_are_not_rendered_again(vae_dir, monkeypatch):
    from tessera.train.dit import DEFAULTS, DiTObjective
    from tessera.train.latents import LatentCache

    vae, text = Autoencoder.from_pretrained(vae_dir), TextEncoder(TextEncoderParams(source="toy:32"))
    source = WorldSource(_cfg("x").buckets(), pool=2)
    objective = DiTObjective(vae, text, DEFAULTS, 0, LatentCache(None, "t"))
    torch.manual_seed(0)
    model = DiT.from_preset("tiny")
    first = source.batch(0, 2, known=objective.known)  # nothing cached yet: rendered
    assert first.video is not None
    loss = objective(model, first, 0)[0]

    def no_render(*args):
        raise AssertionError("a cached clip was rendered")

    monkeypatch.setattr(source, "sample", no_render)
    again = source.batch(0, 2, known=objective.known)
    assert again.video is None and again.captions == first.captions and again.keys == first.keys
    assert torch.equal(objective(model, again, 0)[0], loss)  # the same step, bit for bit


def test_latent_cache_survives_a_restart_but_not_a_new_autoencoder(vae_dir, tmp_path):
    from tessera.train.latents import LatentCache

    folder = tmp_path / "latents"
    cache = LatentCache(folder, "vae-a", flush_every=2)
    z = [torch.randn(4, 3, 2, 2) for _ in range(3)]
    for i, zi in enumerate(z):
        cache.put((i, "64x64"), zi, f"clip {i}")
    assert len(list(folder.glob("part-*.safetensors"))) == 1  # two flushed, the third still pending
    again = LatentCache(folder, "vae-a")
    assert len(again) == 2 and torch.equal(again.get((1, "64x64")), z[1]) and again.get((2, "64x64")) is None
    assert again.caption((1, "64x64")) == "clip 1" and again.caption((2, "64x64")) is None
    assert len(LatentCache(folder, "vae-b")) == 0  # latents of another autoencoder are never used


def test_latent_cache_writes_slow_entries_by_age_not_only_by_count(tmp_path):
    from tessera.train.latents import LatentCache

    waiting, prompt = LatentCache(tmp_path / "a", "t"), LatentCache(tmp_path / "b", "t", flush_seconds=0)
    for cache in (waiting, prompt):
        cache.put((0, "64x64"), torch.randn(4, 1, 2, 2))
    assert not (tmp_path / "a").exists()  # 1 entry of 1024, seconds old: still in memory
    assert len(LatentCache(tmp_path / "b", "t")) == 1  # past its age limit: on disk at once


def test_a_checkpoint_writes_the_latents_encoded_so_far(tmp_path, vae_dir):
    from tessera.train.dit import DEFAULTS, open_cache

    cfg = _dit_cfg(tmp_path, vae_dir, steps=4, ckpt_every=100, extra={"pool": 8})
    assert train_dit(PRESETS["tiny"], cfg, until=2) is None  # stopped at step 2, with a checkpoint
    # The cache a resumed run opens: 2 steps x 2 clips, far below the cache's own flush size, all on disk.
    assert len(open_cache(cfg, {**DEFAULTS, **cfg.extra}, Path(vae_dir) / "model.safetensors")) == 4


def _tiny_pipeline(folder: Path, seed: int = 0, preset=PRESETS["tiny"]) -> Path:
    """A tiny pipeline (random transformer, nudged off its zero-initialised outputs) saved in ``folder``."""
    from tessera.pipeline import PipelineConfig, TextToVideoPipeline

    torch.manual_seed(seed)
    dit = DiT(preset)
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(0.05 * torch.randn_like(p))
    vae = Autoencoder(TINY_VAE).with_latent_stats(0.0, 0.2)
    config = PipelineConfig(sizes=("32x32",), max_frames=9, steps=8, guidance=3.0, text_encoder={"source": "toy:32"})
    return TextToVideoPipeline(dit, vae, TextEncoder(TextEncoderParams("toy:32")), config).save_pretrained(folder)


def _distill_cfg(out: Path, teacher: Path, steps: int = 40, **extra) -> TrainConfig:
    return TrainConfig(
        out=str(out),
        steps=steps,
        batch_size=4,
        lr=1e-3,
        warmup=1,
        sizes=("32x32",),
        frames=(9,),
        log_every=5,
        ckpt_every=40,
        ema_decay=0.0,
        bf16=False,
        extra={"teacher": str(teacher), "student_steps": 2, "teacher_steps": 8, "pool": 4, **extra},
    )


def test_distillation_trains_a_few_step_student_that_samples_without_guidance(tmp_path):
    from tessera.pipeline import TextToVideoPipeline
    from tessera.train.distill import train_distill

    folder = train_distill(_distill_cfg(tmp_path / "run", _tiny_pipeline(tmp_path / "teacher")))
    losses = [float(r["loss"]) for r in csv.DictReader(open(tmp_path / "run" / "log.csv"))]
    assert losses[-1] < losses[0]  # the student learns to land where the teacher lands
    student = TextToVideoPipeline.from_pretrained(folder)
    assert (student.config.steps, student.config.guidance, student.config.sampler) == (2, 1.0, "renoise")
    calls = []
    student.transformer.register_forward_hook(lambda *a: calls.append(1))
    video = student("a red ball falls", num_frames=9, height=32, width=32).frames[0]
    assert video.shape == (9, 32, 32, 3) and len(calls) == 2  # two steps, one call each (no CFG pass)
    from tessera.train.export import export_checkpoint

    exported = TextToVideoPipeline.from_pretrained(export_checkpoint(tmp_path / "run", tmp_path / "exported"))
    assert (exported.config.steps, exported.config.guidance) == (2, 1.0)


def test_a_student_can_start_from_an_earlier_student_but_not_one_of_another_shape(tmp_path):
    from tessera.train.distill import train_distill

    teacher = _tiny_pipeline(tmp_path / "teacher", seed=0)
    earlier = _tiny_pipeline(tmp_path / "earlier", seed=1)  # other weights, same shape
    assert train_distill(_distill_cfg(tmp_path / "run", teacher, init=str(earlier)), until=0) is None
    start = load_file(checkpoint_dirs(tmp_path / "run")[-1] / "model.safetensors")
    want = load_file(earlier / "transformer" / "model.safetensors")
    assert start.keys() == want.keys() and all(torch.equal(start[k], want[k]) for k in want)
    deeper = _tiny_pipeline(tmp_path / "deeper", preset=replace(PRESETS["tiny"], depth=PRESETS["tiny"].depth + 1))
    with pytest.raises(ConfigError, match="init: .* other shape"):
        train_distill(_distill_cfg(tmp_path / "bad", teacher, init=str(deeper)))


def test_a_pool_is_pool_clips_each_at_one_bucket():
    source = WorldSource(_cfg("x", sizes=("32x32", "64x32"), frames=(5, 9)).buckets(), pool=10)
    seen = {}
    for step in range(60):
        for key, b in source.batch(step, 3).keys:
            assert seen.setdefault(key, b) == b  # a clip is never shown at a second bucket
    assert sorted(seen) == list(range(10))  # exactly the pool's clips, so `pool` latents to encode


def test_init_starts_from_a_shipped_pipeline_and_a_wrong_shape_is_refused(tmp_path, vae_dir):
    shipped = train_dit(PRESETS["tiny"], _dit_cfg(tmp_path / "a", vae_dir, steps=2, extra={"pool": 0}))
    cfg = _dit_cfg(tmp_path / "b", vae_dir, steps=2, extra={"pool": 0, "init": str(shipped)})
    assert train_dit(PRESETS["tiny"], cfg, until=0) is None  # a checkpoint at step 0: the starting weights
    start = load_file(checkpoint_dirs(tmp_path / "b")[-1] / "model.safetensors")
    want = load_file(shipped / "transformer" / "model.safetensors")
    assert start.keys() == want.keys() and all(torch.equal(start[k], want[k]) for k in want)
    wider = replace(PRESETS["tiny"], dim=64)  # (a deeper one grows: the test below)
    with pytest.raises(ConfigError, match="init: .* other shape"):
        train_dit(wider, _dit_cfg(tmp_path / "c", vae_dir, steps=2, extra={"pool": 0, "init": str(shipped)}))


def test_decoder_only_training_keeps_the_encoder_and_its_latent_statistics(tmp_path, vae_dir):
    # With latent noise, as a decoder for a transformer's latents is trained.
    extra = {"init": str(vae_dir), "decoder_only": True, "stats_clips": 2, "latent_noise": 0.25}
    cfg = _cfg(tmp_path, steps=6, extra=extra)
    tuned = Autoencoder.from_pretrained(train_vae(TINY_VAE, cfg))
    start = Autoencoder.from_pretrained(vae_dir)
    enc, dec = start.encoder.state_dict(), start.decoder.state_dict()
    assert all(torch.equal(v, enc[k]) for k, v in tuned.encoder.state_dict().items())  # the latent space is kept
    assert not all(torch.equal(v, dec[k]) for k, v in tuned.decoder.state_dict().items())  # the decoder learned
    assert (tuned.params.latent_mean, tuned.params.latent_std) == (0.0, 0.2)  # the transformer's normalisation
    with pytest.raises(ConfigError, match="--init"):
        train_vae(TINY_VAE, _cfg(tmp_path / "x", extra={"decoder_only": True}))
    with pytest.raises(ConfigError, match="latent_noise must be >= 0"):
        train_vae(TINY_VAE, _cfg(tmp_path / "z", extra={**extra, "latent_noise": -0.1}))


def test_encoder_only_training_keeps_the_decoder_and_its_latent_statistics(tmp_path, vae_dir):
    cfg = _cfg(tmp_path, steps=6, extra={"init": str(vae_dir), "encoder_only": True, "stats_clips": 2})
    tuned = Autoencoder.from_pretrained(train_vae(TINY_VAE, cfg))
    start = Autoencoder.from_pretrained(vae_dir)
    enc, dec = start.encoder.state_dict(), start.decoder.state_dict()
    assert all(torch.equal(v, dec[k]) for k, v in tuned.decoder.state_dict().items())  # latents decode as before
    assert not all(torch.equal(v, enc[k]) for k, v in tuned.encoder.state_dict().items())  # the encoder learned
    assert (tuned.params.latent_mean, tuned.params.latent_std) == (0.0, 0.2)  # the transformer's normalisation
    with pytest.raises(ConfigError, match="--init"):
        train_vae(TINY_VAE, _cfg(tmp_path / "x", extra={"encoder_only": True}))
    with pytest.raises(ConfigError, match="exclude each other"):
        train_vae(
            TINY_VAE, _cfg(tmp_path / "y", extra={"init": str(vae_dir), "encoder_only": True, "decoder_only": True})
        )


def test_a_deeper_decoder_grows_from_its_start_with_the_same_reconstructions(tmp_path, vae_dir):
    start = Autoencoder.from_pretrained(vae_dir)
    extra = {"init": str(vae_dir), "decoder_only": True, "decoder_blocks": start.params.decoder_depth + 1}
    assert train_vae(TINY_VAE, _cfg(tmp_path / "a", steps=2, extra={**extra, "stats_clips": 2}), until=0) is None
    grown = Autoencoder(replace(start.params, decoder_blocks=extra["decoder_blocks"])).eval()
    grown.load_state_dict(load_file(checkpoint_dirs(tmp_path / "a")[-1] / "model.safetensors"))
    assert len(grown.decoder.levels[0].blocks) == len(start.decoder.levels[0].blocks) + 1
    # The added blocks start as the identity: the same latent decodes to the same frames.
    z = torch.randn(1, start.params.latent_channels, 3, 2, 2)
    with torch.no_grad():
        torch.testing.assert_close(grown.decode(z), start.decode(z))
    # Trained, the added blocks learn and the encoder (the latent space) is left alone.
    tuned = Autoencoder.from_pretrained(train_vae(TINY_VAE, _cfg(tmp_path / "b", steps=4, extra=extra)))
    assert tuned.params.decoder_blocks == extra["decoder_blocks"]
    assert tuned.decoder.levels[0].blocks[-1].conv2.conv.weight.abs().sum() > 0
    enc = start.encoder.state_dict()
    assert all(torch.equal(v, enc[k]) for k, v in tuned.encoder.state_dict().items())
    # Fewer blocks than the start's, or a setting the stage does not know, is refused by name.
    with pytest.raises(ConfigError, match="decoder blocks"):
        train_vae(TINY_VAE, _cfg(tmp_path / "c", extra={"init": str(vae_dir), "decoder_blocks": 1}))
    with pytest.raises(ConfigError, match="decoder_blokcs"):
        train_vae(TINY_VAE, _cfg(tmp_path / "d", extra={"decoder_blokcs": 3}))


def test_a_deeper_encoder_grows_from_its_start_with_the_same_latents(tmp_path, vae_dir):
    start = Autoencoder.from_pretrained(vae_dir)
    extra = {"init": str(vae_dir), "encoder_only": True, "encoder_blocks": start.params.blocks + 1}
    assert train_vae(TINY_VAE, _cfg(tmp_path / "a", steps=2, extra=extra), until=0) is None
    params = replace(start.params, blocks=extra["encoder_blocks"], decoder_blocks=start.params.decoder_depth)
    grown = Autoencoder(params).eval()
    grown.load_state_dict(load_file(checkpoint_dirs(tmp_path / "a")[-1] / "model.safetensors"))
    assert len(grown.encoder.levels[0].blocks) == len(start.encoder.levels[0].blocks) + 1
    # The added blocks start as the identity, and the decoder keeps its depth (unset, it would follow the encoder's).
    x = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(grown.encode(x), start.encode(x))
    tuned = Autoencoder.from_pretrained(train_vae(TINY_VAE, _cfg(tmp_path / "b", steps=4, extra=extra)))
    assert (tuned.params.blocks, tuned.params.decoder_depth) == (params.blocks, start.params.decoder_depth)
    assert tuned.encoder.levels[0].blocks[-1].conv2.conv.weight.abs().sum() > 0
    dec = start.decoder.state_dict()
    assert all(torch.equal(v, dec[k]) for k, v in tuned.decoder.state_dict().items())
    # No block count below 1 (0 is not "unset"), each refused by the field's name.
    for setting, field in (("encoder_blocks", "^blocks"), ("decoder_blocks", "^decoder_blocks")):
        with pytest.raises(ConfigError, match=f"{field} must be >= 1"):
            train_vae(TINY_VAE, _cfg(tmp_path / "c", extra={"init": str(vae_dir), setting: 0}))
    # Growing the half the run freezes would leave the added blocks as the identity: refused by name.
    with pytest.raises(ConfigError, match="decoder_blocks grows the decoder, which this run freezes"):
        train_vae(TINY_VAE, _cfg(tmp_path / "d", extra={**extra, "decoder_blocks": 9}))


def test_init_grows_frame_pos_on_a_model_trained_without_it(tmp_path, vae_dir):
    from tessera.pipeline import TextToVideoPipeline

    old = _tiny_pipeline(tmp_path / "old", preset=replace(PRESETS["tiny"], frame_pos=False))
    cfg = _dit_cfg(tmp_path / "b", vae_dir, steps=2, extra={"pool": 0, "init": str(old)})
    assert train_dit(PRESETS["tiny"], cfg, until=0) is None
    start = load_file(checkpoint_dirs(tmp_path / "b")[-1] / "model.safetensors")
    want = load_file(old / "transformer" / "model.safetensors")
    assert set(start) - set(want) == {"frame_pos.weight", "frame_pos.bias"}
    assert all(torch.equal(start[k], want[k]) for k in want) and not start["frame_pos.weight"].any()
    # Zero-initialised, the grown model predicts what the old one did.
    grown = DiT(PRESETS["tiny"]).eval()
    grown.load_state_dict(start)
    before = TextToVideoPipeline.from_pretrained(old).transformer
    x, t, text = torch.randn(1, 4, 3, 4, 4), torch.rand(1), torch.randn(1, 5, 32)
    with torch.no_grad():
        torch.testing.assert_close(grown(x, t, text), before(x, t, text))


def test_init_grows_a_deeper_transformer_with_the_same_predictions(tmp_path, vae_dir):
    from tessera.train.dit import init_transformer

    old = _tiny_pipeline(tmp_path / "old")  # its weights nudged: every branch on, so a misplaced block would show
    before = DiT.from_pretrained(old / "transformer")
    grown = init_transformer(old, replace(PRESETS["tiny"], depth=5), "").eval()
    assert len(grown.blocks) == 5
    # The old blocks keep their order, the added ones spread between them.
    for new, was in ((0, 0), (2, 1)):
        assert torch.equal(grown.blocks[new].ada[-1].weight, before.blocks[was].ada[-1].weight)
    x, t, text = torch.randn(1, 4, 3, 4, 4), torch.rand(1), torch.randn(1, 5, 32)
    with torch.no_grad():
        torch.testing.assert_close(grown(x, t, text), before(x, t, text))
    with pytest.raises(ConfigError, match="other shape"):
        init_transformer(old, replace(PRESETS["tiny"], depth=1), "pass its --preset")  # shrinking is refused
    with pytest.raises(ConfigError, match="other shape"):
        init_transformer(old, replace(PRESETS["tiny"], dim=64, heads=2), "pass its --preset")


def test_time_shift_moves_the_training_times_towards_noise(vae_dir):
    from tessera.train.dit import DEFAULTS, DiTObjective

    vae, text = Autoencoder.from_pretrained(vae_dir), TextEncoder(TextEncoderParams(source="toy:32"))
    batch = WorldSource(_cfg("x").buckets(), pool=0).batch(0, 8)
    model, seen = DiT.from_preset("tiny"), []
    model.register_forward_hook(lambda module, args, out: seen.append(args[1]))
    for shift in (0.0, 3.0, [1, 3]):
        DiTObjective(vae, text, {**DEFAULTS, "time_shift": shift}, 0)(model, batch, 0)
    # The same draws, shifted: t -> 3t / (1 + 2t) (these tiny clips are too short for shift_for to shift them).
    shifted = 3 * seen[0] / (1 + 2 * seen[0])
    torch.testing.assert_close(seen[1], shifted)
    # A list: each clip takes one of the shifts, so both occur in the batch.
    took_3 = torch.isclose(seen[2], shifted)
    assert (took_3 | torch.isclose(seen[2], seen[0])).all() and 0 < int(took_3.sum()) < len(took_3)
    for bad in (-1, [], [1, -3], "high", {"shift": 3}):
        with pytest.raises(ConfigError, match="time_shift"):
            DiTObjective(vae, text, {**DEFAULTS, "time_shift": bad}, 0)


def test_object_weight_prices_the_objects_over_the_backdrop(vae_dir):
    from tessera.train.dit import DEFAULTS, DiTObjective, object_map

    z = torch.zeros(1, 4, 2, 4, 8)
    z[:, :, :, 3] = -2.0  # a floor row: constant along the row, so backdrop too
    z[0, :, 1, 1, 5] = 3.0  # an object in frame 1
    found = object_map(z)
    assert found[0, 0, 1, 1, 5] == 1 and found.sum() == 1
    vae, text = Autoencoder.from_pretrained(vae_dir), TextEncoder(TextEncoderParams(source="toy:32"))
    batch = WorldSource(_cfg("x").buckets(), pool=0).batch(0, 4)
    model = DiT.from_preset("tiny")
    plain, _ = DiTObjective(vae, text, DEFAULTS, 0)(model, batch, 0)
    weighted, _ = DiTObjective(vae, text, {**DEFAULTS, "object_weight": 3.0}, 0)(model, batch, 0)
    assert torch.isfinite(weighted) and weighted != plain  # same draws, other shares of the error
    with pytest.raises(ConfigError, match="object_weight"):
        DiTObjective(vae, text, {**DEFAULTS, "object_weight": -1}, 0)
