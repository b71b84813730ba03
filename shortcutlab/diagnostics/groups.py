"""Which records a diagnostic reads, and how it splits them: `--exclude-ids` and `--group-by`
on score tables (the record-level vocabulary, id lists and group values, is owned by
`shortcutlab.data.subsets`).

- `exclude_ids(table, ids)`: a score table without those records, and how many it lost,
  so every command that takes `--exclude-ids` reports the count (never a silent drop).
- `group_values(column, ...)`: record id -> group, from a score-table column or the
  records' group (`data.subsets.record_groups`: a data field such as VL-RewardBench's
  derived `category`, or `source` / `schema`).
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

from shortcutlab.data.subsets import (
    BUILT_IN_GROUPS,
    NO_GROUP,
    Exclusion,
    drop_listed,
    group_label,
    listed_mask,
    read_id_list,
    record_groups,
    warn_missing_group,
)
from shortcutlab.diagnostics.accuracy import AccuracyResult, pairwise_accuracy
from shortcutlab.errors import ConfigError


def exclude_ids(
    table: pd.DataFrame, ids: set[str], file: str = ""
) -> tuple[pd.DataFrame, Exclusion]:
    """`table` (any frame with an `id` column) without the rows of `ids` (every copy of a
    repeated id, `data.subsets.listed_mask`), and the counts."""
    mask, matched = listed_mask(table["id"].astype(str), ids)
    n_records = int(table.loc[mask, "id"].astype(str).nunique())
    kept = table.loc[~mask].reset_index(drop=True)
    return kept, Exclusion(file, len(ids), n_records, int(mask.sum()), matched)


def exclude_records(
    records: list[Any], path: str | Path
) -> tuple[list[Any], set[str], dict[str, Any]]:
    """(`records` without the ids listed in `path`, those ids, the `Exclusion` counts)."""
    ids = read_id_list(path)
    kept, excl = drop_listed(records, ids, str(path))
    return kept, ids, excl.to_dict()


def group_values(
    column: str,
    *,
    table: pd.DataFrame | None = None,
    records: Iterable[Any] | None = None,
    where: str = "",
) -> dict[str, str]:
    """Record id -> group value of `column`: a score-table column if `table` has it, else
    the records' group (`shortcutlab.data.subsets.record_groups`: a data field, or the
    built-ins `source` and `schema`); a missing or empty value -> `(missing)`.

    Raises `ConfigError` naming the columns and fields there are when neither has it.
    """
    if table is not None and column in table.columns:
        first = table.drop_duplicates("id")
        out = {str(i): group_label(v) for i, v in zip(first["id"], first[column], strict=True)}
        return warn_missing_group(out, column)
    recs = list(records or [])
    if recs:
        try:
            return record_groups(recs, column, where)
        except ConfigError:
            pass  # named below, with the score table's columns too
    have = sorted(set(table.columns) if table is not None else set())
    fields = sorted({k for r in recs for k in r.meta} | (set(BUILT_IN_GROUPS) if recs else set()))
    raise ConfigError(
        f"--group-by {column}: no such column{' in ' + where if where else ''}. "
        f"Score-table columns: {', '.join(have) or 'none'}; data fields: "
        f"{', '.join(fields) or 'none (pass the data file with --data)'}."
    )


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
