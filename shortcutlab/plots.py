"""Figures from diagnostic tables (never from models): table in, matplotlib Figure out.

heatmaps (Figure 1: one annotated panel per training mode on one colour scale, plus a
difference panel), SFD bars (Figures 2 / 7), length-balance bars (Figure 5), Best-of-N
curves (Appendix H / Table 2) and the MM-vs-proxy reward scatter (Figure 3).
`save_figure` writes PNG and SVG. The Agg backend is used, so no display is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _plt() -> Any:
    import matplotlib  # lazy: ~0.3 s, and the backend must be set before pyplot

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, out_dir: str | Path, stem: str) -> list[Path]:
    """Save `fig` as `{stem}.png` (150 dpi) and `{stem}.svg` in out_dir; close it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    _plt().close(fig)
    return paths


def _annotated(
    ax: Any,
    mat: pd.DataFrame,
    *,
    cmap: str,
    vmin: float,
    vmax: float,
    title: str,
    fmt: str = "{:.1f}",
    ylabel: bool = True,
) -> Any:
    vals = mat.to_numpy(dtype=float)  # (train envs, test envs)
    im = ax.imshow(vals, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(vals.shape[1]), [str(c) for c in mat.columns], rotation=30, ha="right")
    ax.set_yticks(range(vals.shape[0]), [str(i) for i in mat.index])
    ax.set_xlabel("test environment")
    if ylabel:
        ax.set_ylabel("training environment")
    ax.set_title(title)
    mid = (vmin + vmax) / 2
    for (i, j), v in np.ndenumerate(vals):
        if np.isfinite(v):
            dark = v < mid if cmap != "RdBu" else abs(v - mid) > (vmax - vmin) / 4
            ax.text(
                j,
                i,
                fmt.format(v),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    return im


def heatmaps(
    mats: dict[str, pd.DataFrame],
    diff: tuple[str, pd.DataFrame] | None = None,
    *,
    summaries: dict[str, dict] | None = None,
) -> Any:
    """One annotated accuracy panel per mode (shared 0-100-style scale) + a difference panel.

    Panel titles carry the i.i.d. / o.o.d. means when `summaries` ({mode: matrix_summary})
    is given. The difference panel uses a diverging scale centred on 0.
    """
    plt = _plt()
    n = len(mats) + (diff is not None)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), squeeze=False)
    finite = np.concatenate([m.to_numpy(dtype=float).ravel() for m in mats.values()])
    finite = finite[np.isfinite(finite)]
    vmin = float(min(50.0, finite.min())) if finite.size else 0.0
    vmax = 100.0
    im = None
    for k, (ax, (mode, mat)) in enumerate(zip(axes[0], mats.items(), strict=False)):
        s = (summaries or {}).get(mode)
        title = mode if s is None else f"{mode}\niid {s['iid_mean']:.1f} / ood {s['ood_mean']:.1f}"
        im = _annotated(ax, mat, cmap="viridis", vmin=vmin, vmax=vmax, title=title, ylabel=k == 0)
    if im is not None:
        fig.colorbar(im, ax=list(axes[0][: len(mats)]), shrink=0.8, label="accuracy (points)")
    if diff is not None:
        title, dmat = diff
        dv = dmat.to_numpy(dtype=float)
        lim = float(np.nanmax(np.abs(dv))) if np.isfinite(dv).any() else 1.0
        lim = lim or 1.0
        dim = _annotated(
            axes[0][-1],
            dmat,
            cmap="RdBu",
            vmin=-lim,
            vmax=lim,
            title=title,
            fmt="{:+.1f}",
            ylabel=False,
        )
        fig.colorbar(dim, ax=axes[0][-1], shrink=0.8, label="difference (points)")
    return fig


