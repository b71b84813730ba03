"""The diagnostics of a study, from its score tables (never from models).

`write_results(study, out)` reads `out/scores/s{seed}/` (written by `shortcutlab.study.run`)
and writes to `out/results/`:
- the generalization matrix per mode (Fig. 1 / Table 5): `accuracy_long.csv` (every
  cell of every seed with its bootstrap interval), `matrix_{mode}.csv` (mean over
  seeds), `matrix_summary.csv` and `matrix.png` (heatmaps + shortcut-aware - standard);
- SFD (Def. 3.1) of every o.o.d. cell and of every shift split, the proxy being the
  text-only model trained on the same training set: `sfd.csv`, `sfd_{mode}_s{seed}.png`;
- accuracy on each environment's shift split (the cue reversed): `shift.csv`;
- the MM-vs-text-only correlation on the i.i.d. test sets (Fig. 3): `correlation.csv`;
- length balance of each test set and the accuracy of every model of the first seed on
  its length-balanced subset (Sec. 3.5.1, Fig. 5): `length.csv`, `length_{env}.png`;
- the methods compared over seeds, each paired with standard (`shortcutlab.study.methods`):
  `methods.csv`, `methods_diff.csv`, `methods.png`;
- with `probe: true`, each run's probe rows over training (`shortcutlab.study.probe_results`):
  `probe.csv`, `probe_final.csv`, `probe_training.png`.
It returns the numbers as a JSON-able dict (the study's summary). The matrix, SFD and
length tables and figures go through the same writers as the CLI
(`shortcutlab.diagnostics.outputs`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.diagnostics import matrix as mx
from shortcutlab.diagnostics.accuracy import pairwise_accuracy
from shortcutlab.diagnostics.correlation import correlate, correlation_points
from shortcutlab.diagnostics.length import length_balance
from shortcutlab.diagnostics.outputs import length_outputs, matrix_outputs, sfd_outputs
from shortcutlab.diagnostics.sfd import sfd
from shortcutlab.diagnostics.tables import pairs_table
from shortcutlab.errors import DataError
from shortcutlab.score_table import read_score_table
from shortcutlab.study.methods import write_methods
from shortcutlab.study.probe_results import probe_results
from shortcutlab.study.spec import TEXT_MODE, Study

Say = Callable[[str], None]
# the columns of each SFD cell kept in the summary (sfd.csv has them all)
SFD_CELL_COLUMNS = ["seed", "name", "sfd", "sfd_ci_low", "sfd_ci_high", "n_success", "n_fail"]
SFD_CELL_COLUMNS += ["acc_success", "acc_fail"]


def _clean(x: Any) -> Any:
    """NaN -> None, numpy scalars -> Python, recursively (for JSON)."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _mean_sd(values: list[float]) -> dict[str, Any]:
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if not v.size:
        return {"mean": None, "sd": None, "min": None, "max": None, "n": 0}
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return {
        "mean": float(v.mean()),
        "sd": sd,
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
    }


