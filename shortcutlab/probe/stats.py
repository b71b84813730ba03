"""The probe's numbers: image reliance and edit sensitivity, with record-bootstrap intervals.

Everything is computed from score tables and the battery's files (never a model), so a
table scored by any other system works. Units: `sd` is the standard deviation of the
model's rewards on the original responses (all records, all responses; ddof 1), so a
change of 1.0 is one reward sd whatever the RM's scale. A model preference between two
responses is the sign of their reward difference (a tie is its own sign).

Image tests (swap, blank, drop), per record with K responses:
- `flip_rate`: share of the C(K, 2) response pairs whose preference changes;
- `mean_abs_change_sd`: mean |r_variant - r_original| / sd over responses;
- `blind_gap` (records with labelled pairs): accuracy (Eq. 2, ties wrong) with the true
  image minus accuracy with the variant's; also both accuracies.

Edit tests, per edited response i (the other responses unchanged):
- `mean_change_sd`: mean (r_edited_i - r_original_i) / sd;
- `win_rate`: share of edited responses scored above their own original;
- `flip_rate`: share of pairs (i, j != i) whose preference changes when only i is edited.

Intervals: percentile bootstrap resampling *records* (`diagnostics.accuracy`'s helper),
since the responses and pairs of one record are correlated; `sd` is held fixed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.diagnostics.accuracy import bootstrap_intervals
from shortcutlab.errors import DataError
from shortcutlab.probe.battery import Battery, variant_rows

IMAGE_METRICS = (
    "flip_rate",
    "mean_abs_change_sd",
    "blind_gap",
    "accuracy_original",
    "accuracy_variant",
)
EDIT_METRICS = ("mean_change_sd", "win_rate", "flip_rate")


@dataclass
class Metric:
    value: float
    ci_low: float
    ci_high: float


@dataclass
class TestStats:
    """One test's numbers (fractions and sd units; NaN where undefined)."""

    test: str
    kind: str  # "image" or "edit"
    what: str
    records: int  # base records the numbers are computed on
    metrics: dict[str, Metric] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["metrics"] = {
            k: {kk: _num(vv) for kk, vv in asdict(m).items()} for k, m in self.metrics.items()
        }
        return d


def _num(x: float) -> float | None:
    return None if x != x else round(float(x), 6)


Rewards = dict[str, dict[int, float]]


def reward_lookup(df: pd.DataFrame) -> Rewards:
    """id -> {response_index: reward} of a validated score table."""
    out: Rewards = {}
    for rid, j, r in zip(df["id"], df["response_index"], df["reward"], strict=True):
        out.setdefault(str(rid), {})[int(j)] = float(r)
    return out


def require_rewards(rewards: Rewards, ids: dict[str, list[int]], what: str, file: str) -> None:
    """DataError naming the variant and file when any (id, index) has no reward."""
    missing = [(vid, i) for vid, idx in ids.items() for i in idx if i not in rewards.get(vid, {})]
    if missing:
        recs = sorted({vid for vid, _ in missing})
        raise DataError(
            f"the score tables miss variant '{what}': {len(missing)} responses of "
            f"{len(recs)} of its {len(ids)} records have no reward (first: id '{recs[0]}', "
            f"response_index {missing[0][1]}).",
            file=file,
            hint=f"Score {file} with the same model and pass its table with --scores.",
            reason="missing_variant",
        )


def _sign(x: np.ndarray) -> np.ndarray:
    return np.sign(x)


def image_counts(r_o: np.ndarray, r_v: np.ndarray, pairs: list, sd: float) -> list[float]:
    """[flips, n_pairs, sum |d|/sd, n_resp, correct_orig, correct_variant, n_labelled]."""
    a, b = np.triu_indices(len(r_o), k=1)  # all response pairs (a < b)
    flips = float(np.sum(_sign(r_o[a] - r_o[b]) != _sign(r_v[a] - r_v[b])))
    c_o = sum(float(r_o[i] > r_o[j]) for i, j in pairs)
    c_v = sum(float(r_v[i] > r_v[j]) for i, j in pairs)
    absd = float(np.sum(np.abs(r_v - r_o))) / sd
    return [flips, float(len(a)), absd, float(len(r_o)), c_o, c_v, float(len(pairs))]


