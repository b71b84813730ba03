"""Command-line options generated from a run config dataclass (`TrainConfig`, `ScoreConfig`).

Every field of the dataclass becomes a `--kebab-case` flag with the field's `help`
metadata, so the CLI and the config never drift. Each option defaults to None ("not
given"); the command then builds the config from the flags that were given through the
config's own `from_flags` (one conversion path: `config._coerce`). Field metadata:
`cli=False`: no flag (e.g. ScoreConfig's `device`, a Python-only setting);
`negatable=False`: a boolean gets `--flag` only, no `--no-flag` (e.g. `--overwrite`).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Annotated, Any

import typer

METAVARS = {int: "INTEGER", float: "FLOAT"}  # as click names them (help and docs/cli.md)


def option_type(f: dataclasses.Field, tp: Any) -> tuple[Any, dict[str, Any]]:
    """How a config field is read from the command line: bools as --x/--no-x, dict fields
    as repeatable KEY=VALUE, everything else as text that the config's `from_flags`
    coerces by the field's type (one coercion path). The metavar says what the text is."""
    inner = [a for a in typing.get_args(tp) if a is not type(None)]
    union = typing.get_origin(tp) in (typing.Union, types.UnionType)
    base = inner[0] if union and len(inner) == 1 else tp
    if base is bool:
        return bool, {}
    if base is dict or typing.get_origin(base) is dict:
        return list[str], {"metavar": "KEY=VALUE"}
    choices = f.metadata.get("choices")
    if choices is not None:
        return str, {"metavar": "|".join(choices())}
    if typing.get_origin(base) is typing.Literal:
        return str, {"metavar": "|".join(str(a) for a in typing.get_args(base))}
    if typing.get_origin(base) is list:
        return str, {"metavar": "A,B,..."}
    return str, {"metavar": METAVARS.get(base, "TEXT")}


def config_parameters(
    cls: type, *, aliases: dict[str, list[str]] | None = None
) -> list[inspect.Parameter]:
    """One keyword-only typer parameter per CLI field of the dataclass `cls`.

    `aliases`: extra flag names per field (e.g. `{"output_dir": ["--output", "-o"]}`).
    Booleans get `--flag/--no-flag` (unless `negatable=False`); the help ends with the
    field's default.
    """
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", True):
            continue
        tp, extra = option_type(f, hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        if tp is bool and f.metadata.get("negatable", True):
            names = [f"{flag}/--no-{flag[2:]}"]
        else:
            names = [*(aliases or {}).get(f.name, []), flag]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        help_text = f"{f.metadata.get('help', '')} [default: {default}]"
        option = typer.Option(*names, help=help_text, show_default=False, **extra)
        annotation = Annotated[tp | None, option]
        params.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
            )
        )
    return params


def flags_argv(flags: dict[str, Any]) -> list[str]:
    """The flags that were given (not None), as command-line arguments that reproduce them."""
    argv: list[str] = []
    for name, value in flags.items():
        flag = "--" + name.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            argv.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, list):
            for item in value:
                argv += [flag, str(item)]
        else:
            argv += [flag, str(value)]
    return argv
