"""Pairs from score tables: the (better, worse) pairs every accuracy-based diagnostic uses.

Score tables themselves (columns, types, reading and validating) are owned by
`shortcutlab.score_table`; diagnostics only *need* `id`, `response_index` and `reward`, so
tables from any other system work.

`pairs_table` turns a validated score table into the (id, better_index, worse_index,
r_better, r_worse) pairs that Eq. 2 accuracy is computed on; `attach_rewards` does the
same for pairs taken from a data file; `align_score_tables` joins two tables of the same
test set (MM-RM and text-only proxy) for Def. 3.1 and Figure 3.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.errors import DataError
from shortcutlab.score_table import KEY

PAIR_COLUMNS = ["id", "better_index", "worse_index", "r_better", "r_worse"]


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
