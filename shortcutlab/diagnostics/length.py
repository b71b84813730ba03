"""Length bias (Section 3.5.1, Figure 5): chosen-longer share and a length-balanced subset.

A text-only RM can win just by preferring the longer answer when the data's chosen answers
tend to be longer (paper: chosen longer in 31.5% of POVID, 59.8% of VLFeedback and 67.8% of
RLHF-V pairs). This module measures that share and draws a seeded length-balanced subset
(as many chosen-longer as rejected-longer pairs) on which a length shortcut scores 50%,
then compares the accuracy of given score tables on the full and balanced pair sets.

Length unit: tokens of a named tokenizer (`unit="tokens"`, `tokenizer=` a local folder),
else whitespace-separated words or characters; the unit is part of every result.
A pair is (record id, better index, worse index) as given by the data layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.data.inspect import length_fn
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.data.writing import WRITE_LAYOUTS, write_records, write_table
from shortcutlab.diagnostics.accuracy import DEFAULT_N_BOOT, pairwise_accuracy
from shortcutlab.diagnostics.sfd import data_suffix, subset_records
from shortcutlab.diagnostics.tables import attach_rewards
from shortcutlab.errors import ConfigError, DataError

UNITS = ("chars", "words", "tokens")


@dataclass
class LengthStats:
    """Counts of chosen-longer / rejected-longer / equal pairs (shares over all pairs)."""

    unit: str
    tolerance: float
    n_pairs: int
    chosen_longer: int
    rejected_longer: int
    equal: int

    @property
    def share_chosen_longer(self) -> float:
        return self.chosen_longer / self.n_pairs if self.n_pairs else float("nan")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        n = self.n_pairs or float("nan")
        d["share_chosen_longer"] = self.chosen_longer / n
        d["share_rejected_longer"] = self.rejected_longer / n
        d["share_equal"] = self.equal / n
        return d


def length_function(unit: str, tokenizer: str | None = None) -> tuple[Callable[[str], int], str]:
    """(text -> length, unit label) via the data layer's `length_fn` (tokens need a folder)."""
    measure = length_fn(unit, tokenizer)
    return measure, (f"tokens ({tokenizer})" if unit == "tokens" else unit)


def length_pairs(
    records: Sequence[Any], length: Callable[[str], int], tolerance: float = 0.0
) -> pd.DataFrame:
    """One row per pair: id, better_index, worse_index, len_better, len_worse, diff, longer.

    `longer` is "chosen" when len_better - len_worse > tolerance, "rejected" when
    < -tolerance, else "equal" (tolerance 0: exactly equal lengths).
    """
    rows = []
    for rec in records:
        lens = [length(r) for r in rec.responses]
        for b, w in rec.pairs:
            rows.append((str(rec.id), int(b), int(w), lens[b], lens[w]))
    df = pd.DataFrame(
        rows, columns=["id", "better_index", "worse_index", "len_better", "len_worse"]
    )
    df["diff"] = df["len_better"] - df["len_worse"]
    df["longer"] = np.select(
        [df["diff"] > tolerance, df["diff"] < -tolerance], ["chosen", "rejected"], "equal"
    )
    return df


def length_stats(lp: pd.DataFrame, unit: str, tolerance: float = 0.0) -> LengthStats:
    counts = lp["longer"].value_counts()
    return LengthStats(
        unit=unit,
        tolerance=tolerance,
        n_pairs=len(lp),
        chosen_longer=int(counts.get("chosen", 0)),
        rejected_longer=int(counts.get("rejected", 0)),
        equal=int(counts.get("equal", 0)),
    )


def balanced_subset(lp: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Seeded downsample with equally many chosen-longer and rejected-longer pairs.

    Equal-length pairs (within the tolerance used by `length_pairs`) are left out; the
    larger class is sampled without replacement (`numpy.random.default_rng(seed)`) down
    to the size of the smaller one. Rows keep their original order.
    """
    chosen = np.flatnonzero(lp["longer"].to_numpy() == "chosen")
    rejected = np.flatnonzero(lp["longer"].to_numpy() == "rejected")
    k = min(len(chosen), len(rejected))
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [rng.choice(chosen, size=k, replace=False), rng.choice(rejected, size=k, replace=False)]
    )
    return lp.iloc[np.sort(keep)].reset_index(drop=True)


def accuracy_rows(
    full: pd.DataFrame,
    balanced: pd.DataFrame,
    scores: dict[str, pd.DataFrame],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    files: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Eq. 2 accuracy of each score table on the full and the balanced pairs (fractions)."""
    rows = []
    for name, table in scores.items():
        for set_name, pairs in (("full", full), ("balanced", balanced)):
            with_r = attach_rewards(pairs, table, file=(files or {}).get(name))
            res = pairwise_accuracy(with_r, n_boot=n_boot, seed=seed)
            rows.append({"model": name, "pair_set": set_name, **res.to_dict()})
    return pd.DataFrame(rows)


@dataclass
class LengthReport:
    stats: LengthStats
    pairs: pd.DataFrame  # all pairs with lengths
    balanced: pd.DataFrame  # the balanced subset
    accuracies: pd.DataFrame  # model x pair_set (may be empty)
    seed: int


def length_balance(
    data: str | Path,
    *,
    scores: dict[str, pd.DataFrame] | None = None,
    unit: str = "words",
    tokenizer: str | None = None,
    tolerance: float = 0.0,
    seed: int = 0,
    n_boot: int = DEFAULT_N_BOOT,
    load_kw: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
) -> LengthReport:
    """Section 3.5.1 on one data file: stats, balanced subset, accuracies of `scores`."""
    if tolerance < 0:
        raise ConfigError("the length tolerance must be >= 0.")
    loaded = load_dataset_file(data, **text_only_load(load_kw))
    length, label = length_function(unit, tokenizer)
    lp = length_pairs(loaded.records, length, tolerance)
    if lp.empty:
        raise DataError("the data file has no preference pairs.", file=str(data), reason="no_pairs")
    bal = balanced_subset(lp, seed=seed)
    acc = accuracy_rows(lp, bal, scores or {}, n_boot=n_boot, seed=seed, files=files)
    return LengthReport(length_stats(lp, label, tolerance), lp, bal, acc, seed)


def text_only_load(load_kw: dict[str, Any] | None) -> dict[str, Any]:
    """Loader options for text-only work: image files may be absent (`images="ignore"`)."""
    return {"images": "ignore", **(load_kw or {})}


def write_balanced(
    report: LengthReport,
    data: str | Path,
    out_dir: str | Path,
    name: str = "length_balanced",
    load_kw: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the balanced pairs (`{name}_pairs.jsonl`) and the subset as a data file.

    The data file uses the input's layout when it is writable and every record keeps
    all its pairs, else the pairwise layout (see `sfd.write_subsets`).
    """
    out = Path(out_dir)
    written = {"pairs": write_table(report.balanced, out / f"{name}_pairs.jsonl")}
    loaded = load_dataset_file(data, **text_only_load(load_kw))
    recs, whole = subset_records(
        {str(r.id): r for r in loaded.records}, report.balanced, file=str(data)
    )
    layout = loaded.schema if whole and loaded.schema in WRITE_LAYOUTS else "pairwise"
    path = out / f"{name}{data_suffix(data)}"
    written["data"] = Path(write_records(recs, path, schema=layout))
    return written
