"""Figures render from tables: PNG and SVG written, non-empty, with the expected panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shortcutlab import plots

pytestmark = pytest.mark.unit


def _mat(v):
    return pd.DataFrame(v, index=["a", "b"], columns=["a", "b"])


def _saved(fig, tmp_path, stem):
    paths = plots.save_figure(fig, tmp_path, stem)
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG"


def test_heatmaps_one_panel_per_mode_plus_difference(tmp_path):
    mats = {
        "standard": _mat([[90, 60], [70, 95.0]]),
        "shortcut-aware": _mat([[89, 75], [80, 94.0]]),
    }
    fig = plots.heatmaps(mats, ("sa - std", mats["shortcut-aware"] - mats["standard"]))
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["standard", "shortcut-aware", "sa - std"]
    assert len(fig.axes) == 5  # 3 heatmap panels + 2 colour bars
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "90.0" in texts and len(texts) == 4
    _saved(fig, tmp_path, "m")


def test_other_figures(tmp_path):
    sfd = pd.DataFrame(
        {
            "name": ["x", "y"],
            "sfd": [30.0, 10.0],
            "acc_success": [0.9, 0.8],
            "acc_success_ci_low": [0.8, 0.7],
            "acc_success_ci_high": [0.95, 0.9],
            "acc_fail": [0.6, 0.7],
            "acc_fail_ci_low": [np.nan, 0.5],
            "acc_fail_ci_high": [np.nan, 0.8],
        }
    )
    fig = plots.sfd_bars(sfd)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 4
    _saved(fig, tmp_path, "sfd")
    stats = {
        "share_chosen_longer": 0.6,
        "share_rejected_longer": 0.3,
        "share_equal": 0.1,
        "n_pairs": 10,
        "unit": "words",
    }
    acc = pd.DataFrame(
        {
            "model": ["m", "m"],
            "pair_set": ["full", "balanced"],
            "accuracy": [0.7, 0.5],
            "ci_low": [0.6, 0.4],
            "ci_high": [0.8, 0.6],
        }
    )
    fig = plots.length_bars(stats, acc)
    assert len(fig.axes) == 2
    _saved(fig, tmp_path, "len")
    assert len(plots.length_bars(stats, acc.iloc[:0]).axes) == 1
    curves = pd.DataFrame(
        {
            "model": ["a"] * 3 + ["b"] * 3,
            "N": [1, 2, 4] * 2,
            "expected_score": [1, 2, 3, 1, 1.5, 1.7],
        }
    )
    fig = plots.bon_plot(curves)
    assert len(fig.axes[0].lines) == 2
    _saved(fig, tmp_path, "bon")
    pts = pd.DataFrame({"proxy": [0.0, 1, 2, 3], "mm": [0.1, 0.9, 2.2, 2.8]})
    fig = plots.score_scatter(pts, pearson=0.99, spearman=1.0)
    assert "Pearson 0.990" in fig.axes[0].get_title()
    _saved(fig, tmp_path, "scatter")
