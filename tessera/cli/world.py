"""``tessera world ...``: sample, preview and make datasets from the physics world."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tessera.cli.output import check_output, check_output_folder
from tessera.media import OUTPUT_SUFFIXES, parse_size, save
from tessera.world import MOTIONS, SPLITS

world_app = typer.Typer(
    help="The procedural physics world: Tessera's training data and measuring instrument.", no_args_is_help=True
)
console = Console()


@world_app.command("sample")
def sample(
    prompt: str = typer.Argument(..., help=f"A world-style prompt, or a motion name: {', '.join(MOTIONS)}"),
    output: Path = typer.Option(Path("clip.mp4"), "-o", "--output", help="Output .mp4, .gif or .png"),
    size: str = typer.Option("64x64", help="WIDTHxHEIGHT in pixels"),
    frames: int = typer.Option(17, help="Number of frames"),
    fps: float = typer.Option(8.0, help="Frames per second"),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same clip"),
    split: str = typer.Option("custom", help=f"World split: {', '.join(SPLITS)}"),
    record: Path | None = typer.Option(None, help="Also write the ground-truth record (JSON) here"),
) -> None:
    """Render one world clip from a prompt (or a motion name) with its exact ground truth."""
    from tessera.world import sample_clip

    width, height = parse_size(size)
    check_output(output, OUTPUT_SUFFIXES)
    if record is not None:
        check_output(record)
    t0 = time.perf_counter()
    if prompt.strip().lower() in MOTIONS:
        clip = sample_clip(seed, split, width, height, frames, fps, motion=prompt.strip().lower())
    else:
        clip = sample_clip(seed, split, width, height, frames, fps, prompt=prompt)
    path = save(output, clip.frames, clip.fps)
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(clip.record, indent=1))
    console.print(
        f"[green]wrote[/] {path}  ({width}x{height}, {frames} frames at {fps:g} fps, {time.perf_counter() - t0:.2f} s)"
    )
    console.print(f"caption: {clip.caption}", highlight=False)
    console.print(
        f"motion: {clip.record['scene']['motion']}; events: "
        + ", ".join(f"{e['type']}@{e['frame']}" for e in clip.record["events"]),
        highlight=False,
    )


@world_app.command("preview")
def preview(
    output: Path = typer.Option(Path("world_preview.png"), "-o", "--output", help="Output PNG"),
    clips: int = typer.Option(16, help="Number of clips"),
    size: str = typer.Option("64x64", help="WIDTHxHEIGHT in pixels"),
    frames: int = typer.Option(17, help="Frames per clip"),
    fps: float = typer.Option(8.0, help="Frames per second"),
    split: str = typer.Option("train", help=f"World split: {', '.join(SPLITS)}"),
    seed: int = typer.Option(0, help="Seed of the first clip"),
) -> None:
    """A contact sheet of world clips (a strip of frames each) with their captions."""
    from tessera.world.preview import contact_sheet

    width, height = parse_size(size)
    check_output(output, (".png",))
    contact_sheet(output, clips, width, height, frames, fps, split, seed)
    console.print(f"[green]wrote[/] {output}")


@world_app.command("make-dataset")
def make_dataset(
    out: Path = typer.Option(..., "--out", help="Output folder for the tar shards"),
    clips: int = typer.Option(1000, help="Number of clips"),
    size: str = typer.Option("64x64", help="WIDTHxHEIGHT in pixels"),
    frames: int = typer.Option(17, help="Frames per clip"),
    fps: float = typer.Option(8.0, help="Frames per second"),
    split: str = typer.Option("train", help=f"World split: {', '.join(SPLITS)}"),
    seed: int = typer.Option(0, help="Seed of the first clip"),
    shard_size: int = typer.Option(1000, help="Clips per shard"),
    workers: int = typer.Option(2, help="Worker processes"),
    layout: str = typer.Option("shards", help="shards (tar, for training) or folder (MP4 + JSON per clip)"),
) -> None:
    """Render world clips into WebDataset-style tar shards, or a folder of MP4s with captions and records."""
    from tessera.data.shards import check_world_dataset, make_world_dataset
    from tessera.errors import ConfigError

    if clips < 1 or shard_size < 1 or workers < 1:
        raise ConfigError("--clips, --shard-size and --workers must be at least 1")
    width, height = parse_size(size)
    check_output_folder(out)
    check_world_dataset(out, width, height, frames, fps, split, seed, layout)  # before the progress bar shows
    t0 = time.perf_counter()
    with Progress(
        TextColumn("[bold]rendering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as bar:
        task = bar.add_task("clips", total=clips)
        paths = make_world_dataset(
            out,
            clips,
            width,
            height,
            frames,
            fps,
            split,
            seed,
            shard_size,
            workers,
            progress=lambda n: bar.advance(task, n),
            layout=layout,
        )
    dt = time.perf_counter() - t0
    what = f"{len(paths)} shard(s)" if layout == "shards" else "a folder"
    console.print(f"[green]wrote[/] {clips} clip{'s' * (clips != 1)} in {what} to {out} ({clips / dt:.0f} clips/s)")
