"""Methods compared over seeds: each method's metrics as mean ± sd over seeds, and its
paired difference to `standard` with a 95% interval.

Reads the study's result tables (never models): `accuracy_long.csv` (i.i.d. = diagonal
cells, o.o.d. = off-diagonal), `shift.csv` (each environment's cue-reversed split) and
`sfd.csv` (Def. 3.1 on o.o.d. cells and shift splits). A *unit* is one (seed, cell): a
model trained on one environment with one seed, tested on one set.

- `method_table`: per method and metric, the mean over a seed's units, then mean, sd,
  min and max of those seed means (the spread a rerun with another seed shows);
- `paired_differences`: per method and metric, d = method - standard on the same unit
  (same seed, training set and test set), then mean(d) with the 95% t-interval
  mean ± t(0.975, n-1) * sd(d) / sqrt(n) over the n paired units. A difference is
  `supported` only when that interval excludes 0; units of one seed share a training run
  and a test set, so the interval treats them as independent and is, if anything,
  narrower than a seeds-only interval: the report says so (docs/demo.md).

Writes `methods.csv`, `methods_diff.csv` and `methods.png` / `.svg` (metrics x methods,
bars = mean over seeds, error bars = sd over seeds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from shortcutlab.plots import method_bars, save_figure

REFERENCE = "standard"
# metric -> (label, higher is better); accuracies in points, SFD in points
METRICS: dict[str, tuple[str, bool]] = {
    "iid": ("i.i.d. accuracy", True),
    "ood": ("o.o.d. accuracy", True),
    "shift": ("shift-split accuracy", True),
    "sfd_ood": ("SFD, o.o.d. cells", False),
    "sfd_shift": ("SFD, shift splits", False),
}
UNIT_COLUMNS = ["metric", "mode", "seed", "train_env", "test_env", "value"]


def metric_units(res: Path) -> pd.DataFrame:
    """Every (metric, mode, seed, train_env, test_env) value from the result CSVs."""
    frames = []
    acc = pd.read_csv(res / "accuracy_long.csv")
    acc["metric"] = np.where(acc["train_env"] == acc["test_env"], "iid", "ood")
    frames.append(acc.rename(columns={"accuracy": "value"})[UNIT_COLUMNS])
    if (res / "shift.csv").is_file():
        sh = pd.read_csv(res / "shift.csv")
        sh = sh.assign(metric="shift", train_env=sh["env"], test_env=sh["env"])
        frames.append(sh.rename(columns={"accuracy": "value"})[UNIT_COLUMNS])
    if (res / "sfd.csv").is_file():
        sfd = pd.read_csv(res / "sfd.csv")
        sfd = sfd.assign(metric="sfd_" + sfd["kind"])
        frames.append(sfd.rename(columns={"sfd": "value"})[UNIT_COLUMNS])
    units = pd.concat(frames, ignore_index=True)
    return units[np.isfinite(units["value"].astype(float))]


def _order(modes: list[str], present: list[str]) -> list[str]:
    return [m for m in modes if m in present] + [m for m in present if m not in modes]


def method_table(units: pd.DataFrame, modes: list[str]) -> pd.DataFrame:
    """mean / sd / min / max over seeds of each method's per-seed mean, per metric."""
    per_seed = units.groupby(["mode", "metric", "seed"], as_index=False)["value"].mean()
    rows = []
    for mode in _order(modes, per_seed["mode"].unique().tolist()):
        for metric in METRICS:
            v = per_seed[(per_seed["mode"] == mode) & (per_seed["metric"] == metric)]["value"]
            if v.empty:
                continue
            rows.append(
                {
                    "mode": mode,
                    "metric": metric,
                    "mean": float(v.mean()),
                    "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                    "min": float(v.min()),
                    "max": float(v.max()),
                    "n_seeds": len(v),
                }
            )
    return pd.DataFrame(rows)


def t_interval(d: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the t-interval of the mean of `d` (n >= 2; else NaN bounds)."""
    n = len(d)
    mean = float(np.mean(d)) if n else float("nan")
    if n < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * np.std(d, ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def paired_differences(units: pd.DataFrame, modes: list[str]) -> pd.DataFrame:
    """method - standard on the same (seed, train_env, test_env), per metric, with a 95%
    t-interval over the paired units and whether it excludes 0 (`supported`)."""
    keys = ["metric", "seed", "train_env", "test_env"]
    ref = units[units["mode"] == REFERENCE][[*keys, "value"]]
    rows = []
    if ref.empty:
        return pd.DataFrame(rows)
    for mode in _order(modes, units["mode"].unique().tolist()):
        if mode == REFERENCE:
            continue
        joined = units[units["mode"] == mode].merge(ref, on=keys, suffixes=("", "_ref"))
        for metric in METRICS:
            j = joined[joined["metric"] == metric]
            if j.empty:
                continue
            d = (j["value"] - j["value_ref"]).to_numpy(float)
            mean, low, high = t_interval(d)
            better = mean > 0 if METRICS[metric][1] else mean < 0
            supported = bool(np.isfinite(low) and (low > 0 or high < 0))
            rows.append(
                {
                    "mode": mode,
                    "metric": metric,
                    "diff": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "n_units": len(d),
                    "n_seeds": int(j["seed"].nunique()),
                    "supported": supported,
                    "reading": _reading(supported, better),
                }
            )
    return pd.DataFrame(rows)


def _reading(supported: bool, better: bool) -> str:
    if not supported:
        return "within noise"
    return "better than standard" if better else "worse than standard"


def write_methods(res: Path, modes: list[str]) -> dict[str, Any]:
    """The method table, the paired differences and the figure, into `res`."""
    units = metric_units(res)
    table = method_table(units, modes)
    diffs = paired_differences(units, modes)
    table.to_csv(res / "methods.csv", index=False)
    diffs.to_csv(res / "methods_diff.csv", index=False)
    labels = {k: v[0] for k, v in METRICS.items()}
    save_figure(method_bars(table, labels), res, "methods")
    return {
        "reference": REFERENCE,
        "table": table.to_dict("records"),
        "differences": diffs.to_dict("records"),
        "interval": "95% t-interval over paired (seed, cell) units",
    }