def sfd_bars(table: pd.DataFrame) -> Any:
    """Figure 2 / 7: MM-RM accuracy on shortcut-success vs shortcut-fail per test set."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(table) + 2), 3.6))
    x = np.arange(len(table))
    w = 0.38
    for k, (col, label, color) in enumerate(
        [("acc_success", "shortcut-success", "#4c72b0"), ("acc_fail", "shortcut-fail", "#dd8452")]
    ):
        v = 100 * table[col].to_numpy(dtype=float)
        lo = 100 * table[f"{col}_ci_low"].to_numpy(dtype=float)
        hi = 100 * table[f"{col}_ci_high"].to_numpy(dtype=float)
        err = np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])
        ax.bar(
            x + (k - 0.5) * w, v, w, yerr=np.nan_to_num(err), capsize=3, label=label, color=color
        )
    for i, row in enumerate(table.itertuples()):
        ax.text(
            i,
            102,
            f"SFD {row.sfd:.1f}" if np.isfinite(row.sfd) else "SFD n/a",
            ha="center",
            fontsize=8,
        )
    ax.set_xticks(x, table["name"].astype(str).tolist())
    ax.set_ylim(0, 110)
    ax.set_ylabel("MM-RM accuracy (points)")
    ax.set_title("Shortcut-Failure Degradation (Def. 3.1)")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def length_bars(stats: dict[str, Any], accuracies: pd.DataFrame) -> Any:
    """Figure 5: length split of the pairs, and accuracies on full vs balanced sets."""
    plt = _plt()
    has_acc = not accuracies.empty
    fig, axes = plt.subplots(1, 1 + has_acc, figsize=(4.5 * (1 + has_acc), 3.6), squeeze=False)
    ax = axes[0][0]
    shares = [stats["share_chosen_longer"], stats["share_rejected_longer"], stats["share_equal"]]
    ax.bar(
        ["chosen longer", "rejected longer", "equal"],
        100 * np.array(shares),
        color=["#4c72b0", "#dd8452", "#8c8c8c"],
    )
    ax.set_ylabel(f"share of pairs (%), n={stats['n_pairs']}")
    ax.set_title(f"length in {stats['unit']}")
    if has_acc:
        ax = axes[0][1]
        models = list(dict.fromkeys(accuracies["model"]))
        x = np.arange(len(models))
        for k, set_name in enumerate(["full", "balanced"]):
            part = accuracies[accuracies["pair_set"] == set_name].set_index("model").loc[models]
            v = 100 * part["accuracy"].to_numpy(dtype=float)
            err = 100 * np.vstack([v / 100 - part["ci_low"], part["ci_high"] - v / 100])
            ax.bar(
                x + (k - 0.5) * 0.38,
                v,
                0.38,
                label=set_name,
                yerr=np.nan_to_num(np.clip(err, 0, None)),
                capsize=3,
            )
        ax.axhline(50, color="gray", lw=0.8, ls="--")
        ax.set_xticks(x, models)
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy (points)")
        ax.set_title("full vs length-balanced")
        ax.legend(fontsize=8)
    return fig


def bon_plot(curves: pd.DataFrame, *, judge_label: str = "judge score") -> Any:
    """Appendix H: expected judge score of Best-of-N vs N, one line per reward model."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for model, grp in curves.groupby("model", sort=False):
        ax.plot(grp["N"], grp["expected_score"], marker="o", ms=3, label=str(model))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (answers sampled)")
    ax.set_ylabel(f"expected {judge_label}")
    ax.set_title("Best-of-N (unbiased estimator, App. H)")
    ax.legend(fontsize=8)
    return fig