def _ordered(mat: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Rows and columns in the study's environment order (others after, as found)."""
    rows = [e for e in order if e in mat.index] + [e for e in mat.index if e not in order]
    cols = [e for e in order if e in mat.columns] + [e for e in mat.columns if e not in order]
    return mat.reindex(index=rows, columns=cols)


def matrix_results(study: Study, out: Path, res: Path) -> dict[str, Any]:
    """Matrices per seed and their seed means; CSVs and the heatmap figure."""
    longs = []
    for seed in study.seeds:
        _, long = mx.matrix_from_score_files(out / "scores" / f"s{seed}", n_boot=study.n_boot)
        longs.append(long.assign(seed=seed))
    long = pd.concat(longs, ignore_index=True)
    long.to_csv(res / "accuracy_long.csv", index=False)
    mean_long = long.groupby(["mode", "train_env", "test_env"], sort=False, as_index=False)[
        "accuracy"
    ].mean()
    order = [e.name for e in study.environments]  # study order, not file-name order
    mats = {m: _ordered(mat, order) for m, mat in mx.matrices_from_long(mean_long).items()}
    per_seed: dict[str, list[dict]] = {}
    for seed, grp in long.groupby("seed"):
        for mode, mat in mx.matrices_from_long(grp).items():
            s = mx.matrix_summary(mat)
            per_seed.setdefault(mode, []).append(
                {"seed": int(seed), "iid_mean": s["iid_mean"], "ood_mean": s["ood_mean"]}
            )
    summaries, _, _ = matrix_outputs(mats, res)
    return {
        mode: {
            "matrix": mats[mode].to_dict("index"),
            "iid_mean": summaries[mode]["iid_mean"],
            "ood_mean": summaries[mode]["ood_mean"],
            "rows": summaries[mode]["rows"],
            "per_seed": per_seed.get(mode, []),
            "iid_over_seeds": _mean_sd([r["iid_mean"] for r in per_seed.get(mode, [])]),
            "ood_over_seeds": _mean_sd([r["ood_mean"] for r in per_seed.get(mode, [])]),
        }
        for mode in mats
    }


def _sfd_cells(study: Study, out: Path, seed: int) -> list[tuple[str, str, str, str, Path, Path]]:
    """(mode, kind, train_env, test_env, mm file, proxy file) of every SFD cell."""
    folder = out / "scores" / f"s{seed}"
    cells = []
    names = [e.name for e in study.environments]
    mm_modes = study.mm_labels
    for mode in mm_modes:
        for e in study.environments:
            for t in names:
                if t != e.name:
                    cells.append(
                        (
                            mode,
                            "ood",
                            e.name,
                            t,
                            folder / f"{mode}__{e.name}__{t}.jsonl",
                            folder / f"{TEXT_MODE}__{e.name}__{t}.jsonl",
                        )
                    )
            if e.shift:
                sh = folder / "shift"
                own = f"{e.name}__{e.name}.jsonl"
                cells.append(
                    (
                        mode,
                        "shift",
                        e.name,
                        e.name,
                        sh / f"{mode}__{own}",
                        sh / f"{TEXT_MODE}__{own}",
                    )
                )
    return cells


def sfd_results(study: Study, out: Path, res: Path) -> dict[str, Any]:
    """Def. 3.1 on every o.o.d. and shift cell; CSV, bars per mode and seed, means."""
    frames = []
    for seed in study.seeds:
        for mode in study.mm_labels:
            results, meta = [], []
            for m, kind, train, test, mm_f, px_f in _sfd_cells(study, out, seed):
                if m != mode:
                    continue
                name = f"{train}->{test}" + (" (shift)" if kind == "shift" else "")
                results.append(
                    sfd(
                        read_score_table(mm_f),
                        read_score_table(px_f),
                        name=name,
                        n_boot=study.n_boot,
                        files=(str(mm_f), str(px_f)),
                    )
                )
                meta.append(
                    {"seed": seed, "mode": mode, "kind": kind, "train_env": train, "test_env": test}
                )
            if not results:
                continue
            table, _ = sfd_outputs(results, res, f"sfd_{mode}_s{seed}")
            frames.append(pd.concat([pd.DataFrame(meta), table], axis=1))
    if not frames:
        return {}
    table = pd.concat(frames, ignore_index=True)
    table.to_csv(res / "sfd.csv", index=False)
    summary: dict[str, Any] = {}
    for (mode, kind), grp in table.groupby(["mode", "kind"], sort=False):
        per_seed = grp.groupby("seed")["sfd"].mean()
        summary.setdefault(mode, {})[kind] = {
            "mean_sfd": float(grp["sfd"].mean()),
            "over_seeds": _mean_sd(per_seed.tolist()),
            "cells": grp[SFD_CELL_COLUMNS].to_dict("records"),
        }
    return summary


def shift_results(study: Study, out: Path, res: Path) -> dict[str, Any]:
    """Accuracy of every model on its own environment's shift split (cue reversed)."""
    rows = []
    for seed in study.seeds:
        for f in sorted((out / "scores" / f"s{seed}" / "shift").glob("*__*__*.jsonl")):
            mode, env, _ = f.stem.split("__")
            acc = pairwise_accuracy(
                pairs_table(read_score_table(f), file=str(f)), n_boot=study.n_boot
            )
            rows.append(
                {
                    "seed": seed,
                    "mode": mode,
                    "env": env,
                    "accuracy": 100 * acc.accuracy,
                    "ci_low": 100 * acc.ci_low,
                    "ci_high": 100 * acc.ci_high,
                    "n_pairs": acc.n_pairs,
                    "n_ties": acc.n_ties,
                }
            )
    if not rows:
        return {}
    df = pd.DataFrame(rows)
    df.to_csv(res / "shift.csv", index=False)
    out_d: dict[str, Any] = {}
    for mode, grp in df.groupby("mode", sort=False):
        out_d[mode] = {
            "mean": float(grp["accuracy"].mean()),
            "by_env": grp.groupby("env")["accuracy"].mean().to_dict(),
            "over_seeds": _mean_sd(grp.groupby("seed")["accuracy"].mean().tolist()),
        }
    return out_d


def correlation_results(study: Study, out: Path, res: Path) -> dict[str, Any]:
    """Pearson / Spearman of MM vs text-only pair margins on each i.i.d. test (Fig. 3)."""
    rows = []
    for seed in study.seeds:
        folder = out / "scores" / f"s{seed}"
        for mode in study.mm_labels:
            for e in study.environments:
                mm_f = folder / f"{mode}__{e.name}__{e.name}.jsonl"
                px_f = folder / f"{TEXT_MODE}__{e.name}__{e.name}.jsonl"
                try:
                    pts = correlation_points(
                        read_score_table(mm_f), read_score_table(px_f), level="margins"
                    )
                    r = correlate(pts, "margins").to_dict()
                except DataError as err:  # constant rewards: undefined, say why
                    r = {"pearson": None, "spearman": None, "note": err.message}
                rows.append({"seed": seed, "mode": mode, "env": e.name, **r})
    df = pd.DataFrame(rows)
    df.to_csv(res / "correlation.csv", index=False)
    return {
        mode: {
            "pearson_mean": _mean_sd(grp["pearson"].dropna().tolist())["mean"],
            "rows": grp.to_dict("records"),
        }
        for mode, grp in df.groupby("mode", sort=False)
    }


def length_results(study: Study, out: Path, res: Path) -> dict[str, Any]:
    """Length split of each i.i.d. test set; accuracies (first seed) on its balanced subset."""
    seed = study.seeds[0]
    folder = out / "scores" / f"s{seed}"
    summary, frames = {}, []
    for e in study.environments:
        scores = {
            f"{m}:{e.name}": read_score_table(folder / f"{m}__{e.name}__{e.name}.jsonl")
            for m in _scored_modes(study)
        }
        try:
            rep = length_balance(
                e.test, scores=scores, unit=study.length_unit, seed=seed, n_boot=study.n_boot
            )
        except DataError as err:  # e.g. no pair of one length class: nothing to balance
            summary[e.name] = {"note": err.message}
            continue
        stats = rep.stats.to_dict()
        length_outputs(rep, res, f"length_{e.name}")
        frames.append(rep.accuracies.assign(env=e.name))
        summary[e.name] = {
            "stats": stats,
            "n_balanced_pairs": len(rep.balanced),
            "accuracies": rep.accuracies.to_dict("records"),
        }
    if frames:
        pd.concat(frames, ignore_index=True).to_csv(res / "length.csv", index=False)
    return summary


def _scored_modes(study: Study) -> list[str]:
    return list(dict.fromkeys([*study.mm_labels, TEXT_MODE]))


def write_results(study: Study, out: Path, *, say: Say = print) -> dict[str, Any]:
    """Every diagnostic of the study into out/results; returns the summary dict."""
    res = out / "results"
    res.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"study": study.name, "results_dir": str(res)}
    summary["matrix"] = matrix_results(study, out, res)
    say(
        "matrix: "
        + ", ".join(
            f"{m} iid {v['iid_mean']:.1f} / ood {v['ood_mean']:.1f}"
            for m, v in summary["matrix"].items()
        )
    )
    summary["sfd"] = sfd_results(study, out, res)
    say(
        "SFD: "
        + ", ".join(
            f"{m} {k} {v['mean_sfd']:.1f}" for m, d in summary["sfd"].items() for k, v in d.items()
        )
    )
    summary["shift"] = shift_results(study, out, res)
    summary["correlation"] = correlation_results(study, out, res)
    summary["length"] = length_results(study, out, res)
    summary["methods"] = write_methods(res, _scored_modes(study))
    if study.probe:
        summary["probe"] = probe_results(study, out, res)
    say(f"diagnostics written to {res}")
    summary["figures"] = sorted(p.name for p in res.glob("*.png"))
    return _clean(summary)
