"""Regenerate docs/cli.md from the commands' own `--help` texts.

Run: `.venv/bin/python scripts/gen_cli_docs.py` (tests/test_cli_docs.py checks that the
page names every command, so a new command without docs fails CI).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ["COLUMNS"] = "100"
os.environ["TERMINAL_WIDTH"] = "100"
os.environ["NO_COLOR"] = "1"
os.environ["TYPER_USE_RICH"] = "0"  # plain click help: readable in Markdown

import typer.main  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from shortcutlab.cli.main import app  # noqa: E402

HEADER = """# Command reference

Generated from each command's `--help` by `scripts/gen_cli_docs.py`; every command also
prints these texts itself.

## Conventions (every command)

- **Inputs**: a data file is the positional `DATA` argument; `--data FILE` is the same.
  Models are `--model` (`--mm-model`, `--proxy-model`), score tables `--scores`
  (`--mm-scores`, `--proxy-scores`), outputs `--output` / `-o`, and replacing an existing
  output is `--overwrite`. Old spellings (`--out`, `bon --rewards`, `data convert DATA
  OUTPUT`) still work and are hidden from help. `tests/test_cli_conventions.py` walks
  every command's parameters and checks this.
- **`--json`** (every command that computes numbers): stdout is exactly one JSON object,
  the content of the summary file the command writes (`results.json` of the diagnostics,
  `<output stem>.summary.json` of `score`, `OUTPUT/summary.json` of `train`,
  `OUTPUT/demo.json` of `demo`, `spec.json` of `synth`); progress goes to stderr.
- **Progress**: in a terminal, a live bar; when stdout is not a terminal (a log file, a
  pipe), long stages (training steps, scoring batches, study cells) print a plain line
  every 30 s with the step, rate and ETA (`SHORTCUTLAB_PROGRESS_EVERY=SECONDS` sets the
  interval; 0 prints every update). `--quiet` / `-q` silences progress and stage lines.
  `NO_COLOR` is respected.
- **Exit codes**: `0` ok; `1` failure (an unexpected error, shown with its traceback, or a
  crashed child process of `--num-processes N`); `2` bad input or usage (one paragraph
  naming the file, line/row and field, or click's usage error). With `--num-processes N`
  the inputs are checked once before any process starts; a child that fails ends the run
  with its one message and its exit code.
- **Shell completion**: `shortcutlab --install-completion` (bash, zsh, fish, PowerShell),
  or `shortcutlab --show-completion` to print the script.
"""


def command_paths() -> list[list[str]]:
    """Every leaf command as its argv path, in registration order."""
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(group, prefix: list[str]) -> None:
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                walk(cmd, prefix + [name])
            else:
                paths.append(prefix + [name])

    walk(root, [])
    return paths


def render() -> str:
    runner = CliRunner()
    parts = [HEADER]
    for path in command_paths():
        out = runner.invoke(app, [*path, "--help"], terminal_width=100).output
        parts.append(f"\n## `shortcutlab {' '.join(path)}`\n\n```text\n{out.rstrip()}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
