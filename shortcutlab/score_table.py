"""The score-table contract: columns, types, read, validate, write (its one owner).

A score table has one row per (record, response), and is what every diagnostic reads:
`shortcutlab.scoring` writes it, `shortcutlab.diagnostics` reads it, and a table made by
any other system works as long as it follows this contract (docs/scoring.md).

| column             | type          | required | meaning                                  |
|--------------------|---------------|----------|------------------------------------------|
| `id`               | str           | yes      | record id (an integer id is read as str) |
| `response_index`   | int           | yes      | 0-based; pairwise: 0 chosen, 1 rejected  |
| `reward`           | float, finite | yes      | the model's reward                       |
| `label`            | str           | no       | "chosen" / "rejected" / ""               |
| `preference_score` | float or NaN  | no       | the response's own rating                |
| `prompt_chars`, `prompt_words`, `response_chars`, `response_words` | int | no | lengths |
| `source`           | str           | no       | data file name                           |
| `environment`      | str           | no       | may be ""                                |

A judge table (`bon --judge-scores`) has `score` instead of `reward` (`JUDGE_REQUIRED`).
Each (id, response_index) appears once. The scorer writes every column of
`SCORE_COLUMNS`, in that order, as JSONL (one object per line, NaN as null) or parquet.

This module owns: the column list and kinds; how a record and its K rewards become K rows
(`record_rows`); the typed DataFrame (`to_frame`); reading and validating with errors
naming file, line (JSONL, 1-based) or row (parquet, 0-based) and column
(`read_score_table`, `validate_score_table`); and writing (`write_score_table`).
It imports no torch, so diagnostics use it without loading the scoring stack.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.data.io import detect_format, iter_rows
from shortcutlab.data.records import Record
from shortcutlab.data.writing import write_table
from shortcutlab.errors import DataError, ShortcutlabError

SCORE_COLUMNS = [
    "id",
    "response_index",
    "reward",
    "label",
    "preference_score",
    "prompt_chars",
    "prompt_words",
    "response_chars",
    "response_words",
    "source",
    "environment",
]
INT_COLUMNS = ("response_index", "prompt_chars", "prompt_words", "response_chars", "response_words")
KEY = ["id", "response_index"]  # unique per row
SCORE_REQUIRED = ("id", "response_index", "reward")
JUDGE_REQUIRED = ("id", "response_index", "score")
LABELS = ("chosen", "rejected", "")

# column -> kind; checked when the column is present (required ones must be present).
COLUMN_KINDS = {
    "id": "id",
    "response_index": "int",
    "reward": "float",
    "score": "float",
    "label": "label",
    "preference_score": "float_or_nan",
    "prompt_chars": "int_or_null",
    "prompt_words": "int_or_null",
    "response_chars": "int_or_null",
    "response_words": "int_or_null",
    "source": "str_or_null",
    "environment": "str_or_null",
}


# ----------------------------------------------------------------------------- writing


def preference_scores(rec: Record) -> list[float]:
    """Each response's own rating (higher is better), NaN where the data has none.

    Multi-response data carries `scores`; pairwise data may carry the judge's ratings in
    `meta["preference_scores"]` (e.g. LLaVA-Bench review means).
    """
    raw: Sequence[Any] | None = rec.scores
    if raw is None:
        raw = rec.meta.get("preference_scores")
    if raw is None or len(raw) != len(rec.responses):
        return [math.nan] * len(rec.responses)
    out = []
    for v in raw:
        try:
            out.append(math.nan if v is None else float(v))
        except (TypeError, ValueError):
            out.append(math.nan)
    return out


def source_name(rec: Record, default: str = "") -> str:
    """The data file's name (not its full path), from the record's location."""
    if default:
        return default
    return Path(rec.loc.file).name if rec.loc is not None else ""


def record_rows(
    rec: Record, rewards: Sequence[float], *, source: str = "", environment: str = ""
) -> list[dict[str, Any]]:
    """The K score-table rows of one record given its K rewards (response order kept)."""
    if len(rewards) != len(rec.responses):
        raise ShortcutlabError(
            f"record '{rec.id}': {len(rewards)} rewards for {len(rec.responses)} responses."
        )
    labels = rec.labels()
    prefs = preference_scores(rec)
    env = environment or str(rec.meta.get("environment", "") or "")
    src = source_name(rec, source)
    p_chars, p_words = len(rec.prompt), len(rec.prompt.split())
    return [
        {
            "id": str(rec.id),
            "response_index": j,
            "reward": float(rewards[j]),
            "label": labels[j],
            "preference_score": prefs[j],
            "prompt_chars": p_chars,
            "prompt_words": p_words,
            "response_chars": len(resp),
            "response_words": len(resp.split()),
            "source": src,
            "environment": env,
        }
        for j, resp in enumerate(rec.responses)
    ]


def to_frame(rows: Iterable[dict[str, Any]], records: Sequence[Record] | None = None) -> Any:
    """A score-table DataFrame with the contract's columns and dtypes.

    With `records`, rows are ordered as the records (data file order), responses in
    order; otherwise by (id, response_index).
    """
    df = pd.DataFrame(list(rows))
    if df.empty:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in SCORE_COLUMNS})
    for col in SCORE_COLUMNS:
        if col not in df.columns:
            df[col] = math.nan if col == "preference_score" else ""
    df = df[SCORE_COLUMNS]
    if len(df):
        df["id"] = df["id"].astype(str)
        for col in INT_COLUMNS:
            df[col] = df[col].astype("int64")
        df["reward"] = df["reward"].astype(float)
        df["preference_score"] = pd.to_numeric(df["preference_score"], errors="coerce")
        df["source"] = df["source"].fillna("").astype(str)
        df["environment"] = df["environment"].fillna("").astype(str)
        df["label"] = df["label"].fillna("").astype(str)
    if records is not None:
        pos = {str(r.id): i for i, r in enumerate(records)}
        order = df["id"].map(pos)
        df = df.assign(_pos=order).sort_values(["_pos", "response_index"], kind="stable")
        df = df.drop(columns="_pos")
    else:
        df = df.sort_values(["id", "response_index"], kind="stable")
    return df.reset_index(drop=True)


def check_complete(df: Any, records: Sequence[Record]) -> None:
    """Every response of every record appears exactly once (else a ShortcutlabError)."""
    expected = sum(len(r.responses) for r in records)
    dup = df.duplicated(["id", "response_index"])
    if dup.any() or len(df) != expected:
        have = {(i, j) for i, j in zip(df["id"], df["response_index"], strict=True)}
        missing = [
            (str(r.id), j)
            for r in records
            for j in range(len(r.responses))
            if (str(r.id), j) not in have
        ]
        raise ShortcutlabError(
            f"the merged score table has {len(df)} rows for {expected} responses "
            f"({int(dup.sum())} duplicates, {len(missing)} missing, e.g. {missing[:3]}). "
            "This is a bug; the partial files were kept for inspection."
        )


def write_score_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a score table (columns `SCORE_COLUMNS`, e.g. from `to_frame`) atomically.

    JSONL (one object per line, NaN as null) or parquet by the extension.
    """
    missing = [c for c in SCORE_COLUMNS if c not in df.columns]
    if missing:
        raise ShortcutlabError(f"not a score table: missing columns {missing}.")
    return write_table(df[SCORE_COLUMNS], path)


