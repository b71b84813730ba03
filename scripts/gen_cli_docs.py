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
prints these texts itself. Errors in input files exit with code 2 and one paragraph that
names the file, line/row and field.
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
