"""``tessera generate``: a prompt in, a video out (the README's main command)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


def default_model() -> Path:
    """The model a command uses when given none: ``TESSERA_MODEL`` (as the server reads it), else the shipped
    ``models/tessera-world-s`` beside the package (a clone's root)."""
    import tessera

    if os.environ.get("TESSERA_MODEL"):
        return Path(os.environ["TESSERA_MODEL"])
    return Path(tessera.__file__).resolve().parent.parent / "models" / "tessera-world-s"


def model_folder(model: Path | None) -> Path:
    """``model``, or the default one, checked to be a pipeline folder before anything loads."""
    from tessera.errors import NotFoundError

    folder = model or default_model()
    if (folder / "pipeline.json").is_file():
        return folder
    if model is not None:
        raise NotFoundError(f"no pipeline at {folder} (no pipeline.json); pass --model a pipeline folder")
    if os.environ.get("TESSERA_MODEL"):
        raise NotFoundError(f"TESSERA_MODEL is {folder}, which holds no pipeline.json; set it to a pipeline folder")
    root = folder.parent.parent
    if not (root / "pyproject.toml").is_file():  # pip install . copied the package alone, not the clone's models/
        raise NotFoundError(
            "the shipped model lives in a clone's models/ folder, and Tessera is installed outside one "
            f"({root}); install it with `pip install -e .` from the clone, or pass --model CLONE/models/"
            "tessera-world-s (or set TESSERA_MODEL)"
        )
    raise NotFoundError(
        f"the default model {folder} is not in this checkout yet; pass --model DIR (a `tessera train dit` "
        "run's model/ folder), or train it with scripts/train_world_s.sh"
    )


def generate_command(
    prompt: str = typer.Argument(..., help="What should happen, e.g. 'a red ball falls and bounces on the floor'"),
    output: Path = typer.Option(Path("video.mp4"), "-o", "--output", help="Output file: .mp4, .gif or .png"),
    model: Path | None = typer.Option(None, "--model", help="Pipeline folder (default: models/tessera-world-s)"),
    seconds: float | None = typer.Option(
        None,
        help="Duration (default 2; an image for -o NAME.png; --edit: the whole clip); with --extend, the seconds "
        "added (default 2); frames = seconds x fps + 1, rounded to 4k+1",
    ),
    size: str | None = typer.Option(
        None,
        help="WIDTHxHEIGHT (default: the model's size nearest a given image or clip's shape, else its first, 64x64)",
    ),
    fps: float | None = typer.Option(
        None, help="Frames per second (default: the model's, 8; made at it and resampled to another, duration kept)"
    ),
    seed: int = typer.Option(0, help="Same seed, same video"),
    steps: int | None = typer.Option(None, help="Sampling steps (default: the model's)"),
    guidance: float | None = typer.Option(None, help="Classifier-free guidance scale (default: the model's)"),
    negative: str | None = typer.Option(None, help="Negative prompt: what to steer away from"),
    image: Path | None = typer.Option(None, help="Image-to-video: start from this image"),
    extend: Path | None = typer.Option(None, help="Extend this clip by --seconds (see --direction)"),
    direction: str | None = typer.Option(
        None, help="--extend direction: forward (continue; the default) or backward (lead in)"
    ),
    connect: list[Path] | None = typer.Option(None, help="Connect two clips: give --connect A.mp4 --connect B.mp4"),
    loop: bool = typer.Option(False, "--loop", help="Make a seamless loop (the last frame returns to the first)"),
    edit: Path | None = typer.Option(None, help="Edit this clip under the prompt (SDEdit; see --strength)"),
    strength: float | None = typer.Option(None, help="--edit strength: 0 keeps the clip, 1 ignores it (default 0.6)"),
    gif: bool = typer.Option(False, "--gif", help="Also write a GIF beside the output"),
    sampler: str | None = typer.Option(None, help="euler, heun, ancestral or renoise (default: the model's)"),
    refine: int | None = typer.Option(
        None,
        help="Adam steps refining given frames' latents before they condition the clip (default: the model's; 0: off)",
    ),
    recaption: bool | None = typer.Option(
        None,
        "--recaption/--no-recaption",
        help="Write a short text-to-video prompt out as the world's captions first (default: the model's)",
    ),
) -> None:
    """Generate a video (or an image: -o NAME.png, or --seconds 0) from a prompt."""
    from tessera.cli.output import check_output
    from tessera.errors import InvalidInputError
    from tessera.media import MAX_FPS, OUTPUT_SUFFIXES, covering_size, nearest_size, parse_size, read_video, save
    from tessera.pipeline import MAX_STEPS, PipelineConfig, TextToVideoPipeline
    from tessera.provenance import Generation, sign_file

    if not prompt.strip():  # refused before the model loads, like every other option
        raise InvalidInputError("the prompt is empty; say what should happen, e.g. 'a red ball falls'")
    if size is not None:
        width, height = parse_size(size)
    still = output.suffix.lower() == ".png"  # a .png holds one frame: the command makes an image
    asked = seconds
    if seconds is None:
        seconds = 0.0 if still else 2.0
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInputError(f"--seconds must be a number >= 0, got {seconds}")
    if extend and seconds == 0:
        raise InvalidInputError("--extend adds --seconds to the clip; give more than 0 (default 2)")
    if connect and len(connect) != 2:
        raise InvalidInputError(
            f"--connect needs exactly two clips (--connect A.mp4 --connect B.mp4), got {len(connect)}"
        )
    tasks = [
        name
        for name, v in (
            ("--image", image),
            ("--extend", extend),
            ("--connect", connect),
            ("--edit", edit),
            ("--loop", loop),
        )
        if v
    ]
    if len(tasks) > 1:
        raise InvalidInputError(f"choose one of {', '.join(tasks)}")
    # An image edits into an image (--edit takes the clip's first frame); every other task makes a video.
    if still and (seconds > 0 or tasks not in ([], ["--edit"])):
        given = f"--seconds {seconds:g}" if seconds > 0 else tasks[0]
        raise InvalidInputError(
            f"{output} is an image (one frame) but {given} asks for a video; write -o NAME.mp4 or NAME.gif, "
            "or leave it out for an image"
        )
    # An option of one task given without it would be silently ignored: say so instead.
    for option, value, task, needed in (
        ("--direction", direction, "--extend", extend),
        ("--strength", strength, "--edit", edit),
    ):
        if value is not None and not needed:
            raise InvalidInputError(f"{option} applies to {task} only; add {task} CLIP or drop {option}")
    if direction not in (None, "forward", "backward"):
        raise InvalidInputError(f"--direction must be forward or backward, got {direction!r}")
    if fps is not None and not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise InvalidInputError(
            f"--fps must be a number in (0, {MAX_FPS}], got {fps} (leave it out for the model's own)"
        )
    if guidance is not None and not (math.isfinite(guidance) and guidance >= 0):
        raise InvalidInputError(f"--guidance must be a number >= 0, got {guidance} (leave it out for the model's)")
    if recaption and (image or extend or connect or edit or loop):
        raise InvalidInputError(
            "--recaption applies to text-to-video only (a scene written afresh could contradict the given frames, "
            "and the world's captions tell one-way events, not loops)"
        )
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise InvalidInputError(f"--steps must be from 1 to {MAX_STEPS}, got {steps} (leave it out for the model's)")
    if refine is not None and refine < 0:
        raise InvalidInputError(f"--refine must be >= 0 (Adam steps; 0 turns refinement off), got {refine}")
    check_output(output, OUTPUT_SUFFIXES)
    inputs = [p for p in (image, extend, edit, *(connect or [])) if p]
    outputs = [output, output.with_suffix(".gif")] if gif else [output]
    for path in inputs:
        if any(out.resolve() == path.resolve() for out in outputs):
            raise InvalidInputError(
                f"{path} is both an input and the output; write to another file (-o), or it would be replaced"
            )
    from tessera.safety import check_prompt

    for text in (prompt, negative):  # refused before the model is even loaded
        if text:
            check_prompt(text).raise_if_blocked()
    model = model_folder(model)
    # The given image or clips are read once, here, so a bad file is refused before the model loads; at no more
    # than the model's largest size covers, so a long 4K clip to extend takes megabytes, not gigabytes.
    cover = covering_size(PipelineConfig.read(model).sizes)
    given = {path: read_video(path, cover=cover) for path in inputs}
    t0 = time.perf_counter()
    with console.status(f"loading {model}"):
        pipe = TextToVideoPipeline.from_pretrained(model)
    pipe.config.safety = False  # the prompts were checked above, before loading: no second classifier pass
    if pipe.config.domain == "world":
        from tessera.world.prompt import outside_world

        if note := outside_world(prompt):  # "a cat jumps" would quietly come out as balls and squares
            console.print(f"[yellow]note:[/] {note}")
    if refine is not None:
        pipe.config.refine = refine
    if size is None:
        # Made at the shape of what it starts from: a 112x64 clip is extended at 112x64, not cropped to a square.
        first = next(iter(given.values()), None)
        size = pipe.config.sizes[0] if first is None else nearest_size(first.width, first.height, pipe.config.sizes)
        width, height = parse_size(size)
    fps = fps or pipe.config.fps
    if edit and asked is None and not still:  # an edit is of the whole clip unless --seconds asks for its start
        clip = given[edit]
        seconds = (clip.num_frames - 1) / clip.fps if clip.fps > 0 else 0.0  # a still image: one frame
    frames = round(seconds * fps) + 1
    kwargs: dict = {}
    if image:
        kwargs["image"] = given[image]
    if connect:
        kwargs.update(video=given[connect[0]], end_video=given[connect[1]])
    if edit:
        kwargs.update(video=given[edit], strength=0.6 if strength is None else strength)
    columns = [TextColumn("[bold]sampling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("steps", total=None)

        def on_step(pipe, step: int, _t, kwargs: dict) -> dict:
            bar.update(task, completed=step + 1, total=pipe.num_timesteps)
            return kwargs

        common = dict(
            negative_prompt=negative,
            height=height,
            width=width,
            fps=fps,
            num_inference_steps=steps,
            guidance_scale=guidance,
            seed=seed,
            sampler=sampler,
            callback_on_step_end=on_step,
        )
        if extend:  # as many chained extensions as --seconds takes
            out = pipe.extend(prompt, given[extend], seconds, direction or "forward", **common)
        else:
            out = pipe(prompt, num_frames=frames, loop=loop, recaption=recaption, **common, **kwargs)
    video = out.frames[0]
    if out.prompts[0] != prompt:
        console.print(f"recaptioned as {out.prompts[0]!r} (--no-recaption keeps your words)", highlight=False)
    if video.shape[0] == 1 and output.suffix.lower() in (".mp4", ".gif"):
        console.print("one frame requested: writing a one-frame video (use -o NAME.png for an image)")
    written = [save(output, video, out.fps)]
    if gif:
        written.append(save(output.with_suffix(".gif"), video, out.fps))
    chosen = [
        name
        for name, given in (
            ("image-to-video", image),
            ("extend", extend),
            ("connect", connect),
            ("edit", edit),
            ("loop", loop),
        )
        if given
    ]
    task = chosen[0] if chosen else "text-to-video" if video.shape[0] > 1 else "text-to-image"
    gen = Generation(pipe.name, pipe.weights_sha256, task, out.watermarks[0], inputs, prompt)
    for path in written:  # every file is fully written before it is signed
        sign_file(path, gen)
    total = time.perf_counter() - t0
    t = out.timings
    for path in written:
        typer.echo(str(path))
    size = f"{video.shape[2]}x{video.shape[1]}"
    made = f"an image {size}" if len(video) == 1 else f"{len(video)} frames {size} at {out.fps:g} fps"
    console.print(
        f"{made}  |  load {t['load']:.2f}s  sample {t['sample']:.2f}s  decode {t['decode']:.2f}s  total {total:.2f}s",
        highlight=False,
    )
