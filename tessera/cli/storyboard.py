"""``tessera storyboard board.yaml -o film.mp4``: timed multi-shot prompts as one continuous video."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


def storyboard_command(
    board_file: Path = typer.Argument(..., help="Storyboard file (YAML or JSON): shots with at/duration/prompt"),
    output: Path = typer.Option(Path("film.mp4"), "-o", "--output", help="Output file: .mp4 or .gif"),
    model: Path | None = typer.Option(None, "--model", help="Pipeline folder (default: models/tessera-world-s)"),
    size: str | None = typer.Option(None, help="WIDTHxHEIGHT (default: the file's, else the model's first)"),
    seed: int | None = typer.Option(None, help="Seed (default: the file's, else 0)"),
    steps: int | None = typer.Option(None, help="Sampling steps (default: the model's)"),
    guidance: float | None = typer.Option(None, help="Guidance scale (default: the model's)"),
) -> None:
    """Render a storyboard: continuous shots extend the previous one; cuts start fresh."""
    from tessera.cli.generate import model_folder
    from tessera.cli.output import check_output
    from tessera.media import parse_size, save
    from tessera.pipeline import TextToVideoPipeline
    from tessera.pipeline.storyboard import Storyboard, check_shots
    from tessera.provenance import Generation, sign_file

    board = Storyboard.from_file(board_file)
    if seed is not None:
        board = dataclasses.replace(board, seed=seed)  # checked like the file's
    check_shots(board.shots)  # every shot, before the model is even loaded
    check_output(output, (".mp4", ".gif"))
    model = model_folder(model)
    t0 = time.perf_counter()
    with console.status(f"loading {model}"):
        pipe = TextToVideoPipeline.from_pretrained(model)
    pipe.config.safety = False  # checked above
    if pipe.config.domain == "world":
        from tessera.world.prompt import outside_world

        for i, shot in enumerate(board.shots, 1):
            if note := outside_world(shot.prompt):
                console.print(f"[yellow]note:[/] shot {i}: {note}")
    width, height = parse_size(size or board.size or pipe.config.sizes[0])
    columns = [TextColumn("[bold]storyboard"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("steps", total=None)
        out = pipe.storyboard(
            board,
            height=height,
            width=width,
            num_inference_steps=steps,
            guidance_scale=guidance,
            callback_on_step_end=lambda p, step, _t, kwargs: bar.update(
                task, completed=step + 1, total=p.num_timesteps
            ),
        )
    video = out.frames[0]
    path = save(output, video, out.fps)
    images = [Path(s.image) for s in board.shots if isinstance(s.image, str)]
    gen = Generation(pipe.name, pipe.weights_sha256, "storyboard", out.watermarks[0], images, shots=board.timeline())
    sign_file(path, gen)
    typer.echo(str(path))
    bounds = ", ".join(f"{s / out.fps:.2f}s" for s in out.shot_starts)
    console.print(
        f"{len(board.shots)} shots, {len(video)} frames {width}x{height} at {out.fps:g} fps; shots start at "
        f"{bounds}; total {time.perf_counter() - t0:.1f}s",
        highlight=False,
    )
