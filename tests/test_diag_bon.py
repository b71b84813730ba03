"""Appendix H Best-of-N estimator == brute-force enumeration; correlation (Figure 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shortcutlab.diagnostics.bon import (
    ascending_order,
    bon_bruteforce,
    bon_curve,
    bon_expected,
    bon_weights,
)
from shortcutlab.diagnostics.correlation import correlate, correlation_points
from shortcutlab.errors import DataError
from shortcutlab.score_table import validate_score_table

pytestmark = pytest.mark.unit


def test_estimator_equals_enumeration_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(150):
        n = int(rng.integers(1, 8))
        rewards = rng.integers(0, 3, n).astype(float)  # many ties
        scores = rng.normal(size=n)
        for N in range(1, n + 1):
            assert bon_expected(rewards, scores, N) == pytest.approx(
                bon_bruteforce(rewards, scores, N), abs=1e-12
            )


def test_weights_and_tie_rule():
    assert bon_weights(4, 4).tolist() == [0, 0, 0, 1]
    assert bon_weights(5, 2).sum() == pytest.approx(1.0)
    # rewards tie: the lower response_index ranks higher (is picked)
    assert ascending_order(np.array([1.0, 1.0, 0.0])).tolist() == [2, 1, 0]
    assert bon_expected([1.0, 1.0], [10.0, 20.0], 2) == 10.0


def test_curve_from_tables():
    ids = ["a"] * 3 + ["b"] * 3
    idx = [0, 1, 2] * 2
    rewards = pd.DataFrame({"id": ids, "response_index": idx, "reward": [1, 2, 3, 3, 2, 1.0]})
    judge = pd.DataFrame({"id": ids, "response_index": idx, "score": [1, 2, 3, 1, 2, 3.0]})
    curve = bon_curve(rewards, judge)
    assert curve["N"].tolist() == [1, 2, 3]
    assert curve["expected_score"].iloc[0] == pytest.approx(2.0)  # N=1: random answer
    assert curve["expected_score"].iloc[2] == pytest.approx(2.0)  # (3 + 1) / 2
    with pytest.raises(DataError, match="only one of"):
        bon_curve(rewards.iloc[:-1], judge)


def test_misaligned_tables_name_both_files():
    """The error names the judge file and the reward file (not the model's label)."""
    from shortcutlab.diagnostics.bon import bon_curves

    ids, idx = ["a", "a", "b", "b"], [0, 1, 0, 1]
    rewards = pd.DataFrame({"id": ids, "response_index": idx, "reward": [1, 2, 3, 4.0]})
    judge = pd.DataFrame({"id": ids[1:], "response_index": idx[1:], "score": [1, 2, 3.0]})
    with pytest.raises(DataError) as ex:
        bon_curves({"mm": rewards}, judge, judge_file="j.jsonl", reward_files={"mm": "r.jsonl"})
    text = str(ex.value)
    assert text.startswith("j.jsonl vs r.jsonl, field 'response_index'")
    assert "id 'a', response_index 0 has no judge score" in text and "Hint:" in text


def test_correlation_pearson_spearman():
    rng = np.random.default_rng(0)
    n = 40
    base = {
        "id": [f"r{i // 2}" for i in range(n)],
        "response_index": [i % 2 for i in range(n)],
        "label": ["chosen", "rejected"] * (n // 2),
    }
    x = rng.normal(size=n)
    proxy = validate_score_table(pd.DataFrame({**base, "reward": x}))
    mm = validate_score_table(pd.DataFrame({**base, "reward": x**3}))
    res = correlate(correlation_points(mm, proxy))
    assert res.spearman == pytest.approx(1.0) and 0.5 < res.pearson < 1.0 and res.n == n
    margins = correlation_points(mm, proxy, level="margins")
    assert len(margins) == n // 2
    with pytest.raises(DataError, match="constant"):
        correlate(pd.DataFrame({"proxy": [1.0, 1.0, 1.0], "mm": [1.0, 2.0, 3.0]}))
