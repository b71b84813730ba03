"""The per-step statistics vector: names, reduction over micro-steps and ranks, rows."""

from __future__ import annotations

import pytest
import torch

from shortcutlab.training.stats import (
    STATS,
    S,
    accumulate,
    empty_window,
    reduce_stats,
    stats_row,
    stats_vector,
)

pytestmark = pytest.mark.unit


def _micro(**values: float) -> torch.Tensor:
    return stats_vector(values)


def test_stats_vector_places_values_by_name():
    v = _micro(loss=1.5, pairs=3)
    assert v.dtype == torch.float64 and v.shape == (len(STATS),)
    assert v[S["loss"]] == 1.5 and v[S["pairs"]] == 3 and v[S["correct"]] == 0
    with pytest.raises(KeyError):
        stats_vector({"not_a_stat": 1.0})


def test_reduce_sums_micro_steps_and_ranks_with_sfc_extremes():
    a = _micro(loss=1.0, pairs=2, sfc_min=0.2, sfc_max=0.6)
    b = _micro(loss=2.0, pairs=3, sfc_min=0.1, sfc_max=0.5)
    one_rank = reduce_stats(torch.stack([a, b]), truncated=4)
    assert one_rank[S["loss"]] == 3.0 and one_rank[S["pairs"]] == 5
    assert one_rank[S["sfc_min"]] == 0.1 and one_rank[S["sfc_max"]] == 0.6
    assert one_rank[S["truncated"]] == 4
    other = _micro(loss=5.0, pairs=1, sfc_min=0.05, sfc_max=0.9)
    other[S["truncated"]] = 1

    def gather(local: torch.Tensor) -> torch.Tensor:  # two ranks: ours, then `other`
        return torch.cat([local, other.unsqueeze(0)])

    both = reduce_stats(torch.stack([a, b]), truncated=4, gather=gather)
    assert both[S["loss"]] == 8.0 and both[S["pairs"]] == 6 and both[S["truncated"]] == 5
    assert both[S["sfc_min"]] == 0.05 and both[S["sfc_max"]] == 0.9


def test_window_accumulates_and_rows_are_per_pair_means():
    window = empty_window()
    for loss in (1.0, 3.0):
        step = _micro(objective=loss, loss=loss, correct=1, pairs=2, sfc_min=loss, sfc_max=loss)
        window = accumulate(window, step)
    row = stats_row(window, step=2, epoch=0.5, lr=1e-3, proxy=True)
    assert row["loss"] == 1.0 and row["acc"] == 0.5 and row["pairs"] == 4
    assert (row["sfc_min"], row["sfc_max"]) == (1.0, 3.0)
    assert "sfc_mean" not in stats_row(window, step=2, epoch=0.5, lr=1e-3, proxy=False)
