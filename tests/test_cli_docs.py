"""Every command documents itself: `--help` shows examples and docs/cli.md names it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shortcutlab.cli.main import app

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gen_cli_docs", REPO / "scripts" / "gen_cli_docs.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)
COMMANDS = gen.command_paths()
pytestmark = pytest.mark.integration


def test_every_expected_command_is_registered() -> None:
    names = {" ".join(p) for p in COMMANDS}
    expected = {"train", "score", "sfd", "matrix", "length-balance", "bon", "correlate"}
    expected |= {"synth", "demo", "data inspect", "model tiny"}
    assert expected <= names, expected - names


def test_root_help_shows_examples() -> None:
    out = CliRunner().invoke(app, ["--help"]).output
    assert "Examples" in out and "shortcutlab train" in out


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p))
def test_command_help_shows_examples(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`shortcutlab {' '.join(path)} --help` has no examples"


def test_cli_reference_names_every_command() -> None:
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = [p for p in COMMANDS if f"## `shortcutlab {' '.join(p)}`" not in text]
    assert not missing, f"docs/cli.md is stale; run scripts/gen_cli_docs.py ({missing})"


@pytest.mark.e2e
def test_python_dash_m_entry_point(cli_process) -> None:
    assert cli_process("--version").stdout.strip()
