"""Eq. 2 pairwise accuracy with a record-level (cluster) bootstrap interval.

Accuracy = fraction of pairs with r(v, q, a+) > r(v, q, a-), strictly: a tie is a wrong
answer and is counted (`n_ties`). Values are fractions in [0, 1]; the CLI reports points.

The interval is a seeded percentile bootstrap that resamples *records* (ids), not pairs:
the C(K, 2) pairs of one K-response record share responses and rewards, so they are
correlated, and resampling pairs independently would give intervals that are too narrow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from shortcutlab.diagnostics.tables import pairs_table

DEFAULT_N_BOOT = 1000
DEFAULT_CONFIDENCE = 0.95
_CHUNK_CELLS = 4_000_000  # resampled (boot, record) cells per chunk, bounds memory


@dataclass
class AccuracyResult:
    """Eq. 2 accuracy of one reward model on one pair set (fractions in [0, 1])."""

    accuracy: float
    n_pairs: int
    n_ties: int
    ci_low: float
    ci_high: float
    n_records: int = 0
    confidence: float = DEFAULT_CONFIDENCE
    n_boot: int = DEFAULT_N_BOOT
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def correct_and_ties(pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: strictly correct (r_better > r_worse) and tied (equal rewards). Shapes (P,)."""
    rb = pairs["r_better"].to_numpy(dtype=float)
    rw = pairs["r_worse"].to_numpy(dtype=float)
    return rb > rw, rb == rw


def group_counts(ids: pd.Series | np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum `values` (P, k) per id -> (n_ids, k), ids in sorted order (the bootstrap unit)."""
    codes, _ = pd.factorize(pd.Series(ids).astype(str), sort=True)
    n = int(codes.max()) + 1 if len(codes) else 0
    out = np.zeros((n, values.shape[1]), dtype=float)
    np.add.at(out, codes, values)
    return out


def bootstrap_sums(counts: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield chunks of resampled column sums, shape (chunk, k): ids drawn with replacement.

    `counts` is (n_ids, k). Uses `numpy.random.default_rng(seed)`, so a given seed, table
    and `n_boot` always give the same replicates.
    """
    rng = np.random.default_rng(seed)
    n = counts.shape[0]
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))  # (b, n_ids): ids drawn per replicate
        flat = (idx + n * np.arange(b)[:, None]).ravel()
        mult = np.bincount(flat, minlength=b * n).reshape(b, n)  # (b, n_ids) multiplicities
        yield mult.astype(float) @ counts  # (b, k)
        done += b


def bootstrap_interval(
    counts: np.ndarray,
    stat: Callable[[np.ndarray], np.ndarray],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Percentile interval of `stat(sums)` over record-resampled replicates.

    `stat` maps resampled sums (B, k) to (B,) statistics; NaN replicates (e.g. an empty
    subset in a resample) are dropped. Returns (nan, nan) when none is finite.
    """
    one = bootstrap_intervals(
        counts, lambda s: stat(s)[:, None], n_boot=n_boot, seed=seed, confidence=confidence
    )
    return one[0] if one else (float("nan"), float("nan"))


def bootstrap_intervals(
    counts: np.ndarray,
    stat: Callable[[np.ndarray], np.ndarray],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[tuple[float, float]]:
    """`bootstrap_interval` of m statistics at once: `stat` maps sums (B, k) to (B, m).

    The ids are resampled once for all m (the draws depend on the seed and the number of
    ids only), so each interval equals a separate call's; resampling is most of the
    cost, which is why several reward models on the same pairs share it. Empty `counts`
    or `n_boot` <= 0 gives an empty list.
    """
    if counts.shape[0] == 0 or n_boot <= 0:
        return []
    reps = np.concatenate([stat(s) for s in bootstrap_sums(counts, n_boot, seed)])  # (B, m)
    alpha = (1.0 - confidence) / 2.0
    out = []
    for col in reps.T:
        col = col[np.isfinite(col)]
        if col.size == 0:
            out.append((float("nan"), float("nan")))
            continue
        lo, hi = np.quantile(col, [alpha, 1.0 - alpha])
        out.append((float(lo), float(hi)))
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def pairwise_accuracy(
    pairs: pd.DataFrame,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> AccuracyResult:
    """Eq. 2 accuracy of a pairs table (`tables.pairs_table`), ties wrong and counted.

    The interval resamples records (ids) with replacement, not pairs (pairs of one record
    are correlated). An empty pair set gives accuracy NaN and a NaN interval.
    """
    kw = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    return pairwise_accuracies({"": pairs}, **kw)[""]


def pairwise_accuracies(
    tables: dict[str, pd.DataFrame],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, AccuracyResult]:
    """`pairwise_accuracy` of several reward models on the same pairs, by name.

    Every table holds the same pairs in the same order (ids and length must match); the
    record resampling is drawn once for all (`bootstrap_intervals`), so each result
    equals its own `pairwise_accuracy` call.
    """
    if not tables:
        return {}
    names, first = list(tables), next(iter(tables.values()))
    n = len(first)
    ids = first["id"].to_numpy()
    for name in names[1:]:
        if len(tables[name]) != n or not np.array_equal(tables[name]["id"].to_numpy(), ids):
            raise ValueError(f"pairwise_accuracies: table '{name}' holds other pairs")
    split = [correct_and_ties(tables[k]) for k in names]
    values = np.column_stack([*(c for c, _ in split), np.ones(n)]).astype(float)
    counts = group_counts(first["id"], values)  # (n_ids, m + 1): correct per model, pairs
    m = len(names)
    kw = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    cis = bootstrap_intervals(counts, lambda s: _ratio(s[:, :m], s[:, m:]), **kw)
    cis = cis or [(float("nan"), float("nan"))] * m
    return {
        name: AccuracyResult(
            accuracy=float(correct.mean()) if n else float("nan"),
            n_pairs=n,
            n_ties=int(ties.sum()),
            ci_low=lo,
            ci_high=hi,
            n_records=int(counts.shape[0]),
            **kw,
        )
        for name, (correct, ties), (lo, hi) in zip(names, split, cis, strict=True)
    }


def score_table_accuracy(scores: pd.DataFrame, **kw) -> AccuracyResult:
    """Eq. 2 accuracy straight from a validated score table (pairs per the contract)."""
    return pairwise_accuracy(pairs_table(scores), **kw)
