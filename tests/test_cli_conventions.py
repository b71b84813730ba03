"""Every command follows the CLI conventions (docs/cli.md), checked on the live click tree.

A new command is walked like the others, so it cannot break the convention unnoticed:
data as DATA with `--data` as its alias, `--output/-o`, `--model`, `--scores`-style score
tables, `--overwrite`, `--json` where numbers are computed, `--quiet` where stages are
long, and help rendered without `<type>` metavars or `{name}` usage pieces. Exit codes
(0 ok, 2 usage or bad input) are checked for every command through the CLI's entry point
in process (the `cli` fixture); shell completion and NO_COLOR, which depend on the
process and its environment, through real processes (`e2e`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from shortcutlab.cli.conventions import ConventionArgument, ConventionOption
from shortcutlab.cli.main import app

pytestmark = pytest.mark.integration

# Commands that compute no numbers (so no --json), with the reason.
NO_JSON = {
    "data schemas": "prints the list of supported schemas, no numbers",
    "model tiny": "writes a model folder, no numbers",
    "serve": "a long-running server; its numbers are its HTTP answers",
}
# Commands with long stages (training, scoring, studies): they take --quiet.
LONG = {"train", "score", "sfd", "matrix", "demo"}
MODEL_OPTIONS = {"--model", "--mm-model", "--proxy-model"}
SCORE_OPTIONS = {"--scores", "--mm-scores", "--proxy-scores", "--from-scores"}
# Old spellings kept working for scripts, hidden from help.
OLD_NAMES = {"--out", "--rewards"}


def _commands() -> dict[str, object]:
    """Every leaf command of the live tree, by its path ('data inspect')."""
    found: dict[str, object] = {}

    def walk(group, prefix: list[str]) -> None:
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                walk(cmd, [*prefix, name])
            else:
                found[" ".join([*prefix, name])] = cmd

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()


def _visible_options(cmd) -> dict[str, object]:
    """Every visible option name -> its parameter."""
    return {
        opt: p
        for p in cmd.params
        if isinstance(p, ConventionOption) and not p.hidden
        for opt in [*p.opts, *p.secondary_opts]
    }


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_parameters_follow_the_convention(path: str) -> None:
    cmd = COMMANDS[path]
    for p in cmd.params:
        assert isinstance(p, ConventionArgument | ConventionOption), (path, p.name)
    args = [p for p in cmd.params if isinstance(p, ConventionArgument) and not p.hidden]
    assert all(p.metavar and p.metavar == p.metavar.upper() for p in args), path
    options = _visible_options(cmd)
    data_arg = any(p.metavar == "DATA" for p in args)
    assert data_arg == ("--data" in options), f"{path}: DATA and --data go together"
    for name, p in options.items():
        assert name not in OLD_NAMES, f"{path}: {name} is an old name (hide it)"
        if "model" in name and name.startswith("--"):
            assert name in MODEL_OPTIONS, f"{path}: model option {name}"
        if name.endswith("scores") or "score-table" in name:
            assert name in SCORE_OPTIONS, f"{path}: score-table option {name}"
        if any(w in name for w in ("overwrite", "force", "clobber")):
            assert name == "--overwrite", f"{path}: {name} (use --overwrite)"
        if p.name in ("output", "output_dir"):
            assert {"--output", "-o"} <= set(p.opts), f"{path}: outputs are --output/-o"
    if path not in NO_JSON:
        assert "--json" in options, f"{path}: computes numbers, so it takes --json"
    if path.split()[0] in LONG:
        assert "--quiet" in options, f"{path}: long stages, so it takes --quiet"


@pytest.mark.parametrize("rich", ["1", "0"], ids=["rich", "plain"])
@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_renders_like_typer_defaults(path: str, rich: str, monkeypatch) -> None:
    monkeypatch.setenv("TYPER_USE_RICH", rich)
    res = CliRunner().invoke(app, [*path.split(), "--help"], terminal_width=100)
    assert res.exit_code == 0, res.output
    assert not re.search(r"<(bool|str|int|float|path|list\[\w+\])>", res.output), res.output
    usage = next(line for line in res.output.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage
    if any(p.metavar == "DATA" for p in COMMANDS[path].params if not p.hidden):
        assert "DATA" in usage, usage


def test_root_offers_shell_completion() -> None:
    res = CliRunner().invoke(app, ["--help"], terminal_width=100)
    assert "--install-completion" in res.output and "<bool>" not in res.output


@pytest.mark.e2e
def test_shell_completion_completes_commands_and_options() -> None:
    """What the installed completion script asks the console script (typer's bash protocol)."""
    script = Path(sys.executable).parent / "shortcutlab"  # the installed entry point
    for words, cword, want in (
        ("shortcutlab da", "1", "data"),
        ("shortcutlab score --js", "2", "--json"),
    ):
        env = dict(os.environ, _SHORTCUTLAB_COMPLETE="complete_bash", COMP_WORDS=words)
        res = subprocess.run(
            [str(script)], env=dict(env, COMP_CWORD=cword), capture_output=True, text=True
        )
        assert res.returncode == 0 and want in res.stdout.split(), res.stdout + res.stderr


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_usage_error_exits_2(path: str, cli) -> None:
    res = cli(*path.split(), "--no-such-option", code=2)
    assert "No such option" in res.stderr and "Traceback" not in res.stderr


def _missing_input_argv(path: str, tmp: Path) -> list[str] | None:
    """argv that names a file that does not exist, per command (None: reads no input)."""
    gone, out = str(tmp / "gone.jsonl"), str(tmp / "out")
    table = {
        "train": ["train", gone, "--model", gone, "-o", out],
        "score": ["score", gone, "--model", str(tmp), "-o", out + ".jsonl"],
        "sfd": ["sfd", "--mm-scores", gone, "--proxy-scores", gone, "-o", out],
        "matrix": ["matrix", "--from-accuracies", gone, "-o", out],
        "length-balance": ["length-balance", gone, "-o", out],
        "bon": ["bon", "--judge", gone, "--scores", gone, "-o", out],
        "correlate": ["correlate", "--mm-scores", gone, "--proxy-scores", gone, "-o", out],
        "data inspect": ["data", "inspect", gone],
        "data convert": ["data", "convert", gone, "-o", out + ".jsonl"],
        "model info": ["model", "info", gone],
        "synth": ["synth", "-o", out, "--size", "no-such-size"],
        "demo": ["demo", "-o", out, "--seeds", "0"],
        "model tiny": ["model", "tiny", "--arch", "no-such-arch", "-o", out],
        "audit": ["audit", gone, "-o", out],
        "overlap": ["overlap", gone, gone, "-o", out],
        "probe make": ["probe", "make", gone, "-o", out],
        "probe run": ["probe", "run", gone, "--model", str(tmp), "-o", out],
        "probe report": ["probe", "report", "--scores", gone, "--battery", out, "-o", out],
        "serve": ["serve", gone],  # fails loading the model, before any port is bound
        "export": ["export", gone, "--to", out],
        "report": ["report", str(tmp / "gone"), "-o", out + ".html"],
    }
    return table.get(path)


@pytest.mark.parametrize("path", sorted(set(COMMANDS) - {"data schemas"}))
def test_bad_input_exits_2_with_one_message(path: str, tmp_path: Path, cli) -> None:
    argv = _missing_input_argv(path, tmp_path)
    assert argv is not None, f"add a bad-input argv for the new command `{path}`"
    res = cli(*argv, code=2)
    assert "error:" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert res.stdout.strip() == "", res.stdout


@pytest.mark.e2e
def test_real_process_exit_codes_and_no_color_is_respected(cli_process) -> None:
    """The console entry point as a process: exit 2 on a usage error, 0 with NO_COLOR
    (read from the environment) respected."""
    res = cli_process("score", "--no-such-option", code=2)
    assert "No such option" in res.stderr and "Traceback" not in res.stderr
    res = cli_process("data", "schemas", env={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert not re.search(r"\x1b\[[0-9;]*(3[0-8]|9[0-7])[;m]", res.stdout), res.stdout[:500]
