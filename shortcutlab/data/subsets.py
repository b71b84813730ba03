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
A "(missing)" group is never silent: `record_groups` says on stderr how many records fall
into it (it is one more group in a macro average).

An id in an `--exclude-ids` list matches every record whose original id it is: a
benchmark id that repeats with different content loads as `<id>` and `<id>#<hash>`, and
both go (`drop_listed`, `listed_mask`), counted (`Exclusion.ids_matched`).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

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
    return warn_missing_group({str(r.id): group_of(r, column) for r in recs}, column)


def warn_missing_group(groups: dict[str, str], column: str) -> dict[str, str]:
    """`groups` as is; says on stderr how many records fall into `(missing)`, if any.

    A "(missing)" group changes a macro average (one group more), so the user learns how
    many records lack the field and can fix the data or the column (issue 21).
    """
    n = sum(1 for g in groups.values() if g == NO_GROUP)
    if n:
        print(
            f"warning: {n} of {len(groups)} records have no '{column}' value; they are "
            f"reported as the group {NO_GROUP} (which counts in the macro average).",
            file=sys.stderr,
        )
    return groups


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
    """What `--exclude-ids` removed from one input: records (and rows) dropped, ids unseen.

    An id in the list matches every record whose original id it is (see the module doc).
    """

    file: str
    listed: int  # ids in the file
    excluded_records: int  # records present in the input (and dropped), every copy counted
    excluded_rows: int | None = None  # score-table rows dropped (K per record), tables only
    ids_matched: int | None = None  # listed ids that matched at least one record

    def to_dict(self) -> dict[str, Any]:
        matched = self.excluded_records if self.ids_matched is None else self.ids_matched
        out = {
            "file": self.file,
            "ids_listed": self.listed,
            "excluded_records": self.excluded_records,
            "ids_matched": matched,
            "ids_not_in_input": self.listed - matched,
        }
        if self.excluded_rows is not None:
            out["excluded_rows"] = self.excluded_rows
        return out


_COPY_SUFFIX = re.compile(r"^(.+)#[0-9a-f]{8}$")  # `<id>#<content hash>` of a repeated id


def original_id(rid: str) -> str:
    """The id a record had in its file (`'povid_2#1a2b3c4d'` -> `'povid_2'`)."""
    m = _COPY_SUFFIX.match(rid)
    return m.group(1) if m else rid


def listed_mask(keys: pd.Series, ids: set[str]) -> tuple[pd.Series, int]:
    """Which keys an id list names (as given or as their original id), and how many of
    the listed ids matched something."""
    orig = keys.map(original_id)
    mask = keys.isin(ids) | orig.isin(ids)
    hit = (set(keys[mask]) | set(orig[mask])) & ids
    return mask, len(hit)


def drop_listed(records: list[Any], ids: set[str], file: str = "") -> tuple[list[Any], Exclusion]:
    """`records` without those `ids` names (every copy of a repeated id), and the counts."""
    if not records:
        return [], Exclusion(file, len(ids), 0, ids_matched=0)
    mask, matched = listed_mask(pd.Series([str(r.id) for r in records], dtype=object), ids)
    kept = [r for r, drop in zip(records, mask, strict=True) if not drop]
    return kept, Exclusion(file, len(ids), len(records) - len(kept), ids_matched=matched)
