"""The generalization matrix of Figure 1 / Table 5 and its i.i.d. / o.o.d. means.

Element (e, e') = Eq. 2 accuracy (points) of the RM trained on environment e and tested on
environment e'. The diagonal (e == e') is i.i.d., the rest o.o.d. Reported: the mean of the
diagonal and the mean of all off-diagonal cells (Figure 1: standard 91.4 / 68.1,
shortcut-aware 90.2 / 78.5), and per training row (Table 5): in-distribution = its
diagonal cell, out-of-distribution = the mean of its off-diagonal cells.

Two inputs:
- a ready accuracy CSV: first column = training environment, header row = test
  environments, values in points (`read_accuracy_csv`);
- a folder of score tables named `{mode}__{train_env}__{test_env}.jsonl` (or `.parquet`),
  e.g. `standard__vlfeedback__povid.jsonl`: the scores of the `mode` RM trained on
  `train_env`, on the `test_env` test set (`matrix_from_score_files`). A study runner
  that trains the models writes its score files with this naming and calls it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from shortcutlab.diagnostics.accuracy import DEFAULT_N_BOOT, pairwise_accuracy
from shortcutlab.diagnostics.groups import exclude_ids
from shortcutlab.diagnostics.tables import pairs_table
from shortcutlab.errors import DataError
from shortcutlab.score_table import read_score_table

SCORE_FILE_RE = re.compile(r"^(?P<mode>[^_].*?)__(?P<train>.+?)__(?P<test>.+?)\.(jsonl|parquet)$")
DIFF_PAIR = ("shortcut-aware", "standard")  # difference panel: first minus second


def read_accuracy_csv(path: str | Path) -> pd.DataFrame:
    """Train-env x test-env accuracy matrix (points) from a CSV; DataError if malformed."""
    p = Path(path)
    if not p.is_file():
        raise DataError("accuracy CSV not found.", file=str(p), reason="missing_file")
    try:
        df = pd.read_csv(p, index_col=0, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises several parser errors
        raise DataError(f"cannot parse CSV: {exc}", file=str(p), reason="bad_file") from exc
    if df.empty or df.shape[1] == 0:
        raise DataError(
            "the matrix has no rows or no test columns.",
            file=str(p),
            hint="First column: training env; header: test envs.",
            reason="empty_file",
        )
    out = pd.DataFrame(index=df.index.astype(str), columns=df.columns.astype(str), dtype=float)
    for i, (train, row) in enumerate(df.iterrows()):
        for col, cell in row.items():
            out.loc[str(train), str(col)] = _cell(cell, p, i + 2, str(col))
    out.index.name, out.columns.name = "train_env", "test_env"
    return out


def _cell(cell: str, p: Path, line: int, col: str) -> float:
    text = cell.strip()
    if text == "":
        return float("nan")  # a pair (train, test) that was not run
    try:
        v = float(text)
    except ValueError:
        raise DataError(
            f"expected a number, got {cell!r}.",
            file=str(p),
            line=line,
            field=col,
            reason="bad_type",
        ) from None
    if not 0.0 <= v <= 100.0:
        raise DataError(
            f"accuracy {v} is outside 0..100 (the matrix is in points).",
            file=str(p),
            line=line,
            field=col,
            reason="bad_value",
            hint="Multiply fractions by 100.",
        )
    return v


def _diag_mask(mat: pd.DataFrame) -> np.ndarray:
    """(R, C) True where the training env equals the test env (by name)."""
    return np.equal.outer(mat.index.to_numpy(dtype=str), mat.columns.to_numpy(dtype=str))


def matrix_summary(mat: pd.DataFrame) -> dict:
    """i.i.d. (diagonal) and o.o.d. (off-diagonal) means and per-row Table 5 columns.

    Cells that are NaN (not run) are left out of every mean. Rows whose training env is
    not a test column have no in-distribution value (NaN).
    """
    vals = mat.to_numpy(dtype=float)  # (R, C)
    diag = _diag_mask(mat)
    rows = []
    for i, train in enumerate(mat.index):
        on, off = vals[i][diag[i]], vals[i][~diag[i]]
        rows.append(
            {
                "train_env": str(train),
                "in_distribution": _nanmean(on),
                "out_of_distribution": _nanmean(off),
            }
        )
    return {"iid_mean": _nanmean(vals[diag]), "ood_mean": _nanmean(vals[~diag]), "rows": rows}


def _nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def parse_score_filename(name: str) -> tuple[str, str, str] | None:
    """(mode, train_env, test_env) of `{mode}__{train}__{test}.jsonl|parquet`, else None."""
    m = SCORE_FILE_RE.match(name)
    return (m["mode"], m["train"], m["test"]) if m else None


def matrix_from_score_files(
    files: str | Path | Iterable[str | Path],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    exclude: set[str] | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Per-mode accuracy matrices (points) from score tables named by the convention.

    `files` is a folder (every `*__*__*.jsonl|parquet` in it) or a list of files.
    Returns ({mode: train x test matrix}, long table with one row per file: mode,
    train_env, test_env, accuracy, n_pairs, n_ties, ci_low, ci_high in points, file).
    `exclude`: record ids left out of every table (`--exclude-ids`); the long table then
    has an `excluded_records` column (per file).
    """
    paths = _score_files(files)
    rows = []
    for path in paths:
        mode, train, test = parse_score_filename(path.name)  # type: ignore[misc]
        table = read_score_table(path)
        extra = {}
        if exclude is not None:
            table, excl = exclude_ids(table, exclude)
            extra["excluded_records"] = excl.excluded_records
        res = pairwise_accuracy(pairs_table(table, file=str(path)), n_boot=n_boot, seed=seed)
        rows.append(
            {
                "mode": mode,
                "train_env": train,
                "test_env": test,
                "accuracy": 100 * res.accuracy,
                "n_pairs": res.n_pairs,
                "n_ties": res.n_ties,
                "ci_low": 100 * res.ci_low,
                "ci_high": 100 * res.ci_high,
                "file": str(path),
                **extra,
            }
        )
    long = pd.DataFrame(rows)
    return matrices_from_long(long), long


