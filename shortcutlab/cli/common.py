"""Shared pieces of the diagnostics commands: option aliases, `NAME=FILE` specs, the rich
table renderer and the run's provenance (command line and parameters for run_info.json).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.table import Table

from shortcutlab.diagnostics.outputs import Provenance

Output = Annotated[Path, typer.Option("--output", "-o", help="Folder for results and figures.")]
NBoot = Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates (records resampled).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap / subsampling.")]


def named(spec: str) -> tuple[str, str]:
    """'NAME=FILE' -> (NAME, FILE); a plain FILE -> (its stem, FILE)."""
    if "=" in spec and not os.path.exists(spec):
        name, path = spec.split("=", 1)
        return name, path
    return Path(spec).stem, spec


def provenance() -> Provenance:
    """The invoked command line and its parameters (for run_info.json)."""
    ctx = click.get_current_context(silent=True)
    return Provenance(
        command=["shortcutlab", *sys.argv[1:]], params=dict(ctx.params) if ctx else {}
    )


def pts(x: float, lo: float | None = None, hi: float | None = None, scale: float = 100) -> str:
    """A fraction in points ('n/a' for NaN), with its interval when both ends are numbers."""
    if x != x:
        return "n/a"
    s = f"{scale * x:.1f}"
    if lo is not None and hi is not None and lo == lo and hi == hi:
        s += f" [{scale * lo:.1f}, {scale * hi:.1f}]"
    return s


def print_table(
    title: str, columns: list[str], rows: list[list[str]], files: list[Path] | None = None
) -> None:
    """A rich table on stdout, then one `wrote FILE` line per file written."""
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[str(x) for x in r])
    con = Console()
    con.print(table)
    for f in files or []:
        con.print(f"wrote {f}", highlight=False)
