"""``tessera redteam``: run a labelled corpus through the safety policy and report both directions."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _fmt(r: dict) -> str:
    if not r.get("n"):
        return "-"
    return f"{r['rate']:.3f} [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}] (n={r['n']})"


def redteam_command(
    corpus: Path | None = typer.Option(None, help="JSONL corpus (default: the shipped test split)"),
    out: Path | None = typer.Option(None, help="Also write the full report as JSON here"),
    copyright_: bool = typer.Option(False, "--copyright", help="Turn the copyrighted-characters category on"),
    threshold: float = typer.Option(0.5, help="Classifier probability that blocks"),
    acts: bool = typer.Option(False, "--acts", help="Turn the acts classifier on (as TESSERA_SAFETY_ACTS=1 does)"),
    lift: bool = typer.Option(True, help="Let the acts classifier lift the linear classifier's false blocks (default)"),
) -> None:
    """Measure the safety policy: block rates on harmful prompts, false blocks on benign ones."""
    from tessera.cli.output import check_output
    from tessera.safety.policy import DEFAULT_OFF, Policy
    from tessera.safety.redteam import load_corpus, run, shipped_corpus
    from tessera.safety.rules import CATEGORIES

    if out is not None:
        check_output(out)
    categories = tuple(c for c in CATEGORIES if copyright_ or c not in DEFAULT_OFF)
    rows = load_corpus(corpus or shipped_corpus())
    report = run(rows, Policy(categories=categories, threshold=threshold, acts=acts or None, lift=lift))
    table = Table(title=f"red team: {corpus or 'shipped test split'} ({report['prompts']} prompts)")
    table.add_column("measure")
    table.add_column("rate [95% CI]")
    for name, r in sorted(report["block_rate"].items()):
        table.add_row(f"blocked: {name}", _fmt(r))
    for name, r in sorted(report["block_rate_by_attack"].items()):
        table.add_row(f"blocked, attack: {name}", _fmt(r))
    for name, r in sorted(report["false_block_borderline"].items()):
        table.add_row(f"false block, borderline: {name}", _fmt(r))
    table.add_row("false block, general creative", _fmt(report["false_block_creative"]))
    console.print(table)
    console.print(f"{report['prompts_per_second']:.0f} prompts/s")
    if out:
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        console.print(f"wrote {out}")
