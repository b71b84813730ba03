"""Which records a diagnostic reads, and how it splits them: `--exclude-ids` and `--group-by`.

- `read_id_list(path)`: the ids a file lists, one a line (what `shortcutlab overlap`
  writes as `overlap_ids.txt`; blank lines and `#` comments ignored).
- `exclude_ids(table, ids)`: a score table without those records, and how many it lost,
  so every command that takes `--exclude-ids` reports the count (never a silent drop).
- `group_values(column, ...)`: record id -> group, from a score-table column or a data
  field (`Record.meta`, e.g. VL-RewardBench's derived `category`).
- `grouped_accuracy(pairs, groups)`: Eq. 2 accuracy per group plus the macro average
  over groups (each group counts once, as benchmark leaderboards report it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.diagnostics.accuracy import AccuracyResult, pairwise_accuracy
from shortcutlab.errors import ConfigError, DataError

NO_GROUP = "(missing)"  # the group of a record that lacks the column (as audit names it)


def read_id_list(path: str | Path) -> set[str]:
    """Ids listed in `path`, one a line; `DataError` for a missing or unreadable file."""
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


def exclude_ids(
    table: pd.DataFrame, ids: set[str], file: str = ""
) -> tuple[pd.DataFrame, Exclusion]:
    """`table` (any frame with an `id` column) without the rows of `ids`, and the counts."""
    mask = table["id"].astype(str).isin(ids)
    n_records = int(table.loc[mask, "id"].astype(str).nunique())
    kept = table.loc[~mask].reset_index(drop=True)
    return kept, Exclusion(file, len(ids), n_records, int(mask.sum()))


def exclude_records(
    records: list[Any], path: str | Path
) -> tuple[list[Any], set[str], dict[str, Any]]:
    """(`records` without the ids listed in `path`, those ids, the `Exclusion` counts)."""
    ids = read_id_list(path)
    kept = [r for r in records if str(r.id) not in ids]
    return kept, ids, Exclusion(str(path), len(ids), len(records) - len(kept)).to_dict()


def group_values(
    column: str,
    *,
    table: pd.DataFrame | None = None,
    records: Iterable[Any] | None = None,
    where: str = "",
) -> dict[str, str]:
    """Record id -> group value of `column`: a score-table column if `table` has it, else
    the records' field of that name (`Record.meta`, or `schema`); missing -> `(missing)`.

    Raises `ConfigError` naming the columns and fields there are when neither has it.
    """
    if table is not None and column in table.columns:
        first = table.drop_duplicates("id")
        return {str(i): _label(v) for i, v in zip(first["id"], first[column], strict=True)}
    recs = list(records or [])
    if any(column in r.meta for r in recs) or (recs and column == "schema"):
        return {str(r.id): _label(getattr(r, column, None) or r.meta.get(column)) for r in recs}
    have = sorted(set(table.columns) if table is not None else set())
    fields = sorted({k for r in recs for k in r.meta})
    raise ConfigError(
        f"--group-by {column}: no such column{' in ' + where if where else ''}. "
        f"Score-table columns: {', '.join(have) or 'none'}; data fields: "
        f"{', '.join(fields) or 'none (pass the data file with --data)'}."
    )


def _label(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return NO_GROUP
    return str(value)


@dataclass
class GroupedAccuracy:
    """Eq. 2 accuracy per group and the macro average over the groups (fractions)."""

    column: str
    groups: dict[str, AccuracyResult] = field(default_factory=dict)

    @property
    def macro(self) -> float:
        """Mean of the groups' accuracies (groups without pairs left out)."""
        accs = [g.accuracy for g in self.groups.values() if g.n_pairs > 0]
        return float(np.mean(accs)) if accs else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "macro_accuracy": _num(self.macro),
            "groups": {
                name: {k: _num(v) for k, v in res.to_dict().items()}
                for name, res in self.groups.items()
            },
        }


def _num(v: Any) -> Any:
    return None if isinstance(v, float) and np.isnan(v) else v


def split_by_group(pairs: pd.DataFrame, groups: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """The pairs of each group (sorted by group name); ids without a group -> `(missing)`."""
    labels = pairs["id"].astype(str).map(lambda i: groups.get(i, NO_GROUP))
    return {str(g): part for g, part in pairs.groupby(labels, sort=True)}


def grouped_accuracy(
    pairs: pd.DataFrame, groups: Mapping[str, str], column: str, **kw: Any
) -> GroupedAccuracy:
    """Accuracy of each group's pairs (record-bootstrap intervals, `pairwise_accuracy`)."""
    out = GroupedAccuracy(column)
    for name, part in split_by_group(pairs, groups).items():
        out.groups[name] = pairwise_accuracy(part, **kw)
    return out
