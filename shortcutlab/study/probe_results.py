"""The probe of a study's runs (`probe: true`): what each method's RM rewards, and when.

Each training run of a probed study logs probe rows (`train --probe-data`, the
environment's i.i.d. test file: image swap and text edits of a few of its records,
`shortcutlab.probe.in_training`). `probe_results` reads them from every run's
metrics.jsonl (never a model) and writes to `results/`:

- `probe.csv`: every row, long: seed, env, method, step, metric, value;
- `probe_final.csv`: per environment, method and metric, the last step's value as mean,
  sd, min and max over seeds (and the value before training, `start`: every method of
  a seed starts from the same model);
- `probe_training.png` / `.svg`: per environment a column, per metric a row, one line per
  method (mean over seeds) against the training step: when a shortcut forms.

Metrics (docs/probe.md): `swap_flip_rate` (share of preferences flipped by another
record's image), `swap_mean_abs_change_sd` (mean |reward change| in reward sd) and, per
text edit, `<edit>_mean_change_sd` (mean reward change of the edited response, reward sd).
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab.plots import probe_curves, save_figure
from shortcutlab.probe.in_training import PREFIX
from shortcutlab.run_folder import RunFolder
from shortcutlab.study.spec import TEXT_MODE, Study, run_dir
from shortcutlab.training.state import read_metrics

IMAGE_METRICS = ("swap_flip_rate", "swap_mean_abs_change_sd")
EDIT_METRIC = "_mean_change_sd"
COLUMNS = ["seed", "env", "method", "step", "metric", "value"]


def probe_rows(study: Study, out: Path) -> pd.DataFrame:
    """Every probe value of every run of the study (COLUMNS), from metrics.jsonl."""
    rows: list[dict[str, Any]] = []
    methods = [m for m in study.train_modes if m != TEXT_MODE]
    for seed, env, method in product(study.seeds, study.environments, methods):
        metrics = RunFolder(run_dir(out, seed, method, env.name)).metrics
        if metrics.is_file():
            where = {"seed": seed, "env": env.name, "method": method}
            rows += [where | r for r in _probe_values(read_metrics(metrics))]
    return pd.DataFrame(rows, columns=COLUMNS)


def _probe_values(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """{step, metric, value} of every wanted probe metric in a run's metrics rows."""
    return [
        {"step": row["step"], "metric": key[len(PREFIX) :], "value": value}
        for row in metrics
        if row.get("split") == "probe"
        for key, value in row.items()
        if key.startswith(PREFIX) and _wanted(key[len(PREFIX) :])
    ]


def _wanted(metric: str) -> bool:
    return metric in IMAGE_METRICS or metric.endswith(EDIT_METRIC)


def final_table(long: pd.DataFrame) -> pd.DataFrame:
    """Per (env, method, metric): the last step's value over seeds, and the start value."""
    last = long[long["step"] == long.groupby(["seed", "env", "method"])["step"].transform("max")]
    stats = last.groupby(["env", "method", "metric"])["value"].agg(
        ["mean", "std", "min", "max", "count"]
    )
    stats = stats.rename(columns={"std": "sd", "count": "n"})
    start = long[long["step"] == 0].groupby(["env", "metric"])["value"].mean().rename("start")
    return stats.reset_index().merge(start.reset_index(), on=["env", "metric"], how="left")


def probe_results(study: Study, out: Path, res: Path) -> dict[str, Any]:
    """Write probe.csv, probe_final.csv and probe_training.png; the summary's numbers:
    {"metrics": [...], "final": {env: {method: {metric: {mean, sd, n}}}}, "start": ...}."""
    long = probe_rows(study, out)
    if long.empty:
        return {"note": "no probe rows in the runs' metrics.jsonl (trained without probe?)"}
    long.to_csv(res / "probe.csv", index=False)
    final = final_table(long)
    final.to_csv(res / "probe_final.csv", index=False)
    metrics = sorted(long["metric"].unique(), key=_metric_order)
    curves = long.groupby(["env", "method", "metric", "step"])["value"].mean().reset_index()
    envs = [e.name for e in study.environments]
    save_figure(probe_curves(curves, envs, metrics, study.train_modes), res, "probe_training")
    summary: dict[str, Any] = {"metrics": metrics, "final": {}, "start": {}}
    rank = {e: i for i, e in enumerate(envs)} | {m: i for i, m in enumerate(study.train_modes)}
    final = final.sort_values(["env", "method"], key=lambda c: c.map(rank), kind="stable")
    for r in final.itertuples():
        cell = summary["final"].setdefault(r.env, {}).setdefault(r.method, {})
        cell[r.metric] = {"mean": r.mean, "sd": r.sd, "n": int(r.n)}
        summary["start"].setdefault(r.env, {})[r.metric] = r.start
    return summary


def _metric_order(metric: str) -> tuple[int, str]:
    return (IMAGE_METRICS.index(metric), "") if metric in IMAGE_METRICS else (9, metric)
