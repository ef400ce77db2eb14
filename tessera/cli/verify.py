"""``tessera verify FILE``: the C2PA manifest and the watermark of a file, and a one-line verdict."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def verify_command(
    file: Path = typer.Argument(..., help="A video or image (MP4, GIF, PNG, JPEG, ...)"),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON"),
) -> None:
    """Check a file's provenance: signed C2PA manifest (valid / tampered) and invisible watermark."""
    from tessera.provenance import verify

    report = verify(file)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    m = report.manifest
    table = Table(show_header=False, title=str(file))
    table.add_row("C2PA manifest", "absent" if not m.present else f"{m.state}" + (" (TAMPERED)" if m.tampered else ""))
    if m.present:
        table.add_row("generator", m.generator or "?")
        table.add_row("validation failures", ", ".join(m.failures) or "none")
        for action in m.actions:
            table.add_row(
                "action", f"{action.get('action')} ({action.get('digitalSourceType', '').rsplit('/', 1)[-1]})"
            )
    table.add_row("watermark", "detected" if report.watermark_detected else "not detected")
    table.add_row("watermark p-value", f"{report.watermark_p_value:.2e}")
    table.add_row("watermark payload", report.watermark_payload or "-")
    console.print(table)
    console.print(report.verdict, highlight=False)