def _image_stat(s: np.ndarray) -> np.ndarray:
    """Resampled sums (B, 7) -> (B, 5) in IMAGE_METRICS order."""
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_o, acc_v = s[:, 4] / s[:, 6], s[:, 5] / s[:, 6]
        return np.stack([s[:, 0] / s[:, 1], s[:, 2] / s[:, 3], acc_o - acc_v, acc_o, acc_v], 1)


def edit_counts(r_o: np.ndarray, r_e: np.ndarray, edited: list[int], sd: float) -> list[float]:
    """[sum d/sd, n_edited, wins, flips, n_flip_pairs] over the edited responses."""
    d = wins = flips = n_pairs = 0.0
    for i in edited:
        d += (r_e[i] - r_o[i]) / sd
        wins += float(r_e[i] > r_o[i])
        others = np.delete(np.arange(len(r_o)), i)
        flips += float(np.sum(_sign(r_o[i] - r_o[others]) != _sign(r_e[i] - r_o[others])))
        n_pairs += len(others)
    return [d, float(len(edited)), wins, flips, n_pairs]


def _edit_stat(s: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([s[:, 0] / s[:, 1], s[:, 2] / s[:, 1], s[:, 3] / s[:, 4]], 1)


def probe_stats(
    battery: Battery,
    scores: pd.DataFrame,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, list[TestStats]]:
    """(reward sd on the originals, per-test numbers) from score tables of the battery.

    Raises DataError naming the variant and its file when the tables miss any response
    of a variant file (or of `original.jsonl`).
    """
    rewards = reward_lookup(scores)
    originals = load_dataset_file(battery.original, images="ignore").records
    base = {str(r.id): r for r in originals}
    every = {k: list(range(len(r.responses))) for k, r in base.items()}
    require_rewards(rewards, every, "original", str(battery.original))
    orig = {k: np.array([rewards[k][i] for i in idx]) for k, idx in every.items()}  # (K,) each
    all_r = np.concatenate(list(orig.values()))
    sd = float(np.std(all_r, ddof=1)) if all_r.size > 1 else float("nan")
    unit = sd if sd > 0 else float("nan")
    out = []
    for test, entry in battery.tests.items():
        rows = variant_rows(battery, test)
        edited = {v: r["edited"] for v, r in rows.items()}
        require_rewards(rewards, edited, test, str(battery.file(test)))
        counts = []  # one row of sums per base record: the bootstrap unit
        for vid, row in rows.items():
            r_o = orig[row["base_id"]]
            r_v = r_o.copy()
            r_v[row["edited"]] = [rewards[vid][i] for i in row["edited"]]
            if entry["kind"] == "image":
                counts.append(image_counts(r_o, r_v, base[row["base_id"]].pairs, unit))
            else:
                counts.append(edit_counts(r_o, r_v, row["edited"], unit))
        metrics = _metrics(entry["kind"], np.array(counts, dtype=float), n_boot, seed, confidence)
        out.append(TestStats(test, entry["kind"], entry.get("what", ""), len(rows), metrics))
    return sd, out


def _metrics(
    kind: str, counts: np.ndarray, n_boot: int, seed: int, confidence: float
) -> dict[str, Metric]:
    """Point values and bootstrap intervals of one test from its (records, k) counts."""
    names, stat = (IMAGE_METRICS, _image_stat) if kind == "image" else (EDIT_METRICS, _edit_stat)
    point = stat(counts.sum(0, keepdims=True))[0]
    cis = bootstrap_intervals(counts, stat, n_boot=n_boot, seed=seed, confidence=confidence)
    cis = cis or [(float("nan"), float("nan"))] * len(names)
    return {n: Metric(float(p), lo, hi) for n, p, (lo, hi) in zip(names, point, cis, strict=True)}
