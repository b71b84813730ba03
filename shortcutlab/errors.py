"""Errors shown to users: one paragraph naming the file, line/row and field, plus a hint.

Every user-facing failure (bad data, bad config, missing model) raises a subclass of
`ShortcutlabError`. The CLI catches it once in `main()`, prints `str(err)` and exits 2,
so no traceback reaches the user for bad input.
"""

from __future__ import annotations


class ShortcutlabError(Exception):
    """Base class of errors that are the user's to fix (exit code 2, no traceback)."""

    exit_code = 2


class DataError(ShortcutlabError):
    """A problem in an input file, located by file, line/row and field.

    `line` is 1-based for JSONL/JSON-list files and the 0-based row index for parquet
    and HF datasets folders (`row` wording is used for those).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
        reason: str = "invalid",
        row_word: str = "line",
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        self.hint = hint
        self.reason = reason  # short machine key used to count skips ("missing_field", ...)
        self.row_word = row_word
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"{self.row_word} {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f" Hint: {self.hint}"
        return text


class ConfigError(ShortcutlabError):
    """A problem in a YAML config or in command-line options."""


class OutputError(ShortcutlabError):
    """An output file or folder that cannot be created or written (checked before work)."""


class ModelError(ShortcutlabError):
    """A model folder or Hub id that cannot be loaded as asked."""


class ChildFailed(ShortcutlabError):
    """A process of a multi-process launch (`--num-processes N`) failed.

    Carries the failed child's exit code (2 for bad input, 1 for a crash), so the
    launcher exits with it after printing the child's one error message.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
