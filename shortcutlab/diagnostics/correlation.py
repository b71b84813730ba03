"""Figure 3: how closely an MM-RM's rewards follow a text-only proxy's rewards.

A high correlation between r(v, q, a) and r_t(q, a) on the same answers means the MM-RM
scores answers much like a model that never sees the image, i.e. it leans on text-only
shortcuts. Pearson (linear) and Spearman (rank) coefficients come from scipy, on either
per-answer rewards or per-pair margins (Delta vs Delta_t).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from shortcutlab.diagnostics.tables import align_score_tables, pairs_table, with_reward
from shortcutlab.errors import ConfigError, DataError

LEVELS = ("responses", "margins")


@dataclass
class CorrelationResult:
    level: str
    n: int
    pearson: float
    pearson_p: float
    spearman: float
    spearman_p: float

    def to_dict(self) -> dict:
        return asdict(self)


def correlation_points(
    mm: pd.DataFrame,
    proxy: pd.DataFrame,
    *,
    level: str = "responses",
    files: tuple[str | None, str | None] = (None, None),
) -> pd.DataFrame:
    """The (x = proxy, y = MM) points: per answer, or per pair margin (better - worse)."""
    if level not in LEVELS:
        raise ConfigError(f"unknown level '{level}'; choose one of {', '.join(LEVELS)}.")
    aligned = align_score_tables(mm, proxy, names=("mm", "proxy"), files=files)
    if level == "responses":
        return pd.DataFrame(
            {"id": aligned["id"], "proxy": aligned["reward_proxy"], "mm": aligned["reward_mm"]}
        )
    # the aligned table keeps the MM table's labels, so label errors name the MM file
    pm = pairs_table(with_reward(aligned, "mm"), file=files[0])
    pp = pairs_table(with_reward(aligned, "proxy"), file=files[0])
    return pd.DataFrame(
        {
            "id": pm["id"],
            "proxy": pp["r_better"] - pp["r_worse"],
            "mm": pm["r_better"] - pm["r_worse"],
        }
    )


def correlate(points: pd.DataFrame, level: str = "responses") -> CorrelationResult:
    """Pearson and Spearman of points['mm'] vs points['proxy'] (needs >= 3 points)."""
    from scipy import stats  # lazy: scipy.stats takes ~0.5 s to import, used here only

    x = points["proxy"].to_numpy(dtype=float)
    y = points["mm"].to_numpy(dtype=float)
    if len(x) < 3:
        raise DataError(
            f"need at least 3 points to correlate, got {len(x)}.", reason="too_few_rows"
        )
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise DataError(
            "one of the reward columns is constant; correlation is undefined.",
            field="reward",
            reason="constant",
        )
    pr = stats.pearsonr(x, y)
    sr = stats.spearmanr(x, y)
    return CorrelationResult(
        level=level,
        n=len(x),
        pearson=float(pr.statistic),
        pearson_p=float(pr.pvalue),
        spearman=float(sr.statistic),
        spearman_p=float(sr.pvalue),
    )
