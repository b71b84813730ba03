"""Which records a run reads and how it splits them: `--exclude-ids` lists and `--group-by`.

The one owner of the group-by vocabulary (score, sfd, audit and the diagnostics all call
`group_of` / `record_groups`; `diagnostics.groups` adds score-table columns and the
per-group accuracy on top). A data-layer module so that scoring can select records
without importing the diagnostics.

Group values (the same in every command):
- `schema`: the record's input schema (the adapter that read it);
- `source`: the data file's name (not its path), exactly the score table's `source`
  column (`score_table.source_name`); these two built-ins win over a data field of the
  same name;
- any other name: the data row's extra field of that name (`Record.meta`, e.g.
  VL-RewardBench's derived `category`);
- a missing, empty (`""`), None or NaN value is the group `(missing)`: an empty string
  is no group name, and a blank group heading in a table reads as a bug.
A name that no record has (and is no built-in) is an error listing the fields there are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shortcutlab.data.records import Record
from shortcutlab.errors import ConfigError, DataError

NO_GROUP = "(missing)"  # the group of a record without a value for the column
BUILT_IN_GROUPS = ("source", "schema")  # available for every record


def group_label(value: Any) -> str:
    """A group value as its name: None, NaN and "" -> `(missing)`, else `str(value)`."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return NO_GROUP
    return str(value)


def group_of(record: Record, column: str) -> str:
    """The group of one record under `--group-by column` (see the module doc)."""
    if column == "schema":
        return group_label(record.schema)
    if column == "source":
        return group_label(Path(record.loc.file).name if record.loc is not None else "")
    return group_label(record.meta.get(column))


def record_groups(records: Iterable[Record], column: str, where: str = "") -> dict[str, str]:
    """Record id -> group of `column`; ConfigError when no record has such a field."""
    recs = list(records)
    if column not in BUILT_IN_GROUPS and not any(column in r.meta for r in recs):
        fields = sorted({k for r in recs for k in r.meta} | set(BUILT_IN_GROUPS))
        raise ConfigError(
            f"--group-by {column}: no such column in {where or 'the data'} (no record has a "
            f"field {column!r}); data fields: {', '.join(fields)}."
        )
    return {str(r.id): group_of(r, column) for r in recs}


def read_id_list(path: str | Path) -> set[str]:
    """Ids listed in `path`, one a line (what `shortcutlab overlap` writes as
    `overlap_ids.txt`; blank lines and `#` comments ignored); `DataError` for a missing
    or unreadable file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            "file not found.",
            file=str(p),
            hint="--exclude-ids takes a file of ids, one a line (overlap_ids.txt of "
            "`shortcutlab overlap`).",
            reason="missing_file",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"cannot read the id list ({exc}).", file=str(p), reason="bad_file"
        ) from None
    lines = (line.strip() for line in text.splitlines())
    return {line for line in lines if line and not line.startswith("#")}


@dataclass
class Exclusion:
    """What `--exclude-ids` removed from one input: records (and rows) dropped, ids unseen."""

    file: str
    listed: int  # ids in the file
    excluded_records: int  # of them, records present in the input (and dropped)
    excluded_rows: int | None = None  # score-table rows dropped (K per record), tables only

    def to_dict(self) -> dict[str, Any]:
        out = {
            "file": self.file,
            "ids_listed": self.listed,
            "excluded_records": self.excluded_records,
            "ids_not_in_input": self.listed - self.excluded_records,
        }
        if self.excluded_rows is not None:
            out["excluded_rows"] = self.excluded_rows
        return out
