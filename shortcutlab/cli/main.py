"""The `shortcutlab` console script: a thin typer layer over the library.

Each command module under `shortcutlab.cli` owns one command or group and exposes
`register(app)`; each parses options, calls one library function and renders with rich.
Errors the user can fix (`ShortcutlabError`) are printed once here as one paragraph and
exit with code 2 (a failed child of a multi-process launch: its own code); nothing else
is caught. Exit codes: 0 ok, 1 failure (an unexpected error, with its traceback), 2 bad
input or usage (docs/cli.md).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from shortcutlab import __version__, distributed
from shortcutlab.cli import (
    audit_cmd,
    bon_cmd,
    correlate_cmd,
    data_cmd,
    demo_cmd,
    export_cmd,
    length_cmd,
    matrix_cmd,
    model_cmd,
    overlap_cmd,
    probe_cmd,
    report_cmd,
    score_cmd,
    serve_cmd,
    sfd_cmd,
    synth_cmd,
    train_cmd,
)
from shortcutlab.cli.conventions import ConventionGroup
from shortcutlab.errors import ShortcutlabError

HELP = """Train and diagnose multimodal reward models for text-only shortcuts.

Examples:

  shortcutlab model tiny --arch llava -o models/tiny-llava

  shortcutlab data inspect data/train.jsonl

  shortcutlab train train.jsonl --mode shortcut-aware --model models/tiny-llava -o runs/sa

  shortcutlab score test.jsonl --model runs/sa -o scores.jsonl --json

  shortcutlab sfd --mm-scores mm.jsonl --proxy-scores text.jsonl -o out/sfd

  shortcutlab demo --quick > demo.log

Conventions: data files are DATA (or --data), outputs -o/--output; --json prints one
JSON object; exit codes 0 ok, 1 failure, 2 bad input or usage (docs/cli.md).
"""

app = typer.Typer(
    name="shortcutlab",
    help=HELP,
    no_args_is_help=True,
    add_completion=True,
    cls=ConventionGroup,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


# One module per command or group, registered in this order (the order of --help).
COMMAND_MODULES = (
    data_cmd,
    model_cmd,
    train_cmd,
    score_cmd,
    sfd_cmd,
    matrix_cmd,
    length_cmd,
    bon_cmd,
    correlate_cmd,
    audit_cmd,
    overlap_cmd,
    probe_cmd,
    report_cmd,
    synth_cmd,
    demo_cmd,
    serve_cmd,
    export_cmd,
)
for _module in COMMAND_MODULES:
    _module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; print user errors as one paragraph, exit 2.

    Click handles its own usage errors (exit 2) in standalone mode; our errors that the
    user can fix propagate out of the command and are rendered here.
    """
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as ex:  # click exits even on success; return normally then
        if ex.code not in (0, None):
            raise
    except ShortcutlabError as err:
        # a child of a --num-processes launch leaves it to the launcher to print once
        if not distributed.report_child_error(str(err), err.exit_code):
            err_console.print(
                f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True, markup=True
            )
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
