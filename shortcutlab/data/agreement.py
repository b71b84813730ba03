"""A data file and a score table must describe the same responses (issue 21 item 2).

Wherever a command reads both (sfd's subsets and groups, length-balance, audit
--mm-scores, train --static-weights), the data file decides which response is better and
the table gives the rewards. If the two disagree (chosen and rejected swapped in one of
them, ratings edited, another version of the data), the numbers mix two datasets
silently. `check_agreement` compares, for every (id, response_index) both hold, what the
table recorded about the response with what the data file says now:

- `label` (chosen / rejected), when the table has one;
- `preference_score` (the response's own rating), when both have a number;
- `response_chars` and `response_words` (the response text's length, the table's
  fingerprint of the text), when the table has them.

The first disagreement (in the table's row order) stops the command with a DataError
naming the id, the field, both values and both files. Ids only one side holds are left
to the callers (each has its own rule for those).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab.data.records import Record
from shortcutlab.errors import DataError
from shortcutlab.score_table import record_rows

COMPARED = ("label", "preference_score", "response_chars", "response_words")


def _data_rows(records: Sequence[Record], ids: set[str]) -> pd.DataFrame:
    """What the data file says of each response of the records in `ids`: (rows, COMPARED+)."""
    rows = [
        row
        for rec in records
        if str(rec.id) in ids
        for row in record_rows(rec, [0.0] * len(rec.responses))
    ]
    cols = ["id", "response_index", *COMPARED]
    return pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols)


def _differs(column: str, table_value: Any, data_value: Any) -> bool:
    """Whether one field disagrees (a value the table left empty is not compared)."""
    if table_value is None or (isinstance(table_value, float) and math.isnan(table_value)):
        return False
    if column == "label":
        return str(table_value) != "" and str(table_value) != str(data_value)
    if column == "preference_score":
        if data_value is None or (isinstance(data_value, float) and math.isnan(data_value)):
            return False
        return not math.isclose(float(table_value), float(data_value), abs_tol=1e-6)
    return int(table_value) != int(data_value)


def check_agreement(
    records: Sequence[Record],
    table: pd.DataFrame,
    *,
    data_file: str | Path,
    table_file: str | Path,
) -> None:
    """Raise DataError at the first response whose table fields disagree with the data."""
    ids = set(table["id"].astype(str))
    data = _data_rows(records, ids)
    have = [c for c in COMPARED if c in table.columns]
    if data.empty or not have:
        return
    left = table[["id", "response_index", *have]].assign(id=lambda t: t["id"].astype(str))
    merged = left.merge(data, on=["id", "response_index"], how="inner", suffixes=("", "__data"))
    for row in merged.itertuples(index=False):
        values = row._asdict()
        for col in have:
            theirs, ours = values[col], values[f"{col}__data"]
            if _differs(col, theirs, ours):
                raise _disagreement(values, col, theirs, ours, data_file, table_file)
    _check_response_counts(records, table, ids, data_file, table_file)


def _disagreement(
    row: dict[str, Any], col: str, theirs: Any, ours: Any, data_file: Any, table_file: Any
) -> DataError:
    what = {
        "label": "label",
        "preference_score": "rating",
        "response_chars": "response length (characters)",
        "response_words": "response length (words)",
    }[col]
    return DataError(
        f"the score table and the data file disagree on record '{row['id']}' response "
        f"{row['response_index']}: {what} {theirs!r} in the score table, {ours!r} in the "
        f"data file {data_file}. The table was made from other data (chosen and rejected "
        "swapped, ratings or texts edited, or another version of the file).",
        file=str(table_file),
        field=col,
        reason="data_table_mismatch",
        hint="pass the data file that was scored, or score this data file again.",
    )


def _check_response_counts(
    records: Sequence[Record], table: pd.DataFrame, ids: set[str], data_file: Any, table_file: Any
) -> None:
    """A table row past the record's last response (another K) is a disagreement too."""
    k = {str(r.id): len(r.responses) for r in records if str(r.id) in ids}
    for rid, idx in zip(table["id"].astype(str), table["response_index"], strict=True):
        if rid in k and int(idx) >= k[rid]:
            raise DataError(
                f"the score table has response {int(idx)} of record '{rid}', which has "
                f"{k[rid]} responses in the data file {data_file}.",
                file=str(table_file),
                field="response_index",
                reason="data_table_mismatch",
                hint="pass the data file that was scored, or score this data file again.",
            )
