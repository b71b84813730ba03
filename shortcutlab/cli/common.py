"""Shared pieces of the commands: the option conventions (DATA / --data, --output/-o,
--json, --quiet), `NAME=FILE` specs, the rich table renderer and the run's provenance
(command line and parameters for run_info.json).

Conventions every command follows (tests/test_cli_conventions.py checks them):
- a data file is a positional DATA argument, with `--data` as an alias;
- models are `--model` (or `--mm-model` / `--proxy-model`), score tables `--scores`
  (or `--mm-scores` / `--proxy-scores`), outputs `--output/-o`, replacing `--overwrite`;
- `--json` prints one JSON object on stdout (the content of the summary file the command
  writes) and nothing else; progress then goes to stderr; `--quiet` turns it off.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shortcutlab import progress
from shortcutlab.diagnostics.outputs import Provenance

try:  # typer vendors click (typer._click); its context and exceptions are the live ones
    from typer._click.exceptions import UsageError
    from typer._click.globals import get_current_context
except ImportError:  # a typer that uses click itself
    from click import UsageError, get_current_context  # type: ignore[no-redef]

Output = Annotated[Path, typer.Option("--output", "-o", help="Folder for results and figures.")]
Json = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the results as one JSON object on stdout (the content of the summary "
        "file written) and nothing else; progress goes to stderr.",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or stage lines.")]
OutAlias = Annotated[Path | None, typer.Option("--out", hidden=True, help="Old name of --output.")]
DATA_HELP = "Data file (JSONL, JSON list, parquet or HF datasets folder)."
DataAlias = Annotated[
    str | None, typer.Option("--data", help="Same as DATA (the data file).", show_default=False)
]


def data_file(positional: str | None, option: str | None, *, required: bool = True) -> str | None:
    """The data file given as DATA or as `--data` (once; usage error, exit 2, otherwise)."""
    if positional is not None and option is not None and positional != option:
        raise UsageError(f"give the data file once: DATA ({positional}) or --data ({option}).")
    value = positional if positional is not None else option
    if value is None and required:
        raise UsageError("Missing argument 'DATA' (the data file; or --data FILE).")
    return value


def data_files(positional: list[str] | None, option: list[str] | None) -> list[str]:
    """Data files given as DATA... or as repeated `--data` (not both: usage error, exit 2)."""
    if positional and option:
        raise UsageError("give the data files either as DATA... or as --data, not both.")
    return list(positional or option or [])


def output_path(output: Path | None, old: Path | None, default: Path | None = None) -> Path:
    """The output given as --output/-o or by its old name --out (not both: usage error)."""
    if output is not None and old is not None and output != old:
        raise UsageError("give the output once: --output/-o (or its old name --out).")
    value = output if output is not None else old if old is not None else default
    if value is None:
        raise UsageError("Missing option '--output' / '-o'.")
    return value


def start(*, as_json: bool = False, quiet: bool = False) -> None:
    """Route this run's progress and stage lines: to stderr under --json, off if --quiet."""
    progress.configure(quiet=quiet, to_stderr=as_json)


def print_json(obj: Any) -> None:
    """One JSON object on stdout (the `--json` result)."""
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def print_json_file(path: str | Path) -> None:
    """A summary file's content on stdout as is (so `--json` equals the file)."""
    text = Path(path).read_text(encoding="utf-8")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


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
    ctx = get_current_context(silent=True)
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


PLAIN_WIDTH = 1_000_000  # "no limit": a table is only as wide as its content


def out_console() -> Console:
    """The stdout console: the terminal's width on a terminal; elsewhere (a pipe, a file,
    a CI log) no width limit, so a table never cuts or wraps a group name or a number
    (rich would otherwise squeeze it into 80 columns)."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=PLAIN_WIDTH, no_color=True)


def print_table(
    title: str, columns: list[str], rows: list[list[str]], files: list[Path] | None = None
) -> None:
    """A rich table on stdout, then one `wrote FILE` line per file written."""
    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*[str(x) for x in r])
    con = out_console()
    con.print(table)
    for f in files or []:
        con.print(f"wrote {f}", highlight=False)
