"""A run's named statistics: the schema of its mode and objective, reduction by each
statistic's declared rule over micro-steps and ranks, windows and metric rows."""

from __future__ import annotations

import pytest
import torch

from shortcutlab.objectives import BASE_STATS, Stat, run_stats
from shortcutlab.training.stats import StepStats

pytestmark = pytest.mark.unit

SA = StepStats(run_stats("shortcut-aware", "sfc"))

pytestmark = pytest.mark.unit


def test_schema_follows_mode_and_objective():
    names = lambda mode, obj, **kw: StepStats(run_stats(mode, obj, **kw)).names  # noqa: E731
    assert names("standard", "sfc") == tuple(s.name for s in BASE_STATS)
    assert "weight_sum" in names("standard", "sfc", static_weights=True)
    assert "sfc_min" in names("shortcut-aware", "poe") and "weight_sum" not in SA.names
    assert {"weight_max", "q0", "q1"} <= set(names("shortcut-aware", "groupdro"))


def test_vector_places_values_by_name():
    v = SA.vector({"loss": 1.5, "pairs": 3})
    assert v.dtype == torch.float64 and v.shape == (len(SA),)
    assert SA.named(v)["loss"] == 1.5 and SA.named(v)["correct"] == 0
    with pytest.raises(KeyError, match="not_a_stat"):
        SA.vector({"not_a_stat": 1.0})


def test_reduce_sums_micro_steps_and_ranks_with_sfc_extremes():
    a = SA.vector({"loss": 1.0, "pairs": 2, "sfc_min": 0.2, "sfc_max": 0.6})
    b = SA.vector({"loss": 2.0, "pairs": 3, "sfc_min": 0.1, "sfc_max": 0.5})
    one = SA.named(SA.reduce(torch.stack([a, b]), truncated=4))
    assert (one["loss"], one["pairs"], one["truncated"]) == (3.0, 5, 4)
    assert (one["sfc_min"], one["sfc_max"]) == (0.1, 0.6)
    other = SA.vector({"loss": 5.0, "pairs": 1, "sfc_min": 0.05, "sfc_max": 0.9, "truncated": 1})

    def gather(local: torch.Tensor) -> torch.Tensor:  # two ranks: ours, then `other`
        return torch.cat([local, other.unsqueeze(0)])

    both = SA.named(SA.reduce(torch.stack([a, b]), truncated=4, gather=gather))
    assert (both["loss"], both["pairs"], both["truncated"]) == (8.0, 6, 5)
    assert (both["sfc_min"], both["sfc_max"]) == (0.05, 0.9)


def test_last_keeps_the_last_micro_step_and_rank_zero():
    """A `last` statistic (GroupDRO's q) is the latest micro-step's, rank 0's over ranks."""
    st = StepStats((*BASE_STATS, Stat("q0", "last", column=True)))
    micro = torch.stack([st.vector({"q0": 0.3}), st.vector({"q0": 0.4})])
    assert st.named(st.reduce(micro, 0))["q0"] == 0.4
    other = st.vector({"q0": 0.9}).unsqueeze(0)
    both = st.reduce(micro, 0, gather=lambda local: torch.cat([local, other]))
    assert st.named(both)["q0"] == 0.4
    window = st.accumulate(st.accumulate(st.empty(), both), st.vector({"q0": 0.7, "pairs": 1}))
    assert st.row(window, 2, 1.0, 0.0)["q0"] == 0.7


def test_window_accumulates_and_rows_are_per_pair_means():
    window = SA.empty()
    for loss in (1.0, 3.0):
        values = {"objective": loss, "loss": loss, "correct": 1, "pairs": 2}
        step = SA.vector({**values, "sfc_min": loss, "sfc_max": loss})
        window = SA.accumulate(window, step)
    row = SA.row(window, step=2, epoch=0.5, lr=1e-3)
    assert row["loss"] == 1.0 and row["acc"] == 0.5 and row["pairs"] == 4
    assert (row["sfc_min"], row["sfc_max"]) == (1.0, 3.0)
    std = StepStats(BASE_STATS)
    assert "sfc_mean" not in std.row(std.vector({"pairs": 1}), step=2, epoch=0.5, lr=1e-3)