def _score_files(files: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(files, (str, Path)):
        folder = Path(files)
        if not folder.is_dir():
            raise DataError("not a folder of score files.", file=str(folder), reason="missing_file")
        paths = sorted(p for p in folder.iterdir() if parse_score_filename(p.name))
        where = str(folder)
    else:
        paths = [Path(p) for p in files]
        where = None
        for p in paths:
            if not parse_score_filename(p.name):
                raise DataError(
                    "score file name does not follow '{mode}__{train_env}__{test_env}.jsonl'.",
                    file=str(p),
                    reason="bad_name",
                )
    if not paths:
        raise DataError(
            "no score files named '{mode}__{train_env}__{test_env}.jsonl' found.",
            file=where,
            reason="empty_file",
            hint="e.g. standard__vlfeedback__povid.jsonl",
        )
    return paths


def matrices_from_long(long: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """{mode: train x test matrix} from a long table (mode, train_env, test_env, accuracy).

    Environments are ordered by first appearance, test columns in the same order as rows
    where they coincide, so the diagonal lines up.
    """
    envs = list(dict.fromkeys(list(long["train_env"]) + list(long["test_env"])))
    mats = {}
    for mode, grp in long.groupby("mode", sort=False):
        trains = [e for e in envs if e in set(grp["train_env"])]
        tests = [e for e in envs if e in set(grp["test_env"])]
        mat = grp.pivot(index="train_env", columns="test_env", values="accuracy")
        mat = mat.reindex(index=trains, columns=tests).astype(float)
        mat.index.name, mat.columns.name = "train_env", "test_env"
        mats[str(mode)] = mat
    return mats


def matrix_difference(
    mats: dict[str, pd.DataFrame], first: str | None = None, second: str | None = None
) -> tuple[str, pd.DataFrame] | None:
    """(title, first - second) cell-wise; default shortcut-aware minus standard.

    Mode names match ignoring '-' vs '_' and case. None when a mode is missing.
    """
    norm = {k.lower().replace("_", "-"): k for k in mats}
    a = norm.get((first or DIFF_PAIR[0]).lower().replace("_", "-"))
    b = norm.get((second or DIFF_PAIR[1]).lower().replace("_", "-"))
    if a is None or b is None:
        return None
    diff = mats[a].subtract(mats[b])
    return f"{a} - {b}", diff


def summary_table(mats: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (mode, train env) with Table 5 columns plus the mode's overall means."""
    rows = []
    for mode, mat in mats.items():
        s = matrix_summary(mat)
        for r in s["rows"]:
            rows.append({"mode": mode, **r, "iid_mean": s["iid_mean"], "ood_mean": s["ood_mean"]})
    return pd.DataFrame(rows)


def matrix_from_seed_folders(
    folders: Iterable[str | Path],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    exclude: set[str] | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Matrices averaged over seeds: one score folder per training seed (e.g. `scores/s0`).

    Each cell is the mean of its per-seed accuracies; the long table keeps one row per
    (folder, file) with a `seed_folder` column.
    """
    longs = []
    for folder in folders:
        _, long = matrix_from_score_files(folder, n_boot=n_boot, seed=seed, exclude=exclude)
        longs.append(long.assign(seed_folder=Path(folder).name))
    if not longs:
        raise DataError("no seed folders of score files were given.", reason="empty_file")
    long = pd.concat(longs, ignore_index=True)
    keys = ["mode", "train_env", "test_env"]
    mean = long.groupby(keys, sort=False)["accuracy"].mean().reset_index()
    return matrices_from_long(mean), long
