"""Score tables in, validated DataFrames and pair tables out (the hinge of every diagnostic).

A score table (contract in TEAM.md, written by `shortcutlab.scoring`) has one row per
response: `id` (str), `response_index` (int, pairs: 0 = chosen, 1 = rejected), `reward`
(float), `label` ("chosen"/"rejected"/""), `preference_score` (float or NaN) and length /
source metadata. Diagnostics only *need* `id`, `response_index` and `reward`, so tables
from any other system work; the other contract columns are type-checked when present.

`pairs_table` turns a score table into the (id, better_index, worse_index, r_better,
r_worse) pairs that Eq. 2 accuracy is computed on; `align_score_tables` joins two tables
of the same test set (MM-RM and text-only proxy) for Def. 3.1 and Figure 3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.errors import DataError

KEY = ["id", "response_index"]
SCORE_REQUIRED = ("id", "response_index", "reward")
JUDGE_REQUIRED = ("id", "response_index", "score")
PAIR_COLUMNS = ["id", "better_index", "worse_index", "r_better", "r_worse"]
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
    from shortcutlab.data.io import detect_format, iter_rows

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


# ----------------------------------------------------------------------------- pairs


def pairs_table(df: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """The (better, worse) pairs of a validated score table, with their rewards.

    Contract: records labelled 'chosen'/'rejected' give the pair (chosen, rejected);
    other records give every pair of responses with a strict `preference_score`
    difference (ties and NaN ratings make no pair, as in the official code); records
    with neither (inference data) give no pairs. Columns: id, better_index, worse_index,
    r_better, r_worse; sorted by id then indices. `attrs["n_records"]` = records with
    at least one pair.
    """
    frames = []
    labelled = _label_pairs(df, file) if "label" in df.columns else _empty_pairs()
    frames.append(labelled)
    if "preference_score" in df.columns:
        rest = df[~df["id"].isin(set(labelled["id"]))]
        frames.append(_score_pairs(rest))
    out = pd.concat(frames, ignore_index=True) if frames else _empty_pairs()
    out = out.sort_values(["id", "better_index", "worse_index"], kind="stable")
    out = out.reset_index(drop=True)[PAIR_COLUMNS]
    out.attrs["n_records"] = int(out["id"].nunique())
    return out


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=float if c[0] == "r" else object) for c in PAIR_COLUMNS}
    )


def _label_pairs(df: pd.DataFrame, file: str | None) -> pd.DataFrame:
    lab = df[df["label"].isin(["chosen", "rejected"])]
    if lab.empty:
        return _empty_pairs()
    chosen = lab[lab["label"] == "chosen"].set_index("id")
    rejected = lab[lab["label"] == "rejected"].set_index("id")
    for name, part in (("chosen", chosen), ("rejected", rejected)):
        if part.index.duplicated().any():
            bad = part.index[part.index.duplicated()][0]
            raise DataError(
                f"record '{bad}' has more than one '{name}' response.",
                file=file,
                field="label",
                reason="bad_label",
            )
    lonely = chosen.index.symmetric_difference(rejected.index)
    if len(lonely):
        raise DataError(
            f"record '{lonely[0]}' has a chosen or a rejected response but not both "
            f"({len(lonely)} such records).",
            file=file,
            field="label",
            reason="bad_label",
            hint="Pairwise records need exactly one 'chosen' and one 'rejected' row.",
        )
    rejected = rejected.loc[chosen.index]
    return pd.DataFrame(
        {
            "id": chosen.index.to_numpy(),
            "better_index": chosen["response_index"].to_numpy(),
            "worse_index": rejected["response_index"].to_numpy(),
            "r_better": chosen["reward"].to_numpy(dtype=float),
            "r_worse": rejected["reward"].to_numpy(dtype=float),
        }
    )


def _score_pairs(df: pd.DataFrame) -> pd.DataFrame:
    rated = df[df["preference_score"].notna()][
        ["id", "response_index", "reward", "preference_score"]
    ]
    if rated.empty:
        return _empty_pairs()
    m = rated.merge(rated, on="id", suffixes=("_b", "_w"))
    m = m[m["preference_score_b"] > m["preference_score_w"]]  # strict: ties make no pair
    return pd.DataFrame(
        {
            "id": m["id"].to_numpy(),
            "better_index": m["response_index_b"].to_numpy(),
            "worse_index": m["response_index_w"].to_numpy(),
            "r_better": m["reward_b"].to_numpy(dtype=float),
            "r_worse": m["reward_w"].to_numpy(dtype=float),
        }
    )


def pairs_from_records(records: Iterable[Any]) -> pd.DataFrame:
    """(id, better_index, worse_index) for every pair of canonical records (data files)."""
    rows = [(str(r.id), int(b), int(w)) for r in records for b, w in r.pairs]
    return pd.DataFrame(rows, columns=["id", "better_index", "worse_index"])


def attach_rewards(
    pairs: pd.DataFrame, scores: pd.DataFrame, *, file: str | None = None
) -> pd.DataFrame:
    """Add r_better / r_worse from a score table to (id, better_index, worse_index) pairs.

    Every pair's two responses must be in the score table; otherwise `DataError`.
    """
    look = scores.set_index(KEY)["reward"]
    keys_b = pd.MultiIndex.from_arrays([pairs["id"].astype(str), pairs["better_index"]])
    keys_w = pd.MultiIndex.from_arrays([pairs["id"].astype(str), pairs["worse_index"]])
    for keys in (keys_b, keys_w):
        missing = ~keys.isin(look.index)
        if missing.any():
            rid, ridx = keys[int(np.flatnonzero(missing)[0])]
            raise DataError(
                f"{int(missing.sum())} pair responses have no score, e.g. id '{rid}', "
                f"response_index {ridx}.",
                file=file,
                field="id",
                reason="missing_score",
                hint="Score the same data file the pairs come from.",
            )
    out = pairs[["id", "better_index", "worse_index"]].copy()
    out["id"] = out["id"].astype(str)
    out["r_better"] = look.loc[keys_b].to_numpy(dtype=float)
    out["r_worse"] = look.loc[keys_w].to_numpy(dtype=float)
    return out.reset_index(drop=True)


def align_score_tables(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    names: tuple[str, str] = ("mm", "proxy"),
    files: tuple[str | None, str | None] = (None, None),
) -> pd.DataFrame:
    """Join two score tables of the same test set on (id, response_index).

    Returns table `a` (all its columns) plus `reward_{names[0]}` and `reward_{names[1]}`.
    Both must hold exactly the same (id, response_index) keys; otherwise `DataError`
    naming how many rows each lacks and an example. Labels / preference scores must agree
    where both tables carry them (they define the pairs).
    """
    ka = pd.MultiIndex.from_frame(a[KEY])
    kb = pd.MultiIndex.from_frame(b[KEY])
    only_a, only_b = ka.difference(kb), kb.difference(ka)
    if len(only_a) or len(only_b):
        ex = only_a[0] if len(only_a) else only_b[0]
        raise DataError(
            f"the two score tables cover different responses: {len(only_a)} rows only in "
            f"the {names[0]} table, {len(only_b)} only in the {names[1]} table (e.g. id "
            f"'{ex[0]}', response_index {ex[1]}).",
            file=f"{files[0]} vs {files[1]}" if files[0] else None,
            reason="misaligned",
            hint="Score the same test file with both models.",
        )
    right = b.set_index(KEY)
    out = a.copy()
    out[f"reward_{names[0]}"] = a["reward"].to_numpy(dtype=float)
    out[f"reward_{names[1]}"] = right.loc[ka, "reward"].to_numpy(dtype=float)
    for col in ("label", "preference_score"):
        if col in a.columns and col in b.columns:
            va = a[col].to_numpy()
            vb = right.loc[ka, col].to_numpy()
            same = (va == vb) | (pd.isna(va) & pd.isna(vb))
            if not same.all():
                i = int(np.flatnonzero(~same)[0])
                raise DataError(
                    f"the two tables disagree on '{col}' for id '{ka[i][0]}', "
                    f"response_index {ka[i][1]} ({va[i]!r} vs {vb[i]!r}).",
                    field=col,
                    reason="misaligned",
                    file=f"{files[0]} vs {files[1]}" if files[0] else None,
                )
    return out


def with_reward(aligned: pd.DataFrame, name: str) -> pd.DataFrame:
    """A score-table view of an aligned table whose `reward` is `reward_{name}`."""
    out = aligned.copy()
    out["reward"] = aligned[f"reward_{name}"]
    return out