def score_scatter(
    points: pd.DataFrame, *, pearson: float, spearman: float, level: str = "responses"
) -> Any:
    """Figure 3: MM-RM reward (y) vs text-only proxy reward (x), with both coefficients."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    x, y = points["proxy"].to_numpy(dtype=float), points["mm"].to_numpy(dtype=float)
    ax.scatter(x, y, s=6, alpha=0.5)
    if len(x) >= 2 and np.ptp(x) > 0:
        a, b = np.polyfit(x, y, 1)
        xs = np.linspace(x.min(), x.max(), 2)
        ax.plot(xs, a * xs + b, color="black", lw=1)
    what = "reward" if level == "responses" else "pair margin"
    ax.set_xlabel(f"text-only proxy {what}")
    ax.set_ylabel(f"MM-RM {what}")
    ax.set_title(f"Pearson {pearson:.3f}, Spearman {spearman:.3f} (n={len(x)})")
    return fig


def method_bars(table: pd.DataFrame, labels: dict[str, str]) -> Any:
    """Grouped bars of a method table (mode, metric, mean, sd): one group per metric in
    `labels` order, one bar per method, error bars = sd over seeds."""
    plt = _plt()
    metrics = [m for m in labels if m in set(table["metric"])]
    modes = list(dict.fromkeys(table["mode"]))
    fig, ax = plt.subplots(figsize=(1.6 + 1.9 * len(metrics), 4.2))
    width = 0.8 / max(len(modes), 1)
    x = np.arange(len(metrics))
    for i, mode in enumerate(modes):
        t = table[table["mode"] == mode].set_index("metric").reindex(metrics)
        pos = x + i * width - 0.4 + width / 2
        ax.bar(pos, t["mean"], width, yerr=t["sd"], capsize=2, label=mode)
    ax.set_xticks(x, [labels[m] for m in metrics], rotation=15)
    ax.set_ylabel("points (mean over seeds; error bar: sd)")
    ax.legend(fontsize=7, ncols=2)
    ax.set_title("Methods (accuracy: higher is better; SFD: lower is better)")
    return fig


def probe_bars(table: pd.DataFrame) -> Any:
    """`probe report`'s figure from its table (test, kind, metric, value, ci_low, ci_high):
    left, the share of preferences flipped per image test; right, the mean reward change
    per text edit (reward sd units); error bars = the 95% record-bootstrap interval."""
    plt = _plt()
    panels = [("image", "flip_rate", 100.0, "preferences flipped (%)", "image reliance")]
    panels.append(("edit", "mean_change_sd", 1.0, "mean reward change (sd)", "edit sensitivity"))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, (kind, metric, scale, ylabel, title) in zip(axes, panels, strict=True):
        t = table[(table["kind"] == kind) & (table["metric"] == metric)]
        val = scale * t["value"].to_numpy(dtype=float)
        lo = val - scale * t["ci_low"].to_numpy(dtype=float)
        hi = scale * t["ci_high"].to_numpy(dtype=float) - val
        err = np.clip(np.nan_to_num(np.vstack([lo, hi]), nan=0.0), 0, None)  # (2, tests)
        ax.bar(range(len(t)), np.nan_to_num(val), yerr=err, capsize=3, color="#4c72b0")
        ax.set_xticks(range(len(t)), list(t["test"]), rotation=20)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    return fig


def probe_curves(
    curves: pd.DataFrame, envs: list[str], metrics: list[str], methods: list[str]
) -> Any:
    """A probed study's curves (env, method, metric, step, value = mean over seeds): one
    column per environment, one row per metric, one line per method against the step."""
    plt = _plt()
    fig, axes = plt.subplots(
        len(metrics), len(envs), figsize=(3.4 * len(envs), 2.3 * len(metrics)), squeeze=False
    )
    for row, metric in enumerate(metrics):
        for col, env in enumerate(envs):
            ax = axes[row][col]
            for method in methods:
                t = curves[(curves["env"] == env) & (curves["method"] == method)]
                t = t[t["metric"] == metric].sort_values("step")
                if len(t):
                    ax.plot(t["step"], t["value"], marker="o", markersize=3, label=method)
            ax.axhline(0, color="black", linewidth=0.6)
            ax.set_title(f"{env}: {metric}", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[-1][0].set_xlabel("training step")
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    return fig
