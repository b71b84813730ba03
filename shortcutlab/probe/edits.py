"""Text edits of the probe battery: changes to one response that should not matter.

Built-in edits (`BUILTIN_EDITS`), each a pure function of one response's text:
- `pad`: neutral filler sentences appended (more words, no content);
- `hedge`: a hedging opener ("It seems that ...") in front of the answer;
- `list`: the same sentences as bullet points, one per line;
- `truncate`: the last sentence removed (a one-sentence response is left unchanged and
  counted: there is nothing to remove).

User edits come from an edits file (`--edits FILE`, JSONL or a JSON list), one object per
edit: `{"name": "thanks", "op": "suffix", "text": "I hope this helps!"}`; `op` is
`prefix`, `suffix` or `replace` (`replace` also needs `find`: every occurrence of `find`
becomes `text`). Errors name the file, line and field (`load_edits`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shortcutlab.data.io import iter_rows
from shortcutlab.errors import DataError

PAD_TEXT = (
    "I hope this answer is helpful. Please let me know if you have any other questions about it."
)
HEDGE_TEXT = "It seems that"
USER_OPS = ("prefix", "suffix", "replace")
BUILTIN_EDITS = ("pad", "hedge", "list", "truncate")
IMAGE_TESTS = ("swap", "blank", "drop")
RESERVED = ("original", *IMAGE_TESTS, *BUILTIN_EDITS)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """`text` split after '.', '!' or '?' followed by white space (empty parts dropped)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _join(left: str, right: str) -> str:
    """Two texts with one space between them (none added when one side is empty)."""
    if not left or not right:
        return left + right
    return left.rstrip() + " " + right.lstrip()


def _lower_first(text: str) -> str:
    """'The shape is red.' -> 'the shape is red.' (kept as is for 'I ...' or acronyms)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def pad(text: str) -> str:
    return _join(text, PAD_TEXT)


def hedge(text: str) -> str:
    return _join(HEDGE_TEXT, _lower_first(text.lstrip()))


def bullet_list(text: str) -> str:
    return "\n".join(f"- {s}" for s in sentences(text))


def truncate(text: str) -> str:
    parts = sentences(text)
    return " ".join(parts[:-1]) if len(parts) > 1 else text


@dataclass(frozen=True)
class Edit:
    """One text edit: a built-in (`op="builtin"`) or a user edit (prefix/suffix/replace)."""

    name: str
    op: str = "builtin"
    text: str = ""
    find: str = ""
    file: str = ""  # the edits file of a user edit, for messages
    line: int | None = None  # its line there

    def apply(self, response: str) -> str:
        """The edited response (may equal `response`: the caller counts that)."""
        if self.op == "builtin":
            return _BUILTINS[self.name](response)
        if self.op == "prefix":
            return _join(self.text, response)
        if self.op == "suffix":
            return _join(response, self.text)
        return response.replace(self.find, self.text)

    def describe(self) -> str:
        """What the edit does, in words (card.json / card.md)."""
        if self.op == "builtin":
            return BUILTIN_DESCRIPTIONS[self.name]
        if self.op == "replace":
            return f"every '{self.find}' replaced by '{self.text}'"
        return f"{self.op} '{self.text}'"


_BUILTINS = {"pad": pad, "hedge": hedge, "list": bullet_list, "truncate": truncate}
BUILTIN_DESCRIPTIONS = {
    "pad": f"neutral filler appended: '{PAD_TEXT}'",
    "hedge": f"hedging opener: '{HEDGE_TEXT} ...'",
    "list": "the same sentences as bullet points",
    "truncate": "the last sentence removed",
}


def builtin_edits(names: tuple[str, ...] = BUILTIN_EDITS) -> list[Edit]:
    return [Edit(name) for name in names]


def load_edits(path: str | Path) -> list[Edit]:
    """User edits from a JSONL / JSON-list file; a bad entry: DataError (file, line, field)."""
    edits: list[Edit] = []
    seen: dict[str, int] = {}
    for loc, row in iter_rows(path):

        def bad(msg: str, field: str | None = None, _line: int = loc.line) -> DataError:
            hint = (
                'One object per line: {"name": "thanks", "op": "suffix", "text": "..."}; '
                "op is prefix, suffix or replace (replace also needs find)."
            )
            return DataError(
                msg, file=str(path), line=_line, field=field, hint=hint, reason="bad_edit"
            )

        name, op = row.get("name"), row.get("op")
        if not isinstance(name, str) or not _NAME.match(name):
            raise bad(f"'name' must be 1-40 letters, digits, '_' or '-', got {name!r}.", "name")
        if name in RESERVED or name in seen:
            where = "a built-in test" if name in RESERVED else f"line {seen[name]}"
            raise bad(f"edit name '{name}' is already used ({where}).", "name")
        if op not in USER_OPS:
            raise bad(f"'op' must be one of {', '.join(USER_OPS)}, got {op!r}.", "op")
        text = row.get("text")
        if not isinstance(text, str) or (op != "replace" and not text.strip()):
            raise bad(f"'text' must be a non-empty string, got {text!r}.", "text")
        find = row.get("find", "")
        if op == "replace" and (not isinstance(find, str) or not find):
            raise bad(f"op 'replace' needs 'find', a non-empty string; got {find!r}.", "find")
        seen[name] = loc.line
        edits.append(Edit(name, op, text, find if op == "replace" else "", str(path), loc.line))
    return edits
