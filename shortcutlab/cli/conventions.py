"""How every command renders its parameters: usage lines and flags as click/typer users know.

The installed typer renders required arguments as `{data}` in usage lines and a type
metavar after every option, flags included (`--json <bool>`). The root group here swaps
each built parameter to a subclass that renders the familiar way instead:

    Usage: shortcutlab length-balance [OPTIONS] DATA
      --json             (a flag: no metavar)
      --output, -o PATH  (a value: click's type name, or the metavar given)

It is applied once, to the whole command tree, when typer builds the root group, so a
new command gets it without doing anything (tests/test_cli_conventions.py checks).

Why a class swap and not a public hook (checked against typer 0.29.2, issue 20 item 6):
typer builds every parameter itself (`typer.main.get_click_param` constructs
`TyperOption` / `TyperArgument` directly; there is no `cls` for parameters, only for
commands and groups); `TyperArgument.display_type_rich` ignores `metavar`, so a public
`metavar=` cannot remove an argument's `<str>`; and `_usage_display_name` hard-codes
`{NAME}` for a required argument (`overlap TRAIN TEST`). Dropping the swap would put
those back into every help text, which docs/cli.md and the conventions test promise
not to show. If typer gains a parameter-class hook, use it here and nowhere else.

The same classes check a command's output location before its callback runs: a given
`--output/-o` (or `--out`) that cannot be written stops the command with one paragraph,
exit 2, before any work (`shortcutlab.preflight.check_output`).
"""

from __future__ import annotations

import typing
from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

TYPE_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}


def _type_name(param: TyperArgument | TyperOption) -> str:
    """click's name of a parameter's type in capitals: TEXT, INTEGER, FLOAT, PATH."""
    desc = param.type_descriptor
    if desc.is_path:
        return "PATH"
    if desc.is_choice:
        return "[" + "|".join(str(c) for c in desc.choices or ()) + "]"
    annotation = desc.annotation
    if desc.is_list:
        annotation = (typing.get_args(annotation) or (str,))[0]
    return TYPE_NAMES.get(annotation, "TEXT")


class ConventionArgument(TyperArgument):
    """A positional argument shown as `DATA` (required) or `[DATA]` in usage lines."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if self.nargs != 1:
            name += "..."
        return name if self.required else f"[{name}]"

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        return [] if self.hidden else [self._usage_display_name()]

    def display_type_rich(self, ctx: Any) -> str | None:
        return _type_name(self)


class ConventionOption(TyperOption):
    """An option shown with no metavar when it is a flag, else its metavar or type name."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return self.metavar
        return _type_name(self) + ("..." if self.nargs != 1 else "")


def _convert(param: Any) -> None:
    """Swap one typer parameter to its convention class (arguments get a NAME metavar)."""
    if isinstance(param, TyperArgument) and not isinstance(param, ConventionArgument):
        param.__class__ = ConventionArgument
        if param.metavar is None:
            param.metavar = (param.name or "arg").upper()
    elif isinstance(param, TyperOption) and not isinstance(param, ConventionOption):
        param.__class__ = ConventionOption


def _get_params(command: Any, ctx: Any) -> list[Any]:
    """The command's parameters, converted; covers those made or added late (click's
    `--help`, typer's `--install-completion`)."""
    params = super(type(command), command).get_params(ctx)
    for param in params:
        _convert(param)
    return params


OUTPUT_PARAMS = {"output": "--output", "out": "--out", "output_dir": "--output"}


def _invoke(command: Any, ctx: Any) -> Any:
    """Check the command's output location (if one was given), then run it."""
    from shortcutlab.preflight import check_output

    for name, flag in OUTPUT_PARAMS.items():
        value = ctx.params.get(name)
        if value is not None and str(value) != "-":
            check_output(value, flag)
    return super(type(command), command).invoke(ctx)


_COMMAND_CLASSES: dict[type, type] = {}


def _convention_class(cls: type) -> type:
    """A subclass of `cls` whose late parameters follow the convention (one per class, cached).

    (A plain subclass: a mixin base would change the instance layout, and `__class__`
    assignment refuses that.)
    """
    if getattr(cls, "_convention", False):
        return cls
    if cls not in _COMMAND_CLASSES:
        attrs = {"get_params": _get_params, "invoke": _invoke, "_convention": True}
        _COMMAND_CLASSES[cls] = type(cls.__name__, (cls,), attrs)
    return _COMMAND_CLASSES[cls]


def apply(command: Any) -> None:
    """Swap every parameter of `command` and its subcommands to the convention classes."""
    command.__class__ = _convention_class(type(command))
    for param in command.params:
        _convert(param)
    for sub in getattr(command, "commands", {}).values():
        apply(sub)


class ConventionGroup(TyperGroup):
    """The root group: applies the conventions to the whole tree as typer builds it."""

    _convention = True
    get_params = _get_params

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        apply(self)
