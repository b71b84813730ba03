"""Appendix H: the unbiased Best-of-N estimator, from reward and judge score tables.

For one prompt with n sampled answers, rewards r and judge scores S, Best-of-N draws a
uniformly random N-subset and keeps the answer with the highest reward. Its expected
judge score is, with answers sorted by reward ascending (i = 1..n):

    E[S_BoN(N)] = sum_i C(i-1, N-1) / C(n, N) * S_i

(answer i is the pick exactly when the other N-1 answers come from the i-1 below it).
Ties in reward are broken deterministically: among equal rewards the answer with the
*lower* response_index ranks higher (it is the one picked), which is what `numpy.argmax`
does over answers in index order; `bon_bruteforce` enumerates subsets with that rule.

Tables: rewards use the score-table contract (`id, response_index, reward`); the judge
table has `id, response_index, score`. The curve for N = 1..n_min (n_min = the fewest
answers any prompt has) is the mean over prompts.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from shortcutlab.errors import DataError


def bon_weights(n: int, N: int) -> np.ndarray:
    """Appendix H weights C(i-1, N-1) / C(n, N) for i = 1..n (ascending reward). Shape (n,)."""
    if not 1 <= N <= n:
        raise ValueError(f"N must be in 1..{n}, got {N}")
    total = comb(n, N)
    return np.array([comb(i - 1, N - 1) / total for i in range(1, n + 1)])


def ascending_order(rewards: np.ndarray) -> np.ndarray:
    """Indices sorting answers by reward ascending; ties: lower index ranks higher (last)."""
    idx = np.arange(len(rewards))
    return np.lexsort((-idx, rewards))  # primary key: reward; then higher index first


def bon_expected(rewards: np.ndarray, scores: np.ndarray, N: int) -> float:
    """Unbiased estimate of the Best-of-N judge score for one prompt (rewards, scores: (n,))."""
    order = ascending_order(np.asarray(rewards, dtype=float))
    return float(bon_weights(len(order), N) @ np.asarray(scores, dtype=float)[order])


def bon_bruteforce(rewards: np.ndarray, scores: np.ndarray, N: int) -> float:
    """Mean judge score of argmax-reward over all C(n, N) subsets (reference for tests)."""
    rewards = np.asarray(rewards, dtype=float)
    scores = np.asarray(scores, dtype=float)
    picks = []
    for subset in combinations(range(len(rewards)), N):
        sub = np.array(subset)
        picks.append(scores[sub[int(np.argmax(rewards[sub]))]])  # first max = lowest index
    return float(np.mean(picks))


def join_judge(
    rewards: pd.DataFrame,
    judge: pd.DataFrame,
    *,
    reward_file: str | None = None,
    judge_file: str | None = None,
) -> pd.DataFrame:
    """(id, response_index, reward, score); both tables must cover the same answers.

    A mismatch is a `DataError` naming both files (judge first), so the user sees which
    judge table and which reward table disagree.
    """
    m = rewards[["id", "response_index", "reward"]].merge(
        judge[["id", "response_index", "score"]],
        on=["id", "response_index"],
        how="outer",
        indicator=True,
    )
    bad = m[m["_merge"] != "both"]
    if len(bad):
        row = bad.iloc[0]
        side = "judge" if row["_merge"] == "left_only" else "reward"
        raise DataError(
            f"{len(bad)} answers are in only one of the reward and judge tables, e.g. id "
            f"'{row['id']}', response_index {row['response_index']} has no {side} score.",
            file=" vs ".join(str(f) for f in (judge_file, reward_file) if f) or None,
            field="response_index",
            reason="misaligned",
            hint="Judge and score the same answers (the same test file) with every model.",
        )
    return m.drop(columns="_merge").sort_values(["id", "response_index"]).reset_index(drop=True)


def bon_curve(
    rewards: pd.DataFrame,
    judge: pd.DataFrame,
    *,
    max_n: int | None = None,
    reward_file: str | None = None,
    judge_file: str | None = None,
) -> pd.DataFrame:
    """Mean unbiased BoN judge score over prompts for N = 1..min(n_min, max_n).

    Returns columns N, expected_score, n_prompts. N = 1 is the mean judge score of a
    random answer; a reward model that helps makes the curve rise with N. The file
    paths only serve error messages.
    """
    joined = join_judge(rewards, judge, reward_file=reward_file, judge_file=judge_file)
    groups = [
        (g["reward"].to_numpy(), g["score"].to_numpy()) for _, g in joined.groupby("id", sort=True)
    ]
    n_min = min(len(r) for r, _ in groups)
    top = n_min if max_n is None else min(n_min, max_n)
    rows = []
    for N in range(1, top + 1):
        vals = [bon_expected(r, s, N) for r, s in groups]
        rows.append({"N": N, "expected_score": float(np.mean(vals)), "n_prompts": len(vals)})
    return pd.DataFrame(rows)


def bon_curves(
    rewards: dict[str, pd.DataFrame],
    judge: pd.DataFrame,
    *,
    max_n: int | None = None,
    judge_file: str | None = None,
    reward_files: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Curves for several reward models: columns model, N, expected_score, n_prompts.

    `reward_files` maps a model's name (a key of `rewards`) to its table's path and
    `judge_file` is the judge table's path; both only serve error messages.
    """
    files = reward_files or {}
    frames = [
        bon_curve(t, judge, max_n=max_n, reward_file=files.get(name), judge_file=judge_file).assign(
            model=name
        )
        for name, t in rewards.items()
    ]
    return pd.concat(frames, ignore_index=True)[["model", "N", "expected_score", "n_prompts"]]