# ----------------------------------------------------------------------------- reading


def read_score_table(path: str | Path, *, required: Sequence[str] = SCORE_REQUIRED) -> pd.DataFrame:
    """Read a JSONL / JSON / parquet score table and validate it (see `validate_score_table`).

    Raises `DataError` naming the file, line (JSONL, 1-based) or row (parquet, 0-based)
    and column of the first problem.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(
            "score table not found.", file=str(p), hint="Check the path.", reason="missing_file"
        )
    if p.is_file() and detect_format(p) == "parquet":
        try:
            df = pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise DataError(f"cannot read parquet: {exc}", file=str(p), reason="bad_file") from exc
        locs = list(range(len(df)))
        row_word = "row"
    else:
        pairs = list(iter_rows(p))
        df = pd.DataFrame([row for _, row in pairs])
        locs = [loc.line for loc, _ in pairs]
        row_word = pairs[0][0].row_word if pairs else "line"
    return validate_score_table(df, file=str(p), locs=locs, row_word=row_word, required=required)


def validate_score_table(
    df: pd.DataFrame,
    *,
    file: str | None = None,
    locs: Sequence[int] | None = None,
    row_word: str = "row",
    required: Sequence[str] = SCORE_REQUIRED,
) -> pd.DataFrame:
    """Check columns, types and (id, response_index) uniqueness; return a typed copy.

    `locs[i]` is the line/row number reported for DataFrame row i (default: 0-based row).
    Ids are compared as strings (an integer id 7 and "7" are the same record).
    """
    locs = list(locs) if locs is not None else list(range(len(df)))
    if len(df) == 0:
        raise DataError("the score table has no rows.", file=file, reason="empty_file")
    for col in required:
        if col not in df.columns:
            raise DataError(
                f"missing column '{col}' (present: {', '.join(map(str, df.columns))}).",
                file=file,
                field=col,
                reason="missing_field",
                hint=f"A score table needs the columns {', '.join(required)}.",
            )
    out = df.copy()
    for col, kind in COLUMN_KINDS.items():
        if col in out.columns:
            out[col] = _check_column(out[col], kind, col, file, locs, row_word)
    dup = out.duplicated(KEY, keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        rid, ridx = out["id"].iloc[i], out["response_index"].iloc[i]
        raise DataError(
            f"duplicate row for id '{rid}', response_index {ridx}.",
            file=file,
            line=locs[i],
            field="response_index",
            row_word=row_word,
            reason="duplicate",
            hint="Each (id, response_index) must appear once.",
        )
    return out.reset_index(drop=True)


def _check_column(
    col: pd.Series, kind: str, name: str, file: str | None, locs: list[int], row_word: str
) -> pd.Series:
    """Return the column cast to its kind, or raise at the first bad value."""
    values = col.tolist()
    cast: list[Any] = []
    for i, v in enumerate(values):
        ok, c = _cast(v, kind)
        if not ok:
            raise DataError(
                f"expected {_KIND_WORDS[kind]}, got {v!r} ({type(v).__name__}).",
                file=file,
                line=locs[i],
                field=name,
                row_word=row_word,
                reason="bad_type",
            )
        cast.append(c)
    if kind in ("float", "float_or_nan"):
        return pd.Series(cast, index=col.index, dtype=float)
    if kind == "int":
        return pd.Series(cast, index=col.index, dtype="int64")
    return pd.Series(cast, index=col.index, dtype=object)


_KIND_WORDS = {
    "id": "a string (or integer) id",
    "int": "an integer",
    "float": "a finite number",
    "float_or_nan": "a number or null",
    "int_or_null": "an integer or null",
    "label": "'chosen', 'rejected' or ''",
    "str_or_null": "a string or null",
}


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _as_int(v: Any) -> int | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return int(v)  # parquet/pandas may upcast ints to float when a column has nulls
    return None


def _cast(v: Any, kind: str) -> tuple[bool, Any]:
    if kind == "id":
        if isinstance(v, str) and v != "":
            return True, v
        i = _as_int(v)
        return (i is not None and not isinstance(v, float)), str(i)
    if kind in ("int", "int_or_null"):
        if kind == "int_or_null" and _is_null(v):
            return True, None
        i = _as_int(v)
        return i is not None, i
    if kind in ("float", "float_or_nan"):
        if kind == "float_or_nan" and _is_null(v):
            return True, float("nan")
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
            return False, None
        f = float(v)
        return math.isfinite(f), f
    if kind == "label":
        v = "" if v is None else v
        return v in LABELS, v
    return (_is_null(v) or isinstance(v, str)), (None if _is_null(v) else v)
